"""Hostile GraphQL input is refused with an error carrying extensions.code, never a 500, on
both backends: NUL characters in variables and literal arguments, numbers out of range."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.graphql.conftest import Gql


@pytest.mark.parametrize(
    "query",
    [
        '{ getProduct(sku: "TS\\u00001") { sku } }',
        '{ getProduct(uuid: "\\u0000") { sku } }',
        '{ getProductListing(filter: "{\\"sku\\": \\"T\\u0000\\"}") { totalCount } }',
        '{ getProductListing(after: "x\\u0000") { totalCount } }',
        '{ getProductListing(sortBy: ["sku\\u0000"]) { totalCount } }',
        'mutation { createProduct(input: {sku: "N\\u00001"}) { sku } }',
    ],
)
def test_nul_in_a_literal_argument(gql: Gql, query: str) -> None:
    body = gql(query)
    assert "NUL_CHARACTER" in [e["extensions"]["code"] for e in body["errors"]]
    assert "data" not in body or body["data"] is None


@pytest.mark.parametrize(
    ("query", "variables", "where"),
    [
        ("query($s: String) { getProduct(sku: $s) { sku } }", {"s": "TS\x001"}, "s"),
        (
            "query($f: String) { getProductListing(filter: $f) { totalCount } }",
            {"f": '{"sku": "T\x00"}'},
            "f",
        ),
        (
            "mutation($i: ProductInput!) { createProduct(input: $i) { sku } }",
            {"i": {"sku": "N-1", "name": {"en": "\x00"}}},
            "i.name.en",
        ),
        ("query($s: String) { getProduct(sku: $s) { sku } }", {"s\x00": "TS-1"}, "s\\u0000"),
    ],
)
def test_nul_in_a_variable(gql: Gql, query: str, variables: dict[str, Any], where: str) -> None:
    body = gql(query, variables, status=400)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "NUL_CHARACTER"
    assert f"${where}" in error["message"] and "\x00" not in error["message"]
