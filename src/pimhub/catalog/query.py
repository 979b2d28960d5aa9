"""Listing queries: a Pimcore-style JSON filter and sort keys, parsed into a small tree.

The tree names fields and values only; storage compiles it to SQL with bound parameters, so
no value can change the shape of a statement.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pimhub.catalog import units
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidQuery
from pimhub.catalog.fields import ORDERABLE_TYPES, FieldDefinition, FieldType

# A UTF-16 surrogate on its own: what a JSON "\ud800" escape decodes to.
_SURROGATE = re.compile("[\ud800-\udfff]")


class ValueKind(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"


class SystemField(StrEnum):
    KEY = "key"
    UUID = "uuid"
    PUBLISHED = "published"
    VERSION = "version"
    CREATED_AT = "createdAt"
    MODIFIED_AT = "modifiedAt"


# Pimcore clients filter on these names (its objects table's `o_` columns and the datahub's
# field names); they mean our system fields. Pimcore's o_versionCount counts saves, as our
# version does. o_id, o_path, o_parentId, o_type and o_className have no column here.
SYSTEM_ALIASES = {
    "modificationDate": SystemField.MODIFIED_AT,
    "o_modificationDate": SystemField.MODIFIED_AT,
    "creationDate": SystemField.CREATED_AT,
    "o_creationDate": SystemField.CREATED_AT,
    "o_published": SystemField.PUBLISHED,
    "o_key": SystemField.KEY,
    "o_versionCount": SystemField.VERSION,
}
# Pimcore names we know but cannot filter on, and what to use instead.
_PIMCORE_HINTS = {
    "o_id": 'filter by the business key or uuid; GraphQL listings also take ids: "1,2"',
    "id": 'filter by the business key or uuid; GraphQL listings also take ids: "1,2"',
    "o_path": "objects live in one folder per class; filter by the business key",
    "o_className": "a listing holds one class already",
}
_SYSTEM_KINDS = {
    SystemField.KEY: ValueKind.STRING,
    SystemField.UUID: ValueKind.STRING,
    SystemField.PUBLISHED: ValueKind.BOOLEAN,
    SystemField.VERSION: ValueKind.NUMBER,
    SystemField.CREATED_AT: ValueKind.NUMBER,  # unix seconds, as Pimcore sends them
    SystemField.MODIFIED_AT: ValueKind.NUMBER,
}
# Money fields resolve to .amount or .currency before this table is consulted.
_FIELD_KINDS = {
    FieldType.NUMBER: ValueKind.NUMBER,
    FieldType.BOOLEAN: ValueKind.BOOLEAN,
}

COMPARISONS = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$like",
    "$notlike",
    "$null",
    "$notnull",
)
_ORDERING = frozenset(("$gt", "$gte", "$lt", "$lte"))
MAX_FILTER_NODES = 200
# Filters and sorts name an object's completeness as completeness.<channel>.<language>.
COMPLETENESS = "completeness"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Versions are stored as 32-bit integers; no object gets near that many changes.
VERSION_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A filterable/sortable location: a system column, or a JSON path into the values (or,
    with `completeness`, into the object's completeness: channel, language, "ratio")."""

    system: SystemField | None
    path: tuple[str, ...]
    kind: ValueKind
    completeness: bool = False
    # A quantity's (family, unit): storage compares its value converted to that unit.
    quantity: tuple[str, str] | None = None
    # A quantity's stored unit code: the family whose spellings (KILOGRAM, kg) operands take.
    unit_of: str | None = None

    @property
    def label(self) -> str:
        if self.completeness:
            return ".".join((COMPLETENESS, *self.path[:2]))
        return self.system.value if self.system else ".".join(self.path)


@dataclass(frozen=True, slots=True)
class Comparison:
    ref: FieldRef
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "$and" | "$or"
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = Comparison | BoolOp | Not


@dataclass(frozen=True, slots=True)
class SortKey:
    ref: FieldRef
    descending: bool


