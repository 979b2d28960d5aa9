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
from functools import partial
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
    located_error,
)
from graphql.execution.values import VariableValues, get_argument_values

from pimhub.api.graphql.asset_plan import asset_expression
from pimhub.api.graphql.binding import ClassBinding
from pimhub.api.graphql.context import RequestContext
from pimhub.api.graphql.family import FAMILY_FIELDS, inherited_fields
from pimhub.api.graphql.listing import (
    get_joined_listing,
    get_listing,
    get_one,
    page_size,
)
from pimhub.api.graphql.plan_connections import connection
from pimhub.api.graphql.plan_parts import (
    SYSTEM_EXPRESSIONS,
    Joined,
    Row,
    Shaper,
    Unsupported,
    arguments,
    first_argument,
    fixed,
    language_argument,
    nothing,
    row_system,
)
from pimhub.api.graphql.plan_values import completeness_shaper, formatted, money_shaper
from pimhub.api.graphql.schema import DatahubSchema
from pimhub.api.graphql.values import (
    PerFieldError,
    completeness,
    float_or_none,
    int_or_none,
    is_whole_number,
    localized,
    money,
    price,
    quantity,
)
from pimhub.catalog.fields import FieldType
from pimhub.datahub.ports import MAX_JOINS, PARENT_JOIN, Join

MAX_FIELDS_PER_SELECTION = 500
# A joined listing: its joins, each object's columns, and where its rows' asset fields are
# (the position of an object's data column, the asset fields selected on it).
JoinedSpec = tuple[list[Join], list[frozenset[str]], list[tuple[int, tuple[str, ...]]]]


