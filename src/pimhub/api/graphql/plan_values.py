"""Compiled plans (plan.py) for value types: Money, Quantity, Pimcore's QuantityValue (datahub
formats) and Completeness, each a small function shaping one stored value."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from graphql import FieldNode, SelectionSetNode

from pimhub.api.graphql.plan_parts import FieldsOf, Unsupported, checked_picks, pick
from pimhub.api.graphql.values import money, money_number, quantity_value
from pimhub.datahub.config import FieldFormat, Shape


def formatted(
    fmt: FieldFormat, f: Any, node: FieldNode, i: int, env: dict[str, Any], fields_of: FieldsOf
) -> str:
    """A field in Pimcore's shape (datahub formats): a money field as a plain number, a
    quantity as Pimcore's QuantityValue."""
    if fmt.shape == Shape.NUMBER:
        env[f"number{i}"] = partial(money_number, f=f, currency=fmt.currency)
        return f"number{i}(values.get({f.name!r}))"
    env[f"quantity{i}"] = quantity_value_shaper(node.selection_set, f, fmt.unit, fields_of)
    return f"quantity{i}(values.get({f.name!r}))"


def quantity_value_shaper(
    selection_set: SelectionSetNode | None, f: Any, unit: str | None, fields_of: FieldsOf
) -> Callable[[Any], Any]:
    """Shapes a QuantityValue selection: value, toString, and unit's own selection."""
    parts: list[tuple[str, str, list[tuple[str, str]] | None]] = []
    for key, node in fields_of(selection_set, "QuantityValue"):
        name = node.name.value
        if name == "unit":
            inner = fields_of(node.selection_set, "QuantityValueUnit")
            unit_picks = checked_picks(inner, ("id", "abbreviation", "longname"))
            parts.append((key, name, unit_picks))
        elif name in ("value", "toString", "__typename"):
            parts.append((key, name, None))
        else:
            raise Unsupported(name)

    def shape_quantity(stored: Any) -> Any:
        value = quantity_value(stored, f, unit)
        if value is None:
            return None
        out: dict[str, Any] = {}
        for key, name, unit_picks in parts:
            if unit_picks is not None:
                out[key] = pick(unit_picks, "QuantityValueUnit", value["unit"])
            else:
                out[key] = "QuantityValue" if name == "__typename" else value[name]
        return out

    return shape_quantity


def completeness_shaper(
    selection_set: SelectionSetNode | None, fields_of: FieldsOf
) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Shapes a Completeness selection, one entry per channel and language."""
    parts = fields_of(selection_set, "Completeness")
    picks = checked_picks(parts, ("channel", "language", "ratio", "missing"))
    return lambda entries: [pick(picks, "Completeness", entry) for entry in entries]


def money_shaper(
    selection_set: SelectionSetNode | None,
    fields_of: FieldsOf,
    read: Callable[[Any], dict[str, Any] | None] = money,
    type_name: str = "Money",
    names: tuple[str, ...] = ("amount", "currency"),
) -> Callable[[Any], Any]:
    """Shapes a Money (or, with `read` and `type_name`, a Quantity) selection."""
    picks = checked_picks(fields_of(selection_set, type_name), names)

    def shape_money(stored: Any) -> Any:
        value = read(stored)
        return None if value is None else pick(picks, type_name, value)

    return shape_money
