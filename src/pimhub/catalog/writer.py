"""What a write does inside its unit of work, once the catalog service has locked the key
and read the object: check the values, store the row with its references, search documents,
version and event, carry a parent's change to its variants, and delete with what hangs on
the deleted object (its variants, references to it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pimhub.catalog.batch import version_of
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.completeness import completeness_of
from pimhub.catalog.errors import (
    FieldError,
    HasVariants,
    StillReferenced,
    UnknownClass,
    ValidationFailed,
    WriteConflict,
)
from pimhub.catalog.events import object_event, object_event_type
from pimhub.catalog.family import child_errors, load_parent, locked_by_uuid
from pimhub.catalog.fields import FieldType
from pimhub.catalog.ids import new_uuid
from pimhub.catalog.locking import key_lock
from pimhub.catalog.objects import CatalogObject, ChangeAction
from pimhub.catalog.ports import UnitOfWork
from pimhub.catalog.preconditions import check_unique
from pimhub.catalog.relations import resolve_assets, resolve_relations
from pimhub.catalog.validation import NUL, changed_fields, validate_values
from pimhub.catalog.variants import KEEP, ParentRef, effective, inherited_values
from pimhub.catalog.workflows import state_for

MAX_REFERRERS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class SaveResult:
    object: CatalogObject
    created: bool
    changed: bool


def class_definition(uow: UnitOfWork, name: str) -> ClassDefinition:
    definition = uow.classes.get(name)
    if definition is None:
        known = ", ".join(sorted(c.name for c in uow.classes.all())) or "none yet"
        raise UnknownClass(f"there is no class '{name}' (classes: {known})")
    return definition


def writable_class(uow: UnitOfWork, class_name: str) -> ClassDefinition:
    """The class's definition, locked against changes until the write commits."""
    uow.classes.lock([class_name], shared=True)
    return class_definition(uow, class_name)


def current(
    uow: UnitOfWork, class_name: str, key: str, parent: ParentRef = KEEP
) -> CatalogObject | None:
    """The stored object with business key `key`, read after locking the key, and, for a
    variant or a write naming a parent by key, its family's locks."""
    if NUL in key:
        # No stored key holds one (validation refuses it), and PostgreSQL cannot even
        # compare it: the write goes on to validation, which names the field.
        return None
    uow.objects.lock(class_name, [key_lock(key)])
    found = uow.objects.get_by_key(class_name, key)
    families = [parent] if isinstance(parent, str) and NUL not in parent else []
    locked_parent = None
    if found is not None and found.parent is not None:
        locked_parent = found.parent
        old = uow.objects.keys_of([found.parent]).get(found.parent)
        families += [old] if old is not None else []
    if families:
        # The family locks (parents' keys): a parent's writer rewrites its variants holding
        # only that lock, so a variant read before it could be stale when this write saves.
        # Old and new parent together, in one sorted statement: two writers moving variants
        # between the same parents in opposite directions cannot deadlock on them.
        uow.objects.lock(class_name, [key_lock(k) for k in families])
        found = uow.objects.get_by_key(class_name, key)
        # Moved meanwhile: lock the new family too. (A parent renamed meanwhile leaves this
        # write under the old name's lock; the version compare-and-set on every object row
        # still turns any interleaving into a retry, never a lost change.)
        if found is not None and found.parent not in (None, locked_parent):
            locked_by_uuid(uow, class_name, found.parent)
    return found