class Plan:
    def __init__(self, roots: list[tuple[str, FieldNode, Any, str, Shaper]]) -> None:
        self.roots = roots

    def run(
        self, ctx: RequestContext, variables: VariableValues
    ) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
        data: dict[str, Any] = {}
        errors: list[GraphQLError] = []
        for key, node, field_spec, kind, shape in self.roots:
            field_def, joined = field_spec if kind == "joined" else (field_spec, None)
            if kind == "typename":
                data[key] = "Query"
                continue
            try:
                args = get_argument_values(field_def, node, variables)
                binding: ClassBinding = field_def.extensions["binding"]
                definition = binding.definition
                if kind == "get":
                    found = get_one(ctx, definition, args)
                    data[key] = None if found is None else shape(found, ctx, variables)
                elif kind == "joined":
                    assert joined is not None
                    joins, columns, asset_spots = joined
                    listing = get_joined_listing(ctx, definition, args, joins, columns)
                    if asset_spots:
                        ctx.assets.prefetch_rows(listing.nodes, asset_spots, ctx.decode_json)  # type: ignore[arg-type]
                    data[key] = shape(listing, ctx, variables)
                else:
                    data[key] = shape(get_listing(ctx, definition, args), ctx, variables)
            except PerFieldError:
                # graphql-core nulls just that field; the executor lets it answer alike.
                raise
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
                roots.append((key, node, None, "typename", nothing))
                continue
            root = self.schema.roots.get(name)
            if root is None or root.kind not in ("get", "listing"):
                raise Unsupported(name)
            field_def = query_type.fields[name]
            kind = root.kind
            if kind == "get":
                shape = self._object(node.selection_set, root.binding)
            else:
                shape, joins = self._listing(node.selection_set, root.binding)
                if joins is not None:
                    kind = "joined"
                    field_def = (field_def, joins)
            roots.append((key, node, field_def, kind, shape))
        return Plan(roots)

    def _listing(
        self, selection_set: SelectionSetNode | None, binding: ClassBinding
    ) -> tuple[Shaper, JoinedSpec | None]:
        """A listing reads its to-one relations in the page's statement (joins) when every
        relation below it is to-one; otherwise it loads them batch-wise."""
        try:
            # Twice: the first pass learns which columns each object needs, the second
            # generates code for the row layout that follows from them.
            first = Joined()
            connection(
                selection_set,
                binding,
                lambda sel: self._object(sel, binding, (0, first)),
                self._fields,
            )
            first.fix_layout()
            joined = Joined(needs=[set(n) for n in first.needs], layout=first.layout)
            shape = connection(
                selection_set,
                binding,
                lambda sel: self._object(sel, binding, (0, joined)),
                self._fields,
            )
            return shape, (
                joined.joins,
                [frozenset(n) for n in joined.needs],
                joined.asset_spots(),
            )
        except Unsupported:
            plain = connection(
                selection_set, binding, lambda sel: self._object(sel, binding), self._fields
            )
            return plain, None

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
                if len(out) > MAX_FIELDS_PER_SELECTION:
                    # Fragments spread repeatedly would flatten exponentially; graphql-core
                    # merges them as it goes.
                    raise Unsupported("too many fields")
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

    def _object(
        self,
        selection_set: SelectionSetNode | None,
        binding: ClassBinding,
        row: Row | None = None,
    ) -> Shaper:
        """Generates one Python function per object selection: the response dict as a single
        literal, with no call per scalar field. Only names from the validated schema and
        repr()-quoted literals go into the source.

        With `row` (this object's index in a joined row, its first column, the joins so far)
        the function reads a joined row `r` instead of a loaded GraphObject `n`."""
        type_name = binding.type_name
        by_name = {f.name: f for f in binding.fields}
        env: dict[str, Any] = {
            "localized": localized,
            "money": money,
            "_float": float_or_none,
            "_int": int_or_none,
        }
        system: Mapping[str, Callable[[], str]] = (
            {k: fixed(e) for k, e in SYSTEM_EXPRESSIONS.items()} if row is None else row_system(row)
        )
        lines: list[str] = []
        parts: list[str] = []
        selected = self._fields(selection_set, type_name)
        # The asset fields this selection reads: loaded together, batch-wise.
        env["asset_names"] = tuple(
            dict.fromkeys(
                n.name.value
                for _, n in selected
                if (f := by_name.get(n.name.value)) is not None
                and f.type == FieldType.ASSET
                and f.name not in binding.formats
            )
        )
        for i, (key, node) in enumerate(selected):
            name = node.name.value
            if name == "__typename":
                expression = repr(type_name)
            elif name in system:
                expression = system[name]()
            elif name == "completeness" and binding.definition.completeness:
                env["completeness"], env["definition"] = completeness, binding.definition
                stored = "o.completeness" if row is None else row[1].at(row[0], "completeness")
                if row is not None:
                    stored = f"ctx.decode_json({stored})"
                env[f"complete{i}"] = completeness_shaper(node.selection_set, self._fields)
                channel, language = arguments(node, ("channel", "language"))
                expression = (
                    f"complete{i}(completeness(definition, {stored}, {channel}, {language}))"
                )
            elif name in binding.formats:
                expression = formatted(
                    binding.formats[name], by_name[name], node, i, env, self._fields
                )
            elif name in by_name:
                expression = self._value(node, by_name[name], i, env, lines, row)
            elif binding.variants and name in FAMILY_FIELDS:
                expression = self._family(node, binding, i, env, lines, row)
            else:
                raise Unsupported(name)
            parts.append(f"{key!r}: {expression}")
        prelude = (
            ["def shape(n, ctx, v):", "o = n.obj", "values = o.values"]
            if row is None
            else ["def shape(r, ctx, v):", f"values = ctx.decode_json({row[1].at(row[0], 'data')})"]
        )
        source = "\n    ".join(
            [
                *prelude,
                *lines,
                "return {" + ", ".join(parts) + "}",
            ]
        )
        exec(compile(source, f"<plan for {type_name}>", "exec"), env)
        shape: Shaper = env["shape"]
        return shape

    def _value(
        self,
        node: FieldNode,
        f: Any,
        i: int,
        env: dict[str, Any],
        lines: list[str],
        row: Row | None,
    ) -> str:
        """The expression for one stored field, adding helpers to `env` and statements to
        `lines` as needed."""
        name = f.name
        get = f"values.get({name!r})"
        language = "n.language" if row is None else "ctx.language"
        if f.type == FieldType.ASSET:
            return asset_expression(node, f, i, env, lines, row, self._fields)
        if f.type == FieldType.RELATION and row is not None:
            if f.multiple:
                raise Unsupported("to-many relations are loaded batch-wise")
            return self._join(node, self.schema.classes[f.target], name, i, env, row)
        if f.type == FieldType.RELATION:
            env[f"target{i}"] = self._object(node.selection_set, self.schema.classes[f.target])
            if f.multiple:
                return f"[target{i}(t, ctx, v) for t in ctx.loader.many(n, {name!r})]"
            lines.append(f"t{i} = ctx.loader.one(n, {name!r})")
            return f"None if t{i} is None else target{i}(t{i}, ctx, v)"
        if f.localized:
            wanted = language_argument(node)
            return f"localized({get}, {wanted}, {language}, ctx.default_language)"
        if node.arguments:
            raise Unsupported("arguments")  # quantity(unit:) and price(currency:) resolve
        if f.type == FieldType.QUANTITY:
            read = partial(quantity, f=f)
            env[f"money{i}"] = money_shaper(
                node.selection_set, self._fields, read, "Quantity", ("value", "unit")
            )
            return f"money{i}({get})"
        if f.price_list:
            env[f"money{i}"] = money_shaper(node.selection_set, self._fields, partial(price, f=f))
            return f"money{i}({get})"
        if f.type == FieldType.MONEY:
            env[f"money{i}"] = money_shaper(node.selection_set, self._fields)
            return f"money{i}({get})"
        if is_whole_number(f):
            return f"_int({get})"
        if f.type == FieldType.NUMBER:
            return f"_float({get})"
        if f.is_list:
            return f"list({get} or [])"
        return get

    def _join(
        self,
        node: FieldNode,
        target: ClassBinding,
        name: str,
        i: int,
        env: dict[str, Any],
        row: Row,
    ) -> str:
        """A to-one relation (or a variant's parent) joined into the row being read."""
        joined = row[1]
        if len(joined.joins) >= MAX_JOINS:
            raise Unsupported("too many joins for one statement")
        joined.joins.append((row[0], name))
        if joined.layout is None:
            joined.needs.append({"id"})
        index = len(joined.joins)
        env[f"target{i}"] = self._object(node.selection_set, target, (index, joined))
        return f"None if {joined.at(index, 'id')} is None else target{i}(r, ctx, v)"

    def _family(
        self,
        node: FieldNode,
        binding: ClassBinding,
        i: int,
        env: dict[str, Any],
        lines: list[str],
        row: Row | None,
    ) -> str:
        """parent, children, isVariant and inheritedFields (family.py) of a class with
        variants. A parent joins into a joined listing's row like a to-one relation;
        children load batch-wise."""
        name = node.name.value
        if name == "isVariant":
            parent = "o.parent" if row is None else row[1].at(row[0], "parent_uuid")
            return f"{parent} is not None"
        if name == "inheritedFields":
            env["inherited_fields"] = inherited_fields
            env[f"exposed{i}"] = frozenset(f.name for f in binding.fields)
            if row is None:
                return f"inherited_fields(o.inherited, exposed{i})"
            stored = row[1].at(row[0], "inherited")
            decoded = f"None if {stored} is None else ctx.decode_json({stored})"
            return f"inherited_fields({decoded}, exposed{i})"
        if name == "parent" and row is not None:
            return self._join(node, binding, PARENT_JOIN, i, env, row)
        if row is not None:
            raise Unsupported("children are loaded batch-wise")
        if name == "parent":
            env[f"target{i}"] = self._object(node.selection_set, binding)
            lines.append(f"t{i} = ctx.loader.parent(n)")
            return f"None if t{i} is None else target{i}(t{i}, ctx, v)"
        env["page_size"] = page_size
        first = f"page_size(ctx, {first_argument(node)})"
        rows = self._child_rows(node.selection_set, binding)
        if rows is None:
            env[f"target{i}"] = self._object(node.selection_set, binding)
            return f"[target{i}(t, ctx, v) for t in ctx.loader.children(n, {first})]"
        env[f"child{i}"], env[f"columns{i}"] = rows
        lines.append("ctx.language = n.language")  # what row shapers localize to
        return f"[child{i}(r, ctx, v) for r in ctx.loader.child_rows(n, {first}, columns{i})]"

    def _child_rows(
        self, selection_set: SelectionSetNode | None, binding: ClassBinding
    ) -> tuple[Shaper, frozenset[str]] | None:
        """Children shaped straight from their rows, reading only the columns they need (as
        joined listings do), unless they select relations or parents, which load
        batch-wise; then None."""
        try:
            first = Joined()
            self._object(selection_set, binding, (0, first))
            if first.joins or first.assets:
                return None  # relations and assets load batch-wise
            first.fix_layout()
            joined = Joined(needs=[set(n) for n in first.needs], layout=first.layout)
            shape = self._object(selection_set, binding, (0, joined))
        except Unsupported:
            return None
        return shape, frozenset(joined.needs[0])
