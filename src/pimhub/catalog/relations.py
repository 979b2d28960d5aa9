"""Relation values: business keys or uuids in, target uuids out."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError
from pimhub.catalog.ports import ObjectRepository


def looks_like_uuid(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def resolve_relations(
    objects: ObjectRepository,
    definition: ClassDefinition,
    values: dict[str, Any],
    errors: list[FieldError],
) -> list[tuple[str, str]]:
    """Replace business keys by uuids in relation fields, in place; return (field, uuid)
    pairs for the reference index."""
    refs: list[tuple[str, str]] = []
    for f in definition.relation_fields():
        if f.name not in values:
            continue
        raw = values[f.name]
        items: list[str] = raw if isinstance(raw, list) else [raw]
        uuids = [i for i in items if looks_like_uuid(i)]
        by_uuid = objects.resolve_uuids(uuids) if uuids else {}
        keys = [i for i in items if i not in by_uuid]
        assert f.target is not None
        by_key = objects.resolve_keys(f.target, keys) if keys else {}
        resolved: list[str] = []
        for i, item in enumerate(items):
            where = f"{f.name}[{i}]" if isinstance(raw, list) else f.name
            target = by_uuid.get(item)
            if target is not None and target.class_name != f.target:
                errors.append(
                    FieldError(
                        where, f"{item} is a {target.class_name}, not a {f.target}", "reference"
                    )
                )
            elif target is not None:
                resolved.append(target.uuid)
            elif item in by_key:
                resolved.append(by_key[item])
            else:
                errors.append(
                    FieldError(where, f"no {f.target} with key or uuid '{item}'", "reference")
                )
        values[f.name] = resolved if isinstance(raw, list) else next(iter(resolved), None)
        refs.extend((f.name, u) for u in resolved)
    return refs
