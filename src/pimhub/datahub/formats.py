"""Field formats of a datahub configuration: a field answered in another shape than its own
type, for clients written for Pimcore (`{as: number, currency: EUR}`, `{as: quantityValue}`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pimhub.catalog import units
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError
from pimhub.catalog.fields import FieldDefinition, FieldType


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


def parse_formats(
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
        if definition is not None and not format_fits(parsed, definition, fields, here, errors):
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


def format_fits(
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
