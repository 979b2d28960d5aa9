"""Batch items that touch a family: an import row that names a parent (`@parent`) or lists
a parent's variants (`@variants`, Magento's configurable_variations), and any row for an
object that already is a parent or a variant.

They are written one by one through the single-object write path, after the batch's other
rows, because their effective values depend on other objects (a parent's values, siblings'
axes, children to rewrite) that the one-statement-per-kind batch path does not read. Two
shortcuts keep imports of families fast: the variants a parent's row links are checked
against the rules before anything of the row is written and then written together (their
own values do not change, only what they inherit); and rows that would change nothing,
found together when the batch is split, are answered unchanged without a write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pimhub.catalog.batch import (
    PUBLISHED_ITEM_KEY,
    ItemResult,
    Outcome,
    WriteMode,
    field_values,
    merge_patch,
    unchanged_own_values,
    version_of,
)
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.completeness import completeness_of
from pimhub.catalog.errors import CatalogError, FieldError, ValidationFailed, WriteConflict
from pimhub.catalog.events import object_event, object_event_type
from pimhub.catalog.locking import key_lock
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.ports import UnitOfWork
from pimhub.catalog.validation import MAX_LIST_ITEMS, NUL, changed_fields
from pimhub.catalog.variants import (
    CHILDREN_ITEM_KEY,
    KEEP,
    PARENT_ITEM_KEY,
    ParentRef,
    axis_values,
    effective,
    patch_target,
    sibling_name,
)
from pimhub.catalog.workflows import checked_published
from pimhub.catalog.writer import ObjectWriter, current


def is_family_item(item: Mapping[str, Any]) -> bool:
    """Whether an item links a family. An empty `@parent` (standalone) changes nothing for
    an object outside any family, so such an item stays a plain one unless its object is a
    parent or a variant (see split_family): an import of a file with a parent column keeps
    its standalone rows on the fast path."""
    return bool(item.get(PARENT_ITEM_KEY)) or CHILDREN_ITEM_KEY in item


class FamilyItems:
    """Writes family items of one class in the batch's unit of work."""

    def __init__(
        self,
        writer: ObjectWriter,
        uow: UnitOfWork,
        definition: ClassDefinition,
        *,
        mode: WriteMode,
        published: bool | None,
        author: str,
    ) -> None:
        self.writer = writer
        self.uow = uow
        self.definition = definition
        self.mode = mode
        self.published = published
        self.author = author
        self._same: dict[int, CatalogObject] = {}  # see split
        self._parent_keys: dict[str, str] = {}  # of the objects in _same, by uuid

    def split(self, items: Sequence[Mapping[str, Any]]) -> set[int]:
        """The family items of `items`; and, found together, those whose own values would
        not change, which save answers as unchanged when nothing else about them changes
        (most rows of a re-imported file), instead of writing them one by one."""
        family = split_family(self.uow, self.definition, items)
        self._same, self._parent_keys = {}, {}
        if family and self.mode != WriteMode.CREATE:
            indexes = sorted(family)
            found = unchanged_own_values(
                self.uow,
                self.definition,
                [field_values(items[n]) for n in indexes],
                self.writer.languages,
            )
            self._same = {indexes[n]: obj for n, obj in found.items()}
            parents = sorted({o.parent for o in self._same.values() if o.parent is not None})
            self._parent_keys = self.uow.objects.keys_of(parents) if parents else {}
        return family

    def save(self, index: int, item: Mapping[str, Any]) -> ItemResult:
        values = dict(field_values(item))
        key = values.get(self.definition.business_key)
        if not isinstance(key, str) or not key:
            return _failed(index, None, self.definition.business_key, "required", "required")
        parent: ParentRef = KEEP
        if PARENT_ITEM_KEY in item:
            raw_parent = item[PARENT_ITEM_KEY]
            parent = raw_parent if isinstance(raw_parent, str) and raw_parent else None
        try:
            state = item.get(PUBLISHED_ITEM_KEY)
            state = state if isinstance(state, bool) else None
            return self._save(index, key, values, parent, item.get(CHILDREN_ITEM_KEY), state)
        except CatalogError as exc:
            if exc.retryable:
                raise
            errors = exc.errors or [FieldError(self.definition.business_key, exc.detail)]
            return ItemResult(index, key, Outcome.FAILED, tuple(errors))

    def _save(
        self,
        index: int,
        key: str,
        values: dict[str, Any],
        parent: ParentRef,
        children: Any,
        state: bool | None = None,  # the item's own published state
    ) -> ItemResult:
        definition, uow = self.definition, self.uow
        before = current(uow, definition.name, key)
        if self.mode == WriteMode.CREATE and before is not None:
            message = f"a {definition.name} with {definition.business_key} '{key}' already exists"
            return _failed(index, key, definition.business_key, message, "unique")
        if self.mode == WriteMode.UPDATE and before is None:
            message = f"no {definition.name} with {definition.business_key} '{key}' to update"
            return _failed(index, key, definition.business_key, message, "not-found")
        listed = self._children(key, children)
        own = merge_patch(patch_target(before, values), values) if before is not None else values
        # As in save_batch: on a workflow class the writer's `published` gives way to the state.
        default = self.published if definition.workflow is None else None
        pub = checked_published(definition, before, state if state is not None else default)
        pub = pub if pub is not None else (before.published if before is not None else True)
        keeps_state = state is None or (before is not None and before.published == state)
        if before is not None and keeps_state and self._keeps_all(index, before, parent, listed):
            # As for plain rows, `published` applies to new and changed objects only.
            return ItemResult(index, key, Outcome.UNCHANGED)
        to_link = [c for c in listed if before is None or c.parent != before.uuid]
        if to_link:
            # Checked before the parent is written, so a bad list refuses the whole row.
            self._check_links(key, before, parent, listed, to_link)
        result = self.writer.save(uow, definition, before, own, pub, self.author, parent)
        changed = result.changed
        if to_link:
            self._link(result.object, to_link)
            changed = True
        if before is None:
            return ItemResult(index, key, Outcome.CREATED)
        return ItemResult(index, key, Outcome.UPDATED if changed else Outcome.UNCHANGED)

    def _keeps_all(
        self,
        index: int,
        before: CatalogObject,
        parent: ParentRef,
        listed: list[CatalogObject],
    ) -> bool:
        """Whether the item changes nothing: its own values (found in split, on the object
        as it still is), its parent and its variants' links. The stored values of an object
        in a family are its parent's merged with its own (the write path keeps them so), so
        they stay as they are too."""
        same = self._same.get(index)
        if same is None or same.version != before.version:
            return False
        if parent is None:
            keeps_parent = before.parent is None
        elif isinstance(parent, str):
            known = self._parent_keys.get(before.parent) if before.parent else None
            keeps_parent = parent in (known, before.parent)
        else:
            keeps_parent = True  # KEEP
        return keeps_parent and all(child.parent == before.uuid for child in listed)

    def _check_links(
        self,
        key: str,
        before: CatalogObject | None,
        parent: ParentRef,
        listed: list[CatalogObject],
        to_link: list[CatalogObject],
    ) -> None:
        """The rules of catalog.variants for the variants a row links to its object: the
        object stays out of any parent, a variant has none of its own, sets every axis
        itself and no parent-only field, and no other variant has its axis values."""
        definition = self.definition
        rules = definition.variants
        assert rules is not None  # _children refused the list otherwise
        where = {c.uuid: f"{CHILDREN_ITEM_KEY}[{n}]" for n, c in enumerate(listed)}
        errors: list[FieldError] = []
        becomes_variant = isinstance(parent, str) or (
            parent is KEEP and before is not None and before.parent is not None
        )
        if becomes_variant:
            message = f"'{key}' is a variant itself: a family has one level"
            errors.append(FieldError(CHILDREN_ITEM_KEY, message, "variant-level"))
        with_own = self.uow.objects.with_children([c.uuid for c in to_link])
        for child in to_link:
            at = where[child.uuid]
            if child.uuid in with_own:
                message = f"'{child.key}' has variants of its own, so it cannot be one"
                errors.append(FieldError(at, message, "variant-level"))
                continue
            errors += [
                FieldError(at, f"'{child.key}' does not set {name}, an axis", "axis-required")
                for name in rules.axes
                if child.own_values.get(name) is None
            ]
            errors += [
                FieldError(at, f"'{child.key}' sets {name}, which its parent sets", "parent-only")
                for name in rules.parent_only
                if name in child.own_values
            ]
        siblings = self.uow.objects.children(before.uuid) if before is not None else []
        taken = {axis_values(definition, s.values): s for s in siblings if s.uuid not in where}
        for child in to_link:
            other = taken.get(axis_values(definition, child.own_values))
            if other is not None:
                message = f"has the same axis values as {sibling_name(other)}"
                errors.append(FieldError(where[child.uuid], message, "axes-taken"))
        if errors:
            raise ValidationFailed(f"the variants of '{key}' cannot be linked", errors)

    def _link(self, parent: CatalogObject, children: list[CatalogObject]) -> None:
        """Makes `children` (checked, their keys locked) variants of `parent`, together: each
        gets its effective values, a version and an event, as a single write gives it. Their
        own values and so their references do not change."""
        definition, uow = self.definition, self.uow
        now = self.writer.clock()
        updated: list[tuple[CatalogObject, CatalogObject, list[str]]] = []
        for child in children:
            values, inherited = effective(definition, parent, child.own_values)
            # A variant is live only while its parent is (see ObjectWriter.save).
            published = child.published and parent.published
            obj = CatalogObject(
                definition.name, child.key, child.uuid, values, published,
                child.version + 1, child.created_at, now, child.id, parent.uuid, inherited,
                completeness_of(definition, values), child.workflow_state,
            )  # fmt: skip
            changed = [*changed_fields(child.values, values), "parent"]
            if published != child.published:
                changed.append("published")
            updated.append((child, obj, changed))
        if uow.objects.update_many([(obj, child.version) for child, obj, _ in updated]) != len(
            updated
        ):
            # Only writers that skip the key locks can get here.
            raise WriteConflict(
                f"variants of {definition.name} '{parent.key}' were changed concurrently; "
                "run the import again"
            )
        uow.search.put_many(definition, [obj for _, obj, _ in updated])
        uow.versions.add_many(
            [version_of(child, obj, changed, self.author) for child, obj, changed in updated]
        )
        uow.outbox.add_many(
            [
                object_event(object_event_type(child, obj), obj, changed, now)
                for child, obj, changed in updated
            ]
        )

    def _children(self, key: str, children: Any) -> list[CatalogObject]:
        """The objects a parent's row lists as its variants, checked before anything is
        written, so that a bad list refuses the row instead of half-writing it."""
        if children is None:
            return []
        definition = self.definition
        if not isinstance(children, list) or not all(isinstance(c, str) for c in children):
            raise ValidationFailed(
                "variants are listed by business key",
                [FieldError(CHILDREN_ITEM_KEY, "expected a list of keys", "type")],
            )
        if definition.variants is None:
            raise ValidationFailed(
                f"{definition.name} has no variants",
                [FieldError(CHILDREN_ITEM_KEY, "the class declares no variant axes")],
            )
        if len(children) > MAX_LIST_ITEMS:
            # Each is locked, read and rewritten in the row's transaction.
            raise ValidationFailed(
                f"'{key}' lists {len(children)} variants",
                [
                    FieldError(
                        CHILDREN_ITEM_KEY,
                        f"lists {len(children)} variants; a row lists at most {MAX_LIST_ITEMS}",
                        "too-many",
                    )
                ],
            )
        # Locked, then read, together (as current() does one by one).
        named = sorted({c for c in children if c != key and NUL not in c})
        stored: dict[str, CatalogObject] = {}
        if named:
            self.uow.objects.lock(definition.name, [key_lock(c) for c in named])
            stored = self.uow.objects.get_many_by_keys(definition.name, named)
        found: list[CatalogObject] = []
        errors: list[FieldError] = []
        seen: dict[tuple[Any, ...], str] = {}
        for n, child_key in enumerate(children):
            where = f"{CHILDREN_ITEM_KEY}[{n}]"
            child = stored.get(child_key) if child_key != key else None
            if child is None:
                errors.append(
                    FieldError(
                        where,
                        f"no {definition.name} '{child_key}' to be a variant of '{key}' "
                        "(import variants before, or with, their parent)",
                        "reference",
                    )
                )
                continue
            axes = axis_values(definition, child.values)
            if axes in seen:
                message = f"has the same axis values as '{seen[axes]}'"
                errors.append(FieldError(where, message, "axes-taken"))
            seen[axes] = child_key
            found.append(child)
        if errors:
            raise ValidationFailed(f"the variants of '{key}' cannot be linked", errors)
        return found


def _failed(index: int, key: str | None, field: str, message: str, code: str) -> ItemResult:
    return ItemResult(index, key, Outcome.FAILED, (FieldError(field, message, code),))


def split_family(
    uow: UnitOfWork, definition: ClassDefinition, items: Sequence[Mapping[str, Any]]
) -> set[int]:
    """The indexes of the items to write as family items: those naming a parent or
    variants, and, in a class with variants, those whose object is a parent or a variant
    (read after their keys are locked, so none becomes one before the batch commits)."""
    family = {n for n, item in enumerate(items) if is_family_item(item)}
    if definition.variants is None:
        return family
    keys = {
        n: item.get(definition.business_key)
        for n, item in enumerate(items)
        if n not in family and isinstance(item.get(definition.business_key), str)
    }
    named = [k for k in keys.values() if isinstance(k, str) and NUL not in k]
    if named:
        uow.objects.lock(definition.name, [key_lock(k) for k in named])
        related = uow.objects.family_keys(definition.name, named)
        family |= {n for n, k in keys.items() if k in related}
    return family