class FieldResolver:
    """Maps names in filters and sorts to FieldRefs, limited to the exposed fields."""

    def __init__(
        self,
        definition: ClassDefinition,
        *,
        default_language: str,
        exposed: frozenset[str] | None = None,
    ) -> None:
        self.definition = definition
        self.default_language = default_language
        self.exposed = exposed

    def resolve(self, name: str, where: str) -> FieldRef:
        if name == COMPLETENESS or name.startswith(COMPLETENESS + "."):
            return self._completeness(name, where)
        system = SYSTEM_ALIASES.get(name)
        if system is None and name in SystemField.__members__.values():
            system = SystemField(name)
        if system is not None:
            return FieldRef(system, (), _SYSTEM_KINDS[system])
        head, _, tail = name.partition(".")
        f = self.definition.field(head)
        if f is None or (self.exposed is not None and head not in self.exposed):
            hint = _PIMCORE_HINTS.get(name) if f is None else None
            message = f"unknown field '{name}' in {self.definition.name}"
            raise InvalidQuery(
                f"unknown field '{name}'" + (f" ({hint})" if hint else ""),
                [FieldError(where, message + (f"; {hint}" if hint else ""), "unknown-field")],
            )
        if f.localized:
            return FieldRef(None, (head, tail or self.default_language), ValueKind.STRING)
        if f.type == FieldType.MONEY and f.price_list:
            if tail not in f.currencies:
                raise InvalidQuery(
                    f"'{name}': a price list is compared per currency, e.g. "
                    f"{head}.{f.currencies[0]}",
                    [FieldError(where, f"name a currency: {', '.join(f.currencies)}")],
                )
            return FieldRef(None, (head, tail), ValueKind.NUMBER)
        if f.type == FieldType.QUANTITY:
            return _quantity_ref(f, tail, name, where)
        if f.type == FieldType.MONEY:
            part = tail or "amount"
            if part not in ("amount", "currency"):
                raise InvalidQuery(
                    f"'{name}': a money field has .amount and .currency",
                    [FieldError(where, "use .amount or .currency")],
                )
            kind = ValueKind.NUMBER if part == "amount" else ValueKind.STRING
            return FieldRef(None, (head, part), kind)
        if tail:
            raise InvalidQuery(f"'{head}' has no part '{tail}'", [FieldError(where, name)])
        if f.is_list:
            raise InvalidQuery(
                f"'{name}' holds a list and cannot be compared or sorted",
                [FieldError(where, "list fields are not filterable yet")],
            )
        if f.type not in ORDERABLE_TYPES and f.type != FieldType.RELATION:
            raise InvalidQuery(f"'{name}' cannot be filtered", [FieldError(where, name)])
        return FieldRef(None, (head,), _FIELD_KINDS.get(f.type, ValueKind.STRING))

    def _completeness(self, name: str, where: str) -> FieldRef:
        """completeness.<channel>.<language>: the object's ratio (0..100) there."""
        parts = name.split(".")
        channels = self.definition.completeness
        known = ", ".join(c.name for c in channels) or "none"
        if len(parts) != 3:
            raise InvalidQuery(
                f"'{name}': write completeness.<channel>.<language>",
                [FieldError(where, f"use completeness.<channel>.<language>; channels: {known}")],
            )
        _, channel_name, language = parts
        channel = next((c for c in channels if c.name == channel_name), None)
        if channel is None:
            raise InvalidQuery(
                f"{self.definition.name} has no completeness channel '{channel_name}'",
                [FieldError(where, f"unknown channel '{channel_name}'; channels: {known}")],
            )
        if language not in channel.languages:
            languages = ", ".join(channel.languages)
            raise InvalidQuery(
                f"channel '{channel_name}' has no language '{language}'",
                [FieldError(where, f"unknown language '{language}'; {channel_name}: {languages}")],
            )
        return FieldRef(
            None, (channel_name, language, "ratio"), ValueKind.NUMBER, completeness=True
        )


