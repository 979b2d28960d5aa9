"""/api/v1/connectors through the ASGI app, on both backends (dry runs against a Magento:
tests/connectors)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.connectors.state import ItemState
from tests.api.test_rest_contract import problem
from tests.conftest import bearer

BASE = "/api/v1/connectors"
CREDENTIALS = {
    "consumerKey": "ck-5e0b17",
    "consumerSecret": "cs-a4c9d2",
    "accessToken": "at-77f1e8",
    "accessTokenSecret": "ats-3b6d90",
}
CONFIG: dict[str, Any] = {
    "name": "shop",
    "baseUrl": "https://shop.example.com",
    "stores": {"de": "german"},
}


def no_secret_in(text: str) -> None:
    for value in CREDENTIALS.values():
        assert value not in text


def add(client: TestClient, admin: dict[str, str], **changes: Any) -> dict[str, Any]:
    body = {"config": {**CONFIG, **changes}, "credentials": CREDENTIALS}
    response = client.post(BASE, json=body, headers=admin)
    assert response.status_code == 201, response.text
    no_secret_in(response.text)
    created: dict[str, Any] = response.json()
    return created


def test_add_list_read_update_remove(hub: Hub, client: TestClient, admin: dict[str, str]) -> None:
    created = add(client, admin)
    assert created["name"] == "shop" and created["kind"] == "magento"
    assert created["config"]["baseUrl"] == "https://shop.example.com"
    assert created["endpoint"] == "connector-shop"
    listed = client.get(BASE, headers=admin)
    assert [c["name"] for c in listed.json()["items"]] == ["shop"]
    no_secret_in(listed.text)
    read = client.get(f"{BASE}/shop", headers=admin)
    assert read.status_code == 200 and read.json()["health"]["consecutiveFailures"] == 0
    no_secret_in(read.text)

    changed = {**CONFIG, "baseUrl": "https://other.example.com"}
    put = client.put(f"{BASE}/shop", json={"config": changed}, headers=admin)
    assert put.status_code == 200, put.text
    assert put.json()["config"]["baseUrl"] == "https://other.example.com"
    no_secret_in(put.text)
    assert CREDENTIALS["consumerSecret"] in hub.connectors._credentials("shop")  # kept

    fresh = {**CREDENTIALS, "consumerSecret": "cs-rotated-42"}
    put = client.put(f"{BASE}/shop", json={"config": changed, "credentials": fresh}, headers=admin)
    assert put.status_code == 200 and "cs-rotated-42" not in put.text
    assert "cs-rotated-42" in hub.connectors._credentials("shop")

    assert client.delete(f"{BASE}/shop", headers=admin).status_code == 204
    assert client.get(BASE, headers=admin).json()["items"] == []
    problem(client.get(f"{BASE}/shop", headers=admin), 404, "connector-not-found")


def test_credentials_are_sealed_at_rest(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    add(client, admin)
    sealed = hub.connectors.repository.sealed_secret("shop")
    assert sealed is not None
    no_secret_in(sealed)


def test_a_configuration_with_three_problems_names_each_and_saves_nothing(
    client: TestClient, admin: dict[str, str]
) -> None:
    bad = {"name": "Bad Name", "baseUrl": "ftp://shop.example.com", "deletes": "shred"}
    for path, body in (
        (BASE, {"config": bad, "credentials": CREDENTIALS}),
        (f"{BASE}/check", {"config": bad}),
    ):
        answer = problem(client.post(path, json=body, headers=admin), 422, "invalid-connector")
        assert {"name", "baseUrl", "deletes"} <= {e["field"] for e in answer["errors"]}, path
        no_secret_in(str(answer))
    assert client.get(BASE, headers=admin).json()["items"] == []
    checked = client.post(f"{BASE}/check", json={"config": CONFIG}, headers=admin)
    assert checked.status_code == 200 and checked.json() == {"ok": True}
    assert client.get(BASE, headers=admin).json()["items"] == []  # a check saves nothing


def test_missing_credentials_are_named(client: TestClient, admin: dict[str, str]) -> None:
    partial = {"consumerKey": CREDENTIALS["consumerKey"], "accessToken": ""}
    response = client.post(BASE, json={"config": CONFIG, "credentials": partial}, headers=admin)
    answer = problem(response, 422, "invalid-connector")
    assert {e["field"] for e in answer["errors"]} == {
        "credentials.consumerSecret",
        "credentials.accessToken",
        "credentials.accessTokenSecret",
    }
    no_secret_in(response.text)
    response = client.post(BASE, json={"config": CONFIG}, headers=admin)
    assert len(problem(response, 422, "invalid-connector")["errors"]) == 4
    assert client.get(BASE, headers=admin).json()["items"] == []


def test_bodies_of_the_wrong_shape(client: TestClient, admin: dict[str, str]) -> None:
    shapes: list[Any] = [[], {"credentials": CREDENTIALS}, {"config": CONFIG, "secret": "x"}]
    for body in shapes:
        problem(client.post(BASE, json=body, headers=admin), 422, "invalid-connector")
    problem(client.post(BASE, json={"config": "shop"}, headers=admin), 422, "invalid-connector")
    problem(client.post(BASE, content=b"{", headers=admin), 400, "malformed-json")
    nul = b'{"config": {"name": "sh\\u0000op", "baseUrl": "https://shop.example.com"}}'
    problem(client.post(f"{BASE}/check", content=nul, headers=admin), 400, "nul-character")


def test_a_second_connector_of_the_same_name_conflicts(
    client: TestClient, admin: dict[str, str]
) -> None:
    add(client, admin)
    body = {"config": CONFIG, "credentials": CREDENTIALS}
    problem(client.post(BASE, json=body, headers=admin), 409, "connector-exists")


def test_unknown_connectors_are_404(client: TestClient, admin: dict[str, str]) -> None:
    for method, path, body in (
        ("GET", f"{BASE}/nowhere", None),
        ("PUT", f"{BASE}/nowhere", {"config": CONFIG}),
        ("DELETE", f"{BASE}/nowhere", None),
        ("GET", f"{BASE}/nowhere/items", None),
        ("GET", f"{BASE}/nowhere/items/SKU-1", None),
        ("POST", f"{BASE}/nowhere/dry-run", {"sku": "SKU-1"}),
    ):
        response = client.request(method, path, json=body, headers=admin)
        problem(response, 404, "connector-not-found")


@pytest.mark.parametrize(
    "name", ["..%2F..%2Fetc%2Fpasswd", "..", "shop%00", "Shop", "a" * 31, "%2E%2E", "sh%20op"]
)
def test_impossible_names_are_refused(
    hub: Hub, client: TestClient, admin: dict[str, str], name: str
) -> None:
    add(client, admin)
    looked_up: list[str] = []
    lookup = hub.connectors.repository.get

    def recording(wanted: str) -> Any:
        looked_up.append(wanted)
        return lookup(wanted)

    hub.connectors.repository.get = recording  # type: ignore[method-assign, assignment]
    for method in ("GET", "DELETE"):
        response = client.request(method, f"{BASE}/{name}", headers=admin)
        assert 400 <= response.status_code < 500, (name, response.status_code)
        assert response.headers["content-type"] == "application/problem+json"
    response = client.get(f"{BASE}/{name}/items", headers=admin)
    assert 400 <= response.status_code < 500
    assert looked_up == []  # refused before any lookup
    assert client.get(f"{BASE}/shop", headers=admin).status_code == 200  # untouched


def test_connector_routes_need_an_admin_key(hub: Hub, client: TestClient) -> None:
    problem(client.get(BASE), 401, "unauthorized")
    writer = bearer(hub, "read", "write")
    problem(client.get(BASE, headers=writer), 403, "forbidden")
    body = {"config": CONFIG, "credentials": CREDENTIALS}
    problem(client.post(BASE, json=body, headers=writer), 403, "forbidden")
    problem(client.post(f"{BASE}/check", json={"config": CONFIG}, headers=writer), 403, "forbidden")
    problem(client.get(f"{BASE}/shop/items", headers=writer), 403, "forbidden")
    problem(client.delete(f"{BASE}/shop", headers=writer), 403, "forbidden")


def test_status_with_no_items(client: TestClient, admin: dict[str, str]) -> None:
    add(client, admin)
    response = client.get(f"{BASE}/shop/items", headers=admin)
    assert response.status_code == 200
    assert response.json() == {
        "connector": "shop",
        "counts": {},
        "items": [],
        "nextCursor": None,
        "next": None,  # the deprecated name of nextCursor, until it goes
    }
    filtered = client.get(f"{BASE}/shop/items?state=failed&after=A&limit=5", headers=admin)
    assert filtered.status_code == 200 and filtered.json()["items"] == []
    problem(client.get(f"{BASE}/shop/items?state=lost", headers=admin), 400, "invalid-parameter")
    problem(client.get(f"{BASE}/shop/items?limit=0", headers=admin), 400, "invalid-parameter")
    problem(client.get(f"{BASE}/shop/items/SKU-1", headers=admin), 404, "connector-not-found")


def test_a_dry_run_needs_a_sku(client: TestClient, admin: dict[str, str]) -> None:
    add(client, admin)
    for body in ({}, {"sku": ""}, {"sku": 7}, {"sku": "A", "more": 1}):
        response = client.post(f"{BASE}/shop/dry-run", json=body, headers=admin)
        problem(response, 422, "invalid-connector")


def test_the_openapi_document_describes_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, methods in {
        BASE: {"get", "post"},
        f"{BASE}/check": {"post"},
        f"{BASE}/{{name}}": {"get", "put", "delete"},
        f"{BASE}/{{name}}/items": {"get"},
        f"{BASE}/{{name}}/items/{{sku}}": {"get"},
        f"{BASE}/{{name}}/dry-run": {"post"},
    }.items():
        assert set(paths[path]) >= methods, path
        for method in methods:
            operation = paths[path][method]
            assert operation["summary"], (path, method)
            if method in ("post", "put"):
                assert operation["requestBody"]["required"] is True


def test_items_are_paged_and_read_one_by_one(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    add(client, admin)
    now = datetime.now(UTC)
    hub.connectors.state.save_items(
        "shop",
        [
            ItemState("A-1", None, 11, True, "synced", 3, now),
            ItemState("A-2", None, None, False, "failed", last_error="Magento said 400"),
            ItemState("A-3", None, 13, True, "synced", 1, now),
        ],
        now,
    )
    first = client.get(f"{BASE}/shop/items?limit=2", headers=admin).json()
    assert first["counts"] == {"synced": 2, "failed": 1}
    assert [i["sku"] for i in first["items"]] == ["A-1", "A-2"] and first["nextCursor"] == "A-2"
    after = first["nextCursor"]
    rest = client.get(f"{BASE}/shop/items?limit=2&after={after}", headers=admin).json()
    assert [i["sku"] for i in rest["items"]] == ["A-3"] and rest["nextCursor"] is None
    failed = client.get(f"{BASE}/shop/items?state=failed", headers=admin).json()["items"]
    assert [(i["sku"], i["lastError"]) for i in failed] == [("A-2", "Magento said 400")]
    one = client.get(f"{BASE}/shop/items/A-1", headers=admin).json()
    assert one["state"] == "synced" and one["syncedVersion"] == 3 and one["remoteId"] == 11
    problem(client.get(f"{BASE}/shop/items/B-9", headers=admin), 404, "connector-not-found")
