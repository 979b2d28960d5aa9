"""For any filter shape (a generated tree of $and, $or, $not and comparisons over text,
number and true/false fields), the statements the database receives have the same text
whatever the values, and every value reaches it as a bound parameter: through the REST
listing, the GraphQL listing (statements compiled once per shape) and the search (its text
query too), on SQLite and PostgreSQL. test_filter_sql.py checks fixed shapes at the compiler.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from pimhub.access.keys import ApiKey
from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from pimhub.catalog.service import ListQuery

# A value that must never show up in statement text; hostile characters around it.
MARK = "Zq9Mark"
FIELDS = {"sku": "text", "name": "text", "ean": "text", "stock": "number", "featured": "bool"}
OPS = {
    "text": ["$eq", "$ne", "$gt", "$lte", "$like", "$notlike", "$in", "$nin", "$null"],
    "number": ["$eq", "$ne", "$gt", "$gte", "$lt", "$in", "$nin", "$notnull"],
    "bool": ["$eq", "$ne"],
}
CONFIG = {
    "name": "shapes",
    "classes": {"Product": {"fields": "*"}, "Category": {"fields": "*"}, "Brand": {"fields": "*"}},
}

# A shape: ("leaf", field, op, list length) or (op, children); values are filled in later.
leaf = st.sampled_from(sorted(FIELDS)).flatmap(
    lambda f: st.tuples(
        st.just("leaf"), st.just(f), st.sampled_from(OPS[FIELDS[f]]), st.integers(1, 3)
    )
)
shape_strategy = st.recursive(
    leaf,
    lambda inner: (
        st.tuples(st.sampled_from(["$and", "$or"]), st.lists(inner, min_size=1, max_size=3))
        | st.tuples(st.just("$not"), st.lists(inner, min_size=1, max_size=1))
    ),
    max_leaves=6,
)
hostile_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
) | st.sampled_from(["'; DROP TABLE objects; --", '" OR 1=1 --', "%", "_", "\\", "$.sku", "?"])
# Within 32 bits, as test_filter_sql.py explains; floats keep their own parameter type.
number = st.integers(-(2**31) + 1, 2**31 - 1)


def scalar(kind: str, draw: Any) -> Any:
    if kind == "text":
        return f"{draw(hostile_text)}{MARK}{draw(hostile_text)}"
    if kind == "number":
        return draw(number)
    return draw(st.booleans())


def fill(shape: Any, draw: Any) -> dict[str, Any]:
    """The filter document of `shape` with values drawn for every comparison."""
    if shape[0] == "leaf":
        _, field, op, length = shape
        kind = FIELDS[field]
        if op in ("$null", "$notnull"):
            return {field: {op: True}}
        if op in ("$in", "$nin"):
            return {field: {op: [scalar(kind, draw) for _ in range(length)]}}
        return {field: {op: scalar(kind, draw)}}
    op, children = shape
    if op == "$not":
        return {"$not": fill(children[0], draw)}
    return {op: [fill(child, draw) for child in children]}


@contextmanager
def statements(hub: Hub) -> Iterator[list[tuple[str, Any]]]:
    """(text, parameters) of every statement on the objects table or the search index."""
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, text: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "objects" in text or "search" in text:
            seen.append((text, params))

    event.listen(hub.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(hub.engine, "before_cursor_execute", record)


@pytest.fixture
def shaped(hub: Hub) -> tuple[Hub, ApiKey, Any]:
    """No objects: what a page holds decides which statements follow (its relations, a
    search's near matches), so the catalogue is empty and every filter matches nothing."""
    hub.datahub.create(CONFIG, author="test")
    _, token = hub.access.create("shapes", ["datahub:shapes"], environment="test")
    key = hub.access.authenticate(token)
    graphql = create_app(hub).state.graphql
    return hub, key, graphql


def run_everywhere(hub: Hub, key: ApiKey, graphql: Any, filter_json: str, q: str) -> list[str]:
    """Runs the filter through each entry point; returns the statements' texts, checking
    that the mark is in no text and in the parameters."""
    with statements(hub) as seen:
        hub.catalog.list_objects("Product", ListQuery(filter=filter_json, sort=("-stock",)))
        body = graphql.run(
            "shapes",
            key,
            'query($f: String) { getProductListing(filter: $f, first: 5, sortBy: ["sku"]) '
            "{ totalCount edges { node { sku } } } }",
            {"f": filter_json},
            None,
        )
        assert "errors" not in body, body
        hub.simple_search.search("shapes", key, {"class": "Product", "filter": filter_json})
        hub.simple_search.search("shapes", key, {"class": "Product", "q": q, "filter": filter_json})
    texts = [text for text, _ in seen]
    assert texts and not any(MARK in text for text in texts), texts
    if MARK in filter_json:
        assert any(MARK in repr(params) for _, params in seen)
    return texts


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=shape_strategy, data=st.data())
def test_values_never_change_the_statements(
    shaped: tuple[Hub, ApiKey, Any], shape: Any, data: Any
) -> None:
    hub, key, graphql = shaped
    first = orjson.dumps(fill(shape, data.draw)).decode()
    second = orjson.dumps(fill(shape, data.draw)).decode()
    words = data.draw(
        st.lists(st.from_regex(r"[A-Za-z]{2,8}", fullmatch=True), min_size=1, max_size=3)
    )
    other = [w[::-1] + "x" for w in words]
    run_everywhere(hub, key, graphql, first, " ".join(words))  # warms every cache
    assert run_everywhere(hub, key, graphql, second, " ".join(other)) == run_everywhere(
        hub, key, graphql, first, " ".join(words)
    )
