"""Class definitions: data that says which fields an object of a class has.

Definitions arrive as plain dicts (JSON or YAML); `parse_class_definition` checks every
part at once and reports all problems with their paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pimhub.catalog import units
from pimhub.catalog.channels import Channel, channels_to_dict, parse_channels
from pimhub.catalog.errors import FieldError, InvalidClassDefinition
from pimhub.catalog.fields import (
    FIELD_NAME_PATTERN,
    LIST_CAPABLE,
    RESERVED_FIELD_NAMES,
    TEXT_TYPES,
    FieldDefinition,
    FieldType,
)
from pimhub.catalog.linear_regex import PatternError, cached_fullmatch
from pimhub.catalog.workflows import Workflow, parse_workflow

CLASS_NAME_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
DEFAULT_KEY_PATTERN = r"[^\s/](?:[^/]*[^\s/])?"
_MEASURED = (FieldType.NUMBER, FieldType.MONEY, FieldType.QUANTITY)

_FIELD_KEYS = frozenset(
    {
        "name",
        "type",
        "title",
        "localized",
        "required",
        "unique",
        "min",
        "max",
        "minLength",
        "maxLength",
        "pattern",
        "options",
        "target",
        "multiple",
        "decimals",
        "currencies",
        "priceList",
        "family",
        "unit",
    }
)
_CLASS_KEYS = frozenset(
    {
        "name",
        "title",
        "description",
        "businessKey",
        "fields",
        "version",
        "variants",
        "completeness",
        "workflow",
    }
)
_VARIANT_KEYS = frozenset({"axes", "parentOnly"})
# Axes tell siblings apart, so each holds one plain value a child sets itself.
AXIS_TYPES = frozenset({FieldType.TEXT, FieldType.SELECT, FieldType.NUMBER, FieldType.BOOLEAN})


@dataclass(frozen=True, slots=True)
class VariantRules:
    """How objects of a class form families: a parent and its variants (children), told
    apart by their values on the axes. A child inherits what it does not set itself, except
    its business key, unique fields and the axes; `parent_only` fields only a parent sets."""

    axes: tuple[str, ...]
    parent_only: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"axes": list(self.axes)}
        if self.parent_only:
            out["parentOnly"] = list(self.parent_only)
        return out


@dataclass(frozen=True, slots=True)
class ClassDefinition:
    """A class: its name, its business key field and its ordered fields."""

    name: str
    business_key: str
    fields: tuple[FieldDefinition, ...]
    title: str | None = None
    description: str | None = None
    version: int = 0
    variants: VariantRules | None = None
    # Completeness channels (catalog.channels); empty: the class has none.
    completeness: tuple[Channel, ...] = ()
    # Publishing workflow (catalog.workflows); None: `published` is set directly.
    workflow: Workflow | None = None
    _by_name: dict[str, FieldDefinition] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.fields})

    def field(self, name: str) -> FieldDefinition | None:
        return self._by_name.get(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def key_field(self) -> FieldDefinition:
        return self._by_name[self.business_key]

    def relation_fields(self) -> list[FieldDefinition]:
        return [f for f in self.fields if f.type == FieldType.RELATION]

    def inheritable(self, name: str) -> bool:
        """Whether a variant takes this field from its parent when it does not set it."""
        f = self._by_name.get(name)
        return (
            f is not None
            and self.variants is not None
            and name != self.business_key
            and not f.unique
            and name not in self.variants.axes
        )

    def to_dict(self, *, with_version: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.title:
            out["title"] = self.title
        if self.description:
            out["description"] = self.description
        out["businessKey"] = self.business_key
        out["fields"] = [f.to_dict() for f in self.fields]
        if self.variants is not None:
            out["variants"] = self.variants.to_dict()
        if self.completeness:
            out["completeness"] = channels_to_dict(self.completeness)
        if self.workflow is not None:
            out["workflow"] = self.workflow.to_dict()
        if with_version:
            out["version"] = self.version
        return out

    def with_version(self, version: int) -> ClassDefinition:
        return ClassDefinition(
            name=self.name,
            business_key=self.business_key,
            fields=self.fields,
            title=self.title,
            description=self.description,
            version=version,
            variants=self.variants,
            completeness=self.completeness,
            workflow=self.workflow,
        )


class _Collector:
    """Gathers field errors so a definition reports every problem at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))


