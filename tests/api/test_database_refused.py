"""PostgreSQL refusing a new connection (too many clients, starting up, unreachable) is
answered as a pool wait timeout is: 503 with Retry-After, by the guard, REST routes, the
product fast path and GraphQL; a statement's own OperationalError stays what it was."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub, rate_limiter
from pimhub.storage.engine import ConnectionRefused

REFUSALS = [
    psycopg.errors.TooManyConnections("sorry, too many clients already"),  # 53300
    psycopg.errors.CannotConnectNow("the database system is starting up"),  # 57P03
    psycopg.OperationalError("connection refused"),  # nothing listens
]


@pytest.fixture
def refused(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Call with an error: from then on every new connection fails with it."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's connection refusals")

    def refuse(error: Exception) -> None:
        def connect(*_: Any, **__: Any) -> Any:
            raise error

        hub.engine.dispose()  # no pooled connection left to hand out
        monkeypatch.setattr(psycopg, "connect", connect)  # what the dialect calls

    yield refuse
    monkeypatch.undo()
    hub.engine.dispose()


@pytest.mark.parametrize("error", REFUSALS, ids=["too-many-clients", "starting-up", "refused"])
def test_a_refused_connection_is_a_503_with_retry_after(
    hub: Hub, refused: Any, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    hub.limiter = rate_limiter(
        hub.settings.model_copy(
            update={"rate_limit_per_address": "off", "rate_limit_per_key": "off"}
        ),
        hub.engine,
    )
    client = TestClient(create_app(hub))
    key, token = hub.access.create("admin", ["admin"], environment="test")
    headers = {"Authorization": f"Bearer {token}"}
    refused(error)
    with pytest.raises(ConnectionRefused) as caught:
        hub.engine.connect()
    assert isinstance(caught.value, PoolTimeout)
    # The guard: authenticating the key needs a connection.
    for path in ("/api/v1/objects/Product", "/api/v1/products/TS-1"):
        busy(client.get(path, headers=headers))
    graphql = client.post("/graphql/shop", json={"query": "{ __typename }"}, headers=headers)
    assert graphql.status_code == 503 and graphql.headers["retry-after"] == "2"
    assert graphql.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    # The routes themselves, past an authentication that needs no connection.
    monkeypatch.setattr(hub.access, "authenticate", lambda _token: key)
    for path in ("/api/v1/objects/Product", "/api/v1/products/TS-1", "/api/v1/classes"):
        busy(client.get(path, headers=headers))
    graphql = client.post("/graphql/shop", json={"query": "{ __typename }"}, headers=headers)
    assert graphql.status_code == 503, graphql.text
    assert graphql.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


def busy(answer: Any) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "2"
    assert answer.json()["code"] == "service-unavailable"


def test_a_statements_operational_error_is_no_refusal(hub: Hub) -> None:
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's statement timeout")
    with hub.engine.connect() as connection:
        connection.execute(text("SET LOCAL statement_timeout = 1"))
        with pytest.raises(OperationalError) as caught:
            connection.execute(text("SELECT pg_sleep(1)"))
    assert not isinstance(caught.value, PoolTimeout)
