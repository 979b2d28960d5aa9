"""How stored values become GraphQL values: shared by the resolvers and the compiled plans,
so both paths answer alike (tests/api/graphql/test_plan.py compares them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLError

from pimhub.api.graphql.binding import fullpath
from pimhub.api.graphql.errors import from_domain
from pimhub.api.graphql.loaders import GraphObject
from pimhub.catalog import units
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidQuery
from pimhub.catalog.fields import FieldDefinition, FieldType

SYSTEM_FIELDS = (
    "id",
    "fullpath",
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
        "fullpath": lambda n: fullpath(n.obj.class_name, n.obj.key),
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


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class PerFieldError(GraphQLError):
    """An error graphql-core reports at one field, nulling just that field. A compiled plan
    that meets one leaves the whole request to graphql-core, which answers alike."""


class ValueOutOfRange(PerFieldError):
    """A stored whole number beyond GraphQL's 32-bit Int: that field answers null with this
    error (code VALUE_OUT_OF_RANGE, at its path), never a wrong or rounded number."""

    def __init__(self, value: int) -> None:
        super().__init__(
            f"{value} does not fit GraphQL's Int (32 bits); read it over REST",
            extensions={"code": "VALUE_OUT_OF_RANGE"},
        )


def is_whole_number(f: FieldDefinition) -> bool:
    """A number field without decimals is Int in the schema, unless its declared range
    reaches beyond 32 bits (then Float, which holds it exactly up to 2^53)."""
    if f.type != FieldType.NUMBER or f.decimals != 0:
        return False
    return (f.min is None or f.min >= INT32_MIN) and (f.max is None or f.max <= INT32_MAX)


def int_or_none(value: Any) -> int | None:
    """A stored whole number as an Int (validation stores whole numbers only, though JSON
    may hand back 136.0); beyond 32 bits, ValueOutOfRange."""
    if value.__class__ is float and value.is_integer():
        value = int(value)
    if value.__class__ is not int:
        return None
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueOutOfRange(value)
    return int(value)


def scalar_getter(f: FieldDefinition) -> Getter:
    """Values of non-relation, non-localized, non-money fields, in their GraphQL form."""
    name = f.name
    if is_whole_number(f):
        return lambda n: int_or_none(n.obj.values.get(name))
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


def completeness(
    definition: ClassDefinition, stored: Any, channel: str | None, language: str | None
) -> list[dict[str, Any]]:
    """An object's stored completeness as a list of {channel, language, ratio, missing},
    narrowed to `channel` and `language` when given; a channel or language the class does
    not declare is an error naming what it has."""
    if channel is not None or language is not None:
        try:
            _check_channel(definition, channel, language)
        except InvalidQuery as exc:
            raise from_domain(exc) from None
    stored = stored or {}
    # In the class's order: PostgreSQL's jsonb keeps no key order.
    return [
        {"channel": c.name, "language": lang, "ratio": entry["ratio"], "missing": entry["missing"]}
        for c in definition.completeness
        if channel is None or c.name == channel
        for lang in c.languages
        if (language is None or lang == language)
        and (entry := stored.get(c.name, {}).get(lang)) is not None
    ]


def _check_channel(definition: ClassDefinition, channel: str | None, language: str | None) -> None:
    channels = {c.name: c for c in definition.completeness}
    if channel is not None and channel not in channels:
        known = ", ".join(channels)
        raise InvalidQuery(
            f"{definition.name} has no completeness channel '{channel}' (channels: {known})",
            [FieldError("channel", f"unknown channel; channels: {known}", "unknown-channel")],
        )
    languages = (
        channels[channel].languages
        if channel is not None
        else tuple(dict.fromkeys(lang for c in channels.values() for lang in c.languages))
    )
    if language is not None and language not in languages:
        known = ", ".join(languages)
        raise InvalidQuery(
            (
                f"channel '{channel}' of {definition.name} has no language '{language}'"
                if channel is not None
                else f"no channel of {definition.name} has the language '{language}'"
            )
            + f" (languages: {known})",
            [FieldError("language", f"unknown language; languages: {known}", "unknown-language")],
        )


def quantity(value: Any, f: FieldDefinition, unit: str | None = None) -> dict[str, Any] | None:
    """A stored quantity as {value, unit}: as stored, or converted to `unit` (any spelling
    of a unit of the field's family); another unit is an error naming the allowed ones,
    whether or not this object has a value (a query's validity must not depend on data)."""
    code = None
    if unit is not None:
        assert f.family is not None
        try:
            code = units.unit_code(f.family, unit)
        except units.UnitError as exc:
            raise from_domain(
                InvalidQuery(f"{f.name}(unit: ...): {exc}", [FieldError("unit", str(exc), "unit")])
            ) from None
    if not isinstance(value, dict) or value.get("value").__class__ not in _NUMBERS:
        return None
    if code is None:
        return {"value": float(value["value"]), "unit": value.get("unit")}
    assert f.family is not None
    converted = units.convert(value["value"], f.family, value["unit"], code)
    return {"value": converted, "unit": code}


def price(value: Any, f: FieldDefinition, currency: str | None = None) -> dict[str, Any] | None:
    """One currency's amount of a price list as Money; without `currency`, the first of the
    field's currencies. A currency the field does not list is an error naming those it does."""
    wanted = currency if currency is not None else f.currencies[0]
    if wanted not in f.currencies:
        allowed = ", ".join(f.currencies)
        message = f"{f.name}(currency: {wanted[:10]!r}): use one of {allowed}"
        raise from_domain(InvalidQuery(message, [FieldError("currency", message, "currency")]))
    amount = value.get(wanted) if isinstance(value, dict) else None
    return None if amount is None else {"amount": float_or_none(amount), "currency": wanted}


def money_number(value: Any, f: FieldDefinition, currency: str | None) -> float | None:
    """A money field as Pimcore's plain number (datahub format `as: number`): the amount in
    `currency`, else in the field's first currency; a single amount with neither answers
    as stored. No amount in that currency: None (amounts are never converted)."""
    wanted = currency or (f.currencies[0] if f.currencies else None)
    if not isinstance(value, dict):
        return None
    if f.price_list:
        amount: float | None = float_or_none(value.get(wanted))
        return amount
    if wanted is not None and value.get("currency") != wanted:
        return None
    amount = float_or_none(value.get("amount"))
    return amount


def quantity_value(value: Any, f: FieldDefinition, unit: str | None) -> dict[str, Any] | None:
    """A quantity as Pimcore's QuantityValue (datahub format `as: quantityValue`):
    {value, unit {id abbreviation longname}, toString}, in `unit` when the format names one."""
    plain = quantity(value, f, unit)
    if plain is None:
        return None
    assert f.family is not None
    code, number = plain["unit"], plain["value"]
    long_name = next((u.pint_name for u in units.units_of(f.family) if u.code == code), code)
    text = f"{int(number) if float(number).is_integer() else number} {code}"
    return {
        "value": number,
        "unit": {"id": code, "abbreviation": code, "longname": long_name.replace("_", " ")},
        "toString": text,
    }
