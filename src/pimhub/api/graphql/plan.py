"""Compiled plans: the fast path for the query shapes clients send over and over.

graphql-core resolves a page of 100 products one field at a time through its generic
machinery (type checks, path tracking, a resolver call and a serializer call per value); that
costs several times the database read. A validated query operation whose every part is known
here (get/listing root fields; system, scalar, localized, money and relation fields; edges,
cursors, pageInfo and totalCount; __typename; fragments on the same type; aliases) compiles
once into a tree of small functions, each shaping one response key from a loaded object. The
plan runs the same root resolvers and the same batch loader as graphql-core does, so reads
and errors are identical; tests/api/graphql/test_plan.py compares both paths on many queries.

Anything else (directives, mutations, introspection, a repeated response key) returns None
from compile_plan and runs on graphql-core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    located_error,
)
from graphql.execution.values import VariableValues, get_argument_values

from pimhub.api.graphql.context import RequestContext
from pimhub.api.graphql.listing import Listing, get_listing, get_one
from pimhub.api.graphql.loaders import GraphObject
from pimhub.api.graphql.schema import ClassBinding, DatahubSchema
from pimhub.api.graphql.values import (
    SYSTEM_FIELDS,
    localized,
    money,
    scalar_getter,
    system_getter,
)
from pimhub.catalog.fields import FieldType

# shaper(node, ctx, variables) -> the response value for one key
Shaper = Callable[[Any, RequestContext, VariableValues], Any]
Fields = list[tuple[str, Shaper]]


class Unsupported(Exception):
    """This shape is left to graphql-core."""


class Plan:
    def __init__(self, roots: list[tuple[str, FieldNode, Any, str, Shaper]]) -> None:
        self.roots = roots

    def run(
        self, ctx: RequestContext, variables: VariableValues
    ) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
        data: dict[str, Any] = {}
        errors: list[GraphQLError] = []
        for key, node, field_def, kind, shape in self.roots:
            if kind == "typename":
                data[key] = "Query"
                continue
            try:
                args = get_argument_values(field_def, node, variables)
                binding: ClassBinding = field_def.extensions["binding"]
                definition = binding.definition
                if kind == "get":
                    found = get_one(ctx, definition, args, definition.business_key)
                    data[key] = None if found is None else shape(found, ctx, variables)
                else:
                    data[key] = shape(get_listing(ctx, definition, args), ctx, variables)
            except Exception as exc:
                errors.append(located_error(exc, [node], [key]))
                data[key] = None
        return data, errors


def compile_plan(
    schema: DatahubSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> Plan | None:
    if operation.operation != OperationType.QUERY:
        return None
    try:
        return _Compiler(schema, fragments).operation(operation)
    except Unsupported:
        return None


class _Compiler:
    def __init__(
        self, schema: DatahubSchema, fragments: Mapping[str, FragmentDefinitionNode]
    ) -> None:
        self.schema = schema
        self.fragments = fragments

    def operation(self, operation: OperationDefinitionNode) -> Plan:
        query_type = self.schema.schema.query_type
        assert query_type is not None
        roots: list[tuple[str, FieldNode, Any, str, Shaper]] = []
        for key, node in self._fields(operation.selection_set, "Query"):
            name = node.name.value
            if name == "__typename":
                roots.append((key, node, None, "typename", _nothing))
                continue
            root = self.schema.roots.get(name)
            if root is None or root.kind not in ("get", "listing"):
                raise Unsupported(name)
            field_def = query_type.fields[name]
            if root.kind == "get":
                shape = self._object(node.selection_set, root.binding)
            else:
                shape = self._connection(node.selection_set, root.binding)
            roots.append((key, node, field_def, root.kind, shape))
        return Plan(roots)

    # -- selection sets -------------------------------------------------------------------

    def _fields(
        self, selection_set: SelectionSetNode | None, type_name: str
    ) -> list[tuple[str, FieldNode]]:
        """The fields of a selection set, fragments flattened, keyed by response key."""
        out: list[tuple[str, FieldNode]] = []
        self._collect(selection_set, type_name, out, set())
        keys = [k for k, _ in out]
        if len(keys) != len(set(keys)):
            raise Unsupported("a response key appears twice")  # graphql-core merges those
        return out

    def _collect(
        self,
        selection_set: SelectionSetNode | None,
        type_name: str,
        out: list[tuple[str, FieldNode]],
        seen: set[str],
    ) -> None:
        if selection_set is None:
            raise Unsupported("missing selection")
        for selection in selection_set.selections:
            if selection.directives:
                raise Unsupported("directives")
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                out.append((key, selection))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is not None and condition.name.value != type_name:
                    raise Unsupported("fragment on another type")
                self._collect(selection.selection_set, type_name, out, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen or fragment.directives:
                    raise Unsupported("fragment")
                if fragment.type_condition.name.value != type_name:
                    raise Unsupported("fragment on another type")
                self._collect(fragment.selection_set, type_name, out, seen | {name})

    def _object(self, selection_set: SelectionSetNode | None, binding: ClassBinding) -> Shaper:
        type_name = binding.type_name
        fields: Fields = []
        by_name = {f.name: f for f in binding.fields}
        for key, node in self._fields(selection_set, type_name):
            name = node.name.value
            if name == "__typename":
                fields.append((key, _constant(type_name)))
            elif name in SYSTEM_FIELDS:
                fields.append((key, _plain(system_getter(name))))
            elif name in by_name:
                fields.append((key, self._value(node, by_name[name])))
            else:
                raise Unsupported(name)
        return _shape_object(fields)

    def _value(self, node: FieldNode, f: Any) -> Shaper:
        name = f.name
        if f.type == FieldType.RELATION:
            target = self._object(node.selection_set, self.schema.classes[f.target])
            if f.multiple:

                def many(n: GraphObject, ctx: RequestContext, v: VariableValues) -> Any:
                    return [target(t, ctx, v) for t in ctx.loader.many(n, name)]

                return many

            def one(n: GraphObject, ctx: RequestContext, v: VariableValues) -> Any:
                t = ctx.loader.one(n, name)
                return None if t is None else target(t, ctx, v)

            return one
        if f.localized:
            return self._localized(node, name)
        if f.type == FieldType.MONEY:
            parts = self._fields(node.selection_set, "Money")
            for _, part in parts:
                if part.name.value not in ("amount", "currency", "__typename"):
                    raise Unsupported(part.name.value)
            picks = [(k, p.name.value) for k, p in parts]

            def shape_money(n: GraphObject, _c: RequestContext, _v: VariableValues) -> Any:
                value = money(n.obj.values.get(name))
                if value is None:
                    return None
                return {k: "Money" if p == "__typename" else value[p] for k, p in picks}

            return shape_money
        if node.arguments:
            raise Unsupported("arguments")
        return _plain(scalar_getter(f))

    def _localized(self, node: FieldNode, name: str) -> Shaper:
        language = _language_argument(node)

        def shape(n: GraphObject, ctx: RequestContext, v: VariableValues) -> Any:
            return localized(n.obj.values.get(name), language(v), n.language, ctx.default_language)

        return shape

    def _connection(self, selection_set: SelectionSetNode | None, binding: ClassBinding) -> Shaper:
        name = binding.definition.name
        fields: list[tuple[str, Callable[[Listing, RequestContext, VariableValues], Any]]] = []
        for key, node in self._fields(selection_set, f"{name}Connection"):
            field = node.name.value
            if field == "__typename":
                fields.append((key, _constant(f"{name}Connection")))
            elif field == "totalCount":
                fields.append((key, lambda c, _ctx, _v: c.total()))
            elif field == "pageInfo":
                fields.append((key, self._page_info(node.selection_set)))
            elif field == "edges":
                fields.append((key, self._edges(node.selection_set, binding)))
            else:
                raise Unsupported(field)
        return _shape_object(fields)

    def _page_info(self, selection_set: SelectionSetNode | None) -> Shaper:
        picks = [(k, n.name.value) for k, n in self._fields(selection_set, "PageInfo")]

        def shape(listing: Listing, _c: RequestContext, _v: VariableValues) -> Any:
            info = listing.page_info()
            return {k: "PageInfo" if p == "__typename" else info[p] for k, p in picks}

        return shape

    def _edges(self, selection_set: SelectionSetNode | None, binding: ClassBinding) -> Shaper:
        edge_type = f"{binding.definition.name}Edge"
        parts: list[tuple[str, str, Shaper | None]] = []
        for key, node in self._fields(selection_set, edge_type):
            field = node.name.value
            if field == "node":
                parts.append((key, field, self._object(node.selection_set, binding)))
            elif field in ("cursor", "__typename"):
                parts.append((key, field, None))
            else:
                raise Unsupported(field)

        def shape(listing: Listing, ctx: RequestContext, v: VariableValues) -> Any:
            edges = []
            for i, node in enumerate(listing.nodes):
                edge: dict[str, Any] = {}
                for key, field, inner in parts:
                    if inner is not None:
                        edge[key] = inner(node, ctx, v)
                    elif field == "cursor":
                        edge[key] = listing.cursor(i)
                    else:
                        edge[key] = edge_type
                edges.append(edge)
            return edges

        return shape


def _language_argument(node: FieldNode) -> Callable[[VariableValues], str | None]:
    """The `language` argument of a localized field: a constant, a variable, or absent."""
    for argument in node.arguments or ():
        if argument.name.value != "language":
            raise Unsupported("argument")
        value = argument.value
        if isinstance(value, StringValueNode):
            constant = value.value
            return lambda _v: constant
        if isinstance(value, VariableNode):
            variable = value.name.value
            return lambda v: v.coerced.get(variable)
        raise Unsupported("language value")
    return lambda _v: None


def _shape_object(fields: Fields) -> Shaper:
    def shape(n: Any, ctx: RequestContext, v: VariableValues) -> dict[str, Any]:
        return {key: get(n, ctx, v) for key, get in fields}

    return shape


def _plain(getter: Callable[[GraphObject], Any]) -> Shaper:
    return lambda n, _c, _v: getter(n)


def _constant(value: str) -> Shaper:
    return lambda _n, _c, _v: value


def _nothing(_n: Any, _c: RequestContext, _v: VariableValues) -> None:
    return None
