"""The object editor's inputs, generated from a class definition.

Every field has a *raw* form: the strings its inputs hold (`{"f.price.amount": "19.99",
"f.price.currency": "EUR"}`). The stored value is turned into raw strings to fill the form,
and a POSTed form is read into raw strings the same way, so "did the user change this
field?" is a plain comparison of raw forms; only changed fields are parsed into values and
sent to the catalog service, which validates them exactly as it does for the API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any

from starlette.datastructures import FormData

from pimhub.catalog import units
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError
from pimhub.catalog.fields import FieldDefinition, FieldType

Raw = dict[str, str | list[str]]
PREFIX = "f."
_INT = re.compile(r"^[+-]?\d{1,19}$")
MAX_LINES = 1000


@dataclass(slots=True)
class Refs:
    """How stored references read in the form: relation uuids as business keys (and a
    label to show), asset uuids as paths (and a thumbnail)."""

    keys: dict[str, str] = default(default_factory=dict)
    labels: dict[str, str] = default(default_factory=dict)
    paths: dict[str, str] = default(default_factory=dict)
    thumbnails: dict[str, str] = default(default_factory=dict)


def kind(f: FieldDefinition) -> str:
    """Which input the template draws for a field."""
    if f.type == FieldType.MONEY:
        return "price_list" if f.price_list else "money"
    if f.type in (FieldType.RELATION, FieldType.ASSET) and f.multiple:
        return "lines"
    if f.type in (FieldType.TEXTAREA, FieldType.RICH_TEXT):
        return "textarea"
    return f.type.value


def input_id(name: str, part: str = "") -> str:
    return f"f-{name}" + (f"-{part}" if part else "")


def names_of(f: FieldDefinition) -> list[str]:
    """The form field names one field's inputs use."""
    base = PREFIX + f.name
    if f.type == FieldType.MONEY:
        parts = list(f.currencies) if f.price_list else ["amount", "currency"]
        return [f"{base}.{p}" for p in parts]
    if f.type == FieldType.QUANTITY:
        return [f"{base}.value", f"{base}.unit"]
    return [base]


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def raw_of(f: FieldDefinition, value: Any, lang: str, refs: Refs) -> Raw:
    """The strings the inputs of `f` hold for the stored `value` (in language `lang`)."""
    base = PREFIX + f.name
    if value is None:
        value = {} if f.localized else None
    t = f.type
    if f.localized:
        text = value.get(lang) if isinstance(value, Mapping) else None
        return {base: text if isinstance(text, str) else ""}
    if t == FieldType.MONEY and f.price_list:
        held = value if isinstance(value, Mapping) else {}
        return {f"{base}.{c}": _number(held.get(c)) for c in f.currencies}
    if t == FieldType.MONEY:
        held = value if isinstance(value, Mapping) else {}
        return {
            f"{base}.amount": _number(held.get("amount")),
            f"{base}.currency": str(held.get("currency") or ""),
        }
    if t == FieldType.QUANTITY:
        held = value if isinstance(value, Mapping) else {}
        return {
            f"{base}.value": _number(held.get("value")),
            f"{base}.unit": str(held.get("unit") or ""),
        }
    if t == FieldType.BOOLEAN:
        return {base: "true" if value is True else ""}
    if t == FieldType.NUMBER:
        return {base: _number(value)}
    if t == FieldType.MULTISELECT:
        return {base: [str(v) for v in value] if isinstance(value, list) else []}
    if t in (FieldType.RELATION, FieldType.ASSET):
        table = refs.keys if t == FieldType.RELATION else refs.paths
        items = value if isinstance(value, list) else ([value] if value else [])
        shown = [table.get(str(v), str(v)) for v in items]
        return {base: "\n".join(shown) if f.multiple else (shown[0] if shown else "")}
    return {base: "" if value is None else str(value)}


