"""A kill -9 and restart loop across `pimhub serve`, two `pimhub worker`s and the Magento
connector's full sync (`pimhub connectors sync --full --force`, run again and again) while a
client keeps changing prices through the server, on a fresh PostgreSQL schema. At the end
the hub, a webhook receiver and the Magento contract double agree: every committed event and
every object version reached the receiver, and Magento holds each product's last price."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.commerce import commerce_model
from pimhub.settings import Settings
from pimhub.storage.migrate import upgrade
from pimhub.storage.tables import connector_bulk_operations, outbox
from tests.conftest import POSTGRES_ENV, postgres_schema, require_service
from tests.connectors.magento.double import DEFAULT_CREDENTIALS, MagentoDouble
from tests.connectors.magento.server import DoubleServer
from tests.e2e.inbound_processes import HubProcess, Server, until, worker
from tests.events.receiver import Receiver, receiver_in_thread
from tests.events.test_crash import database_url as child_database_url

pytestmark = pytest.mark.e2e

SECRET = "crash-loop-secret-key"
CONNECTOR = "crash"
PRODUCTS = 12
CREDENTIALS = {
    "consumerKey": DEFAULT_CREDENTIALS.consumer_key,
    "consumerSecret": DEFAULT_CREDENTIALS.consumer_secret,
    "accessToken": DEFAULT_CREDENTIALS.access_token,
    "accessTokenSecret": DEFAULT_CREDENTIALS.access_token_secret,
}


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh schema of the test database (a fresh database would do, but dropping one
    waits for a checkpoint: half a minute on a busy machine); the URL puts it on the path."""
    url = require_service(request.config, POSTGRES_ENV, "PostgreSQL")
    with postgres_schema(url, "pimhub_crash") as engine:
        yield child_database_url(engine)


def sku(n: int) -> str:
    return f"CL-{n:03d}"


