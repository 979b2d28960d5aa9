"""Filters compile to SQL whose text never depends on the values (they are all bound
parameters), and keyset cursors round-trip and refuse tampering."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.errors import InvalidQuery
from pimhub.catalog.query import FieldResolver, FilterParser, parse_sort
from pimhub.storage.listing import compile_filter, decode_cursor, encode_cursor
from pimhub.storage.tables import objects

PRODUCT = next(parse_class_definition(c) for c in commerce_model() if c["name"] == "Product")
RESOLVER = FieldResolver(PRODUCT, default_language="en")
DIALECTS = [sqlite.dialect(), postgresql.dialect()]  # type: ignore[no-untyped-call]
HOSTILE = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["'; DROP TABLE objects; --", '" OR 1=1 --', "%", "_", "\\", "$.sku", "\x00"]
)


def sql_for(filter_json: str) -> list[str]:
    node = FilterParser(RESOLVER).parse(filter_json)
    assert node is not None
    statement = select(objects.c.id).where(compile_filter(node))
    return [str(statement.compile(dialect=d)) for d in DIALECTS]


def shapes(text: Any, number: Any) -> list[str]:
    return [
        orjson.dumps({"sku": text}).decode(),
        orjson.dumps({"name": {"$like": text}}).decode(),
        orjson.dumps(
            {"$or": [{"sku": {"$in": [text, text]}}, {"stock": {"$gt": number}}]}
        ).decode(),
        orjson.dumps({"$not": {"ean": {"$ne": text}}}).decode(),
    ]


REFERENCE = [sql_for(f) for f in shapes("x", 1)]


# Within 32 bits: PostgreSQL's compiler casts a bigger literal to BIGINT instead of INTEGER,
# a type annotation on the parameter rather than a change of structure.
@settings(max_examples=150, deadline=None)
@given(text=HOSTILE.filter(lambda s: "\x00" not in s), number=st.integers(-(2**31) + 1, 2**31 - 1))
def test_values_never_change_the_sql_text(text: str, number: int) -> None:
    for reference, filter_json in zip(REFERENCE, shapes(text, number), strict=True):
        assert sql_for(filter_json) == reference


def test_values_reach_the_statement_as_parameters() -> None:
    node = FilterParser(RESOLVER).parse('{"sku": "\'; DROP TABLE objects; --"}')
    assert node is not None
    compiled = select(objects.c.id).where(compile_filter(node)).compile(dialect=DIALECTS[0])
    assert "DROP" not in str(compiled)
    assert "'; DROP TABLE objects; --" in compiled.params.values()


@settings(max_examples=100, deadline=None)
@given(
    stock=st.integers(-(2**63), 2**63 - 1) | st.none(),
    # No stored text holds a NUL (validation refuses it), so no issued cursor does either.
    sku=st.text(max_size=30).filter(lambda s: "\x00" not in s),
    version=st.integers(min_value=1, max_value=10**6),
    row_id=st.integers(min_value=1, max_value=2**62),
)
def test_cursor_round_trip(stock: int | None, sku: str, version: int, row_id: int) -> None:
    sort = parse_sort(RESOLVER, ["-stock", "sku", "version"])
    values = [stock, sku, version, row_id]  # the internal id breaks ties last
    assert decode_cursor(sort, encode_cursor(sort, values)) == values


@pytest.mark.parametrize("cursor", ["garbage", "", "e30", "!!!!"])
def test_garbage_cursor_is_an_invalid_query(cursor: str) -> None:
    sort = parse_sort(RESOLVER, ["sku"])
    with pytest.raises(InvalidQuery):
        decode_cursor(sort, cursor)


def test_cursor_of_another_sort_is_refused() -> None:
    cursor = encode_cursor(parse_sort(RESOLVER, ["sku"]), ["a", 1])
    with pytest.raises(InvalidQuery):
        decode_cursor(parse_sort(RESOLVER, ["-sku"]), cursor)


def test_cursor_values_must_be_scalars() -> None:
    sort = parse_sort(RESOLVER, ["sku"])
    forged = encode_cursor(sort, [[], 1])  # right signature, a list where a value belongs
    with pytest.raises(InvalidQuery):
        decode_cursor(sort, forged)


def test_times_compare_as_unix_seconds_or_iso_date_times() -> None:
    parse = FilterParser(RESOLVER).parse
    as_iso = parse('{"modifiedAt": {"$gt": "2026-11-25T09:00:00.250Z"}}')
    as_seconds = parse('{"modifiedAt": {"$gt": 1795597200.25}}')
    assert as_iso == as_seconds
    for bad, message in (
        ('"2026-11-25T09:00:00"', "no time zone"),
        ('"yesterday"', "neither Unix seconds nor an ISO 8601"),
    ):
        with pytest.raises(InvalidQuery) as caught:
            parse(f'{{"createdAt": {bad}}}')
        assert message in caught.value.errors[0].message
        assert caught.value.errors[0].field == "filter.createdAt"


def test_every_value_goes_through_the_given_bind_in_order() -> None:
    # graph_reads compiles a statement once with its own bind, which names the parameters:
    # a value that bypassed it would be an anonymous parameter the statement cannot carry.
    seen: list[Any] = []

    def bind(value: Any) -> Any:
        seen.append(value)
        return bindparam(f"v{len(seen) - 1}", value)

    node = FilterParser(RESOLVER).parse(
        '{"$or": [{"sku": {"$in": ["A", "B"]}}, {"$not": {"name": {"$like": "T%"}}}],'
        ' "name.de": {"$notlike": "x%"}, "createdAt": {"$nin": [0]}, "stock": {"$lte": 5},'
        ' "ean": {"$null": true}}'
    )
    assert node is not None
    compiled = select(objects.c.id).where(compile_filter(node, bind)).compile()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert seen == ["A", "B", "T%", "x%", epoch, 5]
    values = {k: v for k, v in compiled.params.items() if not k.startswith("data_")}  # paths
    assert values == {f"v{i}": v for i, v in enumerate(seen)}