class ObjectWriter:
    """Checks and stores objects in the caller's unit of work."""

    def __init__(self, *, languages: frozenset[str] | None, clock: Callable[[], datetime]) -> None:
        self.languages = languages
        self.clock = clock

    def delete(
        self,
        uow: UnitOfWork,
        obj: CatalogObject,
        force: bool,
        author: str,
        may_unlink: Callable[[set[str]], None] | None = None,
    ) -> CatalogObject:
        """Delete `obj`; with `force` its variants too, and the references to them. A forced
        delete first shows `may_unlink` the classes of the objects it would change (not those
        it deletes); it raises to refuse (the API checks the key's write scopes), before
        anything is changed."""
        children = uow.objects.children(obj.uuid) if obj.parent is None else []
        if children and not force:
            # Unpublished variants are counted, not named: the client may not read drafts.
            named = [c for c in children if c.published][:MAX_REFERRERS_SHOWN]
            drafts = sum(not c.published for c in children)
            raise HasVariants(
                f"{obj.class_name} '{obj.key}' has {len(children)} variant(s)"
                f"{f' ({drafts} unpublished)' if drafts else ''}; delete them first, or "
                "delete with force to delete them with it",
                [FieldError(f"{c.class_name}/{c.key}", "is a variant of it") for c in named],
            )
        guard = None
        if force and may_unlink is not None:
            classes = uow.objects.referrer_classes(obj.uuid, with_variants=bool(children))
            if classes:
                may_unlink(classes)
            doomed = {(obj.class_name, obj.key)} | {(c.class_name, c.key) for c in children}
            guard = _Unlinking(may_unlink, frozenset(doomed))
        for child in children:
            # Its parent's key lock (held) guards the family; see catalog.family. Read again:
            # a sibling's delete may have just removed its references to that sibling.
            fresh = uow.objects.get_by_key(child.class_name, child.key)
            if fresh is not None:
                self._delete_one(uow, fresh, force, author, guard)
        if children:
            obj = uow.objects.get_by_key(obj.class_name, obj.key) or obj
        return self._delete_one(uow, obj, force, author, guard)

    def _delete_one(
        self,
        uow: UnitOfWork,
        obj: CatalogObject,
        force: bool,
        author: str,
        guard: _Unlinking | None,
    ) -> CatalogObject:
        """Delete one object (its variants are gone), after the references to it."""
        referrers = uow.objects.referrers(obj.uuid, MAX_REFERRERS_SHOWN + 1)
        if referrers and not force:
            shown = referrers[:MAX_REFERRERS_SHOWN]
            more = " and more" if len(referrers) > MAX_REFERRERS_SHOWN else ""
            raise StillReferenced(
                f"{obj.class_name} '{obj.key}' is still referenced by {len(shown)}{more} "
                "object(s); remove those references first or delete with force",
                [
                    FieldError(f"{r.class_name}/{r.key}", f"refers to it in field '{r.field}'")
                    for r in shown
                ],
            )
        if referrers:
            self.unlink_referrers(uow, obj.uuid, author, guard)
            # It may have referred to itself, and so have just been written.
            obj = uow.objects.get_by_key(obj.class_name, obj.key) or obj
        now = self.clock()
        uow.search.remove(obj)
        uow.objects.delete(obj)
        gone = CatalogObject(
            obj.class_name,
            obj.key,
            obj.uuid,
            obj.values,
            obj.published,
            obj.version + 1,
            obj.created_at,
            now,
            obj.id,
            obj.parent,
            obj.inherited,
            obj.completeness,
            obj.workflow_state,
        )
        self.record(uow, None, gone, [], ChangeAction.DELETED, author, deleted_from=obj)
        return gone

    def unlink_referrers(
        self, uow: UnitOfWork, target_uuid: str, author: str, guard: _Unlinking | None = None
    ) -> None:
        """Remove `target_uuid` (an object's or an asset's) from the relation and asset
        fields of every object referring to it: a new version and event each. `guard` sees
        each batch's classes first: objects are not locked against new references, so one
        may have appeared since the caller's check."""
        while referrers := uow.objects.referrers(target_uuid, 100):
            refs = {(r.class_name, r.key) for r in referrers}
            if guard is not None:
                guard.check(refs)
            for ref in refs:
                definition = writable_class(uow, ref[0])
                before = current(uow, *ref)
                if before is None:  # deleted meanwhile: its references went with it
                    continue
                values = {
                    k: _without(v, target_uuid) if _refers(definition, k) else v
                    for k, v in before.own_values.items()
                }
                self.save(uow, definition, before, values, before.published, author)

    def save(
        self,
        uow: UnitOfWork,
        definition: ClassDefinition,
        before: CatalogObject | None,
        values: Mapping[str, Any],
        published: bool,
        author: str,
        parent_ref: ParentRef = KEEP,
    ) -> SaveResult:
        """Check `values` (the object's own) and store the object, then its variants whose
        inherited values it changed."""
        parent, errors = load_parent(uow, definition, before, parent_ref)
        inherit = inherited_values(definition, parent) if parent is not None else None
        normalized, found = validate_values(
            definition, values, languages=self.languages, inherited=inherit
        )
        errors += found
        if parent is not None:
            errors += child_errors(uow, definition, normalized, before, parent)
            # A variant is live only while its parent is: its values are largely the
            # parent's, which readers without access to drafts must not see.
            published = published and parent.published
        refs = resolve_relations(uow.objects, definition, normalized, errors)
        refs += resolve_assets(uow.assets, definition, normalized, errors)
        check_unique(uow, definition, normalized, before, errors)
        if errors:
            raise ValidationFailed(
                f"{definition.name} has {len(errors)} invalid field(s); nothing was saved", errors
            )
        full, inherited = effective(definition, parent, normalized)
        parent_uuid = parent.uuid if parent is not None else None
        result = self._store(
            uow, definition, before, full, inherited, parent_uuid, published, author, refs
        )
        if result.changed and before is not None and definition.variants is not None:
            self._propagate(uow, definition, result.object, author)
        return result

    def store_state(
        self,
        uow: UnitOfWork,
        definition: ClassDefinition,
        before: CatalogObject,
        published: bool,
        author: str,
        state: str,
    ) -> CatalogObject:
        """`before` with its values as they are, in workflow `state`: a transition's write
        (with, for a parent, its variants' new published state)."""
        result = self._store(
            uow, definition, before, before.values, before.inherited, before.parent, published,
            author, None, state,
        )  # fmt: skip
        if result.changed and definition.variants is not None:
            self._propagate(uow, definition, result.object, author)
        return result.object

    def _store(
        self,
        uow: UnitOfWork,
        definition: ClassDefinition,
        before: CatalogObject | None,
        values: dict[str, Any],
        inherited: tuple[str, ...],
        parent: str | None,
        published: bool,
        author: str,
        refs: list[tuple[str, str]] | None,
        state: str | None = None,
    ) -> SaveResult:
        """Write checked effective values: the row, its references (None: unchanged), the
        search documents, a version and an event; nothing when nothing changed. `state`: the
        workflow state a transition moves the object to (None: it keeps its own)."""
        workflow = definition.workflow
        held = before.workflow_state if before is not None else None
        if state is None:
            # A new object starts in the initial state (its `published` may still be false
            # where its parent is offline); a stored one keeps the state it holds.
            if before is None and workflow is not None:
                state = workflow.initial
            else:
                state = state_for(workflow, published, held)
        changed = changed_fields(before.values if before else {}, values)
        if before is not None and held != state:
            changed.insert(0, "workflowState")
        if before is not None and before.parent != parent:
            changed.append("parent")
        if before is not None and before.published != published:
            changed.append("published")
        if before is not None and not changed:
            return SaveResult(before, created=False, changed=False)
        now = self.clock()
        key = values[definition.business_key]
        # Kept current like the search documents: with the row, in this transaction.
        completeness = completeness_of(definition, values)
        if before is None:
            obj = CatalogObject(
                definition.name, key, new_uuid(), values, published, 1, now, now, None, parent,
                inherited, completeness, state,
            )  # fmt: skip
            uow.objects.insert(obj)
        else:
            obj = CatalogObject(
                definition.name, key, before.uuid, values, published, before.version + 1,
                before.created_at, now, before.id, parent, inherited, completeness, state,
            )  # fmt: skip
            if not uow.objects.update(obj, before.version):
                # Only a writer that skipped the key lock gets here; run the write again.
                raise WriteConflict(
                    f"{definition.name} '{before.key}' was changed concurrently; try again"
                )
        if refs is not None:
            uow.objects.set_references(obj, refs)
        uow.search.put(definition, obj)
        action = ChangeAction.CREATED if before is None else ChangeAction.UPDATED
        self.record(uow, before, obj, changed, action, author)
        return SaveResult(obj, created=before is None, changed=True)

    def _propagate(
        self, uow: UnitOfWork, definition: ClassDefinition, parent: CatalogObject, author: str
    ) -> None:
        """Give each variant of `parent` its new inherited values: a version and an
        `object.updated` event for each whose effective values changed, none for the rest.
        An unpublished parent takes its published variants offline with it (their event is
        `object.unpublished`); publishing it again leaves them as they are."""
        if parent.parent is not None:
            return
        for child in uow.objects.children(parent.uuid):
            values, inherited = effective(definition, parent, child.own_values)
            # With a workflow a variant is live while its state publishes and its parent is
            # live: publishing the parent again brings back its published variants.
            own = (
                child.published
                if definition.workflow is None
                else definition.workflow.publishes(child.workflow_state)
            )
            published = own and parent.published
            if (values, inherited, published) != (child.values, child.inherited, child.published):
                self._store(
                    uow, definition, child, values, inherited, parent.uuid, published, author,
                    None,
                )  # fmt: skip

    def record(
        self,
        uow: UnitOfWork,
        before: CatalogObject | None,
        obj: CatalogObject,
        changed: list[str],
        action: ChangeAction,
        author: str,
        deleted_from: CatalogObject | None = None,
    ) -> None:
        uow.versions.add(version_of(before, obj, changed, author, action))
        after = None if deleted_from is not None else obj
        event_type = object_event_type(deleted_from or before, after)
        uow.outbox.add(object_event(event_type, obj, changed, obj.modified_at))


@dataclass(frozen=True, slots=True)
class _Unlinking:
    """A forced delete's check on the objects it changes, the deleted ones left out."""

    may_unlink: Callable[[set[str]], None]
    doomed: frozenset[tuple[str, str]]

    def check(self, refs: set[tuple[str, str]]) -> None:
        classes = {c for c, k in refs if (c, k) not in self.doomed}
        if classes:
            self.may_unlink(classes)


def _refers(definition: ClassDefinition, name: str) -> bool:
    f = definition.field(name)
    return f is not None and f.type in (FieldType.RELATION, FieldType.ASSET)


def _without(value: Any, target: str) -> Any:
    if isinstance(value, list):
        return [v for v in value if v != target]
    return None if value == target else value
