"""Units of measure for quantity fields: which units a family has, how input spells them, and
conversion between them.

The conversion factors come from pint's unit registry (built once, lazily: it takes about half
a second); this module only names the units a quantity field accepts, so a stored value always
carries one of a short list of unit codes that SQL can convert with a CASE of factors, and a
refusal can list the allowed units. Input may spell a unit by its code (`kg`), Akeneo's code
(`KILOGRAM`), pint's name (`kilograms`), in any case.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pint


class UnitError(ValueError):
    """A quantity or unit that cannot be read; the message is fit for a client. `code` is
    "unit" for a unit outside the family, "type" for anything else."""

    def __init__(self, message: str, code: str = "type") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Unit:
    code: str  # what stored values and answers carry
    pint_name: str  # how pint's registry spells it
    akeneo: str  # Akeneo's measurement unit code, as Akeneo exports spell it


# family -> (pint dimensionality, units). Codes are what a client sees; keep them stable.
_FAMILIES: dict[str, tuple[str, tuple[Unit, ...]]] = {
    "mass": (
        "[mass]",
        (
            Unit("mg", "milligram", "MILLIGRAM"),
            Unit("g", "gram", "GRAM"),
            Unit("kg", "kilogram", "KILOGRAM"),
            Unit("t", "metric_ton", "TON"),
            Unit("oz", "ounce", "OUNCE"),
            Unit("lb", "pound", "POUND"),
        ),
    ),
    "length": (
        "[length]",
        (
            Unit("mm", "millimeter", "MILLIMETER"),
            Unit("cm", "centimeter", "CENTIMETER"),
            Unit("dm", "decimeter", "DECIMETER"),
            Unit("m", "meter", "METER"),
            Unit("km", "kilometer", "KILOMETER"),
            Unit("in", "inch", "INCH"),
            Unit("ft", "foot", "FEET"),
            Unit("yd", "yard", "YARD"),
            Unit("mi", "mile", "MILE"),
        ),
    ),
    "volume": (
        "[length] ** 3",
        (
            Unit("ml", "milliliter", "MILLILITER"),
            Unit("cl", "centiliter", "CENTILITER"),
            Unit("dl", "deciliter", "DECILITER"),
            Unit("l", "liter", "LITER"),
            Unit("cm3", "centimeter ** 3", "CUBIC_CENTIMETER"),
            Unit("dm3", "decimeter ** 3", "CUBIC_DECIMETER"),
            Unit("m3", "meter ** 3", "CUBIC_METER"),
            Unit("fl_oz", "fluid_ounce", "OUNCE_US"),  # US fluid ounce
            Unit("gal", "gallon", "GALLON"),  # US liquid gallon
            Unit("in3", "inch ** 3", "CUBIC_INCH"),
            Unit("ft3", "foot ** 3", "CUBIC_FOOT"),
        ),
    ),
    "area": (
        "[length] ** 2",
        (
            Unit("mm2", "millimeter ** 2", "SQUARE_MILLIMETER"),
            Unit("cm2", "centimeter ** 2", "SQUARE_CENTIMETER"),
            Unit("m2", "meter ** 2", "SQUARE_METER"),
            Unit("ha", "hectare", "HECTARE"),
            Unit("km2", "kilometer ** 2", "SQUARE_KILOMETER"),
            Unit("in2", "inch ** 2", "SQUARE_INCH"),
            Unit("ft2", "foot ** 2", "SQUARE_FOOT"),
        ),
    ),
}
FAMILIES = tuple(_FAMILIES)
# Spellings neither the codes, Akeneo's codes nor pint's registry know.
_EXTRA_ALIASES = {"lbs": "lb", "kgs": "kg", "m²": "m2", "m³": "m3", "cm²": "cm2", "cm³": "cm3"}
_NUMBER = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?)\s*(.*?)\s*")
_PINT_NAME = re.compile(r"[A-Za-z_]{1,40}")
MAX_TEXT = 100


def units_of(family: str) -> tuple[Unit, ...]:
    return _FAMILIES[family][1]


def unit_codes(family: str) -> tuple[str, ...]:
    return tuple(u.code for u in units_of(family))


@cache
def registry() -> pint.UnitRegistry[Any]:
    import pint

    return pint.UnitRegistry()


@cache
def factors(family: str, canonical: str) -> dict[str, float]:
    """unit code -> how many `canonical` units one of it is, for every unit of `family`."""
    ureg = registry()
    target = _pint_unit(family, canonical)
    out: dict[str, float] = {}
    for unit in units_of(family):
        magnitude = ureg.Quantity(1, unit.pint_name).to(target).magnitude
        # pint computes through base units, so 1 l in ml is 1000.0000000000001: round the noise.
        out[unit.code] = float(f"{float(magnitude):.15g}")
    return out


def _pint_unit(family: str, code: str) -> str:
    for unit in units_of(family):
        if unit.code == code:
            return unit.pint_name
    raise UnitError(f"{code!r} is not a unit of {family}", "unit")


@cache
def _aliases(family: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for unit in units_of(family):
        out[unit.code.lower()] = unit.code
        out[unit.akeneo.lower()] = unit.code
    codes = set(out.values())
    out.update({k: v for k, v in _EXTRA_ALIASES.items() if v in codes})
    return out


def unit_code(family: str, text: str) -> str:
    """The code of the unit of `family` that `text` spells (kg, KILOGRAM, kilograms, Kg),
    or UnitError naming the allowed units."""
    if not isinstance(text, str):
        raise UnitError(f"a unit is a string such as {unit_codes(family)[0]!r}", "unit")
    spelled = text.strip()
    found = _aliases(family).get(spelled.lower())
    if found is None:
        found = _by_pint(family, spelled) or _by_pint(family, spelled.lower())
    if found is None:
        shown = spelled if len(spelled) <= 40 else spelled[:40] + "..."
        raise UnitError(
            f"unknown unit {shown!r} for a {family}; use one of: {', '.join(unit_codes(family))}",
            "unit",
        )
    return found


def _by_pint(family: str, text: str) -> str | None:
    """The code pint's registry maps `text` to (plurals, long names), if any in `family`."""
    if not _PINT_NAME.fullmatch(text):
        return None  # only plain names reach pint's parser
    ureg = registry()
    try:
        parsed = ureg.parse_units(text)
    except Exception:  # pint raises several kinds for a name it does not know
        return None
    for unit in units_of(family):
        if parsed == ureg.parse_units(unit.pint_name):
            return unit.code
    return None


