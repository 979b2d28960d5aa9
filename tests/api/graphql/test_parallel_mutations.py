"""Parallel GraphQL mutations on a small connection pool, on SQLite and PostgreSQL.

A mutation request reads (the target, a hidden draft) and writes (a unit of work of its own).
While it writes it must hold no read connection: otherwise as many requests as the pool has
connections each hold one and wait for a second, and the whole server stalls until the pool
times out. A pool of two and eight writers makes that race deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from pimhub.access.keys import ApiKey
from pimhub.api.app import create_app
from pimhub.api.graphql.executor import GraphQLService
from pimhub.bootstrap import Hub, bootstrap
from pimhub.storage.engine import build_engine
from tests.conftest import bearer
from tests.storage.test_parallel_writers import errors_of, in_parallel

WRITERS = 8
POOL = 2
CONFIG = {
    "name": "w",
    "classes": {
        "Product": {"fields": "*", "operations": ["read", "create", "update", "delete"]},
        "Category": {},
        "Brand": {},
    },
}
UPDATE = (
    "mutation($s: String, $n: Float) { updateProduct(sku: $s, input: {stock: $n}) "
    "{ success code message output { sku stock } } }"
)
UPSERT = (
    "mutation($items: [ProductInput!]!) { upsertProductBatch(items: $items) "
    "{ index sku success code message } }"
)
SKUS = ("P-1", "P-2", "P-3")


def small_pool_engine(engine: Engine, size: int, timeout: float) -> Engine:
    """An engine on `engine`'s database (and PostgreSQL schema) with a pool of `size`
    connections and no overflow."""
    kwargs: dict[str, Any] = {"pool_size": size, "max_overflow": 0, "pool_timeout": timeout}
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            path = conn.execute(text("SHOW search_path")).scalar_one()
        kwargs["connect_args"] = {"options": f"-csearch_path={path.replace(' ', '')}"}
    return build_engine(engine.url.render_as_string(hide_password=False), **kwargs)


@pytest.fixture
def small(hub: Hub) -> Iterator[tuple[Hub, GraphQLService, ApiKey]]:
    """A second hub on the same database with a pool of POOL connections, its GraphQL
    service, and a key of configuration `w`."""
    hub.datahub.create(CONFIG, author="test")
    for sku in SKUS:
        hub.catalog.create(
            "Product",
            {"sku": sku, "name": {"en": sku}, "price": {"amount": 1, "currency": "EUR"}},
            author="test",
        )
    token = bearer(hub, "datahub:w", name="w")["Authorization"].removeprefix("Bearer ")
    engine = small_pool_engine(hub.engine, POOL, timeout=5)
    other = bootstrap(hub.settings, engine=engine)
    service: GraphQLService = create_app(other).state.graphql
    try:
        yield other, service, other.access.authenticate(token)
    finally:
        engine.dispose()


def test_parallel_updates_never_wait_for_a_second_connection(
    small: tuple[Hub, GraphQLService, ApiKey],
) -> None:
    hub, service, key = small

    def update(n: int) -> dict[str, Any]:
        variables = {"s": SKUS[n % len(SKUS)], "n": float(n)}
        return service.run("w", key, UPDATE, variables, None)

    started = time.monotonic()
    outcomes = in_parallel(WRITERS, update)
    assert errors_of(outcomes) == []
    answers = [o["data"]["updateProduct"] for o in outcomes]
    assert all(a["success"] for a in answers), answers
    assert time.monotonic() - started < 5  # no writer waited out the pool's timeout
    versions = sum(hub.catalog.get_object("Product", s, include_drafts=True).version for s in SKUS)
    assert versions == len(SKUS) + WRITERS


def test_parallel_batch_upserts_all_succeed(small: tuple[Hub, GraphQLService, ApiKey]) -> None:
    hub, service, key = small
    items = 10

    def upsert(n: int) -> dict[str, Any]:
        batch = [
            {"sku": f"B-{i}", "name": "Batch", "price": {"amount": 2, "currency": "EUR"}}
            if n == 0
            else {"sku": f"B-{i}", "stock": float(n)}
            for i in range(items)
        ]
        return service.run("w", key, UPSERT, {"items": batch}, None)

    # The objects exist first, so every later item is an update whatever the order.
    first = upsert(0)
    assert all(r["success"] for r in first["data"]["upsertProductBatch"]), first
    started = time.monotonic()
    outcomes = in_parallel(WRITERS, lambda n: upsert(n + 1))
    assert errors_of(outcomes) == []
    results = [r for o in outcomes for r in o["data"]["upsertProductBatch"]]
    assert [r for r in results if not r["success"]] == []
    assert len(results) == WRITERS * items
    assert time.monotonic() - started < 10
    # A read after the burst answers at once: nothing is left holding the pool.
    started = time.monotonic()
    assert hub.catalog.get_object("Product", "B-0", include_drafts=True).version == WRITERS + 1
    assert time.monotonic() - started < 1


def test_an_exhausted_pool_answers_503_with_retry_after(hub: Hub) -> None:
    hub.datahub.create(CONFIG, author="test")
    headers = bearer(hub, "datahub:w", name="w")
    engine = small_pool_engine(hub.engine, 1, timeout=0.5)
    try:
        client = TestClient(create_app(bootstrap(hub.settings, engine=engine)))
        price = {"amount": 1, "currency": "EUR"}
        items = [{"sku": f"X-{i}", "name": "X", "price": price} for i in range(5)]
        with engine.connect():  # holds the pool's only connection
            started = time.monotonic()
            answer = client.post(
                "/graphql/w", json={"query": UPSERT, "variables": {"items": items}}, headers=headers
            )
            elapsed = time.monotonic() - started
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "2"
        error = answer.json()["errors"][0]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert "database connection" in error["message"]
        assert elapsed < 2  # one wait for the pool, not one per item
        # Once a connection is free again the same request succeeds.
        answer = client.post(
            "/graphql/w", json={"query": UPSERT, "variables": {"items": items}}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        assert [r["success"] for r in answer.json()["data"]["upsertProductBatch"]] == [True] * 5
    finally:
        engine.dispose()


def test_rest_answers_an_exhausted_pool_with_503_too(hub: Hub) -> None:
    """REST shares the pool: a request that found no free connection did not run and says
    when to retry, in the stable problem shape, instead of a 500."""
    headers = bearer(hub, "admin", name="a")
    engine = small_pool_engine(hub.engine, 1, timeout=0.3)
    try:
        client = TestClient(create_app(bootstrap(hub.settings, engine=engine)))
        with engine.connect():  # holds the pool's only connection
            answer = client.get("/api/v1/objects/Product", headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "2"
        body = answer.json()
        assert body["code"] == "service-unavailable" and body["status"] == 503
        assert client.get("/api/v1/objects/Product", headers=headers).status_code == 200
    finally:
        engine.dispose()
