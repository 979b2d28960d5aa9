"""Variants through /graphql/{config}: parent, children (batched: the statement count does
not grow with the number of parents), inherited values, hidden drafts and fields, the
`family:` listing argument next to Pimcore's JSON filter, and parents in mutations."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.api.graphql.conftest import Gql
from tests.conftest import bearer, statements_run

SIZES = ["XS", "S", "M", "L", "XL", "XXL"]


def family(hub: Hub, sku: str, children: int = 2, **parent_values: Any) -> None:
    hub.catalog.create(
        "Product",
        {
            "sku": sku,
            "name": {"en": f"{sku} Hoodie", "de": f"{sku} Kapuzenpulli"},
            "price": {"amount": 52, "currency": "USD"},
            **parent_values,
        },
        author="t",
    )
    for i in range(children):
        hub.catalog.create(
            "Product",
            {"sku": f"{sku}-{SIZES[i]}", "color": "black", "size": SIZES[i]},
            parent=sku,
            author="t",
        )


FAMILY_QUERY = """{ getProduct(sku: "MH01") {
    sku isVariant inheritedFields parent { sku }
    children { sku color size name(language: "de") price { amount } isVariant
               inheritedFields parent { sku children { sku } } }
} }"""


@pytest.mark.parametrize("plans", [True, False])
def test_parent_children_and_inherited_values(
    storefront: Hub, client: TestClient, gql: Gql, plans: bool
) -> None:
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    family(storefront, "MH01")
    storefront.catalog.patch(
        "Product", "MH01-S", {"price": {"amount": 55, "currency": "USD"}}, author="t"
    )
    body = gql(FAMILY_QUERY)
    assert "errors" not in body, body
    parent = body["data"]["getProduct"]
    assert parent["isVariant"] is False and parent["parent"] is None
    assert parent["inheritedFields"] == []
    assert parent["children"] == [
        {
            "sku": "MH01-XS",
            "color": "black",
            "size": "XS",
            "name": "MH01 Kapuzenpulli",
            "price": {"amount": 52.0},
            "isVariant": True,
            "inheritedFields": ["name", "price"],
            "parent": {"sku": "MH01", "children": [{"sku": "MH01-XS"}, {"sku": "MH01-S"}]},
        },
        {
            "sku": "MH01-S",
            "color": "black",
            "size": "S",
            "name": "MH01 Kapuzenpulli",
            "price": {"amount": 55.0},
            "isVariant": True,
            "inheritedFields": ["name"],
            "parent": {"sku": "MH01", "children": [{"sku": "MH01-XS"}, {"sku": "MH01-S"}]},
        },
    ]
    child = gql('{ getProduct(sku: "MH01-S") { parent { sku } children { sku } } }')
    assert child["data"]["getProduct"] == {"parent": {"sku": "MH01"}, "children": []}
    # A product without variants.
    plain = gql('{ getProduct(sku: "TS-1") { isVariant parent { sku } children { sku } } }')
    assert plain["data"]["getProduct"] == {"isVariant": False, "parent": None, "children": []}


@pytest.mark.parametrize("plans", [True, False])
def test_children_first_and_page_size(
    storefront: Hub, client: TestClient, gql: Gql, plans: bool
) -> None:
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    family(storefront, "MH01", 3)
    family(storefront, "MH02", 2)
    query = """query($first: Int) { getProductListing(family: PARENTS, sortBy: ["sku"]) {
        edges { node { sku children(first: $first) { sku } } } } }"""
    body = gql(query, {"first": 1})
    assert [
        (e["node"]["sku"], [c["sku"] for c in e["node"]["children"]])
        for e in body["data"]["getProductListing"]["edges"]
    ] == [("MH01", ["MH01-XS"]), ("MH02", ["MH02-XS"])]
    literal = gql('{ getProduct(sku: "MH01") { children(first: 2) { sku } } }')
    assert len(literal["data"]["getProduct"]["children"]) == 2
    too_many = gql('{ getProduct(sku: "MH01") { children(first: 101) { sku } } }')
    assert too_many["errors"][0]["extensions"]["code"] == "PAGE_SIZE_EXCEEDED"


def test_family_argument_and_pimcore_filters(storefront: Hub, gql: Gql) -> None:
    family(storefront, "MH01")

    def skus(arguments: str) -> list[str]:
        body = gql(
            "{ getProductListing(%s) { totalCount edges { node { sku } } } }" % arguments  # noqa: UP031
        )
        assert "errors" not in body, body
        listing = body["data"]["getProductListing"]
        assert listing["totalCount"] == len(listing["edges"])
        return sorted(e["node"]["sku"] for e in listing["edges"])

    assert skus("family: PARENTS") == ["MH01"]
    assert skus("family: VARIANTS") == ["MH01-S", "MH01-XS"]
    assert "MH01" not in skus("family: STANDALONE") and "TS-1" in skus("family: STANDALONE")
    # Pimcore's JSON filters see a variant's inherited values, with or without `family`.
    price = '"{\\"price.amount\\": {\\"$gte\\": 50}}"'
    assert skus(f"filter: {price}") == ["MH01", "MH01-S", "MH01-XS"]
    assert skus(f"filter: {price}, family: VARIANTS") == ["MH01-S", "MH01-XS"]
    name = '"{\\"name\\": {\\"$like\\": \\"MH01%\\"}}"'
    assert skus(f"filter: {name}, family: VARIANTS") == ["MH01-S", "MH01-XS"]


def test_drafts_and_hidden_fields_stay_hidden(storefront: Hub, gql: Gql) -> None:
    family(storefront, "MH01")
    storefront.catalog.patch("Product", "MH01-S", {}, published=False, author="t")
    body = gql('{ getProduct(sku: "MH01") { children { sku } } }')
    assert body["data"]["getProduct"]["children"] == [{"sku": "MH01-XS"}]
    # A configuration exposing some fields names only those among the inherited ones.
    storefront.datahub.create(
        {"name": "narrow", "classes": {"Product": {"fields": ["sku", "name", "color"]}}},
        author="t",
    )
    headers = bearer(storefront, "datahub:narrow", name="narrow")
    narrow = gql(
        '{ getProduct(sku: "MH01-XS") { name inheritedFields } }', config="narrow", headers=headers
    )
    assert narrow["data"]["getProduct"] == {"name": "MH01 Hoodie", "inheritedFields": ["name"]}
    # An unpublished parent takes its variants offline: nothing of it shows through them.
    storefront.catalog.patch("Product", "MH01", {}, published=False, author="t")
    body = gql('{ getProduct(sku: "MH01-XS") { sku parent { sku } } }')
    assert body["data"]["getProduct"] is None


@pytest.mark.parametrize("plans", [True, False])
def test_children_statement_count_does_not_grow_with_the_parents(
    storefront: Hub, client: TestClient, gql: Gql, plans: bool
) -> None:
    """A page of parents, their children, and the children's brands: one statement each,
    for 2 parents as for 10."""
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    for n in range(10):
        family(storefront, f"F{n:02}", 3, brand="acme")
    query = """query($first: Int) { getProductListing(first: $first, family: PARENTS) {
        edges { node { sku children { sku size name brand { name } parent { sku } } } } } }"""
    counts = []
    for first in (2, 10):
        gql(query, {"first": first})  # warm: schema, document and key caches
        with statements_run(storefront.engine) as seen:
            body = gql(query, {"first": first})
        edges = body["data"]["getProductListing"]["edges"]
        assert len(edges) == first
        assert all(len(e["node"]["children"]) == 3 for e in edges)
        child = edges[0]["node"]["children"][0]
        assert child["brand"] == {"name": "Acme"} and child["parent"]["sku"] == "F00"
        counts.append(len([s for s in seen if "objects" in s]))
    # page, children, brands; the children's parents are the page's objects, not read again
    assert counts == [3, 3], counts


def test_mutations_name_a_parent(storefront: Hub, gql: Gql) -> None:
    family(storefront, "MH01", 0)
    created = gql(
        """mutation { createProduct(parent: "MH01",
             input: {sku: "MH01-L", color: "red", size: "L"}) {
           success errors { field code } output { sku name isVariant parent { sku } } } }"""
    )
    result = created["data"]["createProduct"]
    assert result["success"], result
    assert result["output"] == {
        "sku": "MH01-L",
        "name": "MH01 Hoodie",
        "isVariant": True,
        "parent": {"sku": "MH01"},
    }
    refused = gql(
        """mutation { createProduct(parent: "MH01", input: {sku: "MH01-L2", color: "red",
             size: "L"}) { success code errors { field code } } }"""
    )["data"]["createProduct"]
    assert refused["success"] is False and refused["errors"][0]["code"] == "axes-taken"
    # Left out, the parent stays; null makes the variant standalone.
    kept = gql(
        """mutation { updateProduct(sku: "MH01-L", input: {stock: 3}) {
             success output { parent { sku } } } }"""
    )["data"]["updateProduct"]
    assert kept["output"]["parent"] == {"sku": "MH01"}
    alone = gql(
        """mutation { updateProduct(sku: "MH01-L", parent: null,
             input: {name: "Red hoodie"}) { success output { isVariant parent { sku } } } }"""
    )["data"]["updateProduct"]
    assert alone == {"success": True, "output": {"isVariant": False, "parent": None}}
    batch = gql(
        """mutation { upsertProductBatch(parent: "MH01", items: [
             {sku: "MH01-XL", color: "red", size: "XL"}, {sku: "MH01-XS", color: "red",
             size: "XS"}]) { success output { parent { sku } } } }"""
    )["data"]["upsertProductBatch"]
    assert [item["output"]["parent"] for item in batch] == [{"sku": "MH01"}] * 2


BOTH_PATHS: list[tuple[str, dict[str, Any] | None]] = [
    (
        """{ getProductListing(family: PARENTS, defaultLanguage: "de") { edges { node {
             sku children { __typename sku name isVariant inheritedFields price { amount }
                            creationDate } } } } }""",
        None,
    ),
    (
        """query($n: Int) { getProductListing(family: PARENTS) { edges { node {
             sku children(first: $n) { sku name(language: "de") brand { name }
                                       parent { sku } } } } } }""",
        {"n": 1},
    ),
    (
        """{ getProductListing(family: VARIANTS, sortBy: ["sku"]) { totalCount edges { node {
             sku isVariant inheritedFields parent { sku children(first: 1) { sku } } } } } }""",
        None,
    ),
    ('{ getProduct(sku: "MH02-S") { sku parent { name(language: "de") } } }', None),
    (
        """{ getProductListing(family: VARIANTS, sortBy: ["-sku"], defaultLanguage: "de") {
             edges { cursor node { sku isVariant inheritedFields
                     parent { sku name isVariant brand { name } } brand { code } } } } }""",
        None,
    ),
]


@pytest.mark.parametrize(("query", "variables"), BOTH_PATHS)
def test_plans_answer_family_queries_like_graphql_core(
    storefront: Hub, client: TestClient, gql: Gql, query: str, variables: Any
) -> None:
    from tests.api.graphql.test_plan import _both

    family(storefront, "MH01", 3, brand="acme")
    family(storefront, "MH02", 2)
    storefront.catalog.patch(
        "Product", "MH01-S", {"price": {"amount": 55, "currency": "USD"}}, author="t"
    )
    service = client.app.state.graphql  # type: ignore[attr-defined]
    slow, fast, planned = _both(gql, service, query, variables)
    assert "errors" not in slow, slow
    assert planned == 1
    assert fast == slow


def test_children_first_is_checked_and_costed(storefront: Hub, gql: Gql) -> None:
    family(storefront, "MH01")
    negative = gql('{ getProduct(sku: "MH01") { children(first: -1) { sku } } }')
    assert negative["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # A listing of 100 parents asking 60 children each may return 6,000 objects.
    costly = gql(
        "{ getProductListing(first: 100) { edges { node { children(first: 60) { sku } } } } }"
    )
    assert costly["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    cheap = gql(
        "{ getProductListing(first: 100) { edges { node { children(first: 2) { sku } } } } }"
    )
    assert "errors" not in cheap, cheap
    assert cheap["extensions"]["cost"]["requested"] == 100 + 100 * 2


@pytest.mark.parametrize("plans", [True, False])
def test_a_listing_of_variants_joins_their_parents(
    storefront: Hub, client: TestClient, gql: Gql, plans: bool
) -> None:
    """Compiled plans join each variant's parent (and its brand) into the page's statement;
    the variants of an unpublished parent are unpublished with it."""
    client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
    for n in range(3):
        family(storefront, f"F{n}", 2, brand="acme")
    storefront.catalog.patch("Product", "F2", {}, published=False, author="t")
    query = """{ getProductListing(family: VARIANTS, sortBy: ["sku"]) {
        edges { node { sku parent { sku brand { name } } } } } }"""
    gql(query)  # warm
    with statements_run(storefront.engine) as seen:
        body = gql(query)
    nodes = [e["node"] for e in body["data"]["getProductListing"]["edges"]]
    assert [(n["sku"], n["parent"]) for n in nodes] == [
        ("F0-S", {"sku": "F0", "brand": {"name": "Acme"}}),
        ("F0-XS", {"sku": "F0", "brand": {"name": "Acme"}}),
        ("F1-S", {"sku": "F1", "brand": {"name": "Acme"}}),
        ("F1-XS", {"sku": "F1", "brand": {"name": "Acme"}}),
    ]  # F2's variants went offline with it
    assert len([s for s in seen if "objects" in s]) == (1 if plans else 3)