def parse_number(value: Any) -> int | float:
    """A quantity's number: an int or finite float, or a numeric string read exactly."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UnitError("the value must be a number")
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise UnitError(f"{value[:40]!r} is not a number") from None
        if not parsed.is_finite():
            raise UnitError("the value must be a finite number")
        if parsed == parsed.to_integral_value() and abs(parsed) < 2**63:
            return int(parsed)
        value = float(parsed)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise UnitError("whole numbers must fit in 64 bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise UnitError("the value must be a finite number")
    number: int | float = value
    return number


def parse_quantity(raw: Any, family: str, default_unit: str) -> tuple[int | float, str]:
    """(value, unit code) from `{"value": 500, "unit": "g"}`, `"500 GRAM"`, `"0.5 kg"` or a
    bare number (in `default_unit`); UnitError says what is wrong."""
    if isinstance(raw, dict):
        if set(raw) != {"value", "unit"}:
            raise UnitError('expected {"value": <number>, "unit": "<unit>"} or text like "0.5 kg"')
        return parse_number(raw["value"]), unit_code(family, raw["unit"])
    if isinstance(raw, str):
        match = _NUMBER.fullmatch(raw) if len(raw) <= MAX_TEXT else None
        if match is None:
            raise UnitError(f'expected a number and a unit, such as "0.5 {default_unit}"')
        number, unit = match.groups()
        return parse_number(number), unit_code(family, unit) if unit else default_unit
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return parse_number(raw), default_unit
    raise UnitError('expected {"value": <number>, "unit": "<unit>"} or text like "0.5 kg"')


def convert(value: float, family: str, from_unit: str, to_unit: str) -> float:
    """`value` in `from_unit` expressed in `to_unit` (both codes of `family`)."""
    table = factors(family, to_unit)
    result = value * table[from_unit]
    # 12 significant digits: what a product attribute needs, without float noise in answers.
    return float(f"{result:.12g}")
