"""The conditions a single write checks against the stored object before it saves: what
If-Match: * / If-None-Match: * demand of its existence, the version the client read, and
business keys and unique values that are already taken."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import DuplicateKey, FieldError, PreconditionFailed, StaleVersion
from pimhub.catalog.locking import value_lock
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.ports import UnitOfWork


class Existence(StrEnum):
    """A conditional write's demand on the object's existence (If-Match: * and
    If-None-Match: *); not met, the write is refused with PreconditionFailed."""

    MUST_EXIST = "must-exist"
    MUST_NOT_EXIST = "must-not-exist"


def check_existence(
    class_name: str, key: str, obj: CatalogObject | None, existence: Existence | None
) -> None:
    if existence == Existence.MUST_EXIST and obj is None:
        raise PreconditionFailed(
            f"no {class_name} with key '{key}' exists, and the write demanded one"
        )
    if existence == Existence.MUST_NOT_EXIST and obj is not None:
        raise PreconditionFailed(
            f"a {class_name} with key '{key}' already exists, and the write demanded none"
        )


def check_expected_version(what: str, version: int, expected: int | None) -> None:
    """StaleVersion unless the client named no version or the stored one; `what` names the
    thing in the message ("Product 'A1'", "the asset '/a.png'")."""
    if expected is not None and version != expected:
        raise StaleVersion(
            f"{what} is at version {version}, not {expected}; "
            "read it again and re-apply your change",
            current_version=version,
        )


def check_version(obj: CatalogObject | None, expected: int | None) -> None:
    if obj is not None:
        check_expected_version(f"{obj.class_name} '{obj.key}'", obj.version, expected)


def duplicate_key(definition: ClassDefinition, key: str) -> DuplicateKey:
    return DuplicateKey(
        f"a {definition.name} with {definition.business_key} '{key}' already exists",
        [FieldError(definition.business_key, "already taken", "unique")],
    )


def check_unique(
    uow: UnitOfWork,
    definition: ClassDefinition,
    values: Mapping[str, Any],
    before: CatalogObject | None,
    errors: list[FieldError],
) -> None:
    claimed = [
        f
        for f in definition.fields
        if f.unique
        and f.name != definition.business_key
        and f.name in values
        and (before is None or before.values.get(f.name) != values[f.name])
    ]
    uow.objects.lock(definition.name, [value_lock(f.name, values[f.name]) for f in claimed])
    for f in claimed:
        if uow.objects.value_taken(
            definition.name, f.name, values[f.name], before.uuid if before else None
        ):
            errors.append(
                FieldError(
                    f.name,
                    f"value {values[f.name]!r} is already used by another {definition.name}",
                    "unique",
                )
            )
