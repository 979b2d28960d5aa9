"""Batch writes (catalog/batch.py): the prepared items, and their references resolved for
the whole batch at once (relations, assets, unique values), with one lookup per field or
kind, and items that refer to a refused item of the same batch refused too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError
from pimhub.catalog.ids import new_uuid
from pimhub.catalog.locking import value_lock
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.ports import UnitOfWork
from pimhub.catalog.relations import (
    apply_assets,
    asset_fields,
    asset_references,
    looks_like_uuid,
    lookup_assets,
)


@dataclass(slots=True)
class BatchItem:
    """One item of a batch as prepared for writing: its values, problems and references."""

    index: int
    key: str | None
    before: CatalogObject | None
    values: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)
    refs: list[tuple[str, str]] = field(default_factory=list)
    uuid: str = field(default_factory=new_uuid)  # kept when it exists
    # Items of this batch it refers to, with the field (path) that refers to each.
    needs: list[tuple[str, BatchItem]] = field(default_factory=list)
    published: bool | None = None  # its own (PUBLISHED_ITEM_KEY), if it has one


def resolve_references(
    uow: UnitOfWork, definition: ClassDefinition, items: list[BatchItem], batch: list[BatchItem]
) -> None:
    """Business keys (or uuids) in relation fields of `items` become target uuids (new
    objects of `batch` among them), with one lookup per relation field for the whole batch;
    then asset fields, alike."""
    for f in definition.relation_fields():
        assert f.target is not None
        wanted = {
            v for item in items for v in _as_list(item.values.get(f.name)) if isinstance(v, str)
        }
        uuids = [v for v in wanted if looks_like_uuid(v)]
        by_uuid = uow.objects.resolve_uuids(uuids) if uuids else {}
        keys = [v for v in wanted if v not in by_uuid]
        by_key = uow.objects.resolve_keys(f.target, keys) if keys else {}
        # A new object of this batch may be the target (a category's parent, a related
        # product): it gets its uuid now and is written with the rest.
        created_here = (
            {i.key: i for i in batch if i.before is None and i.key}
            if f.target == definition.name
            else {}
        )
        for item in items:
            raw = item.values.get(f.name)
            if raw is None:
                continue
            resolved: list[str] = []
            for n, value in enumerate(_as_list(raw)):
                where = f"{f.name}[{n}]" if isinstance(raw, list) else f.name
                target = by_uuid.get(value)
                if target is not None and target.class_name == f.target:
                    resolved.append(target.uuid)
                elif value in by_key:
                    resolved.append(by_key[value])
                elif value in created_here:
                    resolved.append(created_here[value].uuid)
                    item.needs.append((where, created_here[value]))
                else:
                    message = f"no {f.target} with key or uuid '{value}'"
                    item.errors.append(FieldError(where, message, "reference"))
            item.values[f.name] = resolved if isinstance(raw, list) else next(iter(resolved), None)
            item.refs.extend((f.name, u) for u in resolved)
    _resolve_assets(uow, definition, items)


def _resolve_assets(uow: UnitOfWork, definition: ClassDefinition, items: list[BatchItem]) -> None:
    """Asset paths (or uuids) in asset fields become asset uuids, with one lookup per kind
    for the whole batch."""
    fields = asset_fields(definition)
    wanted = {v for item in items for v in asset_references(fields, item.values)}
    found = lookup_assets(uow.assets, wanted) if wanted else {}
    for item in items:
        item.refs.extend(apply_assets(fields, item.values, found, item.errors))


def fail_dependents(items: list[BatchItem]) -> None:
    """An item that refers to a refused item of the same batch is refused too: its
    reference would point at nothing."""
    changed = True
    while changed:
        changed = False
        for item in items:
            failed = next(((w, n) for w, n in item.needs if n.errors), None)
            if not item.errors and failed is not None:
                where, target = failed
                message = f"refers to '{target.key}', which was refused in the same batch"
                item.errors.append(FieldError(where, message, "reference"))
                changed = True


def check_unique(uow: UnitOfWork, definition: ClassDefinition, items: list[BatchItem]) -> None:
    """Unique fields' values of `items`: not twice in the batch, nor held by another object."""
    for f in definition.fields:
        if not f.unique or f.name == definition.business_key:
            continue
        holders: dict[Any, BatchItem] = {}
        for item in items:
            value = item.values.get(f.name)
            if value is None or (item.before and item.before.values.get(f.name) == value):
                continue
            if value in holders:
                message = f"value {value!r} is also in item {holders[value].index + 1}"
                item.errors.append(FieldError(f.name, message, "unique"))
                continue
            holders[value] = item
        uow.objects.lock(definition.name, [value_lock(f.name, v) for v in holders])
        taken = uow.objects.values_taken(definition.name, f.name, list(holders))
        for value, owner_uuid in taken.items():
            item = holders[value]
            if item.before is None or item.before.uuid != owner_uuid:
                message = f"value {value!r} is already used by another {definition.name}"
                item.errors.append(FieldError(f.name, message, "unique"))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
