"""The GraphQL datahub end to end: `pimhub init`, `pimhub serve`, a configuration made over
REST, a key made with `pimhub graphql key`, and then a real GraphQL client (gql, validating
every query against the schema it fetched by introspection) sending Pimcore-style queries
exactly as Pimcore datahub clients write them."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport

from tests.e2e.processes import PIMHUB, init, serving

pytestmark = pytest.mark.e2e

CONFIG = {
    "name": "pimcore",
    "classes": {
        "Product": {"fields": "*", "operations": ["read", "create", "update"]},
        "Category": {},
        "Brand": {},
    },
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    workdir = Path(tmp_path_factory.mktemp("gql"))
    env = {**os.environ, "PIMHUB_DATA_DIR": str(workdir / "data")}
    env.pop("PIMHUB_DATABASE_URL", None)
    admin = init(env, workdir)
    with serving(env, workdir) as base:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as http:
            _seed(http)
        made = subprocess.run(
            [*PIMHUB, "graphql", "key", "pimcore", "--name", "pimcore-app"],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            check=True,
        )
        match = re.search(r"phk_\S+", made.stdout)
        assert match, made.stdout
        transport = HTTPXTransport(
            url=f"{base}/graphql/pimcore", headers={"Authorization": f"Bearer {match.group(0)}"}
        )
        with Client(transport=transport, fetch_schema_from_transport=True) as session:
            yield session  # type: ignore[misc]


@pytest.fixture(scope="module")
def pimcore(client: Client) -> Client:
    """Pimcore datahub queries, sent by a client that validates each one locally against
    the schema it fetched (as gql and graphql-codegen do): Pimcore's `$id: Int` and
    `$after: Int` declarations must pass that check, not only the server's."""
    return client


def _seed(http: httpx.Client) -> None:
    def put(path: str, fields: dict[str, Any]) -> None:
        response = http.put(f"/api/v1/objects/{path}", json={"fields": fields})
        assert response.status_code in (200, 201), response.text

    put("Brand/nordic", {"code": "nordic", "name": "Nordic"})
    put("Category/outdoor", {"code": "outdoor", "name": {"en": "Outdoor", "de": "Draussen"}})
    tents = [("TENT-1", "Trail Tent", 249.5), ("TENT-2", "Dome Tent", 99), ("MUG-1", "Mug", 9)]
    for sku, name, price in tents:
        put(
            f"Product/{sku}",
            {
                "name": {"en": name, "de": f"{name} (de)"},
                "price": {"amount": price, "currency": "EUR"},
                "category": "outdoor",
                "brand": "nordic",
            },
        )
    response = http.post("/api/v1/datahub", json=CONFIG)
    assert response.status_code == 201, response.text


def run(client: Client, query: str, **variables: Any) -> dict[str, Any]:
    request = GraphQLRequest(query, variable_values=variables or None)
    result: dict[str, Any] = client.execute(request)
    return result


def skus(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["sku"] for edge in page["edges"]]


# -- the Pimcore compatibility suite: queries as Pimcore datahub clients send them ----------


def test_get_by_id(pimcore: Client) -> None:
    client = pimcore
    listing = run(client, "{ getProductListing(first: 1) { edges { node { id } } } }")
    object_id = listing["getProductListing"]["edges"][0]["node"]["id"]
    found = run(client, f"{{ getProduct(id: {object_id}) {{ id sku name }} }}")
    assert found["getProduct"]["id"] == object_id
    typed = run(
        client,
        "query($id: Int!) { getProduct(id: $id) { id fullpath } }",
        id=int(object_id),
    )["getProduct"]
    assert typed["id"] == object_id
    by_path = run(
        client,
        "query($p: String) { getProduct(fullpath: $p) { id } }",
        p=typed["fullpath"],
    )
    assert by_path["getProduct"]["id"] == object_id


