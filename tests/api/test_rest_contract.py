"""The REST contract through the ASGI app, on both backends: every error has its own problem
code and status, a failed write leaves nothing behind, scopes and drafts are enforced."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.conftest import bearer

OBJECTS = "/api/v1/objects"
TEE = {"sku": "T-1", "name": {"en": "Tee"}, "price": {"amount": 10, "currency": "EUR"}}


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["type"] == f"urn:pimhub:problem:{code}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def versions(client: TestClient, admin: dict[str, str], path: str) -> list[int]:
    response = client.get(f"{path}/versions", headers=admin)
    return [v["version"] for v in response.json()["items"]] if response.status_code == 200 else []


@pytest.fixture
def tee(client: TestClient, admin: dict[str, str], sample: Hub) -> str:
    response = client.post(f"{OBJECTS}/Product", json={"fields": TEE}, headers=admin)
    assert response.status_code == 201
    assert response.headers["location"] == f"{OBJECTS}/Product/T-1"
    assert response.headers["etag"] == '"1"'
    return f"{OBJECTS}/Product/T-1"


def test_malformed_json_says_where(client: TestClient, admin: dict[str, str], tee: str) -> None:
    response = client.put(tee, content=b'{"fields": {"sku": "T-1",}', headers=admin)
    body = problem(response, 400, "malformed-json")
    assert "char" in body["detail"] or "line" in body["detail"]
    assert versions(client, admin, tee) == [1]


def test_body_of_the_wrong_shape(client: TestClient, admin: dict[str, str], tee: str) -> None:
    for payload in ([1, 2], {"fields": TEE, "extra": 1}, {"fields": "x"}):
        response = client.put(tee, json=payload, headers=admin)
        assert response.status_code in (400, 422)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"]
    assert versions(client, admin, tee) == [1]


def test_unknown_class(client: TestClient, admin: dict[str, str]) -> None:
    body = problem(client.get(f"{OBJECTS}/Gadget/x", headers=admin), 404, "unknown-class")
    assert "Product" in body["detail"]


def test_every_bad_field_reported_at_once(
    client: TestClient, admin: dict[str, str], tee: str
) -> None:
    fields = {**TEE, "nope": 1, "stock": "many", "ean": "x" * 300}
    body = problem(
        client.put(tee, json={"fields": fields}, headers=admin), 422, "validation-failed"
    )
    by_field = {e["field"]: e["code"] for e in body["errors"]}
    assert by_field["nope"] == "unknown-field"
    assert by_field["stock"] == "type"
    assert "ean" in by_field
    assert all(e["message"] for e in body["errors"])
    assert versions(client, admin, tee) == [1]


def test_duplicate_business_key(client: TestClient, admin: dict[str, str], tee: str) -> None:
    response = client.post(f"{OBJECTS}/Product", json={"fields": TEE}, headers=admin)
    body = problem(response, 409, "duplicate-key")
    assert body["errors"][0]["field"] == "sku"


def test_stale_version_in_body_is_409_and_in_if_match_412(
    client: TestClient, admin: dict[str, str], tee: str
) -> None:
    ok = client.patch(tee, json={"fields": {"stock": 1}, "version": 1}, headers=admin)
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = client.patch(tee, json={"fields": {"stock": 2}, "version": 1}, headers=admin)
    problem(stale, 409, "stale-version")
    stale = client.patch(tee, json={"fields": {"stock": 3}}, headers={**admin, "If-Match": '"1"'})
    problem(stale, 412, "precondition-failed")
    fresh = client.patch(tee, json={"fields": {"stock": 4}}, headers={**admin, "If-Match": '"2"'})
    assert fresh.status_code == 200
    problem(client.delete(tee, headers={**admin, "If-Match": '"2"'}), 412, "precondition-failed")
    assert versions(client, admin, tee) == [3, 2, 1]


def test_bad_query_and_parameters(client: TestClient, admin: dict[str, str], sample: Hub) -> None:
    url = f"{OBJECTS}/Product"
    problem(client.get(url, params={"filter": "{nope"}, headers=admin), 400, "invalid-query")
    body = problem(
        client.get(url, params={"filter": '{"ghost": 1}'}, headers=admin), 400, "invalid-query"
    )
    assert "ghost" in body["detail"] + str(body["errors"])
    problem(client.get(url, params={"sort": "ghost"}, headers=admin), 400, "invalid-query")
    for ordered in ('{"o_published": {"$gt": true}}', '{"published": {"$gte": false}}'):
        # Databases cannot order true and false: a 400 naming the operator, not a 500.
        body = problem(
            client.get(url, params={"filter": ordered}, headers=admin), 400, "invalid-query"
        )
        assert "does not apply to the true/false field 'published'" in str(body["errors"])
    body = problem(
        client.get(url, params={"first": "abc"}, headers=admin), 400, "invalid-parameter"
    )
    assert body["errors"][0]["field"] == "first"


def test_authentication_and_scopes(client: TestClient, sample: Hub) -> None:
    url = f"{OBJECTS}/Product/TS-1"
    missing = problem(client.get(url), 401, "unauthorized")
    assert "Authorization" in missing["detail"]
    assert client.get(url).headers["www-authenticate"].startswith("Bearer")
    problem(client.get(url, headers={"X-API-Key": "phk_nothing"}), 401, "unauthorized")
    brands_only = bearer(sample, "read:Brand", "write:Brand", name="brands")
    problem(client.get(url, headers=brands_only), 403, "forbidden")
    assert client.get(f"{OBJECTS}/Brand/acme", headers=brands_only).status_code == 200
    body = {"fields": {"code": "x", "name": "X"}}
    assert client.put(f"{OBJECTS}/Brand/x", json=body, headers=brands_only).status_code == 201
    problem(client.delete(f"{OBJECTS}/Brand/x", headers=brands_only), 403, "forbidden")


def test_revoked_key_is_refused_on_the_next_request(client: TestClient, sample: Hub) -> None:
    key, token = sample.access.create("short", ["read"], environment="test")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/products/TS-1", headers=headers).status_code == 200
    sample.access.revoke(key.key_id)
    problem(client.get("/api/v1/products/TS-1", headers=headers), 401, "unauthorized")
    problem(client.get(f"{OBJECTS}/Product/TS-1", headers=headers), 401, "unauthorized")


def test_drafts_need_the_drafts_scope(client: TestClient, sample: Hub) -> None:
    reader = bearer(sample, "read", name="reader")
    drafts = bearer(sample, "read", "read-drafts", name="drafts")
    for url in (f"{OBJECTS}/Product/TS-2", "/api/v1/products/TS-2"):
        problem(client.get(url, headers=reader), 404, "object-not-found")
        assert client.get(url, headers=drafts).status_code == 200
    listed = client.get(f"{OBJECTS}/Product", headers=reader).json()
    assert [i["key"] for i in listed["items"]] == ["TS-1"]
    assert client.get(f"{OBJECTS}/Product", headers=drafts).json()["total"] == 2


def test_crud_round_trip(client: TestClient, admin: dict[str, str], tee: str) -> None:
    got = client.get(tee, headers=admin).json()
    assert got["fields"]["sku"] == "T-1" and got["version"] == 1 and "id" not in got
    put = client.put(tee, json={"fields": {**TEE, "stock": 5}}, headers=admin)
    assert put.status_code == 200 and put.json()["version"] == 2
    patched = client.patch(tee, json={"fields": {"stock": None}}, headers=admin).json()
    assert "stock" not in patched["fields"]
    assert client.delete(tee, headers=admin).status_code == 204
    problem(client.get(tee, headers=admin), 404, "object-not-found")


def test_delete_of_a_referenced_object(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    url = f"{OBJECTS}/Brand/acme"
    body = problem(client.delete(url, headers=admin), 409, "still-referenced")
    assert body["errors"][0]["field"] == "Product/TS-1"
    assert client.delete(url, params={"force": "true"}, headers=admin).status_code == 204
    product = client.get(f"{OBJECTS}/Product/TS-1", headers=admin).json()
    assert "brand" not in product["fields"]


def test_listing_walks_every_page_once(client: TestClient, admin: dict[str, str], hub: Hub) -> None:
    for n in range(23):
        fields = {**TEE, "sku": f"P-{n:02d}", "stock": n % 4}
        assert client.post(f"{OBJECTS}/Product", json={"fields": fields}, headers=admin).is_success
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {
            "sort": "-stock,sku",
            "first": 5,
            "filter": '{"stock": {"$gte": 1}}',
        }
        if after:
            params["after"] = after
        page = client.get(f"{OBJECTS}/Product", params=params, headers=admin).json()
        seen += [i["key"] for i in page["items"]]
        after = page["nextCursor"]
        if not after:
            break
    expected = sorted(
        (f"P-{n:02d}" for n in range(23) if n % 4), key=lambda k: (-(int(k[2:]) % 4), k)
    )
    assert seen == expected
    assert page["total"] == len(expected)


def test_versions_and_diff(client: TestClient, admin: dict[str, str], tee: str) -> None:
    client.patch(tee, json={"fields": {"stock": 7}}, headers=admin)
    assert versions(client, admin, tee) == [2, 1]
    diff = client.get(f"{tee}/versions/2", headers=admin).json()
    assert diff["changes"] == [{"field": "stock", "before": None, "after": 7}]
    assert diff["author"] and diff["fields"]["stock"] == 7
    problem(client.get(f"{tee}/versions/9", headers=admin), 404, "version-not-found")


def test_product_payload_etag_and_304(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    response = client.get("/api/v1/products/TS-1", headers=admin)
    view = response.json()
    assert view["category"] == "Tops" and view["brand"] == "Acme"
    assert (view["price"], view["currency"], view["stock"]) == (19.99, "EUR", 7)
    assert view["updatedAt"].endswith("Z")
    tag = response.headers["etag"]
    again = client.get("/api/v1/products/TS-1", headers={**admin, "If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    german = client.get("/api/v1/products/TS-1", params={"lang": "de"}, headers=admin).json()
    assert (german["name"], german["category"]) == ("T-Shirt", "Oberteile")
    # Renaming the category changes the product's payload, so its ETag changes too.
    client.patch(
        f"{OBJECTS}/Category/men-tops", json={"fields": {"name": {"en": "Shirts"}}}, headers=admin
    )
    renamed = client.get("/api/v1/products/TS-1", headers={**admin, "If-None-Match": tag})
    assert renamed.status_code == 200 and renamed.json()["category"] == "Shirts"


def test_class_api_refuses_breaking_changes(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    brand = client.get("/api/v1/classes/Brand", headers=admin).json()
    brand["fields"] = [f for f in brand["fields"] if f["name"] != "name"]
    body = problem(
        client.put("/api/v1/classes/Brand", json=brand, headers=admin),
        409,
        "incompatible-class-change",
    )
    assert "name" in body["detail"] + str(body["errors"])
    problem(client.delete("/api/v1/classes/Brand", headers=admin), 409, "class-in-use")
    reader = bearer(sample, "read", name="reader")
    problem(client.delete("/api/v1/classes/Brand", headers=reader), 403, "forbidden")
    new = {"name": "Store", "businessKey": "code", "fields": [{"name": "code", "type": "text"}]}
    created = client.post("/api/v1/classes", json=new, headers=admin)
    assert created.status_code == 201, created.text
    assert client.delete("/api/v1/classes/Store", headers=admin).status_code == 204


def test_probes(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert client.get("/healthz", headers={"X-Request-ID": "r-1"}).headers["x-request-id"] == "r-1"
