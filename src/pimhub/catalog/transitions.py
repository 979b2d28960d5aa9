"""Running workflow transitions, and keeping `published` to the workflow on every other write.

A transition is a write like any other: it locks the object's key, reads it, checks that the
transition leaves the state the object is in now, and stores it with a version and its
object event (object.published / unpublished / updated), plus a `workflow.transitioned`
event, all in one transaction. Parallel transitions of one object therefore run one after
the other: the second finds the state the first left and is refused (InvalidTransition).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import (
    FieldError,
    InvalidInput,
    InvalidTransition,
    ObjectNotFound,
    TransitionForbidden,
    UnknownTransition,
)
from pimhub.catalog.events import transition_event
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.ports import UnitOfWork
from pimhub.catalog.preconditions import check_version
from pimhub.catalog.validation import NUL
from pimhub.catalog.workflows import Transition, Workflow, check_comment
from pimhub.catalog.writer import ObjectWriter, current, writable_class

# Whether the caller holds any of a transition's scopes on its class (the API key decides;
# the domain knows no keys).
ScopeCheck = Callable[[Sequence[str]], bool]


def open_transitions(workflow: Workflow, state: str | None, may_run: ScopeCheck) -> list[str]:
    """The transitions that leave `state` and that the caller may run, by name."""
    return [t.name for t in workflow.from_state(state) if may_run(t.scopes)]


def _transition(definition: ClassDefinition, name: str) -> tuple[Workflow, Transition]:
    workflow = definition.workflow
    if workflow is None:
        raise UnknownTransition(f"class {definition.name} has no workflow")
    found = workflow.transition(name)
    if found is None:
        known = ", ".join(t.name for t in workflow.transitions)
        raise UnknownTransition(
            f"the workflow of {definition.name} has no transition '{name}' (it has: {known})"
        )
    return workflow, found


def run_transition(
    writer: ObjectWriter,
    uow: UnitOfWork,
    class_name: str,
    key: str,
    name: str,
    *,
    may_run: ScopeCheck,
    author: str,
    comment: str | None,
    expected_version: int | None,
) -> CatalogObject:
    """Runs transition `name` on the object with business key `key` in `uow`; see module."""
    definition = writable_class(uow, class_name)
    workflow, transition = _transition(definition, name)
    if not may_run(transition.scopes):
        raise TransitionForbidden(
            f"the key '{author}' may not run '{name}' on {class_name}; it needs one of the "
            f"scopes {', '.join(f'{s}:{class_name}' for s in transition.scopes)}",
            [
                FieldError(
                    "transition",
                    f"needs any of: {', '.join(transition.scopes)}",
                    TransitionForbidden.code,
                )
            ],
        )
    problem = check_comment(transition, comment)
    if problem is not None:
        code = "nul-character" if NUL in (comment or "") else "comment"
        raise InvalidInput(problem, [FieldError("comment", problem, code)])
    before = current(uow, class_name, key)
    if before is None:
        raise ObjectNotFound.named(class_name, key)
    check_version(before, expected_version)
    state = before.workflow_state
    if state not in transition.sources:
        open_now = ", ".join(open_transitions(workflow, state, may_run)) or "none"
        raise InvalidTransition(
            f"{class_name} '{key}' is in state '{state}'; '{name}' runs from "
            f"{', '.join(transition.sources)}. Open from '{state}': {open_now}",
            [
                FieldError(
                    "transition", f"state is '{state}'; open: {open_now}", InvalidTransition.code
                )
            ],
        )
    # The row keeps its values; its state and, with it, whether it is published change.
    published = workflow.publishes(transition.target)
    if before.parent is not None:
        parent = uow.objects.get_by_uuid(class_name, before.parent)
        published = published and parent is not None and parent.published
    result = writer.store_state(uow, definition, before, published, author, transition.target)
    uow.outbox.add(transition_event(result, name, state, author, comment))
    return result