def test_incremental_sync_filters_as_pimcore_sends_them(pimcore: Client) -> None:
    query = """query($filter: String) { getProductListing(filter: $filter) { totalCount } }"""
    for changed_since in ('{"o_modificationDate": {"$gt": "946684800"}}',
                          '{"modificationDate": {"$gt": "2000-01-01"}}'):  # fmt: skip
        page = run(pimcore, query, filter=changed_since)["getProductListing"]
        assert page["totalCount"] == 3


def test_listing_with_like_filter_and_total_count(pimcore: Client) -> None:
    client = pimcore
    page = run(
        client,
        """{ getProductListing(filter: "{\\"name\\": {\\"$like\\": \\"%Tent%\\"}}") {
               totalCount edges { node { sku name } } } }""",
    )["getProductListing"]
    assert page["totalCount"] == 2
    assert sorted(skus(page)) == ["TENT-1", "TENT-2"]


def test_listing_with_gt_filter(pimcore: Client) -> None:
    client = pimcore
    page = run(
        client,
        """query($filter: String) { getProductListing(filter: $filter) {
               edges { node { sku price { amount } } } } }""",
        filter='{"price": {"$gt": 50}}',
    )["getProductListing"]
    assert sorted(skus(page)) == ["TENT-1", "TENT-2"]


def test_sort_by_and_sort_order_as_single_strings(pimcore: Client) -> None:
    client = pimcore
    page = run(
        client,
        '{ getProductListing(sortBy: "sku", sortOrder: "DESC") { edges { node { sku } } } }',
    )["getProductListing"]
    assert skus(page) == ["TENT-2", "TENT-1", "MUG-1"]


def test_first_after_offset_paging_with_int_variables(pimcore: Client) -> None:
    client = pimcore
    query = """query($first: Int, $after: Int) {
        getProductListing(first: $first, after: $after, sortBy: ["sku"]) {
          totalCount edges { node { sku } } } }"""
    pages = [run(client, query, first=2, after=after)["getProductListing"] for after in (0, 2)]
    assert [skus(p) for p in pages] == [["MUG-1", "TENT-1"], ["TENT-2"]]
    assert pages[0]["totalCount"] == 3


def test_nested_relation_through_an_inline_fragment(pimcore: Client) -> None:
    client = pimcore
    found = run(
        client,
        """{ getProduct(sku: "TENT-1", defaultLanguage: "de") {
               name category { ... on object_Category { id name } }
               brand { ... on object_Brand { name } } } }""",
    )["getProduct"]
    assert found["name"] == "Trail Tent (de)"
    assert found["category"]["name"] == "Draussen"
    assert found["brand"] == {"name": "Nordic"}


# -- beyond Pimcore --------------------------------------------------------------------------


def test_cursor_paging_and_batch_upsert(client: Client) -> None:
    first = run(client, "{ getProductListing(first: 2) { pageInfo { hasNextPage endCursor } } }")
    info = first["getProductListing"]["pageInfo"]
    assert info["hasNextPage"]
    rest = run(
        client,
        """query($after: String) {
             getProductListing(afterCursor: $after) { edges { node { sku } } } }""",
        after=info["endCursor"],
    )
    assert len(rest["getProductListing"]["edges"]) == 1
    result = run(
        client,
        """mutation($items: [ProductInput!]!) {
             upsertProductBatch(items: $items) { sku success created code } }""",
        items=[{"sku": "MUG-1", "stock": 5}, {"sku": "MUG-2", "name": "Cup", "stock": -1}],
    )
    assert result["upsertProductBatch"] == [
        {"sku": "MUG-1", "success": True, "created": False, "code": None},
        {"sku": "MUG-2", "success": False, "created": False, "code": "validation-failed"},
    ]


def test_errors_carry_codes(client: Client) -> None:
    with pytest.raises(TransportQueryError) as caught:
        run(client, '{ getProductListing(filter: "{\\"nope\\": 1}") { totalCount } }')
    assert caught.value.errors is not None
    assert caught.value.errors[0]["extensions"]["code"] == "UNKNOWN_FILTER_FIELD"