def raw_from_form(f: FieldDefinition, form: FormData) -> Raw:
    """The strings the user sent for the inputs of `f` (NULs are kept: validation names
    them with the field)."""
    if f.type == FieldType.MULTISELECT:
        return {PREFIX + f.name: [v for v in form.getlist(PREFIX + f.name) if isinstance(v, str)]}
    out: Raw = {}
    for name in names_of(f):
        value = form.get(name)
        text = value if isinstance(value, str) else ""
        if f.is_list or f.type in (FieldType.TEXTAREA, FieldType.RICH_TEXT):
            text = text.replace("\r\n", "\n")
        if f.is_list:
            text = "\n".join(line.strip() for line in text.split("\n") if line.strip())
        out[name] = text
    return out


def _parse_number(text: str, path: str, errors: list[FieldError]) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    if _INT.match(text):
        return int(text)
    try:
        number = float(text) if len(text) <= 64 else None
    except ValueError:
        number = None
    if number is None:
        errors.append(FieldError(path, f"{text[:40]!r} is not a number", "type"))
    return number


def value_of(f: FieldDefinition, raw: Raw, lang: str, errors: list[FieldError]) -> Any:
    """The value to send for `f` from its raw form: None removes it (a localized field's
    text in `lang` only). Problems the form itself can tell (not a number) go to `errors`."""
    base = PREFIX + f.name

    def text(name: str = base) -> str:
        value = raw.get(name, "")
        return value if isinstance(value, str) else ""

    t = f.type
    if f.localized:
        return {lang: text() or None}
    if t == FieldType.MONEY and f.price_list:
        amounts = {c: text(f"{base}.{c}").strip() or None for c in f.currencies}
        return amounts if any(amounts.values()) else None
    if t == FieldType.MONEY:
        amount = text(f"{base}.amount").strip()
        return {"amount": amount, "currency": text(f"{base}.currency")} if amount else None
    if t == FieldType.QUANTITY:
        number = text(f"{base}.value").strip()
        return {"value": number, "unit": text(f"{base}.unit")} if number else None
    if t == FieldType.BOOLEAN:
        return text() == "true"
    if t == FieldType.NUMBER:
        return _parse_number(text(), f.name, errors)
    if t == FieldType.MULTISELECT:
        chosen = raw.get(base, [])
        return list(chosen) if isinstance(chosen, list) and chosen else None
    if f.is_list:
        lines = [line for line in text().split("\n") if line]
        if len(lines) > MAX_LINES:
            errors.append(FieldError(f.name, f"at most {MAX_LINES} lines are allowed"))
            return None
        return lines or None
    return text() or None


@dataclass(slots=True)
class Input:
    """One field as the template draws it."""

    field: FieldDefinition
    kind: str
    id: str
    label: str
    raw: Raw
    hint: str = ""
    error: str | None = None
    theirs: str | None = None  # a conflict: the newer stored value, as text
    unit_options: tuple[str, ...] = ()
    shown: list[tuple[str, str]] = default(default_factory=list)  # (label, thumbnail url)

    def value(self, part: str = "") -> str:
        name = PREFIX + self.field.name + (f".{part}" if part else "")
        got = self.raw.get(name, "")
        return got if isinstance(got, str) else ""

    def chosen(self) -> list[str]:
        got = self.raw.get(PREFIX + self.field.name, [])
        return got if isinstance(got, list) else []


def _hint(f: FieldDefinition, lang: str) -> str:
    hints = []
    if f.localized:
        hints.append(f"in language {lang}")
    if f.type == FieldType.MULTISELECT:
        hints.append("any number; Ctrl or Cmd and click to choose several")
    elif f.is_list:
        hints.append("one per line")
    if f.type == FieldType.DATETIME:
        hints.append("ISO 8601 with a time zone, e.g. 2026-01-31T12:00:00Z")
    if f.type == FieldType.RELATION:
        hints.append(f"the {f.target}'s key")
    if f.type == FieldType.ASSET:
        hints.append("asset path, e.g. /products/shirt.jpg")
    if f.required and f.localized:
        # The catalog's rule (REST alike): text in one language fills a required field.
        hints.append("required in at least one language")
    elif f.required:
        hints.append("required")
    return "; ".join(hints)


