"""The parts compiled plans (api.graphql.plan) are made of: where each object's columns sit in
a joined row, the system fields as expressions, readers of a field's arguments, and small
shapers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import FieldNode, IntValueNode, SelectionSetNode, StringValueNode, VariableNode
from graphql.execution.values import VariableValues

from pimhub.api.graphql.context import RequestContext
from pimhub.api.graphql.values import SYSTEM_FIELDS
from pimhub.catalog.objects import OBJECT_FIELDS
from pimhub.datahub.ports import Join

# shaper(node, ctx, variables) -> the response value for one key
Shaper = Callable[[Any, RequestContext, VariableValues], Any]
Fields = list[tuple[str, Shaper]]
# fields_of(selection set, type name) -> its fields, fragments flattened, by response key
FieldsOf = Callable[[SelectionSetNode | None, str], list[tuple[str, FieldNode]]]


# System fields as expressions over `o` (the CatalogObject); values.system_getter holds the
# same rules for graphql-core's resolvers, and test_plan.py checks that they agree.
SYSTEM_EXPRESSIONS = {
    "id": "str(o.id)",
    "fullpath": "'/' + o.class_name + '/' + o.key",
    "uuid": "o.uuid",
    "key": "o.key",
    "classname": "o.class_name",
    "published": "o.published",
    "version": "o.version",
    "creationDate": "int(o.created_at.timestamp())",
    "modificationDate": "int(o.modified_at.timestamp())",
}
assert set(SYSTEM_EXPRESSIONS) == set(SYSTEM_FIELDS)


@dataclass
class Joined:
    """What compiling a joined listing collects: the joins, the columns each object needs
    (0 is the listed object, n the n-th join), and, on the second pass, where each column
    sits in a row (storage selects each object's needed columns, in OBJECT_FIELDS order)."""

    joins: list[Join] = field(default_factory=list)
    needs: list[set[str]] = field(default_factory=lambda: [{"id"}])
    layout: dict[tuple[int, str], int] | None = None
    # (object index, asset field) of every asset field read from a row
    assets: list[tuple[int, str]] = field(default_factory=list)

    def at(self, index: int, column: str) -> str:
        self.needs[index].add(column)
        return f"r[{self.layout[(index, column)] if self.layout is not None else 0}]"

    def asset_spots(self) -> list[tuple[int, tuple[str, ...]]]:
        """Per object with asset fields: its data column's position in a row, and those
        fields (after fix_layout)."""
        by_index: dict[int, dict[str, None]] = {}
        for index, name in self.assets:
            by_index.setdefault(index, {})[name] = None
        assert self.layout is not None or not by_index
        return [
            (self.layout[(index, "data")], tuple(names))  # type: ignore[index]
            for index, names in by_index.items()
        ]

    def fix_layout(self) -> None:
        self.layout = {}
        for index, needed in enumerate(self.needs):
            for column in OBJECT_FIELDS:
                if column in needed:
                    self.layout[(index, column)] = len(self.layout)


Row = tuple[int, Joined]  # (this object's index in the joined row, the joined listing)


def fixed(expression: str) -> Callable[[], str]:
    return lambda: expression


def row_system(row: Row) -> dict[str, Callable[[], str]]:
    """The system fields of object `row` in a joined row, as expressions over `r`; each
    marks its column as needed when it is rendered."""
    index, joined = row

    def at(column: str, template: str = "{}") -> Callable[[], str]:
        return lambda: template.format(joined.at(index, column))

    def path() -> str:
        return f"'/' + {joined.at(index, 'class_name')} + '/' + {joined.at(index, 'business_key')}"

    return {
        "id": at("id", "str({})"),
        "fullpath": path,
        "uuid": at("uuid"),
        "key": at("business_key"),
        "classname": at("class_name"),
        "published": at("published", "bool({})"),
        "version": at("version"),
        "creationDate": at("created_at", "int(ctx.session.utc({}).timestamp())"),
        "modificationDate": at("modified_at", "int(ctx.session.utc({}).timestamp())"),
    }


class Unsupported(Exception):
    """This shape is left to graphql-core."""


def language_argument(node: FieldNode) -> str:
    """The `language` argument of a localized field, as an expression: a constant, a
    variable, or None."""
    for argument in node.arguments or ():
        if argument.name.value != "language":
            raise Unsupported("argument")
        value = argument.value
        if isinstance(value, StringValueNode):
            return repr(value.value)
        if isinstance(value, VariableNode):
            return f"v.coerced.get({value.name.value!r})"
        raise Unsupported("language value")
    return "None"


def arguments(node: FieldNode, names: tuple[str, ...]) -> list[str]:
    """The optional string arguments `names` of a field, as expressions (constants,
    variables or None), in that order."""
    found = {name: "None" for name in names}
    for argument in node.arguments or ():
        value = argument.value
        if argument.name.value not in found:
            raise Unsupported("argument")
        if isinstance(value, StringValueNode):
            found[argument.name.value] = repr(value.value)
        elif isinstance(value, VariableNode):
            found[argument.name.value] = f"v.coerced.get({value.name.value!r})"
        else:
            raise Unsupported("argument value")
    return [found[name] for name in names]


def first_argument(node: FieldNode) -> str:
    """The optional `first` argument of children, as an expression: an int constant, a
    variable, or None."""
    first = "None"
    for argument in node.arguments or ():
        value = argument.value
        if argument.name.value != "first":
            raise Unsupported("argument")
        if isinstance(value, IntValueNode):
            first = repr(int(value.value))
        elif isinstance(value, VariableNode):
            first = f"v.coerced.get({value.name.value!r})"
        else:
            raise Unsupported("argument value")
    return first


def shape_object(fields: Fields) -> Shaper:
    def shape(n: Any, ctx: RequestContext, v: VariableValues) -> dict[str, Any]:
        return {key: get(n, ctx, v) for key, get in fields}

    return shape


def constant(value: str) -> Shaper:
    return lambda _n, _c, _v: value


def nothing(_n: Any, _c: RequestContext, _v: VariableValues) -> None:
    return None


def checked_picks(
    parts: list[tuple[str, FieldNode]], allowed: tuple[str, ...]
) -> list[tuple[str, str]]:
    """(response key, field name) of a small object type's selection, or Unsupported when
    it selects anything but `allowed` and __typename."""
    picks = [(key, node.name.value) for key, node in parts]
    for _, name in picks:
        if name not in (*allowed, "__typename"):
            raise Unsupported(name)
    return picks


def pick(picks: list[tuple[str, str]], type_name: str, value: Mapping[str, Any]) -> dict[str, Any]:
    return {key: type_name if name == "__typename" else value[name] for key, name in picks}
