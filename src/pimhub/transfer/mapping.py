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
      "@parent": {column: parent}                # a variant's parent (its business key)
      "@variants": {column: configurable_variations, variations: sku}  # a parent's variants

Steps run in a fixed order: source (column, value or template; `fallback` columns when it
is empty), pick, variations, trim (on unless `trim: false`), html, replace, split,
lowercase, uppercase, map, number, boolean, date, first, unit (`weight.unit: {column:
weight-unit, unit: mass}`), path, asset (`image: {column: image_url, asset: {base: URL,
folder: /products}}`: the file a cell names becomes an asset, see transfer.asset_step).
An empty result leaves the field out, except for
`@parent`, where it makes the object standalone. `@published` takes yes/no, true/false or
1/0; a top-level `skip` list leaves rows out (transfer.row_filter).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pimhub.catalog.batch import PUBLISHED_ITEM_KEY
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.variants import CHILDREN_ITEM_KEY, PARENT_ITEM_KEY
from pimhub.transfer.asset_step import AssetOptions, asset_step, parse_asset_options
from pimhub.transfer.category_paths import PathOptions, parse_path_options, path_step
from pimhub.transfer.row_filter import RowFilter, parse_row_filter
from pimhub.transfer.steps import (
    STEPS,
    CellError,
    Step,
    parse_fallback,
    published_value,
    with_fallback,
)

TARGET_PATTERN = re.compile(r"[a-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)?")  # the whole name
# Targets that are not fields: the batch writer links families by them (catalog.variants).
FAMILY_TARGETS = frozenset({PARENT_ITEM_KEY, CHILDREN_ITEM_KEY})
_STEP_KEYS = frozenset(
    {
        "column",
        "value",
        "template",
        "pick",
        "variations",
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
        "unit",
        "replace",
        "uppercase",
        "fallback",
        "asset",
    }
)


class InvalidMapping(InvalidInput):
    code = "invalid-mapping"
    title = "Invalid mapping"


@dataclass(frozen=True, slots=True)
class FieldMapping:
    target: str  # "sku", "name.en", "price.amount"
    column: str | None  # the source column, for error reports
    source: Callable[[Mapping[str, Any]], Any]
    steps: tuple[Step, ...] = ()
    path: PathOptions | None = None
    reads: tuple[str, ...] = ()  # the columns its value comes from (a template's several)
    optional: bool = False  # a file may lack its columns
    asset: AssetOptions | None = None  # the cells name files that become assets


@dataclass(frozen=True, slots=True)
class ImportMapping:
    class_name: str
    fields: tuple[FieldMapping, ...]
    columns: frozenset[str] = field(default_factory=frozenset)  # every column it reads
    skip: RowFilter | None = None  # the rows to leave out (transfer.row_filter)

    def missing_columns(self, header: Sequence[str]) -> list[FieldError]:
        """A problem for each column a field that is not `optional` reads and `header` lacks."""
        have = set(header)
        skip_columns = self.skip.columns if self.skip is not None else ()
        return [
            FieldError("skip", f"tests the column '{name}', which the file does not have")
            for name in skip_columns
            if name not in have
        ] + [
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
                if fm.target in FAMILY_TARGETS:
                    value = _family_value(fm.target, value)
                elif fm.target == PUBLISHED_ITEM_KEY and not _empty(value):
                    value = published_value(value)
            except CellError as exc:
                errors.append(FieldError(fm.column or fm.target, str(exc), "transform"))
                continue
            if not _empty(value):
                _put(values, fm.target, value)
            elif fm.target == PARENT_ITEM_KEY and (fm.column is None or fm.column in record):
                # An empty parent cell makes a standalone object; a record without the
                # column says nothing about the parent, which stays as it is.
                values[fm.target] = None
        return values, errors


def _family_value(target: str, value: Any) -> Any:
    """`@variants` as a list of keys (one key alone becomes a list), `@parent` as one key."""
    if _empty(value):
        return value
    if target == CHILDREN_ITEM_KEY:
        value = value if isinstance(value, list) else [value]
        return [str(v) for v in value if not _empty(v)]
    if isinstance(value, list):
        raise CellError(f"{value!r} names {len(value)} parents; a variant has one")
    return str(value)


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
        FieldError(k, "unknown attribute")
        for k in sorted(set(raw) - {"class", "fields", "skip"}, key=str)
    )
    skip = parse_row_filter(raw.get("skip"), "skip", errors)
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
        if not isinstance(target, str) or not (
            TARGET_PATTERN.fullmatch(target)
            or target in FAMILY_TARGETS
            or target == PUBLISHED_ITEM_KEY
        ):
            errors.append(
                FieldError(
                    path,
                    "a field name, field.part (name.en, price.amount), @parent, @variants "
                    "or @published",
                )
            )
            continue
        parsed = _field(target, spec, path, errors)
        if parsed is not None:
            fields.append(parsed)
    if errors:
        raise InvalidMapping(f"the mapping has {len(errors)} problem(s)", errors)
    assert isinstance(class_name, str)
    columns = frozenset(name for f in fields for name in f.reads)
    return ImportMapping(class_name, tuple(fields), columns, skip)


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
    if "fallback" in spec and source is not None:
        fallback = parse_fallback(spec["fallback"], f"{path}.fallback", errors)
        source, reads = with_fallback(source, fallback), (*reads, *fallback)
    steps: list[Step] = []
    for name, build in STEPS:
        arg = spec.get(name, name == "trim")  # trim is the one step on unless turned off
        if arg is not False:
            step = build(arg, f"{path}.{name}", errors)
            if step is not None:
                steps.append(step)
    path_options = parse_path_options(spec.get("path"), f"{path}.path", errors)
    if path_options is not None:
        steps.append(path_step(path_options))
    asset_options = parse_asset_options(spec.get("asset"), f"{path}.asset", errors)
    if asset_options is not None and path_options is not None:
        errors.append(FieldError(f"{path}.asset", "a field takes a category path or an asset"))
    elif asset_options is not None:
        steps.append(asset_step(asset_options))
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
        asset_options,
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
