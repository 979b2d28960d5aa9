"""The steps of a field mapping after its source (see transfer.mapping): each turns the
value read so far into the next one, or raises CellError for a value it cannot take. A
step is built from its YAML argument by a builder that reports every problem by path."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pimhub.catalog import units
from pimhub.catalog.errors import FieldError
from pimhub.transfer.cell_text import as_written, in_message

_LARGEST = Decimal("1e300")  # beyond this a float is no longer a number anyone meant
_SMALLEST = Decimal("1e-300")  # below this (not zero) a float would become 0 or lose digits
_TRUE = frozenset({"1", "true", "yes", "y", "on", "x"})
_FALSE = frozenset({"0", "false", "no", "n", "off", ""})
# What YAML (1.1, as PyYAML reads it) turns into a boolean, lower-cased: an unquoted yes in
# a mapping file arrives here as True.
_YAML_TRUE = frozenset({"true", "yes", "on"})
_YAML_FALSE = frozenset({"false", "no", "off"})


class CellError(Exception):
    """A value a step cannot take; becomes a row error naming the column."""


Step = Callable[[Any], Any]


def _trim(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [v.strip() if isinstance(v, str) else v for v in value]
    return value


def _each(step: Step) -> Step:
    """Applies to every item of a list (after split), else to the value."""
    return lambda value: [step(v) for v in value] if isinstance(value, list) else step(value)


def _pick_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    """`pick: color` takes color's value from "a=1,color=Black,b=2" (Magento's
    additional_attributes)."""
    if not isinstance(arg, str):
        errors.append(FieldError(path, "the key to pick from key=value pairs"))
        return None

    def pick(value: Any) -> Any:
        for pair in str(value).split(","):
            key, sep, found = pair.partition("=")
            if sep and key.strip() == arg:
                return found.strip()
        return None

    return pick


def _variations_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    """`variations: sku` takes the sku of each variation in Magento's configurable_variations
    ("sku=MH01-XS-Black,size=XS,color=Black|sku=MH01-S-Black,...") as a list; a variation
    without it is a problem of the cell."""
    if not isinstance(arg, str) or not arg:
        errors.append(FieldError(path, "the key of each variation to take, e.g. sku"))
        return None

    def variations(value: Any) -> Any:
        found: list[str] = []
        for n, variation in enumerate(str(value).split("|"), start=1):
            if not variation.strip():
                continue
            pairs = (pair.partition("=") for pair in variation.split(","))
            picked = {k.strip(): v.strip() for k, sep, v in pairs if sep}.get(arg)
            if not picked:
                raise CellError(f"variation {n} ({variation.strip()[:80]!r}) has no {arg}")
            found.append(picked)
        return found

    return variations


StepBuilder = Callable[[Any, str, list[FieldError]], Step | None]


def _flag(step: Step, arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    """A step that is on or off: `true` (`false` never gets here); anything else, such as a
    quoted "false", is a problem rather than taken for on."""
    if arg is not True:
        errors.append(FieldError(path, "true or false"))
        return None
    return step


def _unescape(value: Any) -> Any:
    return html.unescape(value) if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _trim_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    return _flag(_trim, arg, path, errors)


def _html_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    return _flag(_each(_unescape), arg, path, errors)


def _split_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    if not isinstance(arg, str) or not arg:
        errors.append(FieldError(path, "the separator, e.g. ',' or '|'"))
        return None
    return lambda value: [p.strip() for p in as_written(value).split(arg) if p.strip()]


def _map_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    if not isinstance(arg, Mapping):
        errors.append(FieldError(path, "an object of source value to field value"))
        return None
    if any(isinstance(k, bool) for k in arg):
        errors.append(
            FieldError(path, "quote yes, no, on, off, true and false: YAML reads them as booleans")
        )
        return None
    table = {str(k): v for k, v in arg.items()}
    return _each(lambda v: table.get(str(v), v))


def _lower_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    return _flag(_each(_lower), arg, path, errors)


def _upper_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    return _flag(_each(_upper), arg, path, errors)


def _replace_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    """`replace: {'\\n': "\\n"}` replaces each text by its replacement (here the two
    characters backslash and n, as some exports write line breaks, by a line break). One
    pass, longest text first: a replacement is never replaced again."""
    if not isinstance(arg, Mapping) or not arg:
        errors.append(FieldError(path, "an object of text to its replacement"))
        return None
    bad = [k for k, v in arg.items() if not isinstance(k, str) or not k or not isinstance(v, str)]
    errors.extend(
        FieldError(f"{path}.{k}", "a non-empty text and a text to put instead (quote both)")
        for k in bad
    )
    if bad:
        return None
    table: dict[str, str] = dict(arg)
    texts = re.compile("|".join(re.escape(t) for t in sorted(table, key=len, reverse=True)))

    def replace(value: Any) -> Any:
        return texts.sub(lambda m: table[m.group(0)], value) if isinstance(value, str) else value

    return _each(replace)


def _number_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    options = arg if isinstance(arg, Mapping) else {}
    if not isinstance(arg, bool | Mapping):
        errors.append(FieldError(path, "true, or {decimal: ',', thousands: '.'}"))
        return None
    _check_options(options, ("decimal", "thousands"), path, errors)
    # Only the separators given are replaced: the defaults (a point, none) need nothing.
    given = {k: options[k] for k in ("thousands", "decimal") if k in options}
    if any(not isinstance(sep, str) or not sep for sep in given.values()) or given.get(
        "decimal", "."
    ) == given.get("thousands"):
        errors.append(
            FieldError(path, "separators are non-empty texts, and decimal is not thousands")
        )
        return None
    replacements = [(given[k], to) for k, to in (("thousands", ""), ("decimal", ".")) if k in given]

    def number(value: Any) -> Any:
        # Numbers of JSON records too go through text, to get the same checks.
        text = str(value).strip()
        for separator, replacement in replacements:
            text = text.replace(separator, replacement)
        try:
            parsed = Decimal(text)
        except InvalidOperation:
            raise CellError(f"{in_message(value)} is not a number") from None
        if not parsed.is_finite() or abs(parsed) > _LARGEST:
            raise CellError(f"{in_message(value)} is not a number this catalog can hold")
        if parsed and abs(parsed) < _SMALLEST:
            raise CellError(f"{in_message(value)} is too close to zero for this catalog to hold")
        if parsed == parsed.to_integral_value() and abs(parsed) < 2**63:
            return int(parsed)
        return float(parsed)

    return _each(number)


def _boolean_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    if arg is not True and not isinstance(arg, Mapping):
        errors.append(FieldError(path, "true, or {true: [...], false: [...]}"))
        return None
    # An unquoted true: or false: key is a boolean to YAML.
    options = {str(k).lower(): v for k, v in arg.items()} if isinstance(arg, Mapping) else {}
    _check_options(options, ("true", "false"), path, errors)
    lists = [options.get("true", _TRUE), options.get("false", _FALSE)]
    if not all(isinstance(texts, list | frozenset) for texts in lists):
        errors.append(FieldError(path, "true and false are lists of texts"))
        return None
    yes, no = (_boolean_texts(texts) for texts in lists)

    def boolean(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in yes:
            return True
        if text in no:
            return False
        words = ", ".join(sorted(yes))
        raise CellError(f"{in_message(value)} is neither true ({words}) nor false")

    return boolean


def _boolean_texts(texts: Iterable[Any]) -> set[str]:
    """Lower-cased texts; a boolean is any of the words YAML reads as it."""
    found: set[str] = set()
    for text in texts:
        if isinstance(text, bool):
            found |= _YAML_TRUE if text else _YAML_FALSE
        else:
            found.add(str(text).lower())
    return found


def _check_options(
    options: Mapping[Any, Any], known: Sequence[str], path: str, errors: list[FieldError]
) -> None:
    errors.extend(
        FieldError(f"{path}.{k}", f"unknown option; use {', '.join(known)}")
        for k in sorted(set(map(str, options)) - set(known))
    )


def _date_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    if arg is not True and not isinstance(arg, Mapping):
        errors.append(FieldError(path, "true (ISO 8601), or {format: '%d.%m.%Y'}"))
        return None
    options = arg if isinstance(arg, Mapping) else {}
    _check_options(options, ("format",), path, errors)
    fmt = options.get("format")
    if fmt is not None and not isinstance(fmt, str):
        errors.append(FieldError(f"{path}.format", "a strptime format such as '%d.%m.%Y'"))
        return None

    def date(value: Any) -> Any:
        text = str(value).strip()
        try:
            moment = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
        except ValueError:
            raise CellError(f"{in_message(value)} is not a date ({fmt or 'ISO 8601'})") from None
        return moment.date().isoformat()

    return date


def _first_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    return _flag(_first, arg, path, errors)


# --- unit: a quantity's unit from a column of its own (Akeneo's `weight-unit`) -------------


def _unit_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    """`unit: mass` reads a unit cell (`GRAM`, `kg`, `pounds`) as the code of a unit of that
    family; an unknown unit is a problem of this cell, so the row error names the unit's
    column and value rather than the quantity's number."""
    if arg not in units.FAMILIES:
        errors.append(FieldError(path, f"a family of units: {', '.join(units.FAMILIES)}"))
        return None

    def unit(value: Any) -> Any:
        try:
            return units.unit_code(arg, str(value))
        except units.UnitError as exc:
            raise CellError(str(exc)) from None

    return unit


