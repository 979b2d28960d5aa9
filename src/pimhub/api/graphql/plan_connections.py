"""Compiled plans (plan.py) for a listing's connection: totalCount, pageInfo and edges, with
the node shaper the compiler hands in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import SelectionSetNode
from graphql.execution.values import VariableValues

from pimhub.api.graphql.binding import ClassBinding
from pimhub.api.graphql.context import RequestContext
from pimhub.api.graphql.listing import Listing
from pimhub.api.graphql.plan_parts import FieldsOf, Shaper, Unsupported, constant, shape_object

# compile_node(selection set of `node`) -> the shaper of one node
NodeCompiler = Callable[[SelectionSetNode | None], Shaper]


def connection(
    selection_set: SelectionSetNode | None,
    binding: ClassBinding,
    compile_node: NodeCompiler,
    fields_of: FieldsOf,
) -> Shaper:
    """Shapes a `<Class>Connection` selection from a Listing."""
    name = binding.definition.name
    fields: list[tuple[str, Callable[[Listing, RequestContext, VariableValues], Any]]] = []
    for key, node in fields_of(selection_set, f"{name}Connection"):
        field = node.name.value
        if field == "__typename":
            fields.append((key, constant(f"{name}Connection")))
        elif field == "totalCount":
            fields.append((key, lambda c, _ctx, _v: c.total()))
        elif field == "pageInfo":
            fields.append((key, page_info(node.selection_set, fields_of)))
        elif field == "edges":
            fields.append((key, edges(node.selection_set, binding, compile_node, fields_of)))
        else:
            raise Unsupported(field)
    return shape_object(fields)


def page_info(selection_set: SelectionSetNode | None, fields_of: FieldsOf) -> Shaper:
    """Shapes a PageInfo selection from a Listing."""
    picks = [(k, n.name.value) for k, n in fields_of(selection_set, "PageInfo")]

    def shape(listing: Listing, _c: RequestContext, _v: VariableValues) -> Any:
        info = listing.page_info()
        return {k: "PageInfo" if p == "__typename" else info[p] for k, p in picks}

    return shape


def edges(
    selection_set: SelectionSetNode | None,
    binding: ClassBinding,
    compile_node: NodeCompiler,
    fields_of: FieldsOf,
) -> Shaper:
    """Shapes the edges of a listing: node, cursor and __typename."""
    edge_type = f"{binding.definition.name}Edge"
    parts: list[tuple[str, str, Shaper | None]] = []
    for key, node in fields_of(selection_set, edge_type):
        field = node.name.value
        if field == "node":
            parts.append((key, field, compile_node(node.selection_set)))
        elif field in ("cursor", "__typename"):
            parts.append((key, field, None))
        else:
            raise Unsupported(field)

    only_key, _, node_shape = parts[0] if len(parts) == 1 else ("", "", None)
    if node_shape is not None:

        def nodes_only(listing: Listing, ctx: RequestContext, v: VariableValues) -> Any:
            return [{only_key: node_shape(n, ctx, v)} for n in listing.nodes]

        return nodes_only

    def shape(listing: Listing, ctx: RequestContext, v: VariableValues) -> Any:
        out = []
        for i, node in enumerate(listing.nodes):
            edge: dict[str, Any] = {}
            for key, field, inner in parts:
                if inner is not None:
                    edge[key] = inner(node, ctx, v)
                elif field == "cursor":
                    edge[key] = listing.cursor(i)
                else:
                    edge[key] = edge_type
            out.append(edge)
        return out

    return shape
