"""Attack: a NUL character in the configuration name of a CORS-governed path. The CORS check
runs before the edge refuses NULs, and looked the name up in the database: PostgreSQL
refuses NUL in text, so `OPTIONS /graphql/%00x` (a preflight) and any request with an Origin
header to it answered 500. Now such a path goes on to the edge's 400 `nul-character`, and a
name no configuration can have is unknown without a database read (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import TimeoutError as PoolTimeout

from pimhub.api.app import create_app
from pimhub.api.errors import POOL_RETRY_AFTER_SECONDS
from pimhub.bootstrap import Hub

PREFLIGHT = {"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"}


@pytest.fixture
def client(hub: Hub) -> TestClient:
    return TestClient(create_app(hub), raise_server_exceptions=False)


@pytest.mark.parametrize("path", ["/graphql/%00x", "/simple-rest/%00x/Product", "/graphql/a%00"])
def test_a_nul_in_the_configuration_name_is_400_not_500(client: TestClient, path: str) -> None:
    for answer in (
        client.options(path, headers=PREFLIGHT),
        client.get(path, headers={"Origin": "https://shop.example.com"}),
        client.post(path, headers={"Origin": "https://x.example"}, json={"query": "{a}"}),
    ):
        assert answer.status_code == 400, answer.text
        assert answer.json()["code"] == "nul-character"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "access-control-allow-origin" not in answer.headers


def test_a_name_no_configuration_can_have_is_unknown_without_a_read(
    client: TestClient, hub: Hub
) -> None:
    reads: list[str] = []
    fingerprint = hub.graph_reads.fingerprint

    def counted(name: str) -> tuple[Any, ...] | None:
        reads.append(name)
        return fingerprint(name)

    hub.graph_reads.fingerprint = counted  # type: ignore[method-assign,assignment]
    for name in ("A" * 20_000, "Shop", "1shop", "shop%20x"):
        answer = client.options(f"/graphql/{name}", headers=PREFLIGHT)
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "unknown-datahub-config"
    assert reads == []
    assert client.options("/graphql/nosuch", headers=PREFLIGHT).status_code == 404
    assert reads == ["nosuch"]


def test_no_free_connection_for_the_cors_check_is_503_not_500(client: TestClient, hub: Hub) -> None:
    """Under load every pooled connection can stay busy for the pool's timeout; routes answer
    that 503 service-unavailable, but the CORS check runs outside their error handlers."""

    def exhausted(name: str) -> tuple[Any, ...] | None:
        raise PoolTimeout("QueuePool limit of size 3 overflow 3 reached")

    hub.graph_reads.fingerprint = exhausted  # type: ignore[method-assign,assignment]
    preflight = client.options("/graphql/shop", headers=PREFLIGHT)
    assert preflight.status_code == 503, preflight.text
    assert preflight.json()["code"] == "service-unavailable"
    assert preflight.headers["retry-after"] == str(POOL_RETRY_AFTER_SECONDS)
    assert "access-control-allow-origin" not in preflight.headers
    # Any other request goes on to its route (which answers for itself), without CORS.
    answer = client.get("/simple-rest/shop/search", headers={"Origin": "https://a.example"})
    assert answer.status_code == 401, answer.text
    assert "access-control-allow-origin" not in answer.headers
