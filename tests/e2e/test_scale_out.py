"""Several processes on one PostgreSQL database, as on several machines: two `pimhub serve`
(one of them `--workers 2`) and two `pimhub worker`, sharing nothing but the database and the
secret key. Writes go through both servers at once; each is readable on both; one webhook
endpoint receives every event exactly once, whichever worker delivered it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs installed
import pytest

from tests.conftest import POSTGRES_ENV, require_service
from tests.e2e.processes import PIMHUB, free_port, init
from tests.e2e.test_parallel_writers_e2e import fresh_database
from tests.events.receiver import Receiver, receiver_in_thread

pytestmark = pytest.mark.e2e

PRODUCTS = 30
OBJECTS = "/api/v1/objects/Product"


@contextmanager
def running(
    args: list[str], env: dict[str, str], workdir: Path, name: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`pimhub <args>` in the background, output in workdir/<name>.log. Stopped with SIGTERM
    (a `serve --workers N` parent stops its workers), then killed with its children if it
    has not stopped in 30 seconds: the generous bounds are for a busy machine only."""
    with (workdir / f"{name}.log").open("w") as log:
        proc = subprocess.Popen(
            [*PIMHUB, *args], env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield proc
        finally:
            children = psutil.Process(proc.pid).children(recursive=True)
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for child in [*children, psutil.Process(proc.pid)]:
                    child.kill()
                proc.wait(timeout=10)
                pytest.fail(f"{name} did not stop on SIGTERM")


def wait_ready(base: str, workdir: Path, name: str) -> None:
    deadline = time.monotonic() + 90  # only reached on a starved machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"{name} did not start: {(workdir / f'{name}.log').read_text()}")


def serving_processes(parent: int) -> list[psutil.Process]:
    """The processes uvicorn's supervisor started (not multiprocessing's resource tracker)."""
    return [
        child
        for child in psutil.Process(parent).children()
        if "spawn_main" in " ".join(child.cmdline())
    ]


def wait_for(condition: object, seconds: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def send_all(requests: Sequence[tuple[str, str, str, object]], key: str) -> list[httpx.Response]:
    """Every (base, method, path, json) at once."""

    async def go() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(requests))
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as http:
            return await asyncio.gather(
                *(http.request(m, f"{b}{p}", json=j) for b, m, p, j in requests)
            )

    return asyncio.run(go())


@pytest.fixture(scope="module")
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    url = require_service(request.config, POSTGRES_ENV, "PostgreSQL")
    with fresh_database(url) as database_url:
        yield database_url


def test_two_servers_two_workers_one_database(database: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PIMHUB_DATABASE_URL": database,
        "PIMHUB_SECRET_KEY": "scale-out test key: shared by every process",
        "PIMHUB_WEBHOOKS_ALLOW_PRIVATE": "true",
        "PIMHUB_DATABASE_POOL_SIZE": "4",
        # The limits are another test's subject; here they would only count this test's load.
        "PIMHUB_RATE_LIMIT_PER_KEY": "off",
        "PIMHUB_RATE_LIMIT_PER_ADDRESS": "off",
    }
    hosts = []
    for n in (1, 2):  # a data directory each, as on two machines
        (tmp_path / f"host{n}").mkdir()
        hosts.append({**env, "PIMHUB_DATA_DIR": str(tmp_path / f"host{n}" / "data")})
    key = init(hosts[0], tmp_path)
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    with receiver_in_thread(Receiver()) as receiver, ExitStack() as stack:
        multi = stack.enter_context(
            running(
                ["serve", "--port", str(ports[0]), "--workers", "2"], hosts[0], tmp_path, "serve1"
            )
        )
        stack.enter_context(
            running(["serve", "--port", str(ports[1])], hosts[1], tmp_path, "serve2")
        )
        stack.enter_context(running(["worker"], hosts[0], tmp_path, "worker1"))
        stack.enter_context(running(["worker"], hosts[1], tmp_path, "worker2"))
        for base, name in zip(bases, ("serve1", "serve2"), strict=True):
            wait_ready(base, tmp_path, name)
        wait_for(lambda: len(serving_processes(multi.pid)) == 2, 30, "two serve processes")

        auth = {"Authorization": f"Bearer {key}"}
        endpoint = httpx.post(
            f"{bases[1]}/api/v1/webhooks/endpoints",
            json={"url": receiver.url, "classes": ["Product"]},
            headers=auth,
        )
        assert endpoint.status_code == 201, endpoint.text
        endpoint_id = endpoint.json()["id"]

        skus = [f"SCALE-{n}" for n in range(PRODUCTS)]
        price = {"amount": 10, "currency": "EUR"}
        created = send_all(
            [
                (
                    bases[n % 2],
                    "PUT",
                    f"{OBJECTS}/{sku}",
                    {"fields": {"name": {"en": sku}, "price": price}},
                )
                for n, sku in enumerate(skus)
            ],
            key,
        )
        assert [r.status_code for r in created] == [201] * PRODUCTS, [r.text for r in created]
        # Each object patched twice at once, once through each server: versions 2 and 3,
        # none lost and none repeated.
        patches = [
            (bases[(n + k) % 2], "PATCH", f"{OBJECTS}/{sku}", {"fields": {"stock": k + 1}})
            for n, sku in enumerate(skus)
            for k in (1, 2)
        ]
        patched = send_all(patches, key)
        assert [r.status_code for r in patched] == [200] * len(patches), [r.text for r in patched]

        for base in bases:
            for sku in skus:
                got = httpx.get(f"{base}{OBJECTS}/{sku}", headers=auth)
                assert got.status_code == 200, got.text
                assert (got.json()["version"], got.json()["fields"]["name"]) == (3, {"en": sku})

        expected = {(sku, v) for sku in skus for v in (1, 2, 3)}

        def delivered() -> bool:
            metrics = httpx.get(f"{bases[0]}/metrics").text
            line = f'pimhub_webhook_deliveries{{endpoint="{endpoint_id}",status="delivered"}}'
            done = [ln for ln in metrics.splitlines() if ln.startswith(line)]
            return bool(done) and float(done[0].split()[-1]) >= len(expected)

        wait_for(delivered, 60, "every delivery marked delivered")
        ids = Counter(r.webhook_id for r in receiver.requests)
        assert [i for i, n in ids.items() if n > 1] == []  # exactly once
        got_events = {
            (r.payload["data"]["businessKey"], r.payload["data"]["version"])
            for r in receiver.delivered
        }
        assert got_events == expected
        assert len(receiver.delivered) == len(expected)
