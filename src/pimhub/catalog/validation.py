"""Validation of object values against a class definition.

`validate_values` checks every field and returns the normalized values together with every
problem found, so a client fixes a payload in one round trip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pimhub.catalog import units
from pimhub.catalog.channels import LANGUAGE_PATTERN
from pimhub.catalog.classes import CURRENCY_PATTERN, ClassDefinition
from pimhub.catalog.errors import FieldError
from pimhub.catalog.fields import FieldDefinition, FieldType
from pimhub.catalog.linear_regex import PatternError, cached_fullmatch

MAX_LIST_ITEMS = 1000
NUL = "\x00"


def spell_nul(text: str) -> str:
    """`text` with each NUL written as `\\u0000`, fit for a message or a stored field path."""
    return text.replace(NUL, "\\u0000")


def without_nul(value: Any) -> Any:
    """`value` with every NUL in its texts and keys spelled out: a refused value, shown back
    in a report that the database must be able to store."""
    if isinstance(value, str):
        return spell_nul(value)
    if isinstance(value, list | tuple):
        return [without_nul(item) for item in value]
    if isinstance(value, Mapping):
        return {spell_nul(str(k)): without_nul(v) for k, v in value.items()}
    return value


def find_nul(value: Any, path: str = "") -> str | None:
    """The path (`name.de`, `tags[2]`) of the first text or key in `value` that holds a NUL
    character (U+0000), NULs spelled out; None when there is none. No text may hold one:
    PostgreSQL cannot store it, and the two backends must accept the same input."""
    return _nul_path(value, path) if _holds_nul(value) else None


def _holds_nul(value: Any) -> bool:
    # On every value of every written object (and import row): exact type tests first,
    # since isinstance against the Mapping ABC costs more than the whole check otherwise.
    cls = value.__class__
    if cls is str:
        return NUL in value
    if cls is dict or (cls is not list and isinstance(value, Mapping)):
        for key, item in value.items():
            if (key.__class__ is str and NUL in key) or _holds_nul(item):
                return True
        return False
    if cls is list or cls is tuple:
        for item in value:
            if _holds_nul(item):
                return True
    return False


def _nul_path(value: Any, path: str) -> str | None:
    # The walk of _holds_nul with the same type tests, so the two agree on every value.
    cls = value.__class__
    if cls is str:
        return spell_nul(path) if NUL in value else None
    if cls is dict or (cls is not list and isinstance(value, Mapping)):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if key.__class__ is str and NUL in key:
                return spell_nul(inner)
            found = _nul_path(item, inner)
            if found is not None:
                return found
    elif cls is list or cls is tuple:
        for i, item in enumerate(value):
            found = _nul_path(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def nul_message(path: str) -> str:
    return f"{path or 'the value'} holds a NUL character (U+0000), which no text may hold"


class _Invalid(Exception):
    """Internal: one bad value; carries the message and a stable code for the field path."""

    def __init__(self, message: str, code: str = "invalid", where: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.where = where  # a part of the value (".EUR"), appended to the field's path


def _check_number(f: FieldDefinition, value: Any, decimals: int) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"expected a number, got {_describe(value)}", "type")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid("expected a finite number", "type")
    if decimals == 0:
        if isinstance(value, float) and not value.is_integer():
            raise _Invalid("expected a whole number", "decimals")
        whole = int(value)
        _check_64_bits(whole)
        result: int | float = whole
    else:
        if isinstance(value, int):
            _check_64_bits(value)
        # Rounding keeps a float exactly when its shortest form (its repr, what the client
        # sent) has at most `decimals` decimal places.
        if isinstance(value, float) and round(value, decimals) != value:
            raise _Invalid(f"at most {decimals} decimal places are allowed", "decimals")
        result = value
    if f.min is not None and result < f.min:
        raise _Invalid(f"must be at least {_fmt(f.min)}", "range")
    if f.max is not None and result > f.max:
        raise _Invalid(f"must be at most {_fmt(f.max)}", "range")
    return result


def _check_64_bits(whole: int | Decimal) -> None:
    if not -(2**63) <= whole < 2**63:
        # Databases index and compare whole numbers as 64-bit integers.
        raise _Invalid("whole numbers must fit in 64 bits", "range")


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)


def _check_string(f: FieldDefinition, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_describe(value)}", "type")
    limit = f.effective_max_length
    if limit is not None and len(value) > limit:
        raise _Invalid(f"is {len(value)} characters long; at most {limit} are allowed", "too-long")
    if f.min_length is not None and len(value) < f.min_length:
        raise _Invalid(f"must be at least {f.min_length} characters long", "too-short")
    if f.pattern is not None and not _matches(f.pattern, value):
        raise _Invalid(f"does not match the pattern {f.pattern}", "pattern")
    return value


def _matches(pattern: str, value: str) -> bool:
    try:
        return cached_fullmatch(pattern)(value)
    except PatternError as exc:
        # A class stored before patterns were RE2 may hold one RE2 refuses: the write is
        # refused, never matched by a backtracking engine; the admin fixes the class.
        raise _Invalid(f"cannot be checked: the class's pattern {exc}", "pattern") from None


def _check_money(f: FieldDefinition, value: Any) -> dict[str, Any]:
    if f.price_list:
        return _check_price_list(f, value)
    if not isinstance(value, Mapping) or set(value) != {"amount", "currency"}:
        raise _Invalid('expected {"amount": <number>, "currency": "<ISO 4217 code>"}', "type")
    decimals = f.decimals or 2
    amount = value["amount"]
    if isinstance(amount, str):
        amount = _parse_amount(amount, decimals)
    amount = _check_number(f, amount, decimals)
    currency = value["currency"]
    if not isinstance(currency, str) or not CURRENCY_PATTERN.fullmatch(currency):
        raise _Invalid("currency must be a three-letter ISO 4217 code such as EUR", "currency")
    if f.currencies and currency not in f.currencies:
        raise _Invalid(f"currency must be one of: {', '.join(f.currencies)}", "currency")
    return {"amount": amount, "currency": currency}


def _check_price_list(f: FieldDefinition, value: Any) -> dict[str, Any]:
    """One amount per currency, as {"EUR": 19.9, "USD": 21.5} or Akeneo's list of
    {"amount", "currency"}; stored as the map, in the field's currency order."""
    if isinstance(value, Mapping) and set(value) == {"amount", "currency"}:
        value = [value]  # one money value: the amount of its currency
    if isinstance(value, list) and len(value) <= len(f.currencies):
        pairs: dict[str, Any] = {}
        for i, item in enumerate(value):
            if not isinstance(item, Mapping) or set(item) != {"amount", "currency"}:
                expected = '{"amount": <number>, "currency": "<code>"}'
                raise _Invalid(f"expected {expected}", "type", f"[{i}]")
            if not isinstance(item["currency"], str) or item["currency"] in pairs:
                raise _Invalid("names no currency, or one twice", "currency", f"[{i}]")
            pairs[item["currency"]] = item["amount"]
        value = pairs
    if not isinstance(value, Mapping):
        raise _Invalid(
            "expected one amount per currency, e.g. "
            + "{"
            + ", ".join(f'"{c}": 19.9' for c in f.currencies)
            + "}",
            "type",
        )
    unknown = [str(c) for c in value if c not in f.currencies]
    if unknown:
        raise _Invalid(
            f"currency must be one of: {', '.join(f.currencies)}", "currency", f".{unknown[0]}"
        )
    decimals = f.decimals or 2
    out: dict[str, Any] = {}
    for currency in f.currencies:
        amount = value.get(currency)
        if amount is None or amount == "":
            continue
        try:
            if isinstance(amount, str):
                amount = _parse_amount(amount, decimals)
            out[currency] = _check_number(f, amount, decimals)
        except _Invalid as exc:
            raise _Invalid(str(exc), exc.code, f".{currency}") from None
    return out