def display(raw: Raw) -> str:
    """A raw form as one line of text, for showing a stored value next to an input."""
    parts = [" / ".join(v) if isinstance(v, list) else v.replace("\n", ", ") for v in raw.values()]
    text = " ".join(p for p in parts if p)
    return text or "(empty)"


def inputs_for(
    definition: ClassDefinition,
    raws: Mapping[str, Raw],
    lang: str,
    refs: Refs,
    errors: Mapping[str, str],
    *,
    with_key: bool,
) -> list[Input]:
    """The inputs of every field (the business key only when `with_key`: it is fixed once
    an object exists), filled from `raws` by field name."""
    out = []
    for f in definition.fields:
        if f.name == definition.business_key and not with_key:
            continue
        shown: list[tuple[str, str]] = []
        raw = raws[f.name]
        if f.type == FieldType.RELATION:
            keys = [k for k in _lines(raw.get(PREFIX + f.name)) if k]
            shown = [(refs.labels.get(k, ""), "") for k in keys]
        elif f.type == FieldType.ASSET:
            paths = [p for p in _lines(raw.get(PREFIX + f.name)) if p]
            shown = [(p, refs.thumbnails.get(p, "")) for p in paths]
        out.append(
            Input(
                field=f,
                kind=kind(f),
                id=input_id(f.name),
                label=f.title or f.name,
                raw=raw,
                hint=_hint(f, lang),
                error=errors.get(f.name),
                unit_options=units.unit_codes(f.family) if f.family else (),
                shown=shown,
            )
        )
    return out


def _lines(value: str | list[str] | None) -> list[str]:
    if isinstance(value, list):
        return value
    return (value or "").split("\n")


_ITEM = re.compile(r"^\[(\d{1,9})\](.*)$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One line of the error summary: where the input is, its label, what is wrong."""

    anchor: str
    label: str
    message: str


def _head(path: str) -> str:
    return path.partition("[")[0].partition(".")[0]


def where(definition: ClassDefinition, path: str) -> str:
    """A problem's path as a person reads it: the field's label, then the language or part
    (`name.de` -> 'Name (de)', `gallery[2]` -> 'Gallery (item 3)')."""
    head = _head(path)
    f = definition.field(head)
    label = (f.title or f.name) if f is not None else head
    rest = path[len(head) :]
    item = _ITEM.match(rest)
    if item:
        rest = f"item {int(item.group(1)) + 1}{item.group(2)}"
    return f"{label} ({rest.lstrip('.')})" if rest else label


def message_of(error: FieldError) -> str:
    """The service's message, a pattern's rule phrased for people (class rules carry no
    description of their own to show instead)."""
    prefix = "does not match the pattern "
    if error.code == "pattern" and error.message.startswith(prefix):
        return f"is not in the expected format (pattern {error.message[len(prefix) :]})"
    return error.message


def problems_of(definition: ClassDefinition, errors: list[FieldError]) -> list[Problem]:
    return [
        Problem(input_id(_head(e.field)), where(definition, e.field), message_of(e)) for e in errors
    ]


def errors_by_field(definition: ClassDefinition, errors: list[FieldError]) -> dict[str, str]:
    """Each field's messages by field name, the language or part named where the problem is
    in one (`Name (de): ...`, `Related (item 2): ...`)."""
    found: dict[str, list[str]] = {}
    for e in errors:
        head = _head(e.field)
        text = message_of(e)
        if e.field != head:
            text = f"{where(definition, e.field)}: {text}"
        found.setdefault(head, []).append(text)
    return {k: "; ".join(v)[:1000] for k, v in found.items()}
