"""The storage side of a variant write: finding, locking and checking the parent a write
names, and the siblings it must differ from (the rules themselves are in catalog.variants).

Lock order. A write locks its own business key first, then its parent's; a parent's write
holds only its own key while it rewrites its children. So every writer of a family takes the
parent's key lock before it reads the parent or the siblings, a new child can never miss a
parent change that commits before it, and no writer waits for a lock while holding one that
a writer of the parent waits for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, WriteConflict
from pimhub.catalog.locking import key_lock
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.ports import UnitOfWork
from pimhub.catalog.relations import looks_like_uuid
from pimhub.catalog.validation import NUL
from pimhub.catalog.variants import (
    KEEP,
    ParentRef,
    axis_values,
    own_value_errors,
    sibling_errors,
    structure_errors,
)


def load_parent(
    uow: UnitOfWork,
    definition: ClassDefinition,
    before: CatalogObject | None,
    ref: ParentRef,
) -> tuple[CatalogObject | None, list[FieldError]]:
    """The parent a write keeps or names (a business key or uuid; None for none), read
    after its key is locked, and the problems with it. `before` comes from
    catalog.writer.current, which has taken the lock of the parent it keeps."""
    if ref is KEEP:
        if before is None or before.parent is None:
            return None, []
        kept = uow.objects.get_by_uuid(definition.name, before.parent)
        if kept is None:  # deleted meanwhile; its delete removed its children too
            raise WriteConflict(f"the parent of {definition.name} '{before.key}' went away")
        # A variant has no children of its own, so only the parent's side needs checking.
        errors = structure_errors(definition, before.uuid, kept, has_children=False)
        return (None if errors else kept), errors
    else:
        if ref is None:
            return None, []
        assert isinstance(ref, str)
        parent = _find(uow, definition.name, ref)
        if parent is None:
            return None, [
                FieldError(
                    "parent", f"there is no {definition.name} '{ref}' to be the parent", "parent"
                )
            ]
    has_children = before is not None and bool(uow.objects.with_children([before.uuid]))
    errors = structure_errors(definition, before.uuid if before else None, parent, has_children)
    return (None if errors else parent), errors


def _find(uow: UnitOfWork, class_name: str, ref: str) -> CatalogObject | None:
    if NUL in ref:
        return None
    if looks_like_uuid(ref):
        found = locked_by_uuid(uow, class_name, ref)
        if found is not None:
            return found
    uow.objects.lock(class_name, [key_lock(ref)])
    return uow.objects.get_by_key(class_name, ref)


def locked_by_uuid(uow: UnitOfWork, class_name: str, uuid: str) -> CatalogObject | None:
    """The object with this uuid, read after its business key is locked."""
    found = uow.objects.get_by_uuid(class_name, uuid)
    if found is None:
        return None
    uow.objects.lock(class_name, [key_lock(found.key)])
    again = uow.objects.get_by_uuid(class_name, uuid)
    if again is not None and again.key != found.key:
        raise WriteConflict(f"{class_name} '{found.key}' was renamed while being read")
    return again


def child_errors(
    uow: UnitOfWork,
    definition: ClassDefinition,
    own: Mapping[str, Any],
    before: CatalogObject | None,
    parent: CatalogObject,
) -> list[FieldError]:
    """A child's own values against the rules and against its siblings' axes (read only
    when it joins the family or changes its axes: the family lock keeps them unique)."""
    errors = own_value_errors(definition, own, parent)
    stays = (
        before is not None
        and before.parent == parent.uuid
        and axis_values(definition, before.values) == axis_values(definition, own)
    )
    if not errors and not stays:
        siblings = uow.objects.children(parent.uuid)
        errors = sibling_errors(definition, own, before.uuid if before else None, siblings)
    return errors
