"""Pimcore datahub clients run unchanged, including those that validate their queries
against our printed SDL before sending them (graphql-codegen, gql): the schema must accept
Pimcore's variable declarations, not only the server."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from graphql import GraphQLNonNull, GraphQLObjectType, build_schema, parse, validate

from pimhub.bootstrap import Hub
from pimhub.cli.server import seed_demo
from tests.api.graphql.conftest import Gql
from tests.conftest import bearer

PIMCORE_GET = "query($id: Int!) { getProduct(id: $id) { id fullpath sku stock } }"
PIMCORE_PAGE = """query($first: Int, $after: Int, $filter: String) {
  getProductListing(first: $first, after: $after, filter: $filter, sortBy: ["sku"]) {
    totalCount edges { cursor node { sku } } } }"""
HUB_PAGE = """query($first: Int, $cursor: String, $filter: String) {
  getProductListing(first: $first, afterCursor: $cursor, filter: $filter, sortBy: ["sku"]) {
    edges { node { sku } } pageInfo { hasNextPage endCursor } } }"""


@pytest.fixture
def sdl(client: TestClient, storefront: Hub, admin: dict[str, str]) -> str:
    response = client.get("/api/v1/datahub/storefront/schema.graphql", headers=admin)
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize("query", [PIMCORE_GET, PIMCORE_PAGE, HUB_PAGE])
def test_typed_clients_validate_pimcore_and_cursor_queries_against_the_sdl(
    sdl: str, query: str
) -> None:
    """As graphql-codegen does: build the schema from the printed SDL, validate locally."""
    errors = validate(build_schema(sdl), parse(query))
    assert errors == [], [e.message for e in errors]


def test_get_by_int_id_variable_and_by_fullpath(storefront: Hub, gql: Gql) -> None:
    found = gql('{ getProduct(sku: "TS-1") { id fullpath } }')["data"]["getProduct"]
    assert found["fullpath"] == "/Product/TS-1"
    by_id = gql(PIMCORE_GET, {"id": int(found["id"])})
    assert by_id["data"]["getProduct"] == {
        "id": found["id"],
        "fullpath": "/Product/TS-1",
        "sku": "TS-1",
        "stock": 7,
    }
    by_path = gql('{ getProduct(fullpath: "/Product/TS-1") { sku } }')
    assert by_path["data"]["getProduct"] == {"sku": "TS-1"}
    elsewhere = gql('{ a: getProduct(fullpath: "/Brand/TS-1") { sku } '
                    'b: getBrand(fullpath: "/Brand/acme") { code fullpath } }')  # fmt: skip
    assert elsewhere["data"] == {"a": None, "b": {"code": "acme", "fullpath": "/Brand/acme"}}
    two = gql('{ getProduct(fullpath: "/Product/TS-1", sku: "TS-1") { sku } }')
    assert two["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def _products(hub: Hub, count: int) -> None:
    for i in range(count):
        hub.catalog.create(
            "Product", {"sku": f"P-{i:03}", "name": {"en": f"P {i}"}, "stock": i}, author="test"
        )


def test_offsets_and_keyset_cursors_page_alike(storefront: Hub, gql: Gql) -> None:
    _products(storefront, 5)
    only = '{"sku": {"$like": "P-%"}}'
    by_offset = [
        [e["node"]["sku"] for e in gql(PIMCORE_PAGE, {"first": 2, "after": after, "filter": only})[
            "data"]["getProductListing"]["edges"]]
        for after in (0, 2, 4)
    ]  # fmt: skip
    assert by_offset == [["P-000", "P-001"], ["P-002", "P-003"], ["P-004"]]
    # Our keyset cursors, from an edge's `cursor` or `endCursor`, go in `afterCursor`.
    page = gql(PIMCORE_PAGE, {"first": 2, "filter": only})["data"]["getProductListing"]
    cursor = page["edges"][-1]["cursor"]
    rest = gql(HUB_PAGE, {"first": 2, "cursor": cursor, "filter": only})
    assert "errors" not in rest, rest
    assert [e["node"]["sku"] for e in rest["data"]["getProductListing"]["edges"]] == [
        "P-002",
        "P-003",
    ]
    both = gql(
        "query($c: String) { getProductListing(after: 1, afterCursor: $c) { totalCount } }",
        {"c": cursor},
    )
    assert both["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_string_cursor_in_after_is_refused_by_validation(gql: Gql) -> None:
    """`after` is Pimcore's Int offset; an opaque cursor there is a client error, named."""
    body = gql('{ getProductListing(after: "WzEsMl0") { totalCount } }')
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_honest_types_in_the_sdl(sdl: str) -> None:
    schema = build_schema(sdl)
    product = schema.get_type("object_Product")
    assert isinstance(product, GraphQLObjectType)
    assert isinstance(product.fields["sku"].type, GraphQLNonNull)  # the business key
    assert str(product.fields["stock"].type) == "Int"  # a number without decimals
    assert str(product.fields["fullpath"].type) == "String!"
    category = schema.get_type("object_Category")
    assert isinstance(category, GraphQLObjectType)
    assert str(category.fields["code"].type) == "String!"
    assert schema.get_type("Cursor") is None  # cursors are plain strings, described
    listing = schema.query_type.fields["getProductListing"]  # type: ignore[union-attr]
    assert str(listing.args["after"].type) == "Int"
    assert "keyset" in (listing.args["afterCursor"].description or "")