def _quantity_ref(f: FieldDefinition, tail: str, name: str, where: str) -> FieldRef:
    """`weight` compares in the field's unit whatever unit each object holds;
    `weight.unit` is the stored unit code."""
    assert f.family is not None and f.unit is not None
    if tail == "unit":
        return FieldRef(None, (f.name, "unit"), ValueKind.STRING, unit_of=f.family)
    if tail:
        raise InvalidQuery(
            f"'{name}': a quantity compares as {f.name} (in {f.unit}) or {f.name}.unit",
            [FieldError(where, f"use {f.name} or {f.name}.unit")],
        )
    return FieldRef(None, (f.name,), ValueKind.NUMBER, quantity=(f.family, f.unit))


_TIME_FIELDS = (SystemField.CREATED_AT, SystemField.MODIFIED_AT)
# The Unix seconds of 0001-01-01 and 9999-12-31T23:59:59 UTC: what a datetime can hold.
_FIRST_SECOND = -62_135_596_800
_LAST_SECOND = 253_402_300_799


# Pimcore clients send Unix seconds as text ("946684800") and days without a time.
_SECONDS_TEXT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_DAY_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _timestamp(text: str, bad: Callable[[str], InvalidQuery]) -> int | float:
    """A time given as text: Unix seconds ("946684800"), a day ("2000-01-01", midnight
    UTC), or an ISO 8601 date-time with its offset."""
    if _SECONDS_TEXT.fullmatch(text):
        if len(text) > 24:  # far beyond the year 9999, and cheap to refuse before parsing
            raise bad(f"{text[:24]!r}... is outside the years 1 to 9999")
        return float(text) if "." in text else int(text)  # range checked by the caller
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad(f"{text!r} is neither Unix seconds nor an ISO 8601 date-time") from None
    if moment.tzinfo is None and _DAY_TEXT.fullmatch(text):
        moment = moment.replace(tzinfo=UTC)  # a day without a time: its start, in UTC
    if moment.tzinfo is None:
        raise bad(f"{text!r} has no time zone; add Z or an offset such as +01:00")
    try:
        return moment.astimezone(UTC).timestamp()
    except (OverflowError, ValueError):
        raise bad(f"{text!r} is outside the years 1 to 9999 in UTC") from None


def _refusal(where: str) -> Callable[[str], InvalidQuery]:
    def bad(message: str) -> InvalidQuery:
        return InvalidQuery(f"{where}: {message}", [FieldError(where, message, "invalid-value")])

    return bad


MAX_PATTERN = 1000  # characters of a $like pattern


def _check_value(ref: FieldRef, op: str, value: Any, where: str) -> Any:
    """The operand of `op` on `ref`, checked: a list for $in/$nin, a pattern for $like."""
    bad = _refusal(where)
    if op in ("$null", "$notnull"):
        if not isinstance(value, bool):
            raise bad(f"{op} takes true or false")
        return value
    if op in ("$in", "$nin"):
        if not isinstance(value, list) or not value or len(value) > 1000:
            raise bad(f"{op} takes a list of 1 to 1000 values")
        return [_check_scalar(ref, v, bad) for v in value]
    if op in ("$like", "$notlike"):
        _check_text(value, bad)
        if ref.kind != ValueKind.STRING or ref.system in _TIME_FIELDS:
            raise bad(f"{op} applies to text fields only, not to '{ref.label}'")
        if not isinstance(value, str):
            raise bad(f"{op} takes a string pattern with % and _ wildcards")
        if len(value) > MAX_PATTERN:  # SQLite refuses patterns over 50,000 bytes
            raise bad(f"{op} takes a pattern of at most {MAX_PATTERN} characters")
        return value
    if op in _ORDERING and ref.kind == ValueKind.BOOLEAN:
        # true and false have no order a filter could mean; databases refuse to compare them.
        raise bad(f"{op} does not apply to the true/false field '{ref.label}'; use $eq or $ne")
    return _check_scalar(ref, value, bad)


