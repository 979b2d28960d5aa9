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


BIG = "99999999999999999999999"


@pytest.mark.parametrize(
    "query",
    [
        f'{{ getProduct(id: "{BIG}") {{ sku }} }}',
        f"{{ getProduct(id: {BIG}) {{ sku }} }}",
        f'{{ getProductListing(ids: "1,{BIG}") {{ totalCount }} }}',
        f"{{ getProductListing(after: {BIG}) {{ totalCount }} }}",
        f'{{ getProductListing(afterCursor: "{BIG}") {{ totalCount }} }}',
        f'{{ getProductListing(filter: "{{\\"stock\\": {BIG}}}") {{ totalCount }} }}',
        '{ getProductListing(filter: "{\\"stock\\": NaN}") { totalCount } }',
        '{ getProductListing(filter: "{\\"price\\": {\\"$gt\\": 1e400}}") { totalCount } }',
        f'{{ getProductListing(filter: "{{\\"version\\": {2**40}}}") {{ totalCount }} }}',
        f'mutation {{ updateProduct(id: "{BIG}", input: {{}}) {{ success code }} }}',
    ],
)
def test_numbers_out_of_range_in_literal_arguments(gql: Gql, query: str) -> None:
    body = gql(query)
    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    if not codes:  # a mutation answers its failure as data
        payload = next(iter(body["data"].values()))
        codes = [payload["code"]] if isinstance(payload, dict) and "code" in payload else []
    # `id` and `after` are Ints (as Pimcore's): beyond 32 bits, validation refuses them.
    expected = (
        "BAD_USER_INPUT",
        "INVALID_FILTER_VALUE",
        "INVALID_CURSOR",
        "invalid-input",
        "GRAPHQL_VALIDATION_FAILED",
    )
    assert codes and all(c in expected for c in codes), body


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ("query($a: Int) { getProduct(id: $a) { sku } }", BIG),
        ("query($a: Int) { getProduct(id: $a) { sku } }", 2**64 - 1),
        ("query($a: Int) { getProductListing(after: $a) { totalCount } }", BIG),
        ("query($a: Int) { getProductListing(after: $a) { totalCount } }", 2**31),
        ("query($a: String) { getProductListing(ids: $a) { totalCount } }", f"{2**63}"),
    ],
)
def test_numbers_out_of_range_in_variables(gql: Gql, query: str, value: Any) -> None:
    body = gql(query, {"a": value})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
    message = body["errors"][0]["message"]
    assert "out of range" in message or "Int cannot represent" in message


def test_the_largest_ids_and_offsets_in_range_are_answered(gql: Gql) -> None:
    # `id` and `after` are GraphQL Ints (32 bits, as Pimcore declares them); `ids` is text.
    largest = 2**31 - 1
    body = gql(f"{{ getProduct(id: {largest}) {{ sku }} }}")
    assert body["data"]["getProduct"] is None and "errors" not in body
    body = gql(f'{{ getProductListing(ids: "{2**63 - 1}", after: {largest}) {{ totalCount }} }}')
    assert "errors" not in body, body


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ('{ getProductListing(filter: "{\\"sku\\": \\"\\\\ud800\\"}") { totalCount } }', {}),
        (
            "query($f: String) { getProductListing(filter: $f) { totalCount } }",
            {"f": '{"sku": {"$in": ["\\ud800"]}}'},
        ),
        ('{ getProduct(sku: "\\ud800") { sku } }', {}),
    ],
)
def test_a_lone_surrogate_is_refused_with_a_code(
    gql: Gql, query: str, variables: dict[str, Any]
) -> None:
    body = gql(query, variables)
    codes = [e.get("extensions", {}).get("code") for e in body["errors"]]
    assert codes and "INTERNAL_SERVER_ERROR" not in codes and None not in codes, body


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($f: Int) { getProductListing(first: $f) { totalCount } }", {"f": 2**64}),
        ("query($f: Int!) { getProductListing(first: $f) { totalCount } }", {}),
        ("query($s: String) { getProduct(sku: $s) { sku } }", {"s": {"not": "a string"}}),
    ],
)
def test_variables_that_cannot_be_coerced_are_bad_user_input(
    gql: Gql, query: str, variables: dict[str, Any]
) -> None:
    body = gql(query, variables)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
    assert "$" in body["errors"][0]["message"]
