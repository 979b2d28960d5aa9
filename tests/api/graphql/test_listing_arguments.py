"""Listing arguments in Pimcore's shapes: errors name the argument the client gave, and
`fullpaths` reaches keys that hold a comma."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.api.graphql.listing import split_fullpaths
from pimhub.bootstrap import Hub
from tests.api.graphql.conftest import Gql
from tests.conftest import bearer


@pytest.mark.parametrize("plans", [True, False])
def test_a_bad_cursor_names_after_cursor(
    storefront: Hub, gql: Gql, client: TestClient, plans: bool
) -> None:
    service = client.app.state.graphql
    service.use_plans = plans
    body = gql('{ getProductListing(afterCursor: "not-a-cursor") { edges { node { sku } } } }')
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID_CURSOR"
    assert [e["field"] for e in error["extensions"]["errors"]] == ["afterCursor"]


@pytest.mark.parametrize(
    ("raw", "paths"),
    [
        ("/Offer/a,/Offer/b", ["/Offer/a", "/Offer/b"]),
        ("/Offer/a\\,b", ["/Offer/a,b"]),
        ("/Offer/a\\,b,/Offer/c", ["/Offer/a,b", "/Offer/c"]),
        ("/Offer/a\\\\,/Offer/b", ["/Offer/a\\", "/Offer/b"]),
        ("/Offer/a\\b", ["/Offer/a\\b"]),  # any other backslash stays
        ("/Offer/a\\", ["/Offer/a\\"]),
        ("", [""]),
    ],
)
def test_fullpaths_split_at_unescaped_commas(raw: str, paths: list[str]) -> None:
    assert split_fullpaths(raw) == paths


OFFER = {
    "name": "Offer",
    "businessKey": "code",
    "fields": [{"name": "code", "type": "text", "maxLength": 64}],
}
OFFERS = """query($paths: String) { getOfferListing(fullpaths: $paths, sortBy: "code") {
  edges { node { code } } } }"""


def test_fullpaths_find_keys_that_hold_a_comma(hub: Hub, client: TestClient) -> None:
    hub.classes.create(OFFER, author="test")
    hub.datahub.create({"name": "offers", "classes": {"Offer": {}}}, author="test")
    headers = bearer(hub, "datahub:offers", name="o")
    for code in ("a,b", "a", "b", "c\\d"):
        hub.catalog.create("Offer", {"code": code}, author="test")

    def run(query: str, variables: dict[str, str]) -> dict[str, Any]:
        answer = client.post("/graphql/offers", json={"query": query, "variables": variables},
                             headers=headers)  # fmt: skip
        body: dict[str, Any] = answer.json()
        assert "errors" not in body, body
        return body["data"]

    def codes(paths: str) -> list[str]:
        edges = run(OFFERS, {"paths": paths})["getOfferListing"]["edges"]
        return [e["node"]["code"] for e in edges]

    # Unescaped, a comma separates paths, as Pimcore reads them: "b" is no path.
    assert codes("/Offer/a,b") == ["a"]
    assert codes("/Offer/a,/Offer/b") == ["a", "b"]
    assert codes("/Offer/a\\,b") == ["a,b"]
    assert codes("/Offer/a\\,b,/Offer/a") == ["a", "a,b"]
    assert codes("/Offer/c\\d") == ["c\\d"]
    one = run("query($p: String) { getOffer(fullpath: $p) { code } }", {"p": "/Offer/a,b"})
    assert one["getOffer"] == {"code": "a,b"}
