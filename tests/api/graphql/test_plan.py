"""Compiled plans answer exactly as graphql-core does: every query here runs through both
paths and the responses must be equal, errors included."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.api.graphql.executor import GraphQLService
from pimhub.bootstrap import Hub
from tests.api.graphql.conftest import Gql

PLANNED: list[tuple[str, dict[str, Any] | None]] = [
    ('{ getProduct(sku: "TS-1") { id uuid key classname published version sku stock } }', None),
    ('{ getProduct(sku: "TS-1") { creationDate modificationDate ean color material } }', None),
    ('{ getProduct(sku: "TS-1") { name price { amount currency __typename } __typename } }', None),
    ('{ getProduct(sku: "TS-404") { sku } }', None),
    (
        """{ a: getProduct(sku: "TS-1") { n: name(language: "de") }
             b: getBrand(code: "acme") { name } }""",
        None,
    ),
    (
        'query($l: String) { getProduct(sku: "TS-1", defaultLanguage: "de") '
        "{ name de: category { name } fr: category { name(language: $l) } } }",
        {"l": "fr"},
    ),
    (
        """query($f: String, $n: Int) { getProductListing(filter: $f, first: $n, sortBy: ["stock"],
             sortOrder: ["DESC"]) { totalCount __typename
             edges { cursor __typename
                     node { sku stock category { code parent { code } } brand { name } } }
             pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }""",
        {"f": '{"stock": {"$gte": 2}}', "n": 3},
    ),
    (
        """fragment P on object_Product { sku ... on object_Product { related { sku } } }
           { getProductListing(first: 2) { edges { node { ...P } } } }""",
        None,
    ),
    ('{ getProductListing(filter: "{\\"nope\\": 1}") { totalCount } }', None),
    (
        "{ getProductListing(first: 0) { totalCount edges { cursor } pageInfo { endCursor } } }",
        None,
    ),
    ("{ __typename getCategoryListing(after: 1) { edges { node { code } } } }", None),
    ('{ getProductListing(ids: "") { totalCount edges { node { sku } } } }', None),
    (
        '{ getProductListing(sortBy: ["featured", "-published"], first: 2) '
        "{ edges { cursor node { sku featured published } } pageInfo { endCursor } } }",
        None,
    ),
    (
        '{ getProductListing(afterCursor: "WzEsMl0", sortBy: ["sku"]) { edges { node { sku } } } }',
        None,
    ),
    (
        """query($id: Int!, $p: String) { a: getProduct(id: $id) { fullpath stock }
             b: getProduct(fullpath: $p) { id fullpath category { fullpath } } }""",
        {"id": 1, "p": "/Product/TS-1"},
    ),
    (
        """{ getProductListing(fullpaths: "/Product/P-1,/Product/P-3", sortBy: "sku") {
             edges { node { fullpath stock brand { fullpath } } } } }""",
        None,
    ),
]
NOT_PLANNED = [
    '{ getProduct(sku: "TS-1") { sku @include(if: true) } }',
    '{ getProduct(sku: "TS-1") { sku sku } }',
    "{ __schema { queryType { name } } }",
]


@pytest.fixture
def service(client: TestClient, storefront: Hub) -> GraphQLService:
    hub = storefront
    for i in range(5):
        hub.catalog.create(
            "Product",
            {
                "sku": f"P-{i}",
                "name": {"en": f"P {i}"},
                "stock": i,
                "category": "men",
                "related": ["TS-1"] if i % 2 else [],
            },
            author="test",
        )
    graphql: GraphQLService = client.app.state.graphql  # type: ignore[attr-defined]
    return graphql


def _both(gql: Gql, service: GraphQLService, query: str, variables: Any) -> tuple[Any, Any, int]:
    service.use_plans = False
    slow = gql(query, variables)
    service.use_plans = True
    before = service.plans_used
    fast = gql(query, variables)
    return slow, fast, service.plans_used - before


@pytest.mark.parametrize(("query", "variables"), PLANNED)
def test_plans_answer_like_graphql_core(
    gql: Gql, service: GraphQLService, query: str, variables: Any
) -> None:
    slow, fast, planned = _both(gql, service, query, variables)
    assert planned == 1
    assert fast == slow


@pytest.mark.parametrize("query", NOT_PLANNED)
def test_other_shapes_fall_back_to_graphql_core(
    gql: Gql, service: GraphQLService, query: str
) -> None:
    slow, fast, planned = _both(gql, service, query, None)
    assert planned == 0
    assert fast == slow


def test_a_plan_that_cannot_compile_falls_back(
    gql: Gql, service: GraphQLService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pimhub.api.graphql import executor

    def broken(*_: Any) -> None:
        raise RuntimeError("a bug in the plan compiler")

    monkeypatch.setattr(executor, "compile_plan", broken)
    before = service.plans_used
    body = gql('{ getProduct(sku: "TS-1") { sku } }')
    assert body["data"] == {"getProduct": {"sku": "TS-1"}}
    assert service.plans_used == before


def test_only_planned_queries_count_as_planned(gql: Gql, service: GraphQLService) -> None:
    """The endpoint runs planned queries on the event loop and everything else in the
    thread pool; `planned` is what it asks."""
    query = 'query One { getProduct(sku: "TS-1") { sku } }'
    assert not service.planned("storefront", query, None)  # never seen
    gql(query)
    assert service.planned("storefront", query, None)
    assert service.planned("storefront", query, "One")
    mutation = 'mutation { updateProduct(sku: "TS-1", input: {}) { success } }'
    gql(mutation)
    assert not service.planned("storefront", mutation, None)
