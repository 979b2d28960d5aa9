"""A 20,000-character datahub configuration name is quoted cut short in the 404 of every
route that names one: GraphQL, simple REST and the CORS preflight (SQLite and PostgreSQL)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from httpx import Response

from pimhub.bootstrap import Hub
from tests.conftest import bearer

NAME = "n" * 20_000


SHORT = f"there is no datahub configuration '{'n' * 100}...'"


def assert_cut_short(response: Response) -> None:
    assert response.status_code == 404, response.text[:300]
    body = response.json()
    assert body["code"] == "unknown-datahub-config"
    assert body["detail"].startswith(SHORT) and len(body["detail"]) < 300


def test_a_huge_configuration_name_is_quoted_cut_short(hub: Hub, client: TestClient) -> None:
    key = bearer(hub, "admin")
    query = {"query": "{ __typename }"}
    graphql = client.post(f"/graphql/{NAME}", json=query, headers=key)
    assert graphql.status_code == 404
    assert graphql.json()["errors"][0]["message"] == SHORT
    assert_cut_short(client.get(f"/simple-rest/{NAME}/search", headers=key))
    preflight = {"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"}
    assert_cut_short(client.options(f"/graphql/{NAME}", headers=preflight))
    assert_cut_short(client.get(f"/api/v1/datahub/{NAME}", headers=key))