def _check_quantity(f: FieldDefinition, value: Any) -> dict[str, Any]:
    """{"value", "unit"} with the unit as its code; the field's min and max hold in its unit."""
    assert f.family is not None and f.unit is not None
    try:
        number, unit = units.parse_quantity(value, f.family, f.unit)
    except units.UnitError as exc:
        raise _Invalid(str(exc), exc.code) from None
    canonical = number * units.factors(f.family, f.unit)[unit]
    if not math.isfinite(canonical):
        raise _Invalid(f"is too large to express in {f.unit}", "range")
    if f.min is not None and canonical < f.min:
        raise _Invalid(f"must be at least {_fmt(f.min)} {f.unit}", "range")
    if f.max is not None and canonical > f.max:
        raise _Invalid(f"must be at most {_fmt(f.max)} {f.unit}", "range")
    return {"value": number, "unit": unit}


def _parse_amount(text: str, decimals: int) -> int | float:
    """A money amount sent as text, read exactly: "20.00" is 20 and "19.90" is 19.9."""
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        raise _Invalid(f"amount {text!r} is not a number", "type") from None
    if not parsed.is_finite():
        raise _Invalid("expected a finite number", "type")
    if parsed == parsed.to_integral_value():
        # Checked before int(), which takes minutes on "1e999999".
        _check_64_bits(parsed)
        return int(parsed)
    # Counted on the text: as a float "1e-400" would be 0.0, which has no decimals at all.
    if -int(parsed.normalize().as_tuple().exponent) > decimals:
        raise _Invalid(f"at most {decimals} decimal places are allowed", "decimals")
    return float(parsed)


