"""Reads through /graphql/{config}: get, listing, filters, paging, relations, languages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.api.graphql.conftest import Gql
from tests.conftest import statements_run


def test_get_product_by_sku_with_nested_relations(gql: Gql) -> None:
    body = gql(
        """{ getProduct(sku: "TS-1") {
              sku name(language: "de") price { amount currency } stock
              category { code name parent { code name } }
              brand { name }
           } }"""
    )
    assert "errors" not in body, body
    assert body["data"]["getProduct"] == {
        "sku": "TS-1",
        "name": "T-Shirt",
        "price": {"amount": 19.99, "currency": "EUR"},
        "stock": 7,
        "category": {"code": "men-tops", "name": "Tops", "parent": {"code": "men", "name": "Men"}},
        "brand": {"name": "Acme"},
    }
    assert body["extensions"]["cost"]["requested"] >= 1


LISTING = """query($filter: String, $first: Int, $after: String, $sortBy: [String],
                   $sortOrder: [String]) {
  getProductListing(filter: $filter, first: $first, afterCursor: $after, sortBy: $sortBy,
                    sortOrder: $sortOrder) {
    totalCount
    edges { cursor node { sku stock } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _many(hub: Hub, count: int) -> None:
    for i in range(count):
        hub.catalog.create(
            "Product",
            {
                "sku": f"P-{i:03}",
                "name": {"en": f"Product {i}", "de": f"Produkt {i}"},
                "stock": i,
                "category": "men-tops",
                "brand": "acme",
            },
            author="test",
        )


def test_listing_filters_sorts_and_pages_by_cursor(storefront: Hub, gql: Gql) -> None:
    _many(storefront, 12)
    variables = {
        "filter": '{"sku": {"$like": "P-%"}, "stock": {"$gte": 3}}',
        "first": 4,
        "sortBy": ["stock"],
        "sortOrder": ["DESC"],
    }
    seen: list[str] = []
    after = None
    for _ in range(5):
        body = gql(LISTING, {**variables, "after": after})
        assert "errors" not in body, body
        page = body["data"]["getProductListing"]
        assert page["totalCount"] == 9
        seen += [e["node"]["sku"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert seen == [f"P-{i:03}" for i in range(11, 2, -1)]


def test_integer_offsets_page_like_pimcore(storefront: Hub, gql: Gql) -> None:
    _many(storefront, 5)
    query = """query($after: Int) {
        getProductListing(filter: "{\\"sku\\": {\\"$like\\": \\"P-%\\"}}", first: 2,
                          after: $after, sortBy: ["sku"]) { edges { node { sku } } } }"""
    pages = [gql(query, {"after": offset}) for offset in (0, 2, 4)]
    skus = [[e["node"]["sku"] for e in p["data"]["getProductListing"]["edges"]] for p in pages]
    assert skus == [["P-000", "P-001"], ["P-002", "P-003"], ["P-004"]]
    literal = gql(
        '{ getProductListing(first: 1, after: 1, sortBy: "sku") { edges { node { sku } } } }'
    )
    assert literal["data"]["getProductListing"]["edges"][0]["node"]["sku"] == "P-001"


@pytest.mark.parametrize(
    ("filter_json", "code"),
    [
        ('{"nope": 1}', "UNKNOWN_FILTER_FIELD"),
        ('{"sku": {"$regex": "x"}}', "UNKNOWN_FILTER_OPERATOR"),
        ('{"sku": ', "INVALID_FILTER_JSON"),
        ('{"stock": {"$gt": "many"}}', "INVALID_FILTER_VALUE"),
    ],
)
def test_filter_errors_say_what_was_wrong(gql: Gql, filter_json: str, code: str) -> None:
    body = gql(LISTING, {"filter": filter_json})
    assert body["data"] == {"getProductListing": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert body["errors"][0]["path"] == ["getProductListing"]


def test_fields_the_configuration_hides_are_not_in_the_schema(storefront: Hub, gql: Gql) -> None:
    # Brand exposes code and name only.
    body = gql('{ getBrand(code: "acme") { name website } }')
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "website" in body["errors"][0]["message"]
    hidden = gql(LISTING, {"filter": '{"code": "x"}'}, config="storefront")
    assert "errors" not in hidden or hidden["errors"][0]["extensions"]["code"]
    filtered = gql('{ getBrandListing(filter: "{\\"website\\": \\"x\\"}") { totalCount } }')
    assert filtered["errors"][0]["extensions"]["code"] == "UNKNOWN_FILTER_FIELD"


def test_drafts_stay_hidden_and_modification_date_filters(storefront: Hub, gql: Gql) -> None:
    assert gql('{ getProduct(sku: "TS-2") { sku } }')["data"]["getProduct"] is None
    body = gql(
        '{ getProductListing(filter: "{\\"o_modificationDate\\": {\\"$gt\\": 0}}") '
        "{ totalCount edges { node { sku modificationDate } } } }"
    )
    page = body["data"]["getProductListing"]
    assert page["totalCount"] == 1
    assert page["edges"][0]["node"]["modificationDate"] > 1_700_000_000
    forbidden = gql("{ getProductListing(published: false) { totalCount } }")
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_default_language_and_fallback(gql: Gql) -> None:
    body = gql(
        """{ de: getProduct(sku: "TS-1", defaultLanguage: "de") { name category { name } }
             fr: getProduct(sku: "TS-1", defaultLanguage: "fr") { name } }"""
    )
    assert body["data"]["de"] == {"name": "T-Shirt", "category": {"name": "Oberteile"}}
    assert body["data"]["fr"] == {"name": "Tee"}  # no French text: the hub's default


def test_get_by_id_and_uuid(storefront: Hub, gql: Gql) -> None:
    found = gql('{ getProduct(sku: "TS-1") { id uuid } }')["data"]["getProduct"]
    by_id = gql("query($id: Int!) { getProduct(id: $id) { sku } }", {"id": int(found["id"])})
    by_uuid = gql("query($u: String) { getProduct(uuid: $u) { sku } }", {"u": found["uuid"]})
    assert by_id["data"]["getProduct"] == by_uuid["data"]["getProduct"] == {"sku": "TS-1"}
    both = gql('{ getProduct(sku: "TS-1", uuid: "x") { sku } }')
    assert both["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("page", [10, 100])
@pytest.mark.parametrize(("plans", "expected"), [(True, 1), (False, 4)])
def test_statement_count_does_not_grow_with_the_page(
    storefront: Hub, client: TestClient, gql: Gql, page: int, plans: bool, expected: int
) -> None:
    """Compiled plans join to-one relations into the page's statement; graphql-core's
    resolvers load each relation level batch-wise (page, categories, parents, brands)."""
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    _many(storefront, 100)
    query = """query($first: Int) { getProductListing(first: $first) {
        edges { node { sku name category { name parent { name } } brand { name } } } } }"""
    gql(query, {"first": page})  # warm: schema, document and key caches
    with statements_run(storefront.engine) as seen:
        body = gql(query, {"first": page})
    edges = body["data"]["getProductListing"]["edges"]
    assert len(edges) == page
    assert edges[0]["node"]["category"]["parent"]["name"] == "Men"
    # The schema fingerprint (PostgreSQL only) reads other tables.
    listing = [s for s in seen if "objects" in s]
    assert len(listing) == expected, listing


def test_sort_by_minus_prefix_means_descending(storefront: Hub, gql: Gql) -> None:
    _many(storefront, 3)
    body = gql('{ getProductListing(sortBy: ["-stock"], first: 2) { edges { node { sku } } } }')
    assert [e["node"]["sku"] for e in body["data"]["getProductListing"]["edges"]] == [
        "TS-1",
        "P-002",
    ]
