"""Query limits: depth and aliases as validation rules (checked once per cached document),
cost computed per request (it depends on variables such as `first`).

Cost: every field that returns objects costs the number of objects it can return. A
listing costs its `first`, and everything below it is multiplied by that; a to-one relation
costs one per parent, a to-many relation ten per parent (an assumed fan-out, since its size
is unknown before it is read) or its `first` (a parent's children); a get costs one; a
batch upsert costs its number of items. A listing that counts (`totalCount`, or `first: 0`,
whose hasNextPage is a count) also costs COUNT_COST: a count reads every matching row, however
small the page, so thirty aliased counts must not pass as free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    VariableNode,
    get_named_type,
)

TO_MANY_FANOUT = 10
# A count as a number of objects read: ten counts fill the default cost limit of 5000.
COUNT_COST = 500


def depth_rule(maximum: int) -> type[ASTValidationRule]:
    class MaxDepthRule(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fragments = {
                d.name.value: d
                for d in context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            # A fragment's own depth, computed once: spreading fragments that spread others
            # twice would otherwise double the work per level.
            self.fragment_depth: dict[str, int] = {}

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth = self._depth(node.selection_set, 0, set())
            if depth > maximum:
                self.report_error(
                    GraphQLError(
                        f"the query is {depth} levels deep; this configuration allows {maximum}",
                        node,
                        extensions={"code": "DEPTH_LIMIT_EXCEEDED", "maximum": maximum},
                    )
                )

        def _depth(self, selection_set: SelectionSetNode | None, level: int, seen: set[str]) -> int:
            if selection_set is None:
                return level
            deepest = level
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    if selection.name.value.startswith("__"):
                        continue  # introspection has its own depth guard in graphql-core
                    deepest = max(deepest, self._depth(selection.selection_set, level + 1, seen))
                elif isinstance(selection, InlineFragmentNode):
                    deepest = max(deepest, self._depth(selection.selection_set, level, seen))
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is not None and name not in seen:
                        if name not in self.fragment_depth:
                            own = self._depth(fragment.selection_set, 0, seen | {name})
                            self.fragment_depth[name] = own
                        deepest = max(deepest, level + self.fragment_depth[name])
            return deepest

    return MaxDepthRule


def alias_rule(maximum: int) -> type[ASTValidationRule]:
    class MaxAliasesRule(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0
            self.reported = False

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is None:
                return
            self.count += 1
            if self.count > maximum and not self.reported:
                self.reported = True
                self.report_error(
                    GraphQLError(
                        f"the query uses more than {maximum} aliases",
                        node,
                        extensions={"code": "ALIAS_LIMIT_EXCEEDED", "maximum": maximum},
                    )
                )

    return MaxAliasesRule


class OneSchemaRule(ASTValidationRule):
    """`__schema` at most once per document: the cost limit does not count introspection,
    and thirty aliased copies of a full introspection query took seconds and a megabyte."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.keys: set[str] = set()  # response keys: the same key twice is merged, read once

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value != "__schema":
            return
        self.keys.add(node.alias.value if node.alias else "__schema")
        if len(self.keys) == 2:
            self.report_error(
                GraphQLError(
                    "the query asks for __schema more than once; ask for it once per request",
                    node,
                    extensions={"code": "INTROSPECTION_LIMIT_EXCEEDED", "maximum": 1},
                )
            )