def _check_text(value: Any, bad: Callable[[str], InvalidQuery]) -> None:
    if isinstance(value, str) and "\x00" in value:
        # No stored text holds one, and PostgreSQL refuses it in any parameter.
        raise bad("contains a NUL character")
    if isinstance(value, str) and _SURROGATE.search(value):
        # JSON's \ud800 escapes decode to text no database driver can encode; stored text
        # never holds it (bodies are parsed strictly), so it could match nothing anyway.
        raise bad("contains a lone surrogate (\\ud800-\\udfff), which is not text")


def _check_scalar(ref: FieldRef, value: Any, bad: Callable[[str], InvalidQuery]) -> Any:
    """A value to compare `ref` with ($eq, $gt, an item of $in...)."""
    _check_text(value, bad)
    if ref.system in _TIME_FIELDS:
        # Answers show times as ISO 8601; a client may hand one back instead of Unix seconds.
        seconds = _timestamp(value, bad) if isinstance(value, str) else value
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            if not _FIRST_SECOND <= seconds <= _LAST_SECOND:
                raise bad(f"{value!r} is outside the years 1 to 9999")
            return seconds
    if ref.quantity is not None and isinstance(value, str):
        value = _in_field_unit(ref, value, bad)
    if ref.unit_of is not None and isinstance(value, str):
        try:
            value = units.unit_code(ref.unit_of, value)  # as stored: "KILOGRAM" is "kg"
        except units.UnitError as exc:
            raise bad(str(exc)) from None
    expected: dict[ValueKind, type | tuple[type, ...]] = {
        ValueKind.STRING: str,
        ValueKind.NUMBER: (int, float),
        ValueKind.BOOLEAN: bool,
    }
    ok = isinstance(value, expected[ref.kind]) and not (
        ref.kind == ValueKind.NUMBER and isinstance(value, bool)
    )
    if not ok:
        raise bad(f"'{ref.label}' compares with a {ref.kind.value}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no NaN or infinity, but Python's parser reads NaN, Infinity and 1e400.
        raise bad(f"{value!r} is not a finite number")
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        # Databases compare whole numbers as 64-bit integers (True and False are 1 and 0).
        raise bad(f"{value} is out of range; whole numbers must fit in 64 bits")
    if ref.system == SystemField.VERSION and not -VERSION_MAX <= value <= VERSION_MAX:
        raise bad(f"{value!r} is out of range; versions go up to {VERSION_MAX}")
    return value


def _in_field_unit(ref: FieldRef, text: str, bad: Callable[[str], InvalidQuery]) -> float:
    """A filter operand such as "500 g" for a quantity, in the field's unit."""
    assert ref.quantity is not None
    family, canonical = ref.quantity
    try:
        number, unit = units.parse_quantity(text, family, canonical)
    except units.UnitError as exc:
        raise bad(str(exc)) from None
    result = number * units.factors(family, canonical)[unit]
    if not math.isfinite(result):
        raise bad(f"{text!r} is not a finite number")
    return result


class FilterParser:
    def __init__(self, resolver: FieldResolver) -> None:
        self.resolver = resolver
        self.nodes = 0

    def parse(self, text: str | None) -> Node | None:
        """Parse a JSON filter string; None or an empty object means no filter."""
        if text is None or not text.strip():
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidQuery(
                f"filter is not valid JSON: {exc.msg} at character {exc.pos}",
                [FieldError("filter", "invalid JSON", "invalid-json")],
            ) from None
        except RecursionError:
            raise InvalidQuery(
                "filter is nested too deeply",
                [FieldError("filter", "nested too deeply", "invalid-json")],
            ) from None
        if not isinstance(data, Mapping):
            raise InvalidQuery(
                "filter must be a JSON object",
                [FieldError("filter", "expected an object", "invalid-json")],
            )
        return self._object(data, "filter") if data else None

    def _count(self, where: str) -> None:
        self.nodes += 1
        if self.nodes > MAX_FILTER_NODES:
            raise InvalidQuery(
                f"filter has more than {MAX_FILTER_NODES} conditions",
                [FieldError(where, "filter too large", "too-large")],
            )

    def _object(self, data: Mapping[str, Any], where: str) -> Node:
        parts: list[Node] = []
        for name, value in data.items():
            here = f"{where}.{name}"
            self._count(here)
            if name in ("$and", "$or"):
                if not isinstance(value, list) or not value:
                    raise InvalidQuery(
                        f"{here} takes a non-empty list of conditions",
                        [FieldError(here, "expected a list")],
                    )
                items = []
                for i, item in enumerate(value):
                    if not isinstance(item, Mapping) or not item:
                        raise InvalidQuery(
                            f"{here}[{i}] must be a non-empty object",
                            [FieldError(f"{here}[{i}]", "expected an object")],
                        )
                    items.append(self._object(item, f"{here}[{i}]"))
                parts.append(BoolOp(name, tuple(items)))
            elif name == "$not":
                if not isinstance(value, Mapping) or not value:
                    raise InvalidQuery(
                        f"{here} takes a condition object", [FieldError(here, "expected an object")]
                    )
                parts.append(Not(self._object(value, here)))
            elif name.startswith("$"):
                raise InvalidQuery(
                    f"unknown operator '{name}' at {where}",
                    [FieldError(here, "unknown operator", "unknown-operator")],
                )
            else:
                parts.append(self._field(self.resolver.resolve(name, here), value, here))
        return parts[0] if len(parts) == 1 else BoolOp("$and", tuple(parts))

    def _field(self, ref: FieldRef, value: Any, where: str) -> Node:
        if value is None:
            return Comparison(ref, "$null", True)
        if not isinstance(value, Mapping):
            if isinstance(value, list):
                return Comparison(ref, "$in", _check_value(ref, "$in", value, where))
            return Comparison(ref, "$eq", _check_scalar(ref, value, _refusal(where)))
        parts: list[Node] = []
        for op, operand in value.items():
            here = f"{where}.{op}"
            self._count(here)
            if op == "$not":
                inner = operand if isinstance(operand, Mapping) else {"$eq": operand}
                parts.append(Not(self._field(ref, inner, here)))
            elif op in COMPARISONS:
                parts.append(Comparison(ref, op, _check_value(ref, op, operand, here)))
            else:
                raise InvalidQuery(
                    f"unknown operator '{op}' at {where}; use one of: {' '.join(COMPARISONS)} $not",
                    [FieldError(here, "unknown operator", "unknown-operator")],
                )
        if not parts:
            raise InvalidQuery(f"{where} has no condition", [FieldError(where, "empty")])
        return parts[0] if len(parts) == 1 else BoolOp("$and", tuple(parts))


def parse_sort(resolver: FieldResolver, spec: list[str]) -> list[SortKey]:
    """`["-price", "name"]` → sort keys; a leading '-' means descending."""
    keys: list[SortKey] = []
    for i, item in enumerate(spec):
        name = item.strip()
        descending = name.startswith("-")
        name = name.lstrip("-+")
        if not name:
            raise InvalidQuery("empty sort key", [FieldError(f"sort[{i}]", "empty")])
        ref = resolver.resolve(name, f"sort[{i}]")
        f = resolver.definition.field(ref.path[0]) if ref.path and not ref.completeness else None
        if f is not None and f.type == FieldType.RELATION:
            # Its value is the target's uuid: an order nobody wants, and one that would put
            # the uuids of hidden targets into cursors.
            raise InvalidQuery(
                f"cannot sort by the relation '{name}'",
                [FieldError(f"sort[{i}]", "relations cannot be sorted by", "invalid-value")],
            )
        keys.append(SortKey(ref, descending))
    if len(keys) > 5:
        raise InvalidQuery("at most 5 sort keys", [FieldError("sort", "too many keys")])
    return keys