def _opt_bool(raw: Mapping[str, Any], key: str, path: str, out: _Collector) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        out.add(f"{path}.{key}", "must be true or false")
        return False
    return value


def _opt_number(raw: Mapping[str, Any], key: str, path: str, out: _Collector) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        out.add(f"{path}.{key}", "must be a number")
        return None
    return value


def _opt_int(raw: Mapping[str, Any], key: str, path: str, out: _Collector) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        out.add(f"{path}.{key}", "must be a non-negative whole number")
        return None
    return value


def _opt_str(raw: Mapping[str, Any], key: str, path: str, out: _Collector) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        out.add(f"{path}.{key}", "must be a string")
        return None
    return value


def _str_list(raw: Mapping[str, Any], key: str, path: str, out: _Collector) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        out.add(f"{path}.{key}", "must be a list of non-empty strings")
        return ()
    if len(set(value)) != len(value):
        out.add(f"{path}.{key}", "must not repeat a value")
    return tuple(value)


def _parse_field(raw: Any, path: str, out: _Collector) -> FieldDefinition | None:
    if not isinstance(raw, Mapping):
        out.add(path, "must be an object with at least 'name' and 'type'")
        return None
    for key in sorted(set(raw) - _FIELD_KEYS):
        out.add(f"{path}.{key}", "unknown field attribute")
    name = raw.get("name")
    if not isinstance(name, str) or not FIELD_NAME_PATTERN.match(name):
        out.add(
            f"{path}.name",
            "must start with a lower-case letter, then letters, digits or _ (at most 64)",
        )
        name = None
    elif name in RESERVED_FIELD_NAMES:
        out.add(f"{path}.name", f"'{name}' is reserved for the object envelope")
    type_raw = raw.get("type")
    try:
        ftype = FieldType(str(type_raw))
    except ValueError:
        allowed = ", ".join(t.value for t in FieldType)
        out.add(f"{path}.type", f"unknown type {type_raw!r}; use one of: {allowed}")
        return None
    before = len(out.errors)
    definition = FieldDefinition(
        name=name or "?",
        type=ftype,
        title=_opt_str(raw, "title", path, out),
        localized=_opt_bool(raw, "localized", path, out),
        required=_opt_bool(raw, "required", path, out),
        unique=_opt_bool(raw, "unique", path, out),
        min=_opt_number(raw, "min", path, out),
        max=_opt_number(raw, "max", path, out),
        min_length=_opt_int(raw, "minLength", path, out),
        max_length=_opt_int(raw, "maxLength", path, out),
        pattern=_opt_str(raw, "pattern", path, out),
        options=_str_list(raw, "options", path, out),
        target=_opt_str(raw, "target", path, out),
        multiple=_opt_bool(raw, "multiple", path, out),
        decimals=_opt_int(raw, "decimals", path, out) or 0,
        currencies=_str_list(raw, "currencies", path, out),
        price_list=_opt_bool(raw, "priceList", path, out),
        family=_opt_str(raw, "family", path, out),
        unit=_quantity_unit(raw, path, out),
    )
    _check_field_rules(definition, raw, path, out)
    return definition if name and len(out.errors) == before else None


