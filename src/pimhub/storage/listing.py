"""Compiles the catalog's filter and sort trees to SQLAlchemy, and keyset-paginates.

Every value becomes a bound parameter; the tree only chooses columns and operators.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import KeyedColumnElement

from pimhub.catalog import units
from pimhub.catalog.errors import FieldError, InvalidQuery
from pimhub.catalog.query import (
    INT64_MAX,
    INT64_MIN,
    BoolOp,
    Comparison,
    FieldRef,
    Node,
    Not,
    SortKey,
    SystemField,
    ValueKind,
)
from pimhub.catalog.variants import FamilyFilter, FamilyRole
from pimhub.storage.tables import objects

_SYSTEM_COLUMNS: dict[SystemField, KeyedColumnElement[Any]] = {
    SystemField.KEY: objects.c.business_key,
    SystemField.UUID: objects.c.uuid,
    SystemField.PUBLISHED: objects.c.published,
    SystemField.VERSION: objects.c.version,
    SystemField.CREATED_AT: objects.c.created_at,
    SystemField.MODIFIED_AT: objects.c.modified_at,
}
_TIME_FIELDS = (SystemField.CREATED_AT, SystemField.MODIFIED_AT)
# Sort keys compare through COALESCE so a keyset cursor never has to compare with NULL.
_NULL_SENTINEL = {ValueKind.STRING: "", ValueKind.NUMBER: -1e300, ValueKind.BOOLEAN: False}


def family_conditions(family: FamilyFilter | None) -> list[ColumnElement[bool]]:
    """Conditions keeping the objects in the given place of their families."""
    if family is None:
        return []
    conditions: list[ColumnElement[bool]] = []
    if family.parent_uuid is not None:
        conditions.append(objects.c.parent_uuid == family.parent_uuid)
    children = objects.alias("variant")
    has_children = select(children.c.id).where(children.c.parent_uuid == objects.c.uuid).exists()
    if family.role == FamilyRole.PARENTS:
        conditions.append(has_children)
    elif family.role == FamilyRole.VARIANTS:
        conditions.append(objects.c.parent_uuid.is_not(None))
    elif family.role == FamilyRole.STANDALONE:
        conditions += [objects.c.parent_uuid.is_(None), not_(has_children)]
    return conditions


def column_for(ref: FieldRef) -> ColumnElement[Any]:
    if ref.system is not None:
        return _SYSTEM_COLUMNS[ref.system]
    if ref.completeness:
        # Channel and language come from the class definition (FieldResolver checked them);
        # the JSON path is bound as a parameter like any value.
        ratio: ColumnElement[Any] = objects.c.completeness[ref.path].as_float()
        return ratio
    if ref.quantity is not None:
        return _in_field_unit(ref.path[0], *ref.quantity)
    element = objects.c.data[ref.path if len(ref.path) > 1 else ref.path[0]]
    typed: ColumnElement[Any]
    if ref.kind == ValueKind.NUMBER:
        typed = element.as_float()
    elif ref.kind == ValueKind.BOOLEAN:
        typed = element.as_boolean()
    else:
        typed = element.as_string()
    return typed


def _in_field_unit(name: str, family: str, unit: str) -> ColumnElement[Any]:
    """A quantity's stored value converted to the field's unit: value times the factor of its
    stored unit. Codes and factors come from catalog.units, never from a request, and are
    written into the statement so its text (and cached plan) is the same for every query."""
    value = objects.c.data[(name, "value")].as_float()
    stored_unit = objects.c.data[(name, "unit")].as_string()
    factor = case(
        *[
            (stored_unit == literal_column(f"'{code}'"), literal_column(repr(f), Float))
            for code, f in units.factors(family, unit).items()
        ]
    )
    converted: ColumnElement[Any] = value * factor
    return converted


def _param(ref: FieldRef, value: Any) -> Any:
    if ref.system in _TIME_FIELDS and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return value


Bind = Callable[[Any], Any]


def _as_is(value: Any) -> Any:
    return value


def compile_filter(node: Node, bind: Bind = _as_is) -> ColumnElement[bool]:
    """The filter as a WHERE clause. `bind` wraps every value; the default lets SQLAlchemy
    make anonymous bound parameters, graph_reads passes one that names them in order."""
    if isinstance(node, BoolOp):
        parts = [compile_filter(n, bind) for n in node.items]
        return and_(*parts) if node.op == "$and" else or_(*parts)
    if isinstance(node, Not):
        return not_(compile_filter(node.item, bind))
    return _comparison(node, bind)


def _comparison(node: Comparison, bind: Bind) -> ColumnElement[bool]:
    col = column_for(node.ref)
    op, value = node.op, node.value
    if op == "$null":
        return col.is_(None) if value else col.is_not(None)
    if op == "$notnull":
        return col.is_not(None) if value else col.is_(None)
    if op in ("$in", "$nin"):
        params = [bind(_param(node.ref, v)) for v in value]
        return col.in_(params) if op == "$in" else col.not_in(params)
    if op == "$like":
        return col.ilike(bind(value))
    if op == "$notlike":
        return not_(col.ilike(bind(value)))
    param = bind(_param(node.ref, value))
    if isinstance(param, bool):
        # SQLAlchemy writes a bare true/false into the text (`= 1`, `= 0`), which would make
        # the statement depend on the value; as a parameter it does not.
        param = literal(param)
    comparisons: dict[str, Callable[[], ColumnElement[bool]]] = {
        "$eq": lambda: col == param,
        "$ne": lambda: col != param,
        "$gt": lambda: col > param,
        "$gte": lambda: col >= param,
        "$lt": lambda: col < param,
        "$lte": lambda: col <= param,
    }
    return comparisons[op]()


def sort_columns(sort: Sequence[SortKey]) -> list[tuple[ColumnElement[Any], bool]]:
    """(expression, descending) per key, ending with the internal id as the tie breaker."""
    cols: list[tuple[ColumnElement[Any], bool]] = []
    for key in sort:
        col = column_for(key.ref)
        if key.ref.system is None:
            col = func.coalesce(col, _NULL_SENTINEL[key.ref.kind])
        cols.append((col, key.descending))
    cols.append((objects.c.id, sort[-1].descending if sort else False))
    return cols


def sort_signature(sort: Sequence[SortKey]) -> str:
    spec = ",".join(("-" if k.descending else "") + k.ref.label for k in sort)
    return hashlib.sha1(spec.encode()).hexdigest()[:8]


def encode_cursor(sort: Sequence[SortKey], values: Sequence[Any]) -> str:
    # orjson writes a datetime as its isoformat(), which decode_cursor reads back.
    raw = orjson.dumps({"s": sort_signature(sort), "v": list(values)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: Sequence[SortKey], cursor: str) -> list[Any]:
    def bad(message: str) -> InvalidQuery:
        return InvalidQuery(f"cursor: {message}", [FieldError("after", message, "invalid-cursor")])

    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
        signature, values = data["s"], data["v"]
    except (ValueError, KeyError, TypeError):
        raise bad("not a cursor this API issued") from None
    if signature != sort_signature(sort):
        raise bad("the cursor belongs to a different sort order; start again without it")
    if not isinstance(values, list) or len(values) != len(sort) + 1:
        raise bad("not a cursor this API issued")
    # A cursor is only base64: check every value's type against its sort key, so a forged
    # one is refused here instead of failing in the database.
    kinds = [_TIME if k.ref.system in _TIME_FIELDS else k.ref.kind for k in sort]
    if not all(map(_fits, values, [*kinds, _ID])):  # as many values as kinds, checked above
        raise bad("not a cursor this API issued")
    for i, key in enumerate(sort):
        if key.ref.system in _TIME_FIELDS:
            values[i] = datetime.fromisoformat(values[i])
    return values


_TIME, _ID = "time", "id"


def _fits(value: Any, kind: ValueKind | str) -> bool:
    if kind == _ID:
        return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= INT64_MAX
    if kind == _TIME:
        if not isinstance(value, str):
            return False
        try:
            moment = datetime.fromisoformat(value)
            # In UTC, as the database compares it: 9999-12-31T23:59-23:59 is past year 9999.
            moment.astimezone(UTC)
        except (ValueError, OverflowError):
            return False
        return moment.tzinfo is not None
    if value is None:
        return True  # compares with nothing: an empty page, never an error
    if kind == ValueKind.NUMBER:
        # In the range a filter accepts: a bigger whole number fails in the database.
        if isinstance(value, int) and not isinstance(value, bool):
            return INT64_MIN <= value <= INT64_MAX
        # orjson reads no NaN or infinity (1e400 fails to parse), so any float is finite.
        return isinstance(value, float)
    if kind == ValueKind.BOOLEAN:
        return isinstance(value, bool)
    return isinstance(value, str) and "\x00" not in value  # PostgreSQL cannot compare a NUL


def after_cursor(
    cols: list[tuple[ColumnElement[Any], bool]], values: list[Any], bind: Bind = literal
) -> ColumnElement[bool]:
    """Rows strictly after the cursor row in the sort order (expanded row comparison).
    `cols` comes from sort_columns, so it is never empty (the id ends it)."""
    clauses: list[ColumnElement[bool]] = []
    for i, (col, descending) in enumerate(cols):
        equal_before = [c == bind(values[j]) for j, (c, _) in enumerate(cols[:i])]
        step = col < bind(values[i]) if descending else col > bind(values[i])
        clauses.append(and_(*equal_before, step))  # and_ of one clause is that clause
    return or_(*clauses)


def where_true(node: Node | None) -> ColumnElement[bool]:
    return compile_filter(node) if node is not None else true()