def test_whole_numbers_answer_as_int_on_both_paths(
    storefront: Hub, client: TestClient, gql: Gql
) -> None:
    query = '{ getProductListing(filter: "{\\"sku\\": \\"TS-1\\"}") { edges { node { stock } } } }'
    for plans in (True, False):
        client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
        body = gql(query)
        stock = body["data"]["getProductListing"]["edges"][0]["node"]["stock"]
        assert stock == 7 and isinstance(stock, int)


def test_a_whole_number_beyond_32_bits_is_null_with_an_error_on_both_paths(
    storefront: Hub, client: TestClient, gql: Gql
) -> None:
    storefront.catalog.patch("Product", "TS-1", {"stock": 2**40}, author="test")
    query = '{ getProduct(sku: "TS-1") { sku stock } }'
    answers = []
    for plans in (True, False):
        client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
        answers.append(gql(query))
    assert answers[0] == answers[1]
    body = answers[0]
    assert body["data"] == {"getProduct": {"sku": "TS-1", "stock": None}}
    assert body["errors"][0]["extensions"]["code"] == "VALUE_OUT_OF_RANGE"
    assert body["errors"][0]["path"] == ["getProduct", "stock"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_the_graphql_package_has_no_import_cycle() -> None:
    """schema.py builds on mutations.py; the pieces both need live in binding.py."""
    package = Path(__file__).parents[3] / "src/pimhub/api/graphql"
    graph = {
        f"pimhub.api.graphql.{p.stem}": {
            m for m in _imports(p) if m.startswith("pimhub.api.graphql.")
        }
        for p in package.glob("*.py")
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = [m for m in graph if reaches(m, m, {m})]
    assert cycles == []


SYNC = "query($f: String) { getProductListing(filter: $f) { edges { node { sku } } } }"


@pytest.mark.parametrize(
    ("since", "skus"),
    [
        ('{"o_modificationDate": {"$gt": "946684800"}}', ["TS-1"]),
        ('{"o_modificationDate": {"$gt": 946684800}}', ["TS-1"]),
        ('{"modificationDate": {"$gt": "2000-01-01"}}', ["TS-1"]),
        ('{"modificationDate": {"$gt": "2999-01-01"}}', []),
        ('{"o_creationDate": {"$lt": "4102444800"}, "o_published": true}', ["TS-1"]),
    ],
)
def test_incremental_sync_filters_in_graphql_and_rest(
    storefront: Hub, client: TestClient, admin: dict[str, str], gql: Gql, since: str,
    skus: list[str],
) -> None:  # fmt: skip
    body = gql(SYNC, {"f": since})
    assert "errors" not in body, body
    assert [e["node"]["sku"] for e in body["data"]["getProductListing"]["edges"]] == skus
    rest = client.get("/api/v1/objects/Product", params={"filter": since}, headers=admin)
    assert rest.status_code == 200, rest.text
    assert [item["key"] for item in rest.json()["items"] if item["published"]] == skus


@pytest.mark.parametrize(
    "value", ['"946684800x"', '"99999999999999"', '"2000-02-30"', "1e300", "true"]
)
def test_garbage_sync_values_are_400_naming_the_field(
    client: TestClient, storefront: Hub, admin: dict[str, str], gql: Gql, value: str
) -> None:
    since = f'{{"o_modificationDate": {{"$gt": {value}}}}}'
    rest = client.get("/api/v1/objects/Product", params={"filter": since}, headers=admin)
    assert rest.status_code == 400, rest.text
    assert rest.json()["errors"][0]["field"] == "filter.o_modificationDate.$gt"
    body = gql(SYNC, {"f": since})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_FILTER_VALUE"
    assert "filter.o_modificationDate.$gt" in body["errors"][0]["message"]


# -- datahub formats: Pimcore's shapes for money and quantities ------------------------------

PIMCORE_SHAPES = {
    "name": "pimcore",
    "classes": {
        "Product": {
            "fields": ["sku", "name", "price", "stock", "weight"],
            "formats": {
                "price": {"as": "number", "currency": "EUR"},
                "weight": {"as": "quantityValue"},
            },
        }
    },
}


@pytest.fixture
def shapes(storefront: Hub) -> dict[str, str]:
    storefront.datahub.create(PIMCORE_SHAPES, author="test")
    storefront.catalog.patch("Product", "TS-1", {"weight": {"value": 500, "unit": "g"}}, author="t")
    return bearer(storefront, "datahub:pimcore", name="pimcore-app")


def test_money_as_a_number_and_quantity_as_quantity_value_on_both_paths(
    client: TestClient, shapes: dict[str, str], gql: Gql
) -> None:
    query = """{ getProductListing(first: 5) { edges { node { sku price
        weight { value unit { id abbreviation longname } toString } } } } }"""
    answers = []
    for plans in (True, False):
        client.app.state.graphql.use_plans = plans  # type: ignore[attr-defined]
        answers.append(gql(query, config="pimcore", headers=shapes))
    assert answers[0] == answers[1]
    assert answers[0]["data"]["getProductListing"]["edges"] == [
        {
            "node": {
                "sku": "TS-1",
                "price": 19.99,
                "weight": {
                    "value": 500.0,
                    "unit": {"id": "g", "abbreviation": "g", "longname": "gram"},
                    "toString": "500 g",
                },
            }
        }
    ]
    # Both shapes stay on the compiled plan, in a listing and in a get.
    client.app.state.graphql.use_plans = True  # type: ignore[attr-defined]
    before = client.app.state.graphql.plans_used  # type: ignore[attr-defined]
    gql(query, config="pimcore", headers=shapes)
    body = gql(
        '{ getProduct(sku: "TS-1") { price weight { __typename toString unit { longname } } } }',
        config="pimcore",
        headers=shapes,
    )
    assert body["data"] == {
        "getProduct": {
            "price": 19.99,
            "weight": {
                "__typename": "QuantityValue",
                "toString": "500 g",
                "unit": {"longname": "gram"},
            },
        }
    }
    assert client.app.state.graphql.plans_used == before + 2  # type: ignore[attr-defined]


def test_a_number_in_another_currency_is_null_and_the_sdl_says_float(
    storefront: Hub, client: TestClient, admin: dict[str, str], shapes: dict[str, str], gql: Gql
) -> None:
    usd = {**PIMCORE_SHAPES, "classes": {"Product": {**PIMCORE_SHAPES["classes"]["Product"],
           "formats": {"price": {"as": "number", "currency": "USD"}}}}}  # fmt: skip
    storefront.datahub.replace("pimcore", usd, author="test")
    body = gql('{ getProduct(sku: "TS-1") { price } }', config="pimcore", headers=shapes)
    assert body["data"] == {"getProduct": {"price": None}}  # amounts are never converted
    sdl = client.get("/api/v1/datahub/pimcore/schema.graphql", headers=admin).text
    product = build_schema(sdl).get_type("object_Product")
    assert isinstance(product, GraphQLObjectType)
    assert str(product.fields["price"].type) == "Float"
    assert "USD" in (product.fields["price"].description or "")
    assert str(product.fields["weight"].type) == "Quantity"  # no format: our own shape


def test_the_demo_ships_its_datahub_configuration_once(hub: Hub, client: TestClient) -> None:
    seed_demo(hub, 12)
    created = hub.datahub.get("demo")
    seed_demo(hub, 12)  # a restart keeps it as it is
    assert hub.datahub.get("demo").version == created.version == 1
    headers = bearer(hub, "admin", name="demo")  # the demo's key holds admin
    body = client.post(
        "/graphql/demo",
        json={"query": DEMO_QUERY},
        headers=headers,
    ).json()
    assert "errors" not in body, body
    node = body["data"]["getProductListing"]["edges"][0]["node"]
    assert node["sku"] == "PH-00001" and isinstance(node["price"], float)
    assert isinstance(node["stock"], int) and node["weight"]["unit"]["abbreviation"] == "kg"


# The README's example against `pimhub demo` (see the report for the exact curl).
DEMO_QUERY = """{ getProductListing(first: 2, sortBy: "sku") { totalCount edges { node {
  sku name price stock weight { value unit { abbreviation } } category { name } } } } }"""


def test_listings_take_pimcore_fullpaths(storefront: Hub, gql: Gql) -> None:
    _products(storefront, 3)
    query = """query($paths: String, $f: String) {
        getProductListing(fullpaths: $paths, filter: $f, sortBy: "sku") {
          totalCount edges { node { sku } } } }"""

    def skus(paths: str, f: str | None = None) -> list[str]:
        body = gql(query, {"paths": paths, "f": f})
        assert "errors" not in body, body
        return [e["node"]["sku"] for e in body["data"]["getProductListing"]["edges"]]

    assert skus("/Product/P-002, /Product/P-000,/Brand/acme") == ["P-000", "P-002"]
    assert skus("/Product/P-002,/Product/P-000", '{"stock": {"$gt": 0}}') == ["P-002"]
    assert skus("/Brand/acme,/,,/Product/") == []
    too_many = gql(query, {"paths": ",".join(["/Product/x"] * 1001)})
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("path", ["", "/", "/Product", "/Product/", "Product/TS-1", "/product/TS-1",
                                  "/Product/TS-1/", "/Product/" + "x" * 10_000])  # fmt: skip
def test_odd_fullpaths_find_nothing_without_an_error(gql: Gql, path: str) -> None:
    body = gql("query($p: String) { getProduct(fullpath: $p) { sku } }", {"p": path})
    assert body == {"data": {"getProduct": None}, "extensions": body["extensions"]}


def test_mutations_name_their_object_by_int_id_or_fullpath(storefront: Hub, gql: Gql) -> None:
    found = gql('{ getProduct(sku: "TS-1") { id } }')["data"]["getProduct"]
    by_id = gql(
        """mutation($id: Int!) { updateProduct(id: $id, input: {stock: 8}) {
             success output { stock } } }""",
        {"id": int(found["id"])},
    )
    assert by_id["data"]["updateProduct"] == {"success": True, "output": {"stock": 8}}
    by_path = gql(
        """mutation { updateProduct(fullpath: "/Product/TS-1", input: {stock: 9}) {
             success output { stock } } }"""
    )
    assert by_path["data"]["updateProduct"] == {"success": True, "output": {"stock": 9}}
    missing = gql(
        """mutation { deleteProduct(fullpath: "/Product/NOPE") { success code message } }"""
    )
    assert missing["data"]["deleteProduct"] == {
        "success": False,
        "code": "object-not-found",
        "message": "no Product with fullpath '/Product/NOPE'",
    }
