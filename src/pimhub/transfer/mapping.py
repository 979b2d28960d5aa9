"""Mappings: which source column feeds which field, and how its text becomes the value.

A mapping is data (YAML), checked at once with every problem named by its path:

    class: Product
    fields:
      sku: sku                                   # a column, as is (trimmed)
      name.en: {column: name}                    # a localized field's language
      price.amount: {column: price, number: true}
      price.currency: {value: EUR}               # a static value
      color: {column: additional_attributes, pick: color, lowercase: true, map: {gray: grey}}
      material: {column: material, split: "|", lowercase: true}
      featured: {column: is_featured, boolean: true}
      releasedOn: {column: new_from_date, date: {format: "%m/%d/%Y"}}
      shortDescription.en: {template: "{name} ({sku})"}

Steps run in a fixed order: source (column, value or template), pick, trim (on unless
`trim: false`), html, split, lowercase, map, number, boolean, date, first. An empty result
leaves the field out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.transfer.category_paths import PathOptions, parse_path_options, path_step

TARGET_PATTERN = re.compile(r"[a-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)?")  # the whole name
_STEP_KEYS = frozenset(
    {
        "column",
        "value",
        "template",
        "pick",
        "trim",
        "html",
        "split",
        "map",
        "lowercase",
        "number",
        "boolean",
        "date",
        "first",
        "path",
        "optional",
    }
)
_LARGEST = Decimal("1e300")  # beyond this a float is no longer a number anyone meant
_SMALLEST = Decimal("1e-300")  # below this (not zero) a float would become 0 or lose digits
_TRUE = frozenset({"1", "true", "yes", "y", "on", "x"})
_FALSE = frozenset({"0", "false", "no", "n", "off", ""})
# What YAML (1.1, as PyYAML reads it) turns into a boolean, lower-cased: an unquoted yes in
# a mapping file arrives here as True.
_YAML_TRUE = frozenset({"true", "yes", "on"})
_YAML_FALSE = frozenset({"false", "no", "off"})


class InvalidMapping(InvalidInput):
    code = "invalid-mapping"
    title = "Invalid mapping"


class CellError(Exception):
    """A value a step cannot take; becomes a row error naming the column."""


Step = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class FieldMapping:
    target: str  # "sku", "name.en", "price.amount"
    column: str | None  # the source column, for error reports
    source: Callable[[Mapping[str, Any]], Any]
    steps: tuple[Step, ...] = ()
    path: PathOptions | None = None
    reads: tuple[str, ...] = ()  # the columns its value comes from (a template's several)
    optional: bool = False  # a file may lack its columns


@dataclass(frozen=True, slots=True)
class ImportMapping:
    class_name: str
    fields: tuple[FieldMapping, ...]
    columns: frozenset[str] = field(default_factory=frozenset)  # every column it reads

    def missing_columns(self, header: Sequence[str]) -> list[FieldError]:
        """A problem for each column a field that is not `optional` reads and `header` lacks."""
        have = set(header)
        return [
            FieldError(
                f"fields.{fm.target}",
                f"reads the column '{name}', which the file does not have "
                "(mark the field optional: true if some files lack it)",
                "missing-column",
            )
            for fm in self.fields
            if not fm.optional
            for name in fm.reads
            if name not in have
        ]

    def apply(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        """The record as field values, and the problems of its cells."""
        values: dict[str, Any] = {}
        errors: list[FieldError] = []
        for fm in self.fields:
            try:
                value = fm.source(record)
                for step in fm.steps:
                    if _empty(value):
                        break
                    value = step(value)
            except CellError as exc:
                errors.append(FieldError(fm.column or fm.target, str(exc), "transform"))
                continue
            if not _empty(value):
                _put(values, fm.target, value)
        return values, errors


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _put(values: dict[str, Any], target: str, value: Any) -> None:
    head, _, tail = target.partition(".")
    if tail:
        values.setdefault(head, {})[tail] = value
    else:
        values[head] = value


def parse_mapping(raw: Any) -> ImportMapping:
    errors: list[FieldError] = []
    if not isinstance(raw, Mapping):
        raise InvalidMapping(
            "a mapping is an object with 'class' and 'fields'",
            [FieldError("", "expected an object")],
        )
    errors.extend(
        FieldError(k, "unknown attribute") for k in sorted(set(raw) - {"class", "fields"})
    )
    class_name = raw.get("class")
    if not isinstance(class_name, str) or not class_name:
        errors.append(FieldError("class", "name the class the rows become", "required"))
    specs = raw.get("fields")
    fields: list[FieldMapping] = []
    if not isinstance(specs, Mapping) or not specs:
        errors.append(
            FieldError("fields", "map at least one field to a column or value", "required")
        )
        specs = {}
    for target, spec in specs.items():
        path = f"fields.{target}"
        if not isinstance(target, str) or not TARGET_PATTERN.fullmatch(target):
            errors.append(FieldError(path, "a field name, or field.part (name.en, price.amount)"))
            continue
        parsed = _field(target, spec, path, errors)
        if parsed is not None:
            fields.append(parsed)
    if errors:
        raise InvalidMapping(f"the mapping has {len(errors)} problem(s)", errors)
    assert isinstance(class_name, str)
    columns = frozenset(name for f in fields for name in f.reads)
    return ImportMapping(class_name, tuple(fields), columns)


def _field(target: str, spec: Any, path: str, errors: list[FieldError]) -> FieldMapping | None:
    if isinstance(spec, str):
        spec = {"column": spec}
    if not isinstance(spec, Mapping):
        errors.append(FieldError(path, "a column name, or an object of steps"))
        return None
    unknown = sorted(set(spec) - _STEP_KEYS)
    errors.extend(
        FieldError(f"{path}.{k}", f"unknown step; use {', '.join(sorted(_STEP_KEYS))}")
        for k in unknown
    )
    sources = [k for k in ("column", "value", "template") if k in spec]
    if len(sources) != 1:
        errors.append(FieldError(path, "give exactly one of column, value or template"))
        return None
    source, reads = _source(spec, path, errors)
    steps: list[Step] = []
    for name, build in _STEPS:
        arg = spec.get(name, name == "trim")  # trim is the one step on unless turned off
        if arg is not False:
            step = build(arg, f"{path}.{name}", errors)
            if step is not None:
                steps.append(step)
    path_options = parse_path_options(spec.get("path"), f"{path}.path", errors)
    if path_options is not None:
        steps.append(path_step(path_options))
    optional = spec.get("optional", False)
    if not isinstance(optional, bool):
        errors.append(FieldError(f"{path}.optional", "true or false"))
    if source is None:
        return None  # a problem reported above
    return FieldMapping(
        target,
        spec.get("column"),
        source,
        tuple(steps),
        path_options,
        reads,
        optional is True,
    )


# A template's pieces: {{ and }} are braces, {column} a column's text, a lone brace a mistake.
_TEMPLATE_PIECE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
TemplatePart = tuple[bool, str]  # (is a column, column name or literal text)


def parse_template(template: str) -> list[TemplatePart]:
    """The literal texts and {column} placeholders of `template`; any column name without
    braces works (`{name.en}`, `{Base Price}`). Raises ValueError naming a malformed piece."""
    parts: list[TemplatePart] = []
    done = 0
    for match in _TEMPLATE_PIECE.finditer(template):
        if match.start() > done:
            parts.append((False, template[done : match.start()]))
        piece, column = match.group(0), match.group(1)
        if column is not None and column:
            parts.append((True, column))
        elif piece in ("{{", "}}"):
            parts.append((False, piece[:1]))  # one brace of the two
        elif column is not None:
            raise ValueError(f"an empty {{}} at character {match.start() + 1}")
        else:
            raise ValueError(
                f"a lone '{piece}' at character {match.start() + 1}; write {piece * 2} for a brace"
            )
        done = match.end()
    if done < len(template):
        parts.append((False, template[done:]))
    return parts


Source = Callable[[Mapping[str, Any]], Any]


def _source(
    spec: Mapping[str, Any], path: str, errors: list[FieldError]
) -> tuple[Source | None, tuple[str, ...]]:
    """The field's source and the columns it reads; no source when it has a problem."""
    if "value" in spec:
        value = spec["value"]
        return (lambda _record: value), ()
    if "template" in spec:
        template = spec["template"]
        if not isinstance(template, str):
            errors.append(FieldError(f"{path}.template", "a text with {column} placeholders"))
            return None, ()
        try:
            parts = parse_template(template)
        except ValueError as exc:
            errors.append(FieldError(f"{path}.template", str(exc)))
            return None, ()

        def render(record: Mapping[str, Any]) -> Any:
            return "".join(_cell_text(record.get(text)) if col else text for col, text in parts)

        return render, tuple(dict.fromkeys(text for is_column, text in parts if is_column))
    column = spec["column"]
    if not isinstance(column, str) or not column:
        errors.append(FieldError(f"{path}.column", "a column name"))
        return None, ()
    return (lambda record: record.get(column)), (column,)


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value)


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


