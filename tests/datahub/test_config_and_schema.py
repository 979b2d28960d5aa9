"""The schema holds exactly what a configuration exposes (its parsing: test_config.py); joined
listing statements never change shape with the values."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLObjectType, print_schema
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from pimhub.api.graphql.schema import build_schema
from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.query import FieldResolver, FilterParser, parse_sort
from pimhub.datahub.config import parse_datahub_config
from pimhub.datahub.ports import ListingRequest
from pimhub.storage.graph_reads import _bound_values, _JoinedStatements

DEFINITIONS = {c["name"]: parse_class_definition(c) for c in commerce_model()}


def config(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "shop",
        "classes": {
            "Product": {"fields": ["sku", "name", "brand"], "operations": ["read", "update"]},
            "Brand": {},
        },
        **overrides,
    }


def test_schema_holds_only_what_is_exposed() -> None:
    schema = build_schema(
        parse_datahub_config(config(), DEFINITIONS), DEFINITIONS, default_language="en"
    ).schema
    product = schema.get_type("object_Product")
    assert isinstance(product, GraphQLObjectType)
    # Product has variants and a completeness channel: their fields come with the class.
    assert set(product.fields) == {
        "id", "fullpath", "uuid", "key", "classname", "published", "version", "creationDate",
        "modificationDate", "sku", "name", "brand", "parent", "children", "isVariant",
        "inheritedFields", "completeness",
    }  # fmt: skip
    assert "language" in product.fields["name"].args
    assert schema.get_type("object_Category") is None
    mutation = schema.mutation_type
    assert mutation is not None and set(mutation.fields) == {"updateProduct"}
    assert "getBrandListing" in schema.query_type.fields  # type: ignore[union-attr]
    assert "createBrand" not in print_schema(schema)


PRODUCT = DEFINITIONS["Product"]
RESOLVER = FieldResolver(PRODUCT, default_language="en")
DIALECTS = [sqlite.dialect(), postgresql.dialect()]  # type: ignore[no-untyped-call]
SHAPE = (
    '{{"$or": [{{"sku": {{"$in": [{t}, {t}]}}}}, {{"stock": {{"$gt": {n}}}}}], '
    '"name": {{"$like": {t}}}}}'
)


def joined_sql(text: str, number: int) -> list[tuple[str, dict[str, Any]]]:
    import orjson

    where = FilterParser(RESOLVER).parse(SHAPE.format(t=orjson.dumps(text).decode(), n=number))
    request = ListingRequest("Product", where, parse_sort(RESOLVER, ["-stock"]), 10)
    out = []
    for dialect in DIALECTS:
        statements = _JoinedStatements(dialect)
        sql, _, _, _ = statements.get(
            request, [(0, "brand")], [frozenset({"id", "data"})] * 2, False
        )
        out.append((sql, _bound_values(request)))
    return out


REFERENCE = [sql for sql, _ in joined_sql("x", 1)]


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(max_size=30).filter(lambda s: "\x00" not in s)
    | st.sampled_from(["'; DROP TABLE objects; --", '" OR 1=1 --', "%", "\\"]),
    number=st.integers(-(2**31), 2**31),
)
def test_joined_statements_never_change_with_the_values(text: str, number: int) -> None:
    """Compiled fresh for every example: the SQL text is the reference's, and the hostile
    values travel only as parameters."""
    for (sql, values), reference in zip(joined_sql(text, number), REFERENCE, strict=True):
        assert sql == reference
        assert text in values.values()


def test_classname_is_reserved_for_the_system_field() -> None:
    from pimhub.catalog.errors import InvalidClassDefinition

    with pytest.raises(InvalidClassDefinition):
        parse_class_definition(
            {
                "name": "Item",
                "businessKey": "code",
                "fields": [{"name": "code", "type": "text"}, {"name": "classname", "type": "text"}],
            }
        )
