"""What a class change does to the workflow states its stored objects hold.

Removing a state that objects are in is refused (an incompatible class change naming the
state and how many objects hold it): move them out with a transition first. So is changing
whether a held state `publishes`: the objects in it would keep a published flag their state
no longer gives, and only a transition changes that flag with a version and an event. Adding a
workflow to a class that has objects gives each a state (the initial one, or for a
published object the first state that publishes; see workflows.state_for), and is refused
when the workflow has no state that fits the objects' published flag. Removing the workflow
clears the states; objects keep their published flag. Objects keep their version.
"""

from __future__ import annotations

from collections import Counter

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, WriteConflict
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.ports import ObjectRepository
from pimhub.catalog.workflows import Workflow, state_for

_CHUNK = 500


class WorkflowStates:
    """Counts, over the stored objects, what a workflow change would break."""

    def __init__(self, old: Workflow | None, new: Workflow | None) -> None:
        self.old, self.new = old, new
        self.removed: Counter[str] = Counter()
        self.flipped: Counter[str] = Counter()  # held states whose `publishes` changes
        self.unplaced: Counter[bool] = Counter()  # by published: objects no state fits

    def count(self, obj: CatalogObject) -> None:
        new = self.new
        if new is None:
            return
        held = obj.workflow_state
        kept = new.state(held)  # None for held None too: no state is named None
        if held is not None and self.old is not None and kept is None:
            self.removed[held] += 1
        elif kept is not None and self.old is not None and self.old.state(held) is not None:
            # The stored flag follows the old `publishes`; a new one would leave it behind.
            if self.old.publishes(held) != kept.publishes:
                self.flipped[kept.name] += 1
        elif held is None and not any(s.publishes == obj.published for s in new.states):
            self.unplaced[obj.published] += 1

    def problems(self) -> list[FieldError]:
        out = [
            FieldError(
                f"workflow.states.{state}",
                f"is removed while {n} object(s) are in it; move them to another state "
                "with a transition first",
            )
            for state, n in sorted(self.removed.items())
        ]
        for state, n in sorted(self.flipped.items()):
            now = "now publishes" if self.new and self.new.publishes(state) else "stops publishing"
            out.append(
                FieldError(
                    f"workflow.states.{state}.publishes",
                    f"changes ('{state}' {now}) while {n} object(s) are in it; move them to "
                    "another state with a transition first, or add a new state instead",
                )
            )
        for published, n in sorted(self.unplaced.items()):
            kind = "publishes" if published else "does not publish"
            out.append(
                FieldError(
                    "workflow.states",
                    f"no state {kind}, but {n} {'published' if published else 'unpublished'}"
                    " object(s) need one",
                )
            )
        return out


def assign_workflow_states(
    objects: ObjectRepository, old: ClassDefinition, new: ClassDefinition
) -> None:
    """Gives every stored object of the class the state `new` holds it in (see module);
    run after the change was checked, in its transaction."""
    if old.workflow == new.workflow:
        return
    changes: list[tuple[CatalogObject, int]] = []
    for obj in objects.iterate(old.name):
        state = state_for(new.workflow, obj.published, obj.workflow_state)
        if state != obj.workflow_state:
            obj.workflow_state = state
            changes.append((obj, obj.version))
    for start in range(0, len(changes), _CHUNK):
        chunk = changes[start : start + _CHUNK]
        if objects.update_many(chunk) != len(chunk):
            raise WriteConflict(
                "objects changed while their workflow states were assigned",
                [FieldError("", "changed concurrently", "write-conflict")],
            )