@dataclass
class Writer:
    """PATCHes a new price to a random product until stopped; a request that got no answer
    (the server was killed) is sent again until one comes. Every answer must be a 200."""

    base: str
    token: str
    rng: random.Random
    answers: list[int] = field(default_factory=list)
    failure: BaseException | None = None

    def run(self, stop: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with httpx.Client(base_url=self.base, headers=headers, timeout=10) as http:
                step = 0
                while not stop.is_set():
                    step += 1
                    price = {"amount": 100 + step / 100, "currency": "EUR"}
                    self.patch(http, sku(self.rng.randrange(PRODUCTS)), price)
                    time.sleep(0.03)
        except BaseException as exc:  # re-raised in the test's thread
            self.failure = exc

    def wait_for_more(self, count: int) -> None:
        """Until `count` more writes were answered (after a restart, say)."""
        target = len(self.answers) + count
        until(
            lambda: len(self.answers) >= target or self.failure is not None,
            f"{count} more writes",
            seconds=60,
        )
        if self.failure is not None:
            raise self.failure

    def patch(self, http: httpx.Client, key: str, price: dict[str, Any]) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = http.patch(
                    f"/api/v1/objects/Product/{key}", json={"fields": {"price": price}}
                )
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # the server is being restarted
                continue
            assert answer.status_code == 200, answer.text
            self.answers.append(answer.status_code)
            return


def prepare(settings: Settings, double_url: str, receiver_url: str) -> tuple[Hub, str, int]:
    """Products synced once to Magento, an endpoint for every event at the receiver; (the
    hub, an admin key, the outbox's last id before the endpoint existed)."""
    hub = bootstrap(settings)
    upgrade(hub.engine)
    hub.classes.apply(commerce_model(), author="test")
    for n in range(PRODUCTS):
        item = {
            "sku": sku(n),
            "name": {"en": f"Crash loop {n}"},
            "price": {"amount": 10 + n, "currency": "EUR"},
            "stock": n,
        }
        hub.catalog.create("Product", item, author="test")
    config = {"name": CONNECTOR, "baseUrl": double_url, "currency": "EUR"}
    hub.connectors.add(config, CREDENTIALS)
    report = asyncio.run(hub.connectors.full_sync(CONNECTOR, poll_interval=0.05))
    assert (report.failed, report.complete) == (0, PRODUCTS), report.to_dict()
    with hub.engine.connect() as conn:
        mark = int(conn.execute(select(func.max(outbox.c.id))).scalar() or 0)
    hub.webhooks.create({"url": receiver_url})
    _, token = hub.access.create("crash", ["admin"], environment="test")
    return hub, token, mark


def committed(hub: Hub, after: int) -> dict[str, tuple[str, int]]:
    """Event id -> (business key, version) of the Product events after `after`."""
    query = select(outbox.c.event_id, outbox.c.business_key, outbox.c.version).where(
        outbox.c.id > after, outbox.c.class_name == "Product"
    )
    with hub.engine.connect() as conn:
        return {str(e): (str(k), int(v)) for e, k, v in conn.execute(query)}


def submitted(hub: Hub) -> int:
    """Bulk operations any sync has written down so far."""
    with hub.engine.connect() as conn:
        count = select(func.count()).select_from(connector_bulk_operations)
        return int(conn.execute(count).scalar_one())


def more_operations(hub: Hub, known: int) -> None:
    until(lambda: submitted(hub) > known, "the sync's bulk operations", seconds=60)


def prices(hub: Hub) -> dict[str, float]:
    return {
        sku(n): float(
            hub.catalog.get_object("Product", sku(n), include_drafts=True).values["price"]["amount"]
        )
        for n in range(PRODUCTS)
    }


def magento_prices(double: MagentoDouble) -> dict[str, float | None]:
    held = {sku(n): double.product(sku(n)) for n in range(PRODUCTS)}
    return {s: None if p is None else float(p["price"]) for s, p in held.items()}


def kill_sync(sync: HubProcess) -> None:
    """SIGKILL to a running sync; one that ended by itself must have succeeded."""
    assert sync.proc is not None
    if sync.proc.poll() is None:
        sync.proc.send_signal(signal.SIGKILL)
    assert sync.proc.wait(10) in (0, -signal.SIGKILL), sync.log()


def stop_all(processes: list[HubProcess]) -> list[int]:
    """SIGTERM to every process at once, then their exit codes."""
    for process in processes:
        if process.proc is not None and process.proc.poll() is None:
            process.proc.terminate()
    return [process.stop() for process in processes]


def test_kill_loop_across_server_workers_and_connector_loses_nothing(
    database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(2020)
    settings = Settings(
        database_url=database_url,
        secret_key=SECRET,
        webhooks_allow_private=True,
        data_dir=tmp_path / "data",
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PIMHUB_")},
        "PIMHUB_DATABASE_URL": database_url,
        "PIMHUB_DATA_DIR": str(tmp_path / "data"),
        "PIMHUB_SECRET_KEY": SECRET,
        "PIMHUB_WEBHOOKS_ALLOW_PRIVATE": "true",
        "PIMHUB_WEBHOOK_LEASE_SECONDS": "8",  # a connector wants 5 s left, less one to record
        "PIMHUB_WEBHOOK_CONNECT_TIMEOUT": "0.5",
        "PIMHUB_WEBHOOK_TIMEOUT": "2",
        "PIMHUB_WEBHOOK_RETRY_SCHEDULE": "[0.2, 0.5, 1, 1, 2, 2]",
        "PIMHUB_LOG_LEVEL": "WARNING",
    }
    double = MagentoDouble(validate=False, bulk_delay=0.02, record_requests=False)
    with DoubleServer(double) as magento, receiver_in_thread(Receiver()) as receiver:
        hub, token, mark = prepare(settings, magento.base_url, receiver.url)
        before = {
            s: hub.catalog.get_object("Product", s, include_drafts=True).version
            for s in prices(hub)
        }
        server = Server(env, tmp_path)
        workers = [worker(env, tmp_path, f"worker-{n}") for n in range(2)]
        sync_args = ["connectors", "sync", CONNECTOR, "--full", "--force", "--poll-interval", "0.1"]
        sync = HubProcess(sync_args, env, tmp_path, "sync")
        writer = Writer(server.base, token, random.Random(rng.random()))
        stop = threading.Event()
        thread = threading.Thread(target=writer.run, args=(stop,))
        try:
            server.start()
            for w in workers:
                w.start()
            sync.start()
            thread.start()
            # The server once (a restart is the slow part), each worker, the sync thrice.
            victims = [server, *workers, rng.choice(workers), sync, sync, sync]
            rng.shuffle(victims)
            known = submitted(hub)
            for victim in victims:
                writer.wait_for_more(5)
                time.sleep(rng.uniform(0, 0.3))
                if victim is sync:
                    # Once it has written operations down: mid-bulk, or done and run again.
                    more_operations(hub, known)
                    time.sleep(rng.uniform(0, 0.2))
                    known = submitted(hub)
                    kill_sync(sync)
                else:
                    victim.kill()
                victim.start()
            # One full sync runs to its end while the writes go on.
            kill_sync(sync)
            sync.start()
            assert sync.proc is not None and sync.proc.wait(60) == 0, sync.log()
            writer.wait_for_more(5)
            stop.set()
            thread.join(70)
            if writer.failure is not None:
                raise writer.failure

            events = committed(hub, mark)
            until(
                lambda: set(events) <= set(receiver.ids()),
                "every committed event at the receiver",
                seconds=60,
                explain=lambda: f"{len(set(events) - set(receiver.ids()))} of {len(events)}",
            )
            final = prices(hub)
            until(
                lambda: magento_prices(double) == final,
                "Magento holding every product's last price",
                seconds=60,
                explain=lambda: str(
                    {
                        s: (p, magento_prices(double)[s])
                        for s, p in final.items()
                        if magento_prices(double)[s] != p
                    }
                ),
            )
        finally:
            stop.set()
            thread.join(70)
            exits = stop_all([*workers, server, sync])
            hub.close()
        # SIGTERM may find a restarted process still starting up: then it exits -SIGTERM.
        assert set(exits) <= {0, -signal.SIGTERM}, [p.log() for p in (*workers, server)]

    assert len(writer.answers) > 7 * 5
    # Every version each product went through after the set-up reached the receiver.
    delivered = {
        (r.payload["data"]["businessKey"], r.payload["data"]["version"])
        for r in receiver.delivered
        if r.payload["type"].startswith("object.")
    }
    expected = set(events.values())
    assert expected <= delivered
    per_key: dict[str, set[int]] = {}
    for key, version in expected:
        per_key.setdefault(key, set()).add(version)
    for key, versions in per_key.items():
        assert versions == set(range(before[key] + 1, max(versions) + 1)), key
    assert not [r for r in receiver.requests if r.webhook_id not in events]