def _check_field_rules(
    f: FieldDefinition, raw: Mapping[str, Any], path: str, out: _Collector
) -> None:
    t = f.type
    if f.localized and t not in TEXT_TYPES:
        out.add(f"{path}.localized", "only text, textarea and rich_text fields can be localized")
    if f.unique and (
        f.localized or f.is_list or t in (FieldType.RICH_TEXT, FieldType.MONEY, FieldType.QUANTITY)
    ):
        out.add(
            f"{path}.unique",
            f"a {'localized ' if f.localized else ''}{t.value} field cannot be unique",
        )
    if (f.min is not None or f.max is not None) and t not in _MEASURED:
        out.add(f"{path}.min", "min and max apply to number, money and quantity fields only")
    if f.min is not None and f.max is not None and f.min > f.max:
        out.add(f"{path}.max", "must not be below min")
    if (f.min_length is not None or f.max_length is not None) and t not in TEXT_TYPES:
        out.add(f"{path}.maxLength", "minLength and maxLength apply to text fields only")
    if f.min_length is not None and f.max_length is not None and f.min_length > f.max_length:
        out.add(f"{path}.maxLength", "must not be below minLength")
    if f.pattern is not None:
        if t not in TEXT_TYPES:
            out.add(f"{path}.pattern", "pattern applies to text fields only")
        try:
            cached_fullmatch(f.pattern)  # RE2: it runs against every write's text
        except PatternError as exc:
            out.add(f"{path}.pattern", str(exc))
    if t in (FieldType.SELECT, FieldType.MULTISELECT):
        if not f.options:
            out.add(f"{path}.options", f"a {t.value} field needs a non-empty list of options")
    elif "options" in raw:
        out.add(f"{path}.options", "options apply to select and multiselect fields only")
    if t == FieldType.RELATION:
        if not f.target or not CLASS_NAME_PATTERN.match(f.target):
            out.add(f"{path}.target", "a relation needs the name of its target class")
    elif "target" in raw:
        out.add(f"{path}.target", "target applies to relation fields only")
    if f.multiple and t not in LIST_CAPABLE:
        out.add(f"{path}.multiple", "multiple applies to relation and asset fields only")
    if "decimals" in raw and t not in (FieldType.NUMBER, FieldType.MONEY):
        out.add(f"{path}.decimals", "decimals applies to number and money fields only")
    if f.decimals > 8:
        out.add(f"{path}.decimals", "at most 8 decimals are supported")
    if f.currencies:
        if t != FieldType.MONEY:
            out.add(f"{path}.currencies", "currencies apply to money fields only")
        bad = [c for c in f.currencies if not CURRENCY_PATTERN.match(c)]
        if bad:
            out.add(f"{path}.currencies", f"not ISO 4217 codes: {', '.join(bad)}")
    if f.price_list and (t != FieldType.MONEY or not f.currencies):
        out.add(f"{path}.priceList", "a price list is a money field with a list of currencies")
    _check_quantity_rules(f, raw, path, out)


def _quantity_unit(raw: Mapping[str, Any], path: str, out: _Collector) -> str | None:
    """The field's unit as its code (`KILOGRAM` and `kg` both give kg), checked against its
    family; None, with the problem reported, when either is wrong."""
    family, unit = raw.get("family"), raw.get("unit")
    if raw.get("type") != FieldType.QUANTITY.value:
        return unit if isinstance(unit, str) else None  # reported by _check_quantity_rules
    if family not in units.FAMILIES:
        out.add(f"{path}.family", f"a quantity needs a family: one of {', '.join(units.FAMILIES)}")
        return None
    if not isinstance(unit, str):
        out.add(
            f"{path}.unit",
            f"a quantity needs its unit, one of: {', '.join(units.unit_codes(family))}",
        )
        return None
    try:
        return units.unit_code(family, unit)
    except units.UnitError as exc:
        out.add(f"{path}.unit", str(exc))
        return None


def _check_quantity_rules(
    f: FieldDefinition, raw: Mapping[str, Any], path: str, out: _Collector
) -> None:
    if f.type != FieldType.QUANTITY:
        for key in ("family", "unit"):
            if key in raw:
                out.add(f"{path}.{key}", f"{key} applies to quantity fields only")


