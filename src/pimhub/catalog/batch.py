"""Batch writes: many objects of one class in one unit of work, with one statement per kind
of row instead of one per object (imports, and anything else that writes thousands).

Each item is checked on its own: a bad item is reported with its problems and written not
at all, the others are written. An item whose values would not change is not written and
emits no event, so saving the same batch twice changes nothing the second time. Each
changed object gets one new version and exactly one outbox event, as with single saves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pimhub.catalog.batch_refs import BatchItem, check_unique, fail_dependents, resolve_references
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.completeness import completeness_of
from pimhub.catalog.errors import FieldError, PublishedByWorkflow, WriteConflict
from pimhub.catalog.events import object_event, object_event_type
from pimhub.catalog.locking import key_lock
from pimhub.catalog.objects import CatalogObject

# Re-exported: service.py, writer.py, variant_batch.py and assets/service.py import them here.
from pimhub.catalog.patches import merge_patch as merge_patch
from pimhub.catalog.patches import version_of as version_of
from pimhub.catalog.ports import UnitOfWork
from pimhub.catalog.validation import NUL, changed_fields, nul_message, validate_values
from pimhub.catalog.variants import CHILDREN_ITEM_KEY, PARENT_ITEM_KEY, patch_target
from pimhub.catalog.workflows import checked_published, state_for

# An item's own published state (an import's `@published` column), over the writer's
# `published`; unlike that one it changes an object whose values stay the same.
PUBLISHED_ITEM_KEY = "@published"
_NOT_FIELDS = (PARENT_ITEM_KEY, CHILDREN_ITEM_KEY, PUBLISHED_ITEM_KEY)


class WriteMode(StrEnum):
    UPSERT = "upsert"  # create what is missing, merge into what exists
    CREATE = "create"  # only new objects; an existing key is an error
    UPDATE = "update"  # only existing objects; a missing key is an error


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    key: str | None
    outcome: Outcome
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True, slots=True)
class Checked:
    """Items validated ahead of their unit of work as if each were new (see precheck)."""

    class_name: str
    class_version: int
    results: list[tuple[dict[str, Any], list[FieldError]]]

    def usable(self, definition: ClassDefinition, count: int) -> bool:
        return (self.class_name, self.class_version) == (
            definition.name,
            definition.version,
        ) and len(self.results) == count


def precheck(
    definition: ClassDefinition,
    items: Sequence[Mapping[str, Any]],
    languages: frozenset[str] | None,
) -> Checked:
    """Validates `items` as new objects without touching storage, so an import can do it
    while the previous batch commits. save_batch takes a new item's result from here when
    the class is still at the version checked against; existing objects are validated there,
    merged with what they hold."""
    results = [
        validate_values(definition, field_values(item), languages=languages) for item in items
    ]
    return Checked(definition.name, definition.version, results)


class FamilyWrites(Protocol):
    """Items of a batch that touch a family of variants (catalog.variant_batch)."""

    def split(self, items: Sequence[Mapping[str, Any]]) -> set[int]:
        """The indexes of the items to write one by one as family items."""

    def save(self, index: int, item: Mapping[str, Any]) -> ItemResult: ...


class BatchWriter:
    """Writes batches in one unit of work; see CatalogService.batch_writer."""

    def __init__(
        self,
        uow: UnitOfWork,
        definition: ClassDefinition,
        *,
        mode: WriteMode,
        published: bool | None,
        author: str,
        clock: Callable[[], datetime],
        languages: frozenset[str] | None,
        family: FamilyWrites | None = None,
    ) -> None:
        self.uow = uow
        self.definition = definition
        self.mode = mode
        self.published = published
        self.author = author
        self.clock = clock
        self.languages = languages
        self.family = family

    def save(
        self, items: Sequence[Mapping[str, Any]], checked: Checked | None = None
    ) -> list[ItemResult]:
        family = self.family.split(items) if self.family is not None else set()
        if not family:
            return self._save_plain(items, checked)
        assert self.family is not None
        plain = [n for n in range(len(items)) if n not in family]
        ahead = None
        if checked is not None and checked.usable(self.definition, len(items)):
            ahead = Checked(
                checked.class_name, checked.class_version, [checked.results[n] for n in plain]
            )
        results = [
            replace(r, index=plain[r.index])
            for r in self._save_plain([items[n] for n in plain], ahead)
        ]
        # After the plain items: a parent's row names variants that rows before it create.
        results += [self.family.save(n, items[n]) for n in sorted(family)]
        return sorted(results, key=lambda r: r.index)

    def _save_plain(
        self, items: Sequence[Mapping[str, Any]], checked: Checked | None
    ) -> list[ItemResult]:
        return save_batch(
            self.uow,
            self.definition,
            items,
            mode=self.mode,
            published=self.published,
            author=self.author,
            now=self.clock(),
            languages=self.languages,
            checked=checked,
        )

    def commit(self) -> None:
        self.uow.commit()

    def sibling(self, class_name: str, mode: WriteMode) -> BatchWriter | None:
        """A writer for another class in the same unit of work (an import that creates the
        categories its rows name), or None when there is no such class."""
        self.uow.classes.lock([class_name], shared=True)
        definition = self.uow.classes.get(class_name)
        if definition is None:
            return None
        return BatchWriter(
            self.uow,
            definition,
            mode=mode,
            published=None,
            author=self.author,
            clock=self.clock,
            languages=self.languages,
        )


def save_batch(
    uow: UnitOfWork,
    definition: ClassDefinition,
    items: Sequence[Mapping[str, Any]],
    *,
    mode: WriteMode,
    published: bool | None,
    author: str,
    now: datetime,
    languages: frozenset[str] | None,
    checked: Checked | None = None,
) -> list[ItemResult]:
    """Check and write `items` (values by field; an existing object's values are merged
    with them, a null removing a field) in the caller's unit of work. `checked`: the items'
    precheck, if one was made."""
    ahead = checked.results if checked and checked.usable(definition, len(items)) else None
    # On a class with a workflow the state decides: a writer-wide `published` (an import's
    # --draft) is not a request to change it; only a row's own @published is checked.
    default = published if definition.workflow is None else None
    prepared = _prepare(uow, definition, items, mode, languages, ahead)
    # Refused items too: one pass reports a row's references with its other problems.
    resolve_references(uow, definition, prepared, prepared)
    check_unique(uow, definition, [i for i in prepared if not i.errors])
    fail_dependents(prepared)
    results: list[ItemResult] = []
    created: list[tuple[CatalogObject, list[str]]] = []
    updated: list[tuple[CatalogObject, CatalogObject, list[str]]] = []
    for item in prepared:
        if item.errors:
            results.append(ItemResult(item.index, item.key, Outcome.FAILED, tuple(item.errors)))
            continue
        before = item.before
        changed = changed_fields(before.values, item.values) if before else sorted(item.values)
        own = item.published
        if before is not None and not changed and own in (None, before.published):
            # `published` applies to new and changed objects: re-importing a file as drafts
            # must not take unchanged live objects offline. An item's own state does.
            results.append(ItemResult(item.index, item.key, Outcome.UNCHANGED))
            continue
        try:
            pub = checked_published(definition, before, own if own is not None else default)
        except PublishedByWorkflow as exc:
            results.append(ItemResult(item.index, item.key, Outcome.FAILED, tuple(exc.errors)))
            continue
        pub = pub if pub is not None else (before.published if before else True)
        if before is not None and before.published != pub:
            changed.append("published")
        assert item.key is not None
        held = before.workflow_state if before is not None else None
        state = state_for(definition.workflow, pub, held)
        if before is None:
            obj = CatalogObject(definition.name, item.key, item.uuid, item.values, pub, 1, now, now)
            obj.workflow_state = state
            created.append((obj, changed))
            results.append(ItemResult(item.index, item.key, Outcome.CREATED))
        else:
            obj = CatalogObject(
                definition.name,
                item.key,
                before.uuid,
                item.values,
                pub,
                before.version + 1,
                before.created_at,
                now,
                before.id,
                workflow_state=state,
            )
            updated.append((before, obj, changed))
            results.append(ItemResult(item.index, item.key, Outcome.UPDATED))
    _write(uow, definition, prepared, created, updated, author)
    return results


def unchanged_own_values(
    uow: UnitOfWork,
    definition: ClassDefinition,
    items: Sequence[Mapping[str, Any]],
    languages: frozenset[str] | None,
) -> dict[int, CatalogObject]:
    """The items (by index) whose existing object's own values they would not change, with
    that object as read: checked together, with one lookup per relation field, so a batch of
    family items that mostly change nothing (a re-import) need not write them one by one.
    An item whose merged values do not validate on their own (a variant leaving a required
    field to its parent) is left out, as is anything new."""
    prepared = _prepare(uow, definition, items, WriteMode.UPDATE, languages, None)
    resolve_references(uow, definition, [i for i in prepared if not i.errors], prepared)
    return {
        item.index: item.before
        for item in prepared
        if not item.errors
        and item.before is not None
        and not changed_fields(item.before.own_values, item.values)
    }


def _prepare(
    uow: UnitOfWork,
    definition: ClassDefinition,
    items: Sequence[Mapping[str, Any]],
    mode: WriteMode,
    languages: frozenset[str] | None,
    ahead: list[tuple[dict[str, Any], list[FieldError]]] | None,
) -> list[BatchItem]:
    key_field = definition.business_key
    keys = [i.get(key_field) for i in items]
    # A key holding a NUL is refused below; it must not reach a query (PostgreSQL refuses it).
    nul_keys = {n for n, k in enumerate(keys) if isinstance(k, str) and NUL in k}
    keys = [None if n in nul_keys else k for n, k in enumerate(keys)]
    named = [k for k in keys if isinstance(k, str) and k]
    # Locked before they are read, as single writes do: a concurrent write of one of these
    # keys waits for this batch's commit instead of interleaving with it.
    uow.objects.lock(definition.name, [key_lock(k) for k in named])
    existing = uow.objects.get_many_by_keys(definition.name, named)
    seen: dict[str, int] = {}
    prepared: list[BatchItem] = []
    for index, (item_values, key) in enumerate(zip(items, keys, strict=True)):
        raw = field_values(item_values)
        if index in nul_keys:
            message = nul_message(key_field)
            prepared.append(_failed(index, None, key_field, message, "nul-character"))
            continue
        if not isinstance(key, str) or not key:
            prepared.append(_failed(index, None, key_field, "required", "required"))
            continue
        if key in seen:
            message = f"the same {key_field} as item {seen[key] + 1} of this batch"
            prepared.append(_failed(index, key, key_field, message, "duplicate"))
            continue
        seen[key] = index
        before = existing.get(key)
        if mode == WriteMode.CREATE and before is not None:
            message = f"a {definition.name} with {key_field} '{key}' already exists"
            prepared.append(_failed(index, key, key_field, message, "unique"))
            continue
        if mode == WriteMode.UPDATE and before is None:
            message = f"no {definition.name} with {key_field} '{key}' to update"
            prepared.append(_failed(index, key, key_field, message, "not-found"))
            continue
        if before is None and ahead is not None:
            normalized, errors = ahead[index]
        else:
            merged = merge_patch(patch_target(before, raw), raw) if before is not None else raw
            normalized, errors = validate_values(definition, merged, languages=languages)
        item = BatchItem(index, key, before, normalized, errors)
        own = item_values.get(PUBLISHED_ITEM_KEY)
        item.published = own if isinstance(own, bool) else None
        if before is not None:
            item.uuid = before.uuid
        prepared.append(item)
    return prepared


def field_values(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """An item's field values, without what it says about its family: an item that the
    batch writes as a plain one may still say `"@parent": None` (standalone, as it is)."""
    if any(k in item for k in _NOT_FIELDS):
        return {k: v for k, v in item.items() if k not in _NOT_FIELDS}
    return item


def _failed(index: int, key: str | None, field_name: str, message: str, code: str) -> BatchItem:
    return BatchItem(index, key, None, {}, [FieldError(field_name, message, code)])


def _write(
    uow: UnitOfWork,
    definition: ClassDefinition,
    prepared: list[BatchItem],
    created: list[tuple[CatalogObject, list[str]]],
    updated: list[tuple[CatalogObject, CatalogObject, list[str]]],
    author: str,
) -> None:
    if not created and not updated:
        return
    # Kept current like the search documents: with the rows, in this transaction.
    for obj in [o for o, _ in created] + [o for _, o, _ in updated]:
        obj.completeness = completeness_of(definition, obj.values)
    uow.objects.insert_many([obj for obj, _ in created])
    stale = len(updated) - uow.objects.update_many([(o, b.version) for b, o, _ in updated])
    if stale:
        # Only writers that skip the key locks can get here.
        raise WriteConflict(
            f"{stale} {definition.name} object(s) of this batch were changed concurrently; "
            "nothing of the batch was saved, run it again"
        )
    refs = {i.key: i.refs for i in prepared if not i.errors}
    new, changed = [obj for obj, _ in created], [obj for _, obj, _ in updated]
    uow.objects.set_references_many([(obj, refs.get(obj.key, [])) for obj in new], new=True)
    uow.objects.set_references_many([(obj, refs.get(obj.key, [])) for obj in changed])
    uow.search.add_many(definition, new)
    uow.search.put_many(definition, changed)
    changes: list[tuple[CatalogObject | None, CatalogObject, list[str]]] = [
        (None, obj, changed) for obj, changed in created
    ]
    changes += [(before, obj, changed) for before, obj, changed in updated]
    uow.versions.add_many(
        [version_of(before, obj, changed, author) for before, obj, changed in changes]
    )
    uow.outbox.add_many(
        [
            object_event(object_event_type(before, obj), obj, changed, obj.modified_at)
            for before, obj, changed in changes
        ]
    )
