"""Security headers on every answer (api/security_headers.py), through the app on SQLite and
PostgreSQL: both the FastAPI routes and the fast ones, refusals at the edge included."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub

ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def assert_always(headers: dict[str, str] | object) -> None:
    for name, value in ALWAYS.items():
        assert headers[name] == value, (name, headers)  # type: ignore[index]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/classes",  # FastAPI
        "/api/v1/products/TS-1",  # the fast app
        "/simple-rest/nowhere/search",
    ],
)
def test_authenticated_json_answers_are_not_stored(
    sample: Hub, client: TestClient, admin: dict[str, str], path: str
) -> None:
    response = client.get(path, headers=admin)
    assert response.headers["content-type"].startswith("application/")
    assert_always(response.headers)
    assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers  # plain HTTP


def test_a_key_in_the_query_counts_as_credentials(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    token = admin["Authorization"].removeprefix("Bearer ")
    response = client.post(f"/graphql/nowhere?apikey={token}", json={"query": "{ a }"})
    assert response.status_code == 404
    assert_always(response.headers)
    assert response.headers["cache-control"] == "no-store"


def test_anonymous_answers_and_edge_refusals_get_the_headers(client: TestClient) -> None:
    refused = client.get("/api/v1/classes")
    assert refused.status_code == 401
    assert_always(refused.headers)
    assert "cache-control" not in refused.headers  # nothing of anybody's to keep private
    nul = client.get("/api/v1/classes?q=%00")
    assert nul.status_code == 400 and nul.json()["code"] == "nul-character"
    assert_always(nul.headers)
    assert_always(client.get("/healthz").headers)


def test_a_route_keeps_its_own_headers(client: TestClient) -> None:
    # The admin's pages set their own Referrer-Policy and CSP: they win, and appear once.
    page = client.get("/admin/login")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers.get_list("x-frame-options") == ["DENY"]
    assert "default-src" in page.headers["content-security-policy"]
    docs = client.get("/docs")
    assert "content-security-policy" in docs.headers
    assert_always(docs.headers)


def test_hsts_is_sent_on_https_when_set(hub: Hub, admin: dict[str, str]) -> None:
    hub.settings.hsts_seconds = 31536000
    app = create_app(hub)
    secure = TestClient(app, base_url="https://testserver")
    response = secure.get("/api/v1/classes", headers=admin)
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    fast = secure.get("/api/v1/products/none", headers=admin)
    assert fast.headers["strict-transport-security"] == "max-age=31536000"
    plain = TestClient(app).get("/api/v1/classes", headers=admin)
    assert "strict-transport-security" not in plain.headers
    hub.settings.hsts_seconds = 0
    off = TestClient(create_app(hub), base_url="https://testserver")
    assert "strict-transport-security" not in off.get("/healthz").headers