def _check_date(_: FieldDefinition, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a date as YYYY-MM-DD, got {_describe(value)}", "type")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise _Invalid(f"{value!r} is not a date in the form YYYY-MM-DD", "format") from None


def _check_datetime(_: FieldDefinition, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected an ISO 8601 date-time, got {_describe(value)}", "type")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"{value!r} is not an ISO 8601 date-time", "format") from None
    if parsed.tzinfo is None:
        raise _Invalid("a date-time needs a time zone offset, e.g. 2026-01-31T12:00:00Z", "format")
    try:
        in_utc = parsed.astimezone(UTC)
    except OverflowError:
        raise _Invalid(f"{value!r} is outside the supported range in UTC", "range") from None
    return in_utc.isoformat().replace("+00:00", "Z")


def _check_select(f: FieldDefinition, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected one of the options as a string, got {_describe(value)}", "type")
    if value not in f.options:
        raise _Invalid(f"{value!r} is not an option; use one of: {', '.join(f.options)}", "option")
    return value


def _check_multiselect(f: FieldDefinition, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _Invalid(f"expected a list of options, got {_describe(value)}", "type")
    bad = [v for v in value if not isinstance(v, str) or v not in f.options]
    if bad:
        raise _Invalid(
            f"not options: {', '.join(map(str, bad))}; use any of: {', '.join(f.options)}",
            "option",
        )
    if len(set(value)) != len(value):
        raise _Invalid("lists an option twice", "duplicate")
    return list(value)


def _check_reference(f: FieldDefinition, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"expected a uuid or business key of a {f.target}, got {_describe(value)}")
    if len(value) > 255:
        raise _Invalid("a reference is at most 255 characters long")
    return value


def _check_asset(f: FieldDefinition, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"expected an asset path or uuid, got {_describe(value)}")
    return _check_string(f, value)


def _check_boolean(_: FieldDefinition, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {_describe(value)}", "type")
    return value


_SCALAR_CHECKS: dict[FieldType, Callable[[FieldDefinition, Any], Any]] = {
    FieldType.TEXT: _check_string,
    FieldType.TEXTAREA: _check_string,
    FieldType.RICH_TEXT: _check_string,
    FieldType.NUMBER: lambda f, v: _check_number(f, v, f.decimals),
    FieldType.MONEY: _check_money,
    FieldType.QUANTITY: _check_quantity,
    FieldType.BOOLEAN: _check_boolean,
    FieldType.DATE: _check_date,
    FieldType.DATETIME: _check_datetime,
    FieldType.SELECT: _check_select,
    FieldType.MULTISELECT: _check_multiselect,
    FieldType.RELATION: _check_reference,
    FieldType.ASSET: _check_asset,
}


def _validate_list(f: FieldDefinition, value: Any, path: str, errors: list[FieldError]) -> Any:
    if not isinstance(value, list):
        errors.append(FieldError(path, f"expected a list, got {_describe(value)}", "type"))
        return None
    if len(value) > MAX_LIST_ITEMS:
        errors.append(FieldError(path, f"at most {MAX_LIST_ITEMS} items are allowed"))
        return None
    check = _SCALAR_CHECKS[f.type]
    out: list[Any] = []
    for i, item in enumerate(value):
        try:
            out.append(check(f, item))
        except _Invalid as exc:
            errors.append(FieldError(f"{path}[{i}]", str(exc), exc.code))
    if len(set(out)) != len(out):
        errors.append(FieldError(path, "lists the same item twice"))
    return out


def _validate_localized(
    f: FieldDefinition,
    value: Any,
    path: str,
    languages: frozenset[str] | None,
    errors: list[FieldError],
) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        errors.append(
            FieldError(
                path,
                "a localized field takes an object of language to text, "
                'e.g. {"en": "Shirt", "de": "Hemd"}',
                "type",
            )
        )
        return None
    out: dict[str, str] = {}
    for lang, text in value.items():
        if not LANGUAGE_PATTERN.fullmatch(lang) or (
            languages is not None and lang not in languages
        ):
            allowed = f"; configured: {', '.join(sorted(languages))}" if languages else ""
            errors.append(
                FieldError(f"{path}.{lang}", f"unknown language code{allowed}", "language")
            )
            continue
        # An empty text is no text: it must not satisfy `required`.
        if text is None or text == "":
            continue
        try:
            out[lang] = _check_string(f, text)
        except _Invalid as exc:
            errors.append(FieldError(f"{path}.{lang}", str(exc), exc.code))
    return out


def _any_text_given(value: Any) -> bool:
    """Whether a localized value holds anything but empty texts (a value that is no object
    of languages at all is given too, and refused for its shape)."""
    if not isinstance(value, Mapping):
        return True
    return any(text is not None and text != "" for text in value.values())


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def validate_values(
    definition: ClassDefinition,
    values: Mapping[str, Any],
    *,
    languages: frozenset[str] | None = None,
    inherited: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[FieldError]]:
    """Check `values` against the class; return normalized values (empty ones dropped, in the
    class's field order) and every problem found. Relation values are checked for shape only;
    the service resolves them to target uuids. `inherited`: a variant's values from its
    parent, which fill required fields it leaves unset."""
    errors: list[FieldError] = []
    found: dict[str, Any] = {}
    # Only the given values are visited (an import row fills a few of a class's many fields);
    # required fields are checked apart.
    for name, value in values.items():
        if NUL in name or _holds_nul(value):
            nul = spell_nul(name) if NUL in name else _nul_path(value, name) or name
            errors.append(FieldError(nul, nul_message(nul), "nul-character"))
            continue
        f = definition.field(name)
        if f is None:
            errors.append(
                FieldError(
                    name,
                    f"unknown field; {definition.name} has: {', '.join(definition.field_names)}",
                    "unknown-field",
                )
            )
        elif not _is_empty(value):
            result = _validate_field(f, value, languages, errors)
            if not _is_empty(result):
                found[name] = result
    for f in definition.fields:
        if f.required and _is_empty(values.get(f.name)) and not (inherited and f.name in inherited):
            errors.append(FieldError(f.name, "is required", "required"))
    if errors:
        # Problems in the class's field order, unknown fields first, as clients read them.
        order = {n: i for i, n in enumerate(definition.field_names)}
        errors.sort(
            key=lambda e: -1 if e.code == "unknown-field" else order.get(_head(e.field), -1)
        )
    if len(found) > 1:
        found = {f.name: found[f.name] for f in definition.fields if f.name in found}
    return found, errors


def _validate_field(
    f: FieldDefinition, value: Any, languages: frozenset[str] | None, errors: list[FieldError]
) -> Any:
    """The normalized value of one non-empty field, or None with its problems in `errors`."""
    if f.localized:
        result = _validate_localized(f, value, f.name, languages, errors)
        # A text given but refused (too long, wrong type, unknown language) is present: its
        # own problem says what is wrong, a second "required" would only mislead.
        if f.required and result == {} and not _any_text_given(value):
            errors.append(FieldError(f.name, "is required (in at least one language)", "required"))
        return result
    if f.is_list and f.type != FieldType.MULTISELECT:
        return _validate_list(f, value, f.name, errors)
    try:
        return _SCALAR_CHECKS[f.type](f, value)
    except _Invalid as exc:
        errors.append(FieldError(f"{f.name}{exc.where}", str(exc), exc.code))
        return None


def _head(path: str) -> str:
    return path.partition("[")[0].partition(".")[0]


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Names of the fields whose value differs, in a stable order."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