def parse_class_definition(raw: Any) -> ClassDefinition:
    """Build a ClassDefinition from plain data, or raise InvalidClassDefinition listing
    every problem found."""
    out = _Collector()
    if not isinstance(raw, Mapping):
        raise InvalidClassDefinition(
            "a class definition must be a JSON/YAML object", [FieldError("", "expected an object")]
        )
    for key in sorted(set(raw) - _CLASS_KEYS):
        out.add(key, "unknown class attribute")
    name = raw.get("name")
    if not isinstance(name, str) or not CLASS_NAME_PATTERN.match(name):
        out.add("name", "must start with an upper-case letter, then letters or digits (at most 64)")
    raw_fields = raw.get("fields")
    fields: list[FieldDefinition] = []
    if not isinstance(raw_fields, list) or not raw_fields:
        out.add("fields", "must be a non-empty list of field definitions")
    else:
        seen: set[str] = set()
        for i, raw_field in enumerate(raw_fields):
            parsed = _parse_field(raw_field, f"fields[{i}]", out)
            if parsed is None:
                continue
            if parsed.name in seen:
                out.add(f"fields[{i}].name", f"field '{parsed.name}' is defined twice")
            seen.add(parsed.name)
            fields.append(parsed)
    business_key = raw.get("businessKey")
    by_name = {f.name: f for f in fields}
    if not isinstance(business_key, str):
        out.add("businessKey", "must name the field that identifies objects (e.g. 'sku')")
    elif business_key in by_name:
        key_field = by_name[business_key]
        if key_field.type != FieldType.TEXT or key_field.localized:
            out.add("businessKey", "the business key must be a non-localized text field")
        else:
            # A business key is required and unique by definition; say so in the stored form.
            by_name[business_key] = _as_key_field(key_field)
            fields = [by_name[f.name] for f in fields]
    elif not out.errors:
        out.add("businessKey", f"names no field of this class: '{business_key}'")
    for attr in ("title", "description"):
        if raw.get(attr) is not None and not isinstance(raw.get(attr), str):
            out.add(attr, "must be a string")
    variants = _parse_variants(raw.get("variants"), by_name, business_key, out)
    completeness = parse_channels(raw.get("completeness"), by_name, out.add)
    workflow = parse_workflow(raw.get("workflow"), out.add)
    if out.errors:
        raise InvalidClassDefinition(
            f"class definition {name if isinstance(name, str) else ''!s} has "
            f"{len(out.errors)} problem(s)".replace("  ", " "),
            out.errors,
        )
    assert isinstance(name, str) and isinstance(business_key, str)
    version = raw.get("version")
    return ClassDefinition(
        name=name,
        business_key=business_key,
        fields=tuple(fields),
        title=raw.get("title"),
        description=raw.get("description"),
        version=version if isinstance(version, int) and not isinstance(version, bool) else 0,
        variants=variants,
        completeness=completeness,
        workflow=workflow,
    )


def _parse_variants(
    raw: Any, by_name: Mapping[str, FieldDefinition], business_key: Any, out: _Collector
) -> VariantRules | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        out.add("variants", "must be an object with 'axes' (and optionally 'parentOnly')")
        return None
    for key in sorted(set(raw) - _VARIANT_KEYS):
        out.add(f"variants.{key}", "unknown variants attribute")
    axes = _str_list(raw, "axes", "variants", out)
    parent_only = _str_list(raw, "parentOnly", "variants", out)
    if not axes:
        out.add("variants.axes", "a class with variants names at least one axis field")
    for i, name in enumerate(axes):
        f = by_name.get(name)
        path = f"variants.axes[{i}]"
        if f is None:
            out.add(path, f"names no field of this class: '{name}'")
        elif name == business_key or f.unique:
            out.add(path, "the business key and unique fields cannot be axes")
        elif f.type not in AXIS_TYPES or f.localized or f.is_list:
            allowed = ", ".join(sorted(t.value for t in AXIS_TYPES))
            out.add(path, f"an axis is a non-localized field of type {allowed}")
    for i, name in enumerate(parent_only):
        f = by_name.get(name)
        path = f"variants.parentOnly[{i}]"
        if f is None:
            out.add(path, f"names no field of this class: '{name}'")
        elif name == business_key or f.unique or name in axes:
            out.add(path, "the business key, unique fields and axes belong to each variant")
    return VariantRules(axes, parent_only)


def _as_key_field(f: FieldDefinition) -> FieldDefinition:
    return FieldDefinition(
        name=f.name,
        type=f.type,
        title=f.title,
        required=True,
        unique=True,
        min_length=f.min_length if f.min_length is not None else 1,
        max_length=f.max_length if f.max_length is not None else 128,
        # Keys travel in URL paths, so by default they hold no '/' and no surrounding blanks.
        pattern=f.pattern if f.pattern is not None else DEFAULT_KEY_PATTERN,
    )
