"""Compiled plans (plan.py) for the `asset` type: one function per asset selection, built
from the same getters the resolvers use (assets.py), so both paths answer alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import BooleanValueNode, FieldNode, SelectionSetNode, StringValueNode, VariableNode
from graphql.execution.values import VariableValues

from pimhub.api.graphql.assets import (
    ASSET_TYPE,
    DIMENSIONS_TYPE,
    METADATA_ITEM_TYPE,
    SIMPLE_FIELDS,
    dimensions,
    metadata_items,
)
from pimhub.api.graphql.context import RequestContext
from pimhub.api.graphql.plan_parts import FieldsOf, Row, Unsupported, checked_picks, pick
from pimhub.assets.model import Asset

AssetShaper = Callable[[Asset, RequestContext, VariableValues], dict[str, Any]]
# (response key, value of the asset in this request)
_Part = tuple[str, Callable[[Asset, RequestContext, VariableValues], Any]]


def compile_asset(selection_set: SelectionSetNode | None, fields_of: FieldsOf) -> AssetShaper:
    """The shaper of one asset selection; Unsupported for anything it does not know."""
    parts: list[_Part] = []
    for key, node in fields_of(selection_set, ASSET_TYPE):
        name = node.name.value
        if name == "__typename":
            parts.append((key, _typename))
        elif name in SIMPLE_FIELDS:
            if node.arguments:
                raise Unsupported("arguments")
            parts.append((key, _simple(SIMPLE_FIELDS[name])))
        elif name == "fullpath":
            parts.append((key, _fullpath(node)))
        elif name == "dimensions":
            picks = checked_picks(
                fields_of(node.selection_set, DIMENSIONS_TYPE), ("width", "height")
            )
            parts.append((key, _dimensions(picks)))
        elif name == "metadata":
            parts.append((key, _metadata(node, fields_of)))
        else:
            raise Unsupported(name)

    def shape(asset: Asset, ctx: RequestContext, v: VariableValues) -> dict[str, Any]:
        return {key: get(asset, ctx, v) for key, get in parts}

    return shape


def asset_expression(
    node: FieldNode,
    f: Any,
    i: int,
    env: dict[str, Any],
    lines: list[str],
    row: Row | None,
    fields_of: FieldsOf,
) -> str:
    """A compiled plan's expression for an image or gallery. Loaded objects read the
    selected asset fields of their batch at once; joined rows find theirs prefetched for the
    page (Plan.run)."""
    env[f"asset{i}"] = compile_asset(node.selection_set, fields_of)
    name = f.name
    if row is None:
        if f.multiple:
            return f"[asset{i}(a, ctx, v) for a in ctx.assets.many(n, {name!r}, asset_names)]"
        lines.append(f"a{i} = ctx.assets.one(n, {name!r}, asset_names)")
    else:
        row[1].assets.append((row[0], name))
        if f.multiple:
            return f"[asset{i}(a, ctx, v) for a in ctx.assets.row_many(values.get({name!r}))]"
        lines.append(f"a{i} = ctx.assets.row_one(values.get({name!r}))")
    return f"None if a{i} is None else asset{i}(a{i}, ctx, v)"


def _typename(_a: Asset, _c: RequestContext, _v: VariableValues) -> str:
    return ASSET_TYPE


def _simple(get: Callable[[Asset], Any]) -> Callable[[Asset, RequestContext, VariableValues], Any]:
    return lambda a, _c, _v: get(a)


def _dimensions(
    picks: list[tuple[str, str]],
) -> Callable[[Asset, RequestContext, VariableValues], Any]:
    def shape(a: Asset, _c: RequestContext, _v: VariableValues) -> Any:
        value = dimensions(a)
        return None if value is None else pick(picks, DIMENSIONS_TYPE, value)

    return shape


def _constant(value: Any) -> Callable[[VariableValues], Any]:
    return lambda _v: value


def _variable(name: str) -> Callable[[VariableValues], Any]:
    return lambda v: v.coerced.get(name)


def _argument(
    node: FieldNode, names: tuple[str, ...]
) -> dict[str, Callable[[VariableValues], Any]]:
    """The arguments `names` of a field as functions of the request's variables."""
    found: dict[str, Callable[[VariableValues], Any]] = {n: _constant(None) for n in names}
    for argument in node.arguments or ():
        name, value = argument.name.value, argument.value
        if name not in found:
            raise Unsupported("argument")
        if isinstance(value, StringValueNode | BooleanValueNode):
            found[name] = _constant(value.value)
        elif isinstance(value, VariableNode):
            found[name] = _variable(value.name.value)
        else:
            raise Unsupported("argument value")
    return found


def _fullpath(node: FieldNode) -> Callable[[Asset, RequestContext, VariableValues], Any]:
    thumbnail = _argument(node, ("thumbnail",))["thumbnail"]
    return lambda a, ctx, v: ctx.assets.fullpath(a, thumbnail(v))


def _metadata(
    node: FieldNode, fields_of: FieldsOf
) -> Callable[[Asset, RequestContext, VariableValues], Any]:
    args = _argument(node, ("language", "ignore_language"))
    language, ignore = args["language"], args["ignore_language"]
    picks = checked_picks(
        fields_of(node.selection_set, METADATA_ITEM_TYPE), ("name", "type", "data", "language")
    )

    def shape(a: Asset, _c: RequestContext, v: VariableValues) -> Any:
        items = metadata_items(a, language(v), ignore(v))
        return [pick(picks, METADATA_ITEM_TYPE, item) for item in items]

    return shape
