"""Writes through GraphQL (with their outbox events), keys per configuration, and limits."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from pimhub.storage.tables import outbox
from tests.api.graphql.conftest import STOREFRONT, Gql
from tests.conftest import bearer

RESULT = "success code message errors { field code message }"


def _events(hub: Hub) -> list[tuple[str, str]]:
    with hub.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.event_type, outbox.c.business_key).order_by(outbox.c.id)
        )
        return [(r.event_type, r.business_key) for r in rows if r.business_key]


def test_create_update_delete_emit_events_like_rest(storefront: Hub, gql: Gql) -> None:
    before = len(_events(storefront))
    created = gql(
        f"""mutation {{ createProduct(language: "de", input: {{sku: "NEW-1", name: "Neu",
              price: {{amount: 9.5, currency: "EUR"}}, category: "men", stock: 3}})
              {{ {RESULT} output {{ sku name(language: "de") category {{ code }} version }} }} }}"""
    )["data"]["createProduct"]
    assert created["success"], created
    assert created["output"] == {
        "sku": "NEW-1",
        "name": "Neu",
        "category": {"code": "men"},
        "version": 1,
    }
    updated = gql(
        f"""mutation {{ updateProduct(sku: "NEW-1", expectedVersion: 1, input: {{stock: 4}})
              {{ {RESULT} output {{ stock version }} }} }}"""
    )["data"]["updateProduct"]
    assert updated["output"] == {"stock": 4, "version": 2}
    stale = gql(
        f"""mutation {{ updateProduct(sku: "NEW-1", expectedVersion: 1, input: {{stock: 5}})
              {{ {RESULT} }} }}"""
    )["data"]["updateProduct"]
    assert (stale["success"], stale["code"]) == (False, "stale-version")
    deleted = gql('mutation { deleteProduct(sku: "NEW-1") { success sku version } }')
    assert deleted["data"]["deleteProduct"] == {"success": True, "sku": "NEW-1", "version": 3}
    assert _events(storefront)[before:] == [
        ("object.created", "NEW-1"),
        ("object.updated", "NEW-1"),
        ("object.deleted", "NEW-1"),
    ]


def test_batch_upsert_reports_every_item(storefront: Hub, gql: Gql) -> None:
    body = gql(
        """mutation($items: [ProductInput!]!) { upsertProductBatch(items: $items) {
             index sku success created changed code errors { field code } output { stock } } }""",
        {
            "items": [
                {"sku": "TS-1", "stock": 99},
                {"sku": "B-1", "name": "Fresh", "stock": -1},
                {"sku": "B-2", "name": "Fresh", "category": "no-such-category"},
                {"sku": "B-3", "name": "Fine"},
            ]
        },
    )
    items = body["data"]["upsertProductBatch"]
    assert [(i["sku"], i["success"], i["created"]) for i in items] == [
        ("TS-1", True, False),
        ("B-1", False, False),
        ("B-2", False, False),
        ("B-3", True, True),
    ]
    assert items[0]["output"] == {"stock": 99}
    assert items[1]["code"] == "validation-failed"
    assert items[1]["errors"] == [{"field": "stock", "code": "range"}]
    assert items[2]["errors"][0]["field"] == "category"
    assert storefront.catalog.get_object("Product", "B-3", include_drafts=False).values["name"]


def test_operations_the_configuration_forbids_are_absent(gql: Gql) -> None:
    body = gql('mutation { createBrand(input: {code: "x", name: "X"}) { success } }')
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_keys_open_only_their_configuration(storefront: Hub, client: TestClient) -> None:
    storefront.datahub.create({**STOREFRONT, "name": "feed"}, author="test")
    query = {"query": '{ getProduct(sku: "TS-1") { sku } }'}
    shop = bearer(storefront, "datahub:storefront", name="shop")
    reader = bearer(storefront, "read:*", name="reader")
    cases: list[tuple[str, dict[str, str], int, str | None]] = [
        ("storefront", shop, 200, None),
        ("feed", shop, 403, "FORBIDDEN"),
        ("storefront", reader, 403, "FORBIDDEN"),
        ("storefront", {}, 401, "UNAUTHENTICATED"),
        ("nowhere", shop, 404, "NOT_FOUND"),
    ]
    for config, headers, status, code in cases:
        response = client.post(f"/graphql/{config}", json=query, headers=headers)
        assert response.status_code == status, (config, response.text)
        if code:
            assert response.json()["errors"][0]["extensions"]["code"] == code
    token = shop["Authorization"].split()[1]
    by_param = client.get("/graphql/storefront", params={**query, "apikey": token})
    assert by_param.json()["data"] == {"getProduct": {"sku": "TS-1"}}
    mutation = client.get(
        "/graphql/storefront",
        params={"query": 'mutation { deleteProduct(sku: "TS-1") { success } }', "apikey": token},
    )
    assert mutation.status_code == 405


def _limited(hub: Hub, **limits: int) -> dict[str, str]:
    hub.datahub.replace("storefront", {**STOREFRONT, "limits": limits}, author="test")
    return bearer(hub, "datahub:storefront")


def test_limits(storefront: Hub, gql: Gql) -> None:
    headers = _limited(storefront, maxDepth=5, maxAliases=1, maxPageSize=5, maxCost=8, maxTokens=60)
    cases: list[tuple[str, str]] = [
        (
            "{ getProductListing { edges { node { category { parent { name } } } } } }",
            "DEPTH_LIMIT_EXCEEDED",
        ),
        (
            '{ a: getProduct(sku: "x") { sku } b: getProduct(sku: "y") { sku } }',
            "ALIAS_LIMIT_EXCEEDED",
        ),
        ("{ getProductListing(first: 6) { edges { node { sku } } } }", "PAGE_SIZE_EXCEEDED"),
        (
            "{ getProductListing(first: 5) { edges { node { brand { name } } } } }",
            "COST_LIMIT_EXCEEDED",
        ),
        ('{ getProduct(sku: "x") { ' + "sku " * 80 + "} }", "TOKEN_LIMIT_EXCEEDED"),
    ]
    for query, code in cases:
        body = gql(query, headers=headers)
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], query
    ok = gql("{ getProductListing(first: 4) { edges { node { sku } } } }", headers=headers)
    assert ok["extensions"]["cost"] == {"requested": 4, "maximum": 8}


def test_introspection_can_be_switched_off(storefront: Hub, gql: Gql) -> None:
    assert "errors" not in gql("{ __schema { queryType { name } } }")
    storefront.datahub.replace("storefront", {**STOREFRONT, "introspection": False}, author="t")
    body = gql(
        "{ __schema { queryType { name } } }", headers=bearer(storefront, "datahub:storefront")
    )
    assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"


def test_schema_follows_class_and_configuration_changes(storefront: Hub, gql: Gql) -> None:
    query = '{ getBrand(code: "acme") { code website } }'
    assert gql(query)["errors"]
    config: dict[str, Any] = {**STOREFRONT, "classes": {**STOREFRONT["classes"], "Brand": {}}}
    storefront.datahub.replace("storefront", config, author="t")
    assert gql(query)["data"] == {"getBrand": {"code": "acme", "website": None}}
    brand = storefront.classes.get("Brand").to_dict(with_version=False)
    brand["fields"].append({"name": "country", "type": "text"})
    storefront.classes.replace("Brand", brand, author="t")
    assert gql('{ getBrand(code: "acme") { country } }')["data"] == {"getBrand": {"country": None}}


def test_explorer_page_and_sdl(storefront: Hub, client: TestClient, admin: dict[str, str]) -> None:
    page = client.get("/graphql/storefront", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "<textarea" in page.text
    sdl = client.get("/api/v1/datahub/storefront/schema.graphql", headers=admin)
    assert "type object_Product" in sdl.text and "getProductListing(" in sdl.text
    assert "website" not in sdl.text.split("type object_Brand")[1].split("}")[0]


def test_production_profile_switches_introspection_off(storefront: Hub) -> None:
    storefront.settings.profile = "production"
    client = TestClient(create_app(storefront))
    headers = bearer(storefront, "datahub:storefront")
    query = {"query": "{ __schema { queryType { name } } }"}
    body = client.post("/graphql/storefront", json=query, headers=headers).json()
    assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    storefront.datahub.replace("storefront", {**STOREFRONT, "introspection": True}, author="t")
    body = client.post("/graphql/storefront", json=query, headers=headers).json()
    assert body["data"] == {"__schema": {"queryType": {"name": "Query"}}}


def test_drafts_are_out_of_reach_of_a_configuration_without_them(storefront: Hub, gql: Gql) -> None:
    """TS-2 is unpublished; the storefront configuration does not show drafts."""
    update = gql(f'mutation {{ updateProduct(sku: "TS-2", input: {{stock: 1}}) {{ {RESULT} }} }}')
    assert update["data"]["updateProduct"]["code"] == "object-not-found"
    delete = gql(f'mutation {{ deleteProduct(sku: "TS-2") {{ {RESULT} }} }}')
    assert delete["data"]["deleteProduct"]["code"] == "object-not-found"
    upsert = gql('mutation { upsertProductBatch(items: [{sku: "TS-2"}]) { code output { sku } } }')
    assert upsert["data"]["upsertProductBatch"] == [{"code": "object-not-found", "output": None}]
    draft = gql(
        'mutation { createProduct(published: false, input: {sku: "D-9", name: "Secret"}) '
        "{ success output { sku } } }"
    )
    assert draft["data"]["createProduct"] == {"success": True, "output": None}
    assert storefront.catalog.get_object("Product", "TS-2", include_drafts=True).version == 1


def test_a_hidden_draft_is_refused_in_the_words_of_a_missing_object(
    storefront: Hub, gql: Gql, client: TestClient
) -> None:
    """TS-2 is unpublished: no write answer may tell it apart from NO-9, which does not
    exist, and REST words a missing object the same way."""
    assert gql('{ getProduct(sku: "TS-2") { sku } }')["data"] == {"getProduct": None}
    fields = "code message"
    upsert = gql(f'mutation {{ upsertProductBatch(items: [{{sku: "TS-2"}}]) {{ {fields} }} }}')
    hidden = gql(f'mutation {{ updateProduct(sku: "TS-2", input: {{}}) {{ {fields} }} }}')
    missing = gql(f'mutation {{ updateProduct(sku: "NO-9", input: {{}}) {{ {fields} }} }}')
    not_found = {"code": "object-not-found", "message": "no Product with key 'TS-2'"}
    assert upsert["data"]["upsertProductBatch"] == [not_found]
    assert hidden["data"]["updateProduct"] == not_found
    assert missing["data"]["updateProduct"]["message"] == "no Product with key 'NO-9'"
    for path in ("/api/v1/products/NO-9", "/api/v1/objects/Product/NO-9"):
        rest = client.get(path, headers=bearer(storefront, "read:*")).json()
        assert (rest["code"], rest["detail"]) == ("object-not-found", "no Product with key 'NO-9'")


def test_an_unexpected_failure_stays_with_its_item(
    storefront: Hub, gql: Gql, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = storefront.catalog.upsert

    def flaky(class_name: str, values: dict[str, Any], **kwargs: Any) -> Any:
        if values.get("sku") == "BOOM":
            raise RuntimeError("SELECT secret FROM somewhere")
        return real(class_name, values, **kwargs)

    monkeypatch.setattr(storefront.catalog, "upsert", flaky)
    body = gql(
        """mutation { a: upsertProductBatch(items: [{sku: "U-1", name: "one"}, {sku: "BOOM"},
                                                    {sku: "U-2", name: "two"}])
                        { sku success code message }
                      b: updateProduct(sku: "TS-1", uuid: "x", input: {}) { success code } }"""
    )
    items = body["data"]["a"]
    assert [(i["sku"], i["success"], i["code"]) for i in items] == [
        ("U-1", True, None),
        ("BOOM", False, "internal-error"),
        ("U-2", True, None),
    ]
    assert "SELECT" not in items[1]["message"]
    assert body["data"]["b"] == {"success": False, "code": "invalid-input"}


def test_fragments_spread_twice_per_level_cost_linear_time(gql: Gql) -> None:
    levels = 22  # 2**22 field visits if fragments were walked naively
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ... on Query {{ ...F{i + 1} }} }}"
        for i in range(levels)
    )
    query = "{ ...F0 } " + fragments + f" fragment F{levels} on Query {{ __typename }}"
    outcome: list[dict[str, Any]] = []
    worker = threading.Thread(target=lambda: outcome.append(gql(query)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert outcome, "the query did not finish in 20 s"
    assert outcome[0]["data"] == {"__typename": "Query"}