STEPS: tuple[tuple[str, StepBuilder], ...] = (
    ("pick", _pick_step),
    ("variations", _variations_step),
    ("trim", _trim_step),
    ("html", _html_step),
    ("replace", _replace_step),
    ("split", _split_step),
    ("lowercase", _lower_step),
    ("uppercase", _upper_step),
    ("map", _map_step),
    ("number", _number_step),
    ("boolean", _boolean_step),
    ("date", _date_step),
    ("first", _first_step),
    ("unit", _unit_step),
)


# --- fallback: the first non-empty of several columns ----------------------------------------

Source = Callable[[Mapping[str, Any]], Any]


def parse_fallback(arg: Any, path: str, errors: list[FieldError]) -> tuple[str, ...]:
    """`fallback: [short_name, sku]`: the columns read, in order, when the field's source is
    empty (one column may be given alone)."""
    columns = [arg] if isinstance(arg, str) else arg
    if not isinstance(columns, list) or not columns:
        errors.append(FieldError(path, "a column, or a list of columns to try in order"))
        return ()
    if any(not isinstance(c, str) or not c for c in columns):
        errors.append(FieldError(path, "column names are non-empty texts"))
        return ()
    return tuple(columns)


def with_fallback(source: Source, columns: tuple[str, ...]) -> Source:
    """`source`, or when it gives nothing (an empty or blank cell) the first of `columns`
    that holds something."""

    def first_given(record: Mapping[str, Any]) -> Any:
        value = source(record)
        for column in columns:
            if not _blank(value):
                break
            value = record.get(column)
        return value

    return first_given


def _blank(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


# --- @published: whether the row's object is published, from a column ----------------------

_PUBLISHED_TEXTS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


def published_value(value: Any) -> bool:
    """A cell of `@published` as a boolean: yes/no, true/false, 1/0 (any case), or a
    boolean (a `boolean` step's result, a JSON value); anything else is a CellError."""
    if isinstance(value, bool):
        return value
    found = _PUBLISHED_TEXTS.get(str(value).strip().lower())
    if found is None:
        raise CellError(f"{in_message(value)} is not yes, no, true, false, 1 or 0")
    return found
