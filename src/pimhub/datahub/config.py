"""Datahub configurations: which classes and fields a GraphQL endpoint exposes, what its keys
may do there, and its limits.

A configuration arrives as plain data (JSON or YAML) and is checked at once against the class
definitions it names, reporting every problem with its path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from pimhub.catalog import units
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.fields import FieldDefinition, FieldType

CONFIG_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
ALL_FIELDS = "*"


class InvalidDatahubConfig(InvalidInput):
    code = "invalid-datahub-config"
    title = "Invalid datahub configuration"


class Operation(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-configuration guards against expensive queries. Cost: every object-returning
    field costs the number of objects it can return (a listing its `first`, a relation
    inside that listing as much again)."""

    max_depth: int = 10
    max_aliases: int = 30
    max_page_size: int = 100
    max_tokens: int = 2000
    max_cost: int = 5000

    def to_dict(self) -> dict[str, int]:
        return {
            "maxDepth": self.max_depth,
            "maxAliases": self.max_aliases,
            "maxPageSize": self.max_page_size,
            "maxTokens": self.max_tokens,
            "maxCost": self.max_cost,
        }


_LIMIT_KEYS = {
    "maxDepth": ("max_depth", 1, 50),
    "maxAliases": ("max_aliases", 0, 1000),
    "maxPageSize": ("max_page_size", 1, 1000),
    "maxTokens": ("max_tokens", 50, 100_000),
    "maxCost": ("max_cost", 1, 10_000_000),
}


class Shape(StrEnum):
    """How a field answers instead of its own type, for clients written for Pimcore."""

    NUMBER = "number"  # a money field as Pimcore's plain number: the amount in one currency
    QUANTITY_VALUE = "quantityValue"  # a quantity as Pimcore's QuantityValue {value unit {...}}


# The field type each shape applies to.
_SHAPE_TYPES = {Shape.NUMBER: FieldType.MONEY, Shape.QUANTITY_VALUE: FieldType.QUANTITY}
_FORMAT_KEYS = {Shape.NUMBER: {"as", "currency"}, Shape.QUANTITY_VALUE: {"as", "unit"}}


@dataclass(frozen=True, slots=True)
class FieldFormat:
    """One field's shape in this configuration's answers (reads only; writes keep the
    field's own input type): `{as: number, currency: EUR}` or `{as: quantityValue}`."""

    field: str
    shape: Shape
    currency: str | None = None  # number: that currency's amount (default: the field's first)
    unit: str | None = None  # quantityValue: converted to this unit (default: as stored)

    def applies_to(self, f: FieldDefinition) -> bool:
        """Whether the field still has the type this shape is for (classes change)."""
        return f.type == _SHAPE_TYPES[self.shape]

    def fits(self, f: FieldDefinition) -> bool:
        """Whether the field still has the type, the currency and the unit's family this
        format asks for (classes change after the configuration was saved)."""
        if not self.applies_to(f):
            return False
        if self.currency is not None and f.currencies and self.currency not in f.currencies:
            return False
        if self.unit is not None:
            try:
                units.unit_code(f.family or "", self.unit)
            except units.UnitError:
                return False
        return True

    def to_dict(self) -> dict[str, str]:
        out = {"as": self.shape.value}
        if self.currency is not None:
            out["currency"] = self.currency
        if self.unit is not None:
            out["unit"] = self.unit
        return out


@dataclass(frozen=True, slots=True)
class ExposedClass:
    """One class in a configuration: its visible fields (None: all), allowed operations and
    the fields it answers in another shape."""

    name: str
    fields: tuple[str, ...] | None
    operations: frozenset[Operation]
    formats: tuple[FieldFormat, ...] = ()

    def field_names(self, definition: ClassDefinition) -> list[str]:
        """The exposed fields that the class still defines, in the class's order; the
        business key is always among them, since it is the identity."""
        wanted = set(definition.field_names if self.fields is None else self.fields)
        wanted.add(definition.business_key)
        return [f.name for f in definition.fields if f.name in wanted]

    def allows(self, operation: Operation) -> bool:
        return operation in self.operations

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fields": ALL_FIELDS if self.fields is None else list(self.fields),
            "operations": [op.value for op in Operation if op in self.operations],
        }
        if self.formats:
            out["formats"] = {f.field: f.to_dict() for f in self.formats}
        return out


