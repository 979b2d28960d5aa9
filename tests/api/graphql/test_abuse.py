"""GraphQL abuse: documents and bodies built to cost the server far more than they cost the
client. Each is refused before anything runs, with a clear message and extensions.code,
never a 500, on both backends. (How fast each is refused is measured outside the suite;
see docs/graphql.md.)"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pimhub.api.graphql.limits import COUNT_COST, MAX_VARIABLE_ENTRIES
from tests.api.graphql.conftest import Gql


def _codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def _aliased(count: int, field: str) -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


COUNTING = [
    "getProductListing(first: 0) { totalCount }",
    "getProductListing(first: 1) { totalCount edges { node { sku } } }",
    # A page of nothing still counts, to answer hasNextPage.
    "getProductListing(first: 0) { pageInfo { hasNextPage } }",
    "getProductListing(first: 0) { ...Counted }",
]
FRAGMENT = " fragment Counted on ProductConnection { ... on ProductConnection { totalCount } }"


def test_many_aliased_counts_exceed_the_cost_limit(gql: Gql) -> None:
    for field in COUNTING:
        query = _aliased(30, field) + (FRAGMENT if "Counted" in field else "")
        body = gql(query)
        assert _codes(body) == ["COST_LIMIT_EXCEEDED"], body
        assert body["errors"][0]["extensions"]["cost"] >= 30 * COUNT_COST
        assert "data" not in body or body["data"] is None


def test_a_count_costs_a_scan_once_per_listing(gql: Gql) -> None:
    body = gql("{ getProductListing(first: 2) { totalCount again: totalCount } }")
    assert body["data"]["getProductListing"] == {"totalCount": 1, "again": 1}
    assert body["extensions"]["cost"]["requested"] == 2 + COUNT_COST
    page = gql("{ getProductListing(first: 2) { edges { node { sku } } } }")
    assert page["extensions"]["cost"]["requested"] == 2


def test_a_batched_body_is_refused_with_its_own_code(
    client: TestClient, storefront_key: dict[str, str]
) -> None:
    batch = [{"query": '{ getProduct(sku: "TS-1") { sku } }'}] * 500
    response = client.post("/graphql/storefront", json=batch, headers=storefront_key)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BATCHING_NOT_SUPPORTED"
    assert "array of 500" in error["message"] and "aliases" in error["message"]


def test_nesting_beyond_the_parser_guard_is_a_depth_error(gql: Gql) -> None:
    query = "{ getProductListing { edges { node { " + "brand { " * 300 + "code"
    query += " }" * 300 + " } } } }"
    assert _codes(gql(query)) == ["DEPTH_LIMIT_EXCEEDED"]


def test_ids_are_bounded_like_in_and_fullpaths(gql: Gql) -> None:
    query = "query($ids: String) { getProductListing(ids: $ids) { totalCount } }"
    body = gql(query, {"ids": ",".join(str(i) for i in range(1, 20_002))})
    assert _codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"] == "ids holds at most 1000 ids"
    assert "errors" not in gql(query, {"ids": ",".join(str(i) for i in range(1, 1001))})


HUGE_VARIABLES: list[tuple[str, dict[str, Any], str]] = [
    (
        "query($s: [String]) { getProductListing(sortBy: $s) { totalCount } }",
        {"s": ["sku"] * 50_000},
        "$s",
    ),
    (
        "mutation($i: [ProductInput!]!) { upsertProductBatch(items: $i) { sku } }",
        {"i": [{"sku": f"Z-{n}"} for n in range(20_000)]},
        "$i",
    ),
    (
        "mutation($i: ProductInput!) { createProduct(input: $i) { success } }",
        {"i": {"sku": "Q-1", **{f"k{n}": n for n in range(5000)}}},
        "$i",
    ),
    (
        "mutation($i: ProductInput!) { createProduct(input: $i) { success } }",
        {"i": {"sku": "Q-1", "related": [["TS-1"] * 2000]}},
        "$i.related[0]",
    ),
    ("{ __typename }", {f"v{n}": n for n in range(5000)}, "variables"),
]


def test_huge_variables_are_refused_before_coercion(gql: Gql) -> None:
    for query, variables, where in HUGE_VARIABLES:
        body = gql(query, variables)
        assert _codes(body) == ["BAD_USER_INPUT"], body
        message = body["errors"][0]["message"]
        assert message.startswith(f"{where} holds "), message
        assert f"at most {MAX_VARIABLE_ENTRIES}" in message


def test_a_variable_with_many_unknown_fields_answers_a_bounded_list_of_errors(gql: Gql) -> None:
    variables = {"i": {"sku": "Q-1", **{f"k{n}": n for n in range(900)}}}
    body = gql("mutation($i: ProductInput!) { createProduct(input: $i) { success } }", variables)
    codes = _codes(body)
    assert 0 < len(codes) <= 21 and set(codes) == {"BAD_USER_INPUT"}, codes


HOSTILE_DOCUMENTS: list[tuple[str, str, set[str]]] = [
    ("thousands of aliases", _aliased(5000, "__typename"), {"TOKEN_LIMIT_EXCEEDED"}),
    ("aliases under the token limit", _aliased(31, "__typename"), {"ALIAS_LIMIT_EXCEEDED"}),
    (
        "cyclic fragments",
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        {"GRAPHQL_VALIDATION_FAILED"},
    ),
    (
        "a fragment spreading itself",
        "{ getProductListing { ...A } } fragment A on ProductConnection { ...A }",
        {"GRAPHQL_VALIDATION_FAILED"},
    ),
    (
        "repeated directives",
        "{ __typename" + " @include(if: true)" * 40 + " }",
        {"GRAPHQL_VALIDATION_FAILED"},
    ),
    (
        "repeated directives past the token limit",
        "{ __typename" + " @skip(if: false)" * 1000 + " }",
        {"TOKEN_LIMIT_EXCEEDED"},
    ),
    ("a flood of comment lines", "{ __typename }\n" + "#\n" * 5000, {"TOKEN_LIMIT_EXCEEDED"}),
    ("unbalanced braces", "{" * 5000, {"GRAPHQL_PARSE_FAILED", "DEPTH_LIMIT_EXCEEDED"}),
    (
        "many operations",
        " ".join(f"query Q{n} {{ __typename }}" for n in range(600)),
        {"TOKEN_LIMIT_EXCEEDED"},
    ),
]


def test_hostile_documents_are_refused_with_a_code(gql: Gql) -> None:
    for name, query, codes in HOSTILE_DOCUMENTS:
        body = gql(query)
        assert body.get("errors") and set(_codes(body)) <= codes, (name, body)
        assert "data" not in body or body["data"] is None


def test_a_huge_string_is_answered_not_refused_as_an_error(gql: Gql) -> None:
    """Strings are bounded by the body limit only: a 500 KB key simply matches nothing."""
    literal = gql('{ getProduct(sku: "' + "x" * 500_000 + '") { sku } }')
    assert literal["data"] == {"getProduct": None} and "errors" not in literal
    variable = gql("query($s: String) { getProduct(sku: $s) { sku } }", {"s": "y" * 500_000})
    assert variable["data"] == {"getProduct": None} and "errors" not in variable


def test_deep_json_variables_are_refused_as_a_bad_body(
    client: TestClient, storefront_key: dict[str, str]
) -> None:
    nested = '{"a":' * 2000 + "1" + "}" * 2000
    body = '{"query": "{ __typename }", "variables": ' + nested + "}"
    response = client.post(
        "/graphql/storefront",
        content=body,
        headers={**storefront_key, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


INTROSPECTION = "__schema { types { fields { args { name } type { fields { name } } } } }"


def test_schema_introspection_is_asked_once_per_request(gql: Gql) -> None:
    """Introspection costs nothing under the cost limit; 30 aliased copies took seconds."""
    body = gql(_aliased(30, INTROSPECTION))
    assert _codes(body) == ["INTROSPECTION_LIMIT_EXCEEDED"], body
    assert "once per request" in body["errors"][0]["message"]
    once = gql("{ " + INTROSPECTION + " }")
    assert "errors" not in once and once["data"]["__schema"]["types"]
    merged = gql("{ " + INTROSPECTION + " " + INTROSPECTION + " }")  # one response key
    assert "errors" not in merged


def test_introspection_too_deep_is_a_depth_error_not_disabled(gql: Gql) -> None:
    deep = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    body = gql(deep)
    assert _codes(body) == ["DEPTH_LIMIT_EXCEEDED"], body


def test_a_huge_like_pattern_is_refused_not_an_internal_error(gql: Gql) -> None:
    """SQLite refuses patterns over 50,000 bytes: that was an INTERNAL_SERVER_ERROR."""
    query = "query($f: String) { getProductListing(filter: $f) { totalCount } }"
    body = gql(query, {"f": '{"name": {"$like": "' + "%a" * 30_000 + '"}}'})
    assert _codes(body) == ["INVALID_FILTER_VALUE"], body
    assert "at most 1000 characters" in body["errors"][0]["message"]
    assert "errors" not in gql(query, {"f": '{"name": {"$like": "' + "%T" * 500 + '"}}'})


def test_a_huge_operation_name_is_not_echoed_whole(
    client: TestClient, storefront_key: dict[str, str]
) -> None:
    request = {"query": "query A { __typename }", "operationName": "B" * 200_000}
    response = client.post("/graphql/storefront", json=request, headers=storefront_key)
    assert response.status_code == 400 and len(response.content) < 1000
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
