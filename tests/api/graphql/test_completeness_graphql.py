"""Completeness in the GraphQL datahub: a `completeness(channel, language)` list on object
types of classes with channels, the same on both execution paths, filterable and sortable in
listings, and a listing that shows it costs no extra statement."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.api.graphql.conftest import Gql
from tests.assets.images import add_images
from tests.conftest import statements_run

LAMP = {
    "sku": "LAMP",
    "name": {"en": "Lamp", "de": "Lampe"},
    "description": {"en": "Bright", "de": "Hell"},
    "price": {"amount": 20, "currency": "EUR"},
    "image": "lamp.png",
}
LISTING = """query($filter: String, $language: String) {
  getProductListing(filter: $filter, sortBy: ["-completeness.ecommerce.de", "sku"]) {
    edges { node {
      sku
      completeness(channel: "ecommerce", language: $language) { ratio missing }
      all: completeness { channel language ratio }
    } }
  }
}"""


@pytest.fixture
def shop(storefront: Hub) -> Hub:
    add_images(storefront, "/lamp.png")
    storefront.catalog.create("Product", LAMP, author="t")
    return storefront


@pytest.mark.parametrize("plans", [True, False])
def test_completeness_on_both_paths(shop: Hub, client: TestClient, gql: Gql, plans: bool) -> None:
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    body = gql(
        LISTING, {"filter": '{"completeness.ecommerce.en": {"$gte": 100}}', "language": "de"}
    )
    assert "errors" not in body, body
    assert body["data"]["getProductListing"]["edges"] == [
        {
            "node": {
                "sku": "LAMP",
                "completeness": [{"ratio": 100, "missing": []}],
                "all": [
                    {"channel": "ecommerce", "language": "en", "ratio": 100},
                    {"channel": "ecommerce", "language": "de", "ratio": 100},
                ],
            }
        }
    ]
    body = gql(LISTING, {"language": "de"})
    edges = body["data"]["getProductListing"]["edges"]
    assert [e["node"]["sku"] for e in edges] == ["LAMP", "TS-1"]  # TS-2 is a draft
    assert edges[1]["node"]["completeness"] == [{"ratio": 50, "missing": ["description", "image"]}]
    one = gql('{ getProduct(sku: "TS-1") { completeness(language: "en") { channel ratio } } }')
    assert one["data"]["getProduct"]["completeness"] == [{"channel": "ecommerce", "ratio": 50}]


@pytest.mark.parametrize("plans", [True, False])
def test_unknown_channel_or_language_is_an_error(
    shop: Hub, client: TestClient, gql: Gql, plans: bool
) -> None:
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    for arguments, says in [
        ('channel: "print"', "has no completeness channel 'print' (channels: ecommerce)"),
        ('channel: "ecommerce", language: "fr"', "has no language 'fr' (languages: en, de)"),
    ]:
        body = gql(f'{{ getProduct(sku: "LAMP") {{ completeness({arguments}) {{ ratio }} }} }}')
        assert says in body["errors"][0]["message"]
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = gql('{ getProductListing(filter: "{\\"completeness.print.en\\": 1}") { totalCount } }')
    assert "unknown channel 'print'" in str(body["errors"][0])


def test_classes_without_channels_have_no_completeness_field(gql: Gql) -> None:
    body = gql('{ getBrand(code: "acme") { completeness { ratio } } }')
    assert "Cannot query field 'completeness'" in body["errors"][0]["message"]


@pytest.mark.parametrize(("plans", "expected"), [(True, 1), (False, 2)])
def test_showing_completeness_costs_no_statement(
    shop: Hub, client: TestClient, gql: Gql, plans: bool, expected: int
) -> None:
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    query = """{ getProductListing(first: 50) {
        edges { node { sku completeness { ratio } brand { name } } } } }"""
    gql(query)  # warm: schema, document and key caches
    with statements_run(shop.engine) as seen:
        body = gql(query)
    assert len(body["data"]["getProductListing"]["edges"]) == 2
    assert len([s for s in seen if "objects" in s]) == expected, seen