@dataclass(frozen=True, slots=True)
class DatahubConfig:
    name: str
    classes: tuple[ExposedClass, ...]
    description: str | None = None
    drafts: bool = False
    introspection: bool | None = None  # None: on, except in the production profile
    limits: Limits = field(default_factory=Limits)
    version: int = 0

    def exposed(self, class_name: str) -> ExposedClass | None:
        return next((c for c in self.classes if c.name == class_name), None)

    @property
    def scope(self) -> str:
        """The API key scope that opens this configuration."""
        return f"datahub:{self.name}"

    def to_dict(self, *, with_version: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["drafts"] = self.drafts
        if self.introspection is not None:
            out["introspection"] = self.introspection
        out["classes"] = {c.name: c.to_dict() for c in self.classes}
        out["limits"] = self.limits.to_dict()
        if with_version:
            out["version"] = self.version
        return out

    def with_version(self, version: int) -> DatahubConfig:
        return replace(self, version=version)


_CONFIG_KEYS = frozenset(
    {"name", "description", "drafts", "introspection", "classes", "limits", "version"}
)
_CLASS_KEYS = frozenset({"fields", "operations", "formats"})


def parse_datahub_config(
    raw: Any, definitions: Mapping[str, ClassDefinition] | None
) -> DatahubConfig:
    """Build a DatahubConfig from plain data, checked against the class definitions, or raise
    InvalidDatahubConfig listing every problem. Stored configurations are loaded with
    `definitions=None`: classes may have changed since, and the schema builder skips what
    no longer exists."""
    errors: list[FieldError] = []
    if not isinstance(raw, Mapping):
        raise InvalidDatahubConfig(
            "a datahub configuration must be an object", [FieldError("", "expected an object")]
        )
    errors.extend(FieldError(k, "unknown attribute") for k in sorted(set(raw) - _CONFIG_KEYS))
    name = raw.get("name")
    if not isinstance(name, str) or not CONFIG_NAME_PATTERN.fullmatch(name):
        errors.append(
            FieldError(
                "name", "must start with a lower-case letter, then a-z, 0-9, _ or - (at most 64)"
            )
        )
    drafts = raw.get("drafts", False)
    if not isinstance(drafts, bool):
        errors.append(FieldError("drafts", "must be true or false"))
    introspection = raw.get("introspection")
    if introspection is not None and not isinstance(introspection, bool):
        errors.append(FieldError("introspection", "must be true, false or left out"))
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        errors.append(FieldError("description", "must be a string"))
    classes = _parse_classes(raw.get("classes"), definitions, errors)
    limits = _parse_limits(raw.get("limits"), errors)
    if errors:
        label = name if isinstance(name, str) else ""
        raise InvalidDatahubConfig(
            f"datahub configuration {label} has {len(errors)} problem(s)".replace("  ", " "),
            errors,
        )
    assert isinstance(name, str)
    return DatahubConfig(
        name=name,
        classes=classes,
        description=description,
        drafts=drafts is True,
        introspection=introspection,  # a bool or None: anything else is a problem above
        limits=limits,
    )


def _parse_classes(
    raw: Any, definitions: Mapping[str, ClassDefinition] | None, errors: list[FieldError]
) -> tuple[ExposedClass, ...]:
    if not isinstance(raw, Mapping) or not raw:
        errors.append(
            FieldError("classes", "must map at least one class name to its fields and operations")
        )
        return ()
    parsed: list[ExposedClass] = []
    for class_name, spec in raw.items():
        path = f"classes.{class_name}"
        definition = definitions.get(class_name) if definitions is not None else None
        if definitions is not None and definition is None:
            known = ", ".join(sorted(definitions)) or "none yet"
            errors.append(FieldError(path, f"there is no class '{class_name}' (classes: {known})"))
            continue
        spec = {} if spec is None else spec
        if not isinstance(spec, Mapping):
            errors.append(FieldError(path, "must be an object with 'fields' and 'operations'"))
            continue
        errors.extend(
            FieldError(f"{path}.{k}", "unknown attribute") for k in sorted(set(spec) - _CLASS_KEYS)
        )
        fields = _parse_fields(spec.get("fields", ALL_FIELDS), definition, path, errors)
        operations = _parse_operations(spec.get("operations", ["read"]), path, errors)
        formats = _parse_formats(spec.get("formats"), definition, fields, path, errors)
        parsed.append(ExposedClass(class_name, fields, operations, formats))
    if definitions is not None:
        _check_relation_targets(parsed, definitions, errors)
    _check_generated_names([c.name for c in parsed], errors)
    return tuple(parsed)


def _check_generated_names(names: Sequence[str], errors: list[FieldError]) -> None:
    """Class names whose generated GraphQL names would collide: `getThingListing` is both
    Thing's listing and ThingListing's get; `MoneyInput` is the shared money input type."""
    for name in names:
        if f"{name}Listing" in names:
            errors.append(
                FieldError(
                    f"classes.{name}Listing",
                    f"get{name}Listing would name both {name}'s listing and this class; "
                    "expose one of them in another configuration",
                )
            )
        if name == "Money":
            errors.append(
                FieldError("classes.Money", "'Money' collides with the built-in Money type")
            )


def _parse_fields(
    raw: Any, definition: ClassDefinition | None, path: str, errors: list[FieldError]
) -> tuple[str, ...] | None:
    if raw == ALL_FIELDS:
        return None
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        errors.append(FieldError(f"{path}.fields", "must be '*' or a list of field names"))
        return ()
    for i, name in enumerate(raw):
        if definition is not None and definition.field(name) is None:
            errors.append(
                FieldError(
                    f"{path}.fields[{i}]",
                    f"{definition.name} has no field '{name}' "
                    f"(fields: {', '.join(definition.field_names)})",
                )
            )
    return tuple(dict.fromkeys(raw))


def _parse_formats(
    raw: Any,
    definition: ClassDefinition | None,
    fields: tuple[str, ...] | None,
    path: str,
    errors: list[FieldError],
) -> tuple[FieldFormat, ...]:
    """`formats: {price: {as: number, currency: EUR}, weight: {as: quantityValue}}`."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        errors.append(FieldError(f"{path}.formats", "must map field names to {as: ...}"))
        return ()
    out: list[FieldFormat] = []
    for name, spec in raw.items():
        here = f"{path}.formats.{name}"
        parsed = _parse_format(str(name), spec, here, errors)
        if parsed is None:
            continue
        if definition is not None and not _format_fits(parsed, definition, fields, here, errors):
            continue
        out.append(parsed)
    return tuple(out)


def _parse_format(name: str, spec: Any, here: str, errors: list[FieldError]) -> FieldFormat | None:
    shapes = ", ".join(s.value for s in Shape)
    shape_name = spec.get("as") if isinstance(spec, Mapping) else None
    if not isinstance(shape_name, str) or shape_name not in set(Shape):
        errors.append(FieldError(f"{here}.as", f"must be one of: {shapes}"))
        return None
    shape = Shape(spec["as"])
    unknown = sorted(set(map(str, spec)) - _FORMAT_KEYS[shape])
    errors.extend(
        FieldError(f"{here}.{k}", f"unknown attribute for as: {shape.value}") for k in unknown
    )
    option = "currency" if shape == Shape.NUMBER else "unit"
    value = spec.get(option)
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 20):
        errors.append(FieldError(f"{here}.{option}", "must be a short string"))
        return None
    if unknown:
        return None
    if shape == Shape.NUMBER:
        return FieldFormat(name, shape, currency=value)
    return FieldFormat(name, shape, unit=value)


def _format_fits(
    fmt: FieldFormat,
    definition: ClassDefinition,
    fields: tuple[str, ...] | None,
    here: str,
    errors: list[FieldError],
) -> bool:
    """Whether `fmt` names an exposed field of the type its shape is for, and options that
    field has; otherwise an error with its path."""
    f = definition.field(fmt.field)
    if f is None:
        errors.append(FieldError(here, f"{definition.name} has no field '{fmt.field}'"))
        return False
    if fields is not None and fmt.field not in fields:
        errors.append(FieldError(here, f"'{fmt.field}' is not among this class's fields"))
        return False
    if not fmt.applies_to(f):
        wanted = _SHAPE_TYPES[fmt.shape].value
        errors.append(
            FieldError(
                f"{here}.as",
                f"as: {fmt.shape.value} applies to {wanted} fields; "
                f"'{f.name}' is a {f.type.value} field",
            )
        )
        return False
    if fmt.currency is not None and f.currencies and fmt.currency not in f.currencies:
        errors.append(
            FieldError(
                f"{here}.currency",
                f"'{f.name}' holds {', '.join(f.currencies)}, not {fmt.currency}",
            )
        )
        return False
    if fmt.unit is not None:
        assert f.family is not None
        try:
            units.unit_code(f.family, fmt.unit)
        except units.UnitError as exc:
            errors.append(FieldError(f"{here}.unit", str(exc)))
            return False
    return True


def listed_field_problems(config: DatahubConfig, definition: ClassDefinition) -> list[FieldError]:
    """The fields `config` lists for `definition`'s class that the class no longer has, each
    at `datahub.<configuration>.classes.<Class>.fields[<i>]`, naming the configuration."""
    return [
        FieldError(
            f"datahub.{config.name}.classes.{exposed.name}.fields[{i}]",
            f"datahub configuration '{config.name}' lists {definition.name}'s field "
            f"'{name}', which the class would no longer have",
        )
        for exposed in config.classes
        if exposed.name == definition.name and exposed.fields is not None
        for i, name in enumerate(exposed.fields)
        if definition.field(name) is None
    ]


def exposure_problems(config: DatahubConfig, class_name: str) -> list[FieldError]:
    """A problem at `datahub.<configuration>.classes.<Class>` if `config` exposes the class
    (which therefore cannot be deleted)."""
    return [
        FieldError(
            f"datahub.{config.name}.classes.{class_name}",
            f"datahub configuration '{config.name}' exposes class {class_name}",
        )
        for exposed in config.classes
        if exposed.name == class_name
    ]


def format_problems(config: DatahubConfig, definition: ClassDefinition) -> list[FieldError]:
    """What of `config`'s formats for `definition`'s class would no longer fit it: a field
    gone or of another type, a currency or unit it no longer has. Each problem's path starts
    with `datahub.<configuration>.` and its message names the configuration."""
    errors: list[FieldError] = []
    for exposed in config.classes:
        if exposed.name != definition.name:
            continue
        for fmt in exposed.formats:
            here = f"datahub.{config.name}.classes.{exposed.name}.formats.{fmt.field}"
            _format_fits(fmt, definition, exposed.fields, here, errors)
    return [
        FieldError(e.field, f"datahub configuration '{config.name}': {e.message}", e.code)
        for e in errors
    ]


def _parse_operations(raw: Any, path: str, errors: list[FieldError]) -> frozenset[Operation]:
    allowed = ", ".join(op.value for op in Operation)
    if not isinstance(raw, list):
        errors.append(FieldError(f"{path}.operations", f"must be a list of: {allowed}"))
        return frozenset()
    ops: set[Operation] = set()
    for i, item in enumerate(raw):
        try:
            ops.add(Operation(item))
        except ValueError:
            errors.append(
                FieldError(f"{path}.operations[{i}]", f"unknown operation {item!r}; use {allowed}")
            )
    if Operation.READ not in ops:
        # Every write returns the written object, so writing without reading is not a mode;
        # a class nobody may read is simply left out of the configuration.
        errors.append(FieldError(f"{path}.operations", "must include 'read'"))
    return frozenset(ops)


def _check_relation_targets(
    exposed: Sequence[ExposedClass],
    definitions: Mapping[str, ClassDefinition],
    errors: list[FieldError],
) -> None:
    names = {c.name for c in exposed}
    for item in exposed:
        definition = definitions[item.name]
        for field_name in item.field_names(definition):
            f = definition.field(field_name)
            if f is not None and f.target is not None and f.target not in names:
                errors.append(
                    FieldError(
                        f"classes.{item.name}.fields",
                        f"'{field_name}' relates to {f.target}, which this configuration "
                        f"does not expose; expose {f.target} or leave '{field_name}' out",
                    )
                )


def _parse_limits(raw: Any, errors: list[FieldError]) -> Limits:
    if raw is None:
        return Limits()
    if not isinstance(raw, Mapping):
        errors.append(FieldError("limits", "must be an object"))
        return Limits()
    values: dict[str, int] = {}
    for key, value in raw.items():
        spec = _LIMIT_KEYS.get(key)
        if spec is None:
            errors.append(
                FieldError(f"limits.{key}", f"unknown limit; use {', '.join(_LIMIT_KEYS)}")
            )
            continue
        attr, low, high = spec
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors.append(FieldError(f"limits.{key}", f"must be a whole number {low}..{high}"))
            continue
        values[attr] = value
    return Limits(**values)
