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
    CatalogError,
    FieldError,
    InvalidInput,
    InvalidTransition,
    ObjectNotFound,
    TransitionForbidden,
    UnknownClass,
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


def _transition(
    definition: ClassDefinition, name: str, sees_class: bool
) -> tuple[Workflow, Transition]:
    workflow = definition.workflow
    if workflow is None:
        raise UnknownTransition(f"class {definition.name} has no workflow")
    found = workflow.transition(name)
    if found is None:
        # The names are the class's to show: only to callers holding some scope on it.
        known = ", ".join(t.name for t in workflow.transitions)
        listed = f" (it has: {known})" if sees_class else ""
        raise UnknownTransition(
            f"the workflow of {definition.name} has no transition '{name}'{listed}"
        )
    return workflow, found


def _check_move(
    before: CatalogObject,
    workflow: Workflow,
    transition: Transition,
    may_run: ScopeCheck,
    expected_version: int | None,
) -> None:
    """Refuses a stale `expected_version`, or a transition that does not leave the state
    `before` is in (naming the state and what is open from it)."""
    check_version(before, expected_version)
    state, name = before.workflow_state, transition.name
    if state in transition.sources:
        return
    open_now = ", ".join(open_transitions(workflow, state, may_run)) or "none"
    raise InvalidTransition(
        f"{before.class_name} '{before.key}' is in state '{state}'; '{name}' runs from "
        f"{', '.join(transition.sources)}. Open from '{state}': {open_now}",
        [FieldError("transition", f"state is '{state}'; open: {open_now}", InvalidTransition.code)],
    )


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
    sees_drafts: bool = True,
    sees_class: bool = True,
) -> CatalogObject:
    """Runs transition `name` on the object with business key `key` in `uow`; see module.
    `sees_drafts`: whether the caller may read unpublished objects of the class;
    `sees_class`: whether it holds any scope on the class (see CatalogService.transition)."""
    try:
        definition = writable_class(uow, class_name)
    except UnknownClass:
        if sees_class:
            raise
        # The hub's class names are for callers holding some scope: not listed to others.
        raise UnknownClass(f"there is no class '{class_name}'") from None
    workflow, transition = _transition(definition, name, sees_class)
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
    try:
        _check_move(before, workflow, transition, may_run, expected_version)
    except CatalogError:
        if before.published or sees_drafts:
            raise
        # A draft the caller may not read looks missing, as it does to reads: a refusal
        # naming its state or version would tell what the caller may not see. (A permitted
        # move still runs and is answered without the object, as blind writes are.)
        raise ObjectNotFound.named(class_name, key) from None
    state = before.workflow_state
    # The row keeps its values; its state and, with it, whether it is published change.
    published = workflow.publishes(transition.target)
    if before.parent is not None:
        parent = uow.objects.get_by_uuid(class_name, before.parent)
        published = published and parent is not None and parent.published
    result = writer.store_state(uow, definition, before, published, author, transition.target)
    uow.outbox.add(transition_event(result, name, state, author, comment))
    return result