def _trim_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    return _flag(_trim, arg, path, errors)


def _html_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    return _flag(_each(_unescape), arg, path, errors)


def _split_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    if not isinstance(arg, str) or not arg:
        errors.append(FieldError(path, "the separator, e.g. ',' or '|'"))
        return None
    return lambda value: [p.strip() for p in str(value).split(arg) if p.strip()]


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
            raise CellError(f"{value!r} is not a number") from None
        if not parsed.is_finite() or abs(parsed) > _LARGEST:
            raise CellError(f"{value!r} is not a number this catalog can hold")
        if parsed and abs(parsed) < _SMALLEST:
            raise CellError(f"{value!r} is too close to zero for this catalog to hold")
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
        raise CellError(f"{value!r} is neither true ({', '.join(sorted(yes))}) nor false")

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
            raise CellError(f"{value!r} is not a date ({fmt or 'ISO 8601'})") from None
        return moment.date().isoformat()

    return date


def _first_step(arg: Any, path: str, errors: list[FieldError]) -> Step | None:
    return _flag(_first, arg, path, errors)


_STEPS: tuple[tuple[str, StepBuilder], ...] = (
    ("pick", _pick_step),
    ("trim", _trim_step),
    ("html", _html_step),
    ("split", _split_step),
    ("lowercase", _lower_step),
    ("map", _map_step),
    ("number", _number_step),
    ("boolean", _boolean_step),
    ("date", _date_step),
    ("first", _first_step),
)


def shipped_mappings() -> list[str]:
    """The names of the mappings that ship with pimhub (transfer/mappings/*.yaml)."""
    folder = resources.files("pimhub.transfer").joinpath("mappings")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def shipped_mapping(name: str) -> str | None:
    """The YAML text of a shipped mapping, or None."""
    if name not in shipped_mappings():
        return None
    return (
        resources.files("pimhub.transfer")
        .joinpath("mappings", f"{name}.yaml")
        .read_bytes()
        .decode()
    )
