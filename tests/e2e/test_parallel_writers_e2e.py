"""Parallel writers against a real `pimhub serve`, on SQLite and on PostgreSQL (which, unlike
SQLite, runs writers side by side): twenty clients at once, none of which names a version,
all succeed, and the versions they leave are 1..n with none missing or repeated."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import POSTGRES_ENV, require_service
from tests.e2e.processes import init, serving

pytestmark = pytest.mark.e2e

WRITERS = 20
POOL = 3
OBJECTS = "/api/v1/objects/Product"
TEE = {"sku": "T-1", "name": {"en": "Tee"}, "price": {"amount": 10, "currency": "EUR"}}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(base URL, admin key) of a server on a fresh database of the backend."""
    workdir = Path(tmp_path_factory.mktemp(f"parallel-{request.param}"))
    env = {**os.environ, "PIMHUB_DATA_DIR": str(workdir / "data")}
    env.pop("PIMHUB_DATABASE_URL", None)
    # A pool far smaller than the clients in flight: a request that held one connection
    # while it waited for another would stall the server (as it did for GraphQL mutations).
    env.update(
        PIMHUB_DATABASE_POOL_SIZE=str(POOL),
        PIMHUB_DATABASE_MAX_OVERFLOW="0",
        PIMHUB_DATABASE_POOL_TIMEOUT="20",
    )
    if request.param == "sqlite":
        admin = init(env, workdir)
        with serving(env, workdir) as base:
            yield base, admin
        return
    url = require_service(request.config, POSTGRES_ENV, "PostgreSQL")
    with fresh_database(url) as database_url:
        env["PIMHUB_DATABASE_URL"] = database_url
        admin = init(env, workdir)
        with serving(env, workdir) as base:
            yield base, admin


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database beside `url`'s, dropped afterwards. A
    database rather than a schema: another process finds nothing of other tests (or of an
    earlier `pimhub init` on the public schema) on its search path."""
    name = f"pimhub_e2e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    target = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        yield target
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_parallel(base: str, admin: str, requests: list[tuple[str, str, Any]]) -> list[Any]:
    """Sends every (method, path, json) at once; the responses in order."""

    async def send_all() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {admin}"}
        limits = httpx.Limits(max_connections=len(requests))
        async with httpx.AsyncClient(
            base_url=base, headers=headers, limits=limits, timeout=60
        ) as http:
            return await asyncio.gather(*(http.request(m, p, json=j) for m, p, j in requests))

    return asyncio.run(send_all())


def versions(base: str, admin: str, key: str) -> list[int]:
    response = httpx.get(
        f"{base}{OBJECTS}/{key}/versions", headers={"Authorization": f"Bearer {admin}"}
    )
    return sorted(v["version"] for v in response.json()["items"])


def test_parallel_patches_without_a_version(server: tuple[str, str]) -> None:
    base, admin = server
    httpx.put(
        f"{base}{OBJECTS}/PATCHED",
        json={"fields": {**TEE, "sku": "PATCHED"}},
        headers={"Authorization": f"Bearer {admin}"},
    ).raise_for_status()
    answers = run_parallel(
        base,
        admin,
        [("PATCH", f"{OBJECTS}/PATCHED", {"fields": {"stock": n + 1}}) for n in range(WRITERS)],
    )
    assert [a.status_code for a in answers] == [200] * WRITERS, [a.text for a in answers]
    assert sorted(int(a.headers["etag"].strip('"')) for a in answers) == list(range(2, WRITERS + 2))
    assert versions(base, admin, "PATCHED") == list(range(1, WRITERS + 2))


def test_parallel_puts_of_one_new_key(server: tuple[str, str]) -> None:
    base, admin = server
    body = {"fields": {**TEE, "sku": "PUT-1"}}
    answers = run_parallel(base, admin, [("PUT", f"{OBJECTS}/PUT-1", body)] * WRITERS)
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * (WRITERS - 1) + [201], [a.text for a in answers if a.status_code > 201]
    assert versions(base, admin, "PUT-1") == [1]


def test_deletes_racing_puts(server: tuple[str, str]) -> None:
    base, admin = server
    path = f"{OBJECTS}/RACE-1"
    body = {"fields": {**TEE, "sku": "RACE-1"}}
    httpx.put(f"{base}{path}", json=body, headers={"Authorization": f"Bearer {admin}"})
    half = WRITERS // 2
    answers = run_parallel(
        base,
        admin,
        [("DELETE", path, None)] * half
        + [("PUT", path, {"fields": {**body["fields"], "stock": n}}) for n in range(half)],
    )
    # A delete may find nothing left to delete (404, as it would one after another).
    assert all(a.status_code in (200, 201, 204, 404) for a in answers), [
        (a.status_code, a.text) for a in answers if a.status_code not in (200, 201, 204, 404)
    ]
    assert any(a.status_code == 204 for a in answers[:half])


def race_config(base: str, admin: str) -> None:
    config = {
        "name": "race",
        "classes": {
            "Product": {"fields": "*", "operations": ["read", "create", "update", "delete"]},
            "Category": {},
            "Brand": {},
        },
    }
    auth = {"Authorization": f"Bearer {admin}"}
    made = httpx.put(f"{base}/api/v1/datahub/race", json=config, headers=auth)
    assert made.status_code in (200, 201), made.text


def test_parallel_graphql_updates(server: tuple[str, str]) -> None:
    base, admin = server
    auth = {"Authorization": f"Bearer {admin}"}
    race_config(base, admin)
    httpx.put(
        f"{base}{OBJECTS}/GQL-1", json={"fields": {**TEE, "sku": "GQL-1"}}, headers=auth
    ).raise_for_status()
    mutation = (
        'mutation($n: Float) { updateProduct(sku: "GQL-1", input: {stock: $n}) '
        "{ success code message } }"
    )
    answers = run_parallel(
        base,
        admin,
        [
            ("POST", "/graphql/race", {"query": mutation, "variables": {"n": n + 1}})
            for n in range(10)
        ],
    )
    results = [a.json() for a in answers]
    assert all(r.get("data", {}).get("updateProduct", {}).get("success") for r in results), results
    assert versions(base, admin, "GQL-1") == list(range(1, 12))


def test_graphql_mutations_beyond_the_pool_size(server: tuple[str, str]) -> None:
    """40 updates over three objects, then 20 batch upserts of 40 items, on a pool of three
    connections: all succeed, none is a conflict or a 500, and REST answers at once after."""
    base, admin = server
    auth = {"Authorization": f"Bearer {admin}"}
    race_config(base, admin)
    skus = [f"POOL-{i}" for i in range(3)]
    for sku in skus:
        httpx.put(
            f"{base}{OBJECTS}/{sku}", json={"fields": {**TEE, "sku": sku}}, headers=auth
        ).raise_for_status()
    update = (
        "mutation($s: String, $n: Float) { updateProduct(sku: $s, input: {stock: $n}) "
        "{ success code message } }"
    )
    started = time.monotonic()
    answers = run_parallel(
        base,
        admin,
        [
            ("POST", "/graphql/race", {"query": update, "variables": {"s": skus[n % 3], "n": n}})
            for n in range(40)
        ],
    )
    assert [a.status_code for a in answers] == [200] * 40, [a.text for a in answers]
    results = [a.json()["data"]["updateProduct"] for a in answers]
    assert [r for r in results if not r["success"]] == []
    assert time.monotonic() - started < 15
    assert sum(len(versions(base, admin, s)) for s in skus) == 3 + 40

    upsert = (
        "mutation($items: [ProductInput!]!) { upsertProductBatch(items: $items) "
        "{ success code message } }"
    )
    price = {"amount": 1, "currency": "EUR"}
    batches = [
        [{"sku": f"UP-{i}", "name": "Up", "price": price, "stock": n} for i in range(40)]
        for n in range(20)
    ]
    started = time.monotonic()
    answers = run_parallel(
        base,
        admin,
        [("POST", "/graphql/race", {"query": upsert, "variables": {"items": b}}) for b in batches],
    )
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    items = [r for a in answers for r in a.json()["data"]["upsertProductBatch"]]
    failed = [r for r in items if not r["success"]]
    assert failed == []
    assert time.monotonic() - started < 60
    started = time.monotonic()
    read = httpx.get(f"{base}{OBJECTS}/UP-0", headers=auth)
    assert read.status_code == 200, read.text
    assert time.monotonic() - started < 2
