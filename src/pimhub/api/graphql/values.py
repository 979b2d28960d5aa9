"""How stored values become GraphQL values: shared by the resolvers and the compiled plans,
so both paths answer alike (tests/api/graphql/test_plan.py compares them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pimhub.api.graphql.loaders import GraphObject
from pimhub.catalog.fields import FieldDefinition, FieldType

SYSTEM_FIELDS = (
    "id",
    "uuid",
    "key",
    "classname",
    "published",
    "version",
    "creationDate",
    "modificationDate",
)

Getter = Callable[[GraphObject], Any]


def system_getter(name: str) -> Getter:
    getters: dict[str, Getter] = {
        # The internal id, for Pimcore queries that read and pass `id`; business keys and
        # uuids stay the identity to sync on (docs/graphql.md says so).
        "id": lambda n: str(n.obj.id),
        "uuid": lambda n: n.obj.uuid,
        "key": lambda n: n.obj.key,
        "classname": lambda n: n.obj.class_name,
        "published": lambda n: n.obj.published,
        "version": lambda n: n.obj.version,
        # Unix seconds, as Pimcore's datahub answers (and as filters take them).
        "creationDate": lambda n: int(n.obj.created_at.timestamp()),
        "modificationDate": lambda n: int(n.obj.modified_at.timestamp()),
    }
    return getters[name]


def localized(value: Any, *languages: str | None) -> Any:
    """The text in the first of `languages` that has one."""
    # dict, not Mapping: stored values are decoded JSON, and the ABC check costs more than
    # the rest of the function on a page of 100.
    if not isinstance(value, dict):
        return value
    for language in languages:
        if language is not None and value.get(language) is not None:
            return value[language]
    return None


_NUMBERS = (int, float)


def float_or_none(value: Any) -> Any:
    return float(value) if value.__class__ in _NUMBERS else None  # bool is not a number here


def scalar_getter(f: FieldDefinition) -> Getter:
    """Values of non-relation, non-localized, non-money fields, in their GraphQL form."""
    name = f.name
    if f.type == FieldType.NUMBER:
        return lambda n: float_or_none(n.obj.values.get(name))
    if f.type == FieldType.BOOLEAN:
        return lambda n: n.obj.values.get(name)
    if f.is_list:
        return lambda n: list(n.obj.values.get(name) or [])
    return lambda n: n.obj.values.get(name)


def money(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {"amount": float_or_none(value.get("amount")), "currency": value.get("currency")}