class NoNulRule(ASTValidationRule):
    """A string literal holding a NUL character (written `\\u0000`): no text may hold one."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if "\x00" in node.value:
            self.report_error(
                GraphQLError(
                    "a string argument holds a NUL character (U+0000), which no text may hold",
                    node,
                    extensions={"code": "NUL_CHARACTER"},
                )
            )


# No list the schema takes holds more (a batch, a list field: catalog.validation), nor does
# any input object have more fields; checked before graphql-core coerces the variables,
# which took seconds for a list of 300,000 items before any limit could refuse it.
MAX_VARIABLE_ENTRIES = 1000


def oversized_variable(variables: Mapping[str, Any]) -> tuple[str, int] | None:
    """The path and size of the first list or object in the variables with more than
    MAX_VARIABLE_ENTRIES entries, or None. Containers are walked, not scalars."""
    pending: list[tuple[str, Any]] = [("", variables)]
    while pending:
        path, value = pending.pop()
        if len(value) > MAX_VARIABLE_ENTRIES:
            return path or "variables", len(value)
        # Parsed JSON: plain dicts and lists (an exact type test is several times faster
        # than isinstance against Mapping, on up to a megabyte of variables).
        if type(value) is list:
            pending.extend((f"{path}[{i}]", v) for i, v in enumerate(value) if type(v) in _JSON)
        else:
            prefix = f"{path}." if path else "$"
            pending.extend((f"{prefix}{k}", v) for k, v in value.items() if type(v) in _JSON)
    return None


_JSON = (dict, list)


class CostCounter:
    """Cost of one operation, given its coerced variables."""

    def __init__(
        self,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        class_types: frozenset[str],
        default_page: int,
    ) -> None:
        self.fragments = fragments
        self.variables = variables
        self.class_types = class_types
        self.default_page = default_page
        # Cost is linear in the multiplier, so each fragment is costed once per parent type.
        self.fragment_cost: dict[tuple[str, str], int] = {}

    def operation(self, operation: OperationDefinitionNode, root: GraphQLObjectType) -> int:
        return self._selection(operation.selection_set, root, 1)

    def _selection(
        self, selection_set: SelectionSetNode | None, parent: GraphQLObjectType, multiplier: int
    ) -> int:
        if selection_set is None:
            return 0
        cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost += self._field(selection, parent, multiplier)
            elif isinstance(selection, InlineFragmentNode):
                cost += self._selection(selection.selection_set, parent, multiplier)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None:
                    continue
                key = (name, parent.name)
                if key not in self.fragment_cost:
                    self.fragment_cost[key] = 0  # a cycle (refused by validation) costs 0
                    self.fragment_cost[key] = self._selection(fragment.selection_set, parent, 1)
                cost += multiplier * self.fragment_cost[key]
        return cost

    def _field(self, node: FieldNode, parent: GraphQLObjectType, multiplier: int) -> int:
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 0  # __typename and introspection fields
        named = get_named_type(definition.type)
        if not isinstance(named, GraphQLObjectType):
            return 0
        name = node.name.value
        own = 0
        inner = multiplier
        if name.startswith("get") and name.endswith("Listing") and parent.name == "Query":
            first = self._argument(node, "first")
            page = first if isinstance(first, int) and first >= 0 else self.default_page
            own, inner = multiplier * page, multiplier * max(page, 1)
            if page == 0 or self._counts(node.selection_set, set()):
                own += multiplier * COUNT_COST  # once: a listing counts at most once
        elif name.startswith("upsert") and name.endswith("Batch"):
            items = self._argument(node, "items")
            own = len(items) if isinstance(items, list) else 1
        elif parent.name.endswith("Edge"):
            pass  # a listing's nodes are paid for by the listing
        elif named.name in self.class_types:
            many = _is_list(definition.type)
            first = self._argument(node, "first") if many else None  # children(first:)
            fanout = first if isinstance(first, int) and first >= 0 else TO_MANY_FANOUT
            own = multiplier * (fanout if many else 1)
            inner = own
        elif parent.name == "Mutation":
            own = 1
        return own + self._selection(node.selection_set, named, inner)

    def _counts(self, selection_set: SelectionSetNode | None, seen: set[str]) -> bool:
        """Whether a connection's selection asks for totalCount (directly, in an inline
        fragment or in a fragment spread)."""
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                if selection.name.value == "totalCount":
                    return True
            elif isinstance(selection, InlineFragmentNode):
                if self._counts(selection.selection_set, seen):
                    return True
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    if self._counts(fragment.selection_set, seen):
                        return True
        return False

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                return self.variables.get(value.name.value)
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, ListValueNode):
                return list(value.values)
        return None


def _is_list(gql_type: Any) -> bool:
    if isinstance(gql_type, GraphQLNonNull):
        gql_type = gql_type.of_type
    return isinstance(gql_type, GraphQLList)
