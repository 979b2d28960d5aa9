"""Quantities and price lists over HTTP (REST objects, the product payload, GraphQL), through
import and export, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.transfer.exporter import ExportOptions, export
from pimhub.transfer.importer import ImportOptions, run_import
from pimhub.transfer.inference import propose_mapping
from pimhub.transfer.mapping import parse_mapping
from pimhub.transfer.sources import Format, from_text
from tests.api.test_rest_contract import problem
from tests.conftest import bearer, statements_run

OBJECTS = "/api/v1/objects"
# The commerce model's Product with a price list instead of one price.
PRICE_LIST = {"name": "price", "type": "money", "priceList": True, "currencies": ["EUR", "USD"],
              "min": 0, "decimals": 2}  # fmt: skip


@pytest.fixture
def shop(hub: Hub) -> Hub:
    product = hub.classes.get("Product").to_dict(with_version=False)
    product["fields"] = [PRICE_LIST if f["name"] == "price" else f for f in product["fields"]]
    hub.classes.apply([product], author="t")
    return hub


def _post(client: TestClient, admin: dict[str, str], sku: str, **fields: Any) -> Any:
    body = {"fields": {"sku": sku, "name": {"en": sku}, **fields}}
    return client.post(f"{OBJECTS}/Product", json=body, headers=admin)


@pytest.fixture
def parcels(shop: Hub, client: TestClient, admin: dict[str, str]) -> TestClient:
    given = {
        "A": {"weight": "500 GRAM", "price": {"EUR": 10, "USD": 30}},
        "B": {"weight": {"value": 0.75, "unit": "kg"}, "price": {"EUR": 20}},
        "C": {"weight": "12 lb", "price": [{"amount": 5, "currency": "USD"}]},  # 5.44 kg
        "D": {"weight": "1 lb"},  # 0.45 kg
        "E": {},
    }
    for sku, fields in given.items():
        assert _post(client, admin, sku, **fields).status_code == 201
    return client


def _skus(client: TestClient, admin: dict[str, str], **params: Any) -> list[str]:
    response = client.get(f"{OBJECTS}/Product", params=params, headers=admin)
    assert response.status_code == 200, response.text
    return [item["key"] for item in response.json()["items"]]


def test_rest_answers_value_and_unit_as_sent(parcels: TestClient, admin: dict[str, str]) -> None:
    a = parcels.get(f"{OBJECTS}/Product/A", headers=admin).json()["fields"]
    assert a["weight"] == {"value": 500, "unit": "g"}
    assert a["price"] == {"EUR": 10, "USD": 30}
    c = parcels.get(f"{OBJECTS}/Product/C", headers=admin).json()["fields"]
    assert (c["weight"], c["price"]) == ({"value": 12, "unit": "lb"}, {"USD": 5})


def test_rest_filters_and_sorts_across_mixed_units(
    parcels: TestClient, admin: dict[str, str]
) -> None:
    assert _skus(parcels, admin, sort="weight,sku") == ["E", "D", "A", "B", "C"]
    assert _skus(parcels, admin, sort="-weight") == ["C", "B", "A", "D", "E"]
    assert _skus(parcels, admin, filter='{"weight": {"$gt": 0.5}}', sort="sku") == ["B", "C"]
    assert _skus(parcels, admin, filter='{"weight": {"$lte": "500 g"}}', sort="sku") == ["A", "D"]
    assert _skus(parcels, admin, filter='{"weight": {"$gte": "1 lb", "$lt": "1 kg"}}',
                 sort="-weight") == ["B", "A", "D"]  # fmt: skip
    # Pages of a sort by weight walk every product once.
    first = parcels.get(f"{OBJECTS}/Product", params={"sort": "weight", "first": 2},
                        headers=admin).json()  # fmt: skip
    rest = parcels.get(
        f"{OBJECTS}/Product",
        params={"sort": "weight", "first": 10, "after": first["nextCursor"]},
        headers=admin,
    ).json()
    assert [i["key"] for i in first["items"] + rest["items"]] == ["E", "D", "A", "B", "C"]


def test_rest_filters_and_sorts_price_lists_per_currency(
    parcels: TestClient, admin: dict[str, str]
) -> None:
    assert _skus(parcels, admin, filter='{"price.EUR": {"$gte": 15}}') == ["B"]
    assert _skus(parcels, admin, sort="-price.USD,sku") == ["A", "C", "B", "D", "E"]
    body = problem(
        parcels.get(f"{OBJECTS}/Product", params={"filter": '{"price": 1}'}, headers=admin),
        400,
        "invalid-query",
    )
    assert "EUR, USD" in str(body["errors"])


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"weight": "5 cm"}, "weight", "use one of: mg, g, kg, t, oz, lb"),
        ({"weight": {"value": 1, "unit": "stone"}}, "weight", "unknown unit 'stone'"),
        ({"weight": {"value": 1e308, "unit": "t"}}, "weight", "too large"),
        ({"weight": {"value": "1e99999", "unit": "kg"}}, "weight", "finite"),
        ({"weight": {"value": {"value": {"value": 1}}, "unit": "kg"}}, "weight", "number"),
        ({"price": {"EUR": 1, "GBP": 2}}, "price.GBP", "EUR, USD"),
        ({"price": {"USD": "abc"}}, "price.USD", "not a number"),
    ],
)
def test_hostile_quantities_and_prices_are_422_with_the_field(
    shop: Hub, client: TestClient, admin: dict[str, str], fields: Any, field: str, words: str
) -> None:
    body = problem(_post(client, admin, "X", **fields), 422, "validation-failed")
    assert [e["field"] for e in body["errors"]] == [field]
    assert words in body["errors"][0]["message"]


def test_a_nul_in_a_quantity_is_refused_at_the_edge(
    shop: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    body = problem(_post(client, admin, "X", weight="1\u0000 kg"), 400, "nul-character")
    assert body["errors"][0]["field"] == "fields.weight"


def test_hostile_filter_units_are_400(parcels: TestClient, admin: dict[str, str]) -> None:
    for operand in ('"5 cm"', '"1e999 kg"', '"kg"', '"' + "9" * 5000 + ' kg"'):
        response = parcels.get(
            f"{OBJECTS}/Product",
            params={"filter": '{"weight": {"$gt": ' + operand + "}}"},
            headers=admin,
        )
        body = problem(response, 400, "invalid-query")
        assert body["errors"][0]["field"] == "filter.weight.$gt"


def test_the_product_payload_shows_weight_and_prices(
    parcels: TestClient, admin: dict[str, str]
) -> None:
    view = parcels.get("/api/v1/products/A", headers=admin).json()
    assert view["weight"] == {"value": 500, "unit": "g"}
    assert (view["price"], view["currency"], view["prices"]) == (10, "EUR", {"EUR": 10, "USD": 30})


def test_graphql_converts_units_and_picks_currencies(shop: Hub, client: TestClient) -> None:
    shop.datahub.create(
        {"name": "shop", "classes": {"Product": {"fields": ["sku", "weight", "price"]}}},
        author="t",
    )
    key = bearer(shop, "datahub:shop", name="shop")
    shop.catalog.create("Product", {"sku": "A", "name": {"en": "A"}, "weight": "500 GRAM",
                        "price": {"EUR": 10, "USD": 12.5}}, author="t")  # fmt: skip
    shop.catalog.create("Product", {"sku": "B", "name": {"en": "B"}, "weight": "2 lb"},
                        author="t")  # fmt: skip

    def gql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"query": query, "variables": variables}
        response = client.post("/graphql/shop", json=body, headers=key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    listing = gql(
        """{ getProductListing(sortBy: ["weight"]) { edges { node {
            sku weight { value unit } kg: weight(unit: "kg") { value unit }
            lb: weight(unit: "POUND") { value }
            price { amount currency } usd: price(currency: "USD") { amount currency } } } } }"""
    )
    nodes = [e["node"] for e in listing["data"]["getProductListing"]["edges"]]
    assert nodes[0] == {
        "sku": "A",
        "weight": {"value": 500, "unit": "g"},
        "kg": {"value": 0.5, "unit": "kg"},
        "lb": {"value": 1.10231131092},
        "price": {"amount": 10, "currency": "EUR"},
        "usd": {"amount": 12.5, "currency": "USD"},
    }
    assert nodes[1]["kg"] == {"value": 0.90718474, "unit": "kg"}
    assert nodes[1]["price"] is None and nodes[1]["usd"] is None
    # Without arguments the compiled plan answers, and answers the same.
    plain = gql('{ getProductListing(sortBy: ["-weight"]) { edges { node { sku '
                "weight { unit __typename } price { amount } } } } }")  # fmt: skip
    assert [e["node"] for e in plain["data"]["getProductListing"]["edges"]] == [
        {"sku": "B", "weight": {"unit": "lb", "__typename": "Quantity"}, "price": None},
        {"sku": "A", "weight": {"unit": "g", "__typename": "Quantity"}, "price": {"amount": 10}},
    ]
    # Filters in the field's unit or with a unit, through the compiled plan's statement.
    listing = "query($f: String) { getProductListing(filter: $f) { edges { node { sku } } } }"
    for given, skus in (
        ({"weight": {"$lt": "600 g"}}, ["A"]),
        ({"weight": {"$gt": 0.6}}, ["B"]),
        ({"price.USD": {"$gt": 12}}, ["A"]),
    ):
        found = gql(listing, {"f": json.dumps(given)})
        assert [e["node"]["sku"] for e in found["data"]["getProductListing"]["edges"]] == skus
    bad = gql('{ getProduct(sku: "A") { weight(unit: "cm") { value } } }')
    assert bad["data"]["getProduct"]["weight"] is None
    assert "unknown unit 'cm' for a mass" in bad["errors"][0]["message"]
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # The same query is refused on an object without a weight: validity is not data's.
    shop.catalog.patch("Product", "A", {"weight": None}, author="t")
    bad = gql('{ getProduct(sku: "A") { weight(unit: "parsec") { value } } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    bad = gql('{ getProduct(sku: "A") { price(currency: "GBP") { amount } } }')
    assert "use one of EUR, USD" in bad["errors"][0]["message"]


def test_graphql_mutations_take_quantities_and_price_lists(shop: Hub, client: TestClient) -> None:
    shop.datahub.create(
        {
            "name": "admin",
            "classes": {
                "Product": {
                    "fields": ["sku", "name", "weight", "price"],
                    "operations": ["read", "create", "update"],
                }
            },
        },
        author="t",
    )
    key = bearer(shop, "datahub:admin", name="writer")
    query = """mutation { createProduct(input: {sku: "M", name: "M",
        weight: {value: 12, unit: "lb"},
        price: [{amount: 9.5, currency: "EUR"}, {amount: 11, currency: "USD"}]}) {
        success message } }"""
    response = client.post("/graphql/admin", json={"query": query}, headers=key).json()
    assert response["data"]["createProduct"]["success"], response
    stored = shop.catalog.get_object("Product", "M", include_drafts=True).values
    assert stored["weight"] == {"value": 12, "unit": "lb"}
    assert stored["price"] == {"EUR": 9.5, "USD": 11}


def test_import_reads_units_and_one_column_per_currency(shop: Hub) -> None:
    mapping = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": "sku",
                "name.en": "sku",
                "weight": "weight",
                "price.EUR": {"column": "price_eur", "number": True},
                "price.USD": {"column": "price_usd", "number": True},
            },
        }
    )
    text = (
        "sku,weight,price_eur,price_usd\n"
        "I-1,500 GRAM,19.90,21.50\nI-2,0.5 kg,5,\nI-3,12 lb,,7\nI-4,5 cm,1,1\nI-5,2,,\n"
    )
    errors: list[Any] = []
    summary = run_import(
        lambda: shop.catalog.batch_writer("Product", author="t"),
        from_text(text, Format.CSV),
        mapping,
        ImportOptions(),
        on_row_error=errors.append,
    )
    assert summary.created == 4
    assert [(e.row, e.column) for e in errors] == [(4, "weight")]

    def values(sku: str) -> dict[str, Any]:
        return shop.catalog.get_object("Product", sku, include_drafts=True).values

    assert (values("I-1")["weight"], values("I-1")["price"]) == (
        {"value": 500, "unit": "g"},
        {"EUR": 19.9, "USD": 21.5},
    )
    assert values("I-2")["weight"] == {"value": 0.5, "unit": "kg"}
    assert (values("I-3")["weight"], values("I-3")["price"]) == ({"value": 12, "unit": "lb"},
                                                                  {"USD": 7})  # fmt: skip
    assert values("I-5")["weight"] == {"value": 2, "unit": "kg"}


def test_export_writes_value_unit_and_one_column_per_currency(shop: Hub) -> None:
    shop.catalog.create("Product", {"sku": "X", "name": {"en": "X"}, "weight": "500 g",
                        "price": {"EUR": 1.5, "USD": 2}}, author="t")  # fmt: skip
    out = io.StringIO()
    options = ExportOptions(fields=("sku", "weight", "price"))
    export(shop.catalog, shop.graph_reads, shop.classes.get("Product"), options, out,
           languages=["en"])  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows == [
        {
            "sku": "X",
            "weight.value": "500",
            "weight.unit": "g",
            "price.EUR": "1.5",
            "price.USD": "2",
        }
    ]


@pytest.mark.parametrize("arguments", ["", '(unit: "lb")'])
def test_graphql_units_cost_no_statement_per_object(
    shop: Hub, client: TestClient, arguments: str
) -> None:
    shop.datahub.create(
        {"name": "shop", "classes": {"Product": {"fields": ["sku", "weight", "price"]}}},
        author="t",
    )
    key = bearer(shop, "datahub:shop", name="shop")
    query = f"""query($n: Int) {{ getProductListing(first: $n, sortBy: ["weight"]) {{
        edges {{ node {{ sku weight{arguments} {{ value unit }} price {{ amount }} }} }} }} }}"""
    counts = []
    for made, n in ((0, 2), (2, 20)):
        for i in range(made, n):
            values = {"sku": f"S-{i:02}", "name": {"en": "S"}, "weight": f"{i + 1} g",
                      "price": {"EUR": i}}  # fmt: skip
            shop.catalog.create("Product", values, author="t")
        with statements_run(shop.engine) as seen:
            response = client.post(
                "/graphql/shop", json={"query": query, "variables": {"n": n}}, headers=key
            ).json()
        edges = response["data"]["getProductListing"]["edges"]
        assert len(edges) == n, response
        assert edges[0]["node"]["weight"]["unit"] == ("lb" if arguments else "g")
        counts.append(len([s for s in seen if "objects" in s]))
    assert counts[0] == counts[1]


def test_a_proposed_mapping_reads_one_column_per_currency(shop: Hub) -> None:
    header = {"SKU": 0, "Price EUR": 1, "price_usd": 2, "weight": 3}
    proposal, unmatched = propose_mapping(shop.classes.get("Product"), header, "en")
    assert proposal["fields"] == {
        "sku": "SKU",
        "price.EUR": {"column": "Price EUR", "number": True},
        "price.USD": {"column": "price_usd", "number": True},
        "weight": "weight",  # "500 GRAM" and "0.5 kg" read as they are
    }
    assert unmatched == []


def test_search_sorts_and_filters_by_quantity_and_currency(parcels: TestClient, shop: Hub) -> None:
    shop.datahub.create(
        {"name": "shop", "classes": {"Product": {"fields": ["sku", "name", "weight", "price"]}}},
        author="t",
    )
    key = bearer(shop, "datahub:shop", name="shop")

    def found(**params: str) -> list[str]:
        response = parcels.get(
            "/simple-rest/shop/search", params={"class": "Product", **params}, headers=key
        )
        assert response.status_code == 200, response.text
        return [hit["key"] for hit in response.json()["items"]]

    assert found(sort="-weight") == ["C", "B", "A", "D", "E"]
    assert found(filter='{"weight": {"$lt": "600 g"}}', sort="weight") == ["D", "A"]
    assert found(filter='{"price.USD": {"$gt": 1}}', sort="-price.USD") == ["A", "C"]
