"""Relation values: business keys or uuids in, target uuids out; asset values: paths or
uuids in, asset uuids out."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterable, Mapping
from typing import Any

from pimhub.assets.paths import normalize_path
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.fields import FieldDefinition, FieldType
from pimhub.catalog.ports import AssetRepository, ObjectRepository
from pimhub.catalog.validation import spell_nul

# The code of a field error naming an asset that does not exist.
UNKNOWN_ASSET = "unknown-asset"


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


def asset_fields(definition: ClassDefinition) -> list[FieldDefinition]:
    return [f for f in definition.fields if f.type == FieldType.ASSET]


def lookup_assets(assets: AssetRepository, values: Iterable[str]) -> dict[str, str]:
    """Asset references as written (a path, with or without its leading slash, or a
    uuid) -> the uuids of the assets they name, with one lookup per kind; values naming
    no asset are left out."""
    wanted = set(values)
    uuids = {v.lower() for v in wanted if looks_like_uuid(v)}
    known = assets.existing_uuids(sorted(uuids)) if uuids else set()
    found = {v: v.lower() for v in wanted if v.lower() in known}
    paths: dict[str, str] = {}
    for value in wanted - set(found):
        try:
            paths[value] = normalize_path(value)
        except InvalidInput:
            continue
    by_path = assets.uuids_of_paths(sorted(set(paths.values()))) if paths else {}
    found.update((v, by_path[p]) for v, p in paths.items() if p in by_path)
    # Held until the write commits: a delete running meanwhile either waits for it (and
    # then sees the reference) or has removed the asset, which then counts as missing.
    held = assets.hold(list(found.values()))
    return {v: u for v, u in found.items() if u in held}


def missing_asset(value: str) -> str:
    """Why an asset reference names nothing, for the field's error."""
    if looks_like_uuid(value):
        # A uuid is looked up as a uuid first: say so, not "no asset at '/<uuid>'".
        return f"no asset with uuid '{value.lower()}' (nor at the path '/{value}')"
    try:
        return f"no asset at '{normalize_path(value)}'"
    except InvalidInput as exc:
        return f"'{spell_nul(value)}' is not an asset path or uuid: {exc.errors[0].message}"


def resolve_assets(
    assets: AssetRepository,
    definition: ClassDefinition,
    values: dict[str, Any],
    errors: list[FieldError],
) -> list[tuple[str, str]]:
    """Replace asset paths (or uuids) by asset uuids in asset fields, in place; return
    (field, uuid) pairs for the reference index, so an asset knows who uses it."""
    fields = [f for f in asset_fields(definition) if f.name in values]
    if not fields:
        return []
    found = lookup_assets(assets, asset_references(fields, values))
    return apply_assets(fields, values, found, errors)


def asset_references(fields: Iterable[FieldDefinition], values: Mapping[str, Any]) -> list[str]:
    """The asset references (paths or uuids) `values` holds in `fields`, to look up."""
    return [v for f in fields for v in _items(values.get(f.name))]


def apply_assets(
    fields: Iterable[FieldDefinition],
    values: dict[str, Any],
    found: Mapping[str, str],
    errors: list[FieldError],
) -> list[tuple[str, str]]:
    """Replace the asset references in `fields` by the uuids `found` (lookup_assets) gives
    them, in place; one naming no asset, or a list naming one asset twice, is an error.
    Returns (field, uuid) pairs for the reference index."""
    refs: list[tuple[str, str]] = []
    for f in fields:
        if f.name not in values:
            continue
        raw = values[f.name]
        resolved: list[str] = []
        for i, item in enumerate(_items(raw)):
            where = f"{f.name}[{i}]" if isinstance(raw, list) else f.name
            if item in found:
                resolved.append(found[item])
            else:
                errors.append(FieldError(where, missing_asset(item), UNKNOWN_ASSET))
        if isinstance(raw, list) and len(set(resolved)) != len(resolved):
            # "/a.jpg" and its uuid are one asset: listed twice.
            errors.append(FieldError(f.name, "lists the same asset twice", "duplicate"))
        values[f.name] = resolved if isinstance(raw, list) else next(iter(resolved), None)
        refs.extend((f.name, u) for u in resolved)
    return refs


def _items(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [i for i in items if isinstance(i, str)]
