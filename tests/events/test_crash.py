"""Crash safety with real processes: workers killed with SIGKILL at random points while a writer
saves objects, and a writer killed between its commit and any dispatch. Nothing committed may
be lost; duplicates are allowed (at least once) and the receiver removes them by webhook-id.
On PostgreSQL two workers run side by side."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, select, text

from pimhub.bootstrap import Hub
from pimhub.storage.tables import outbox
from tests.events.receiver import Receiver, receiver_in_thread

KILLS = 12


def database_url(engine: Engine) -> str:
    """The URL a subprocess needs to see the same database (and on PostgreSQL the test's
    schema)."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
    return f"{url}?options={quote(f'-csearch_path={schema}')}"


def child_env(engine: Engine) -> dict[str, str]:
    return {
        **os.environ,
        "PIMHUB_DATABASE_URL": database_url(engine),
        "PIMHUB_SECRET_KEY": "test-passphrase",
        "PIMHUB_WEBHOOKS_ALLOW_PRIVATE": "true",
        "PIMHUB_WEBHOOK_LEASE_SECONDS": "2",
        "PIMHUB_WEBHOOK_CONNECT_TIMEOUT": "0.3",
        "PIMHUB_WEBHOOK_TIMEOUT": "0.7",
        "PIMHUB_WEBHOOK_BATCH_SIZE": "20",
        "PIMHUB_LOG_LEVEL": "WARNING",
    }


def start_worker(engine: Engine) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pimhub.cli.main", "worker"],
        env=child_env(engine),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def committed_event_ids(engine: Engine, after_id: int) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(outbox.c.event_id).where(outbox.c.id > after_id)).scalars())


def outbox_high_water(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one())


@contextmanager
def writer(hub: Hub, stop: threading.Event) -> Iterator[list[str]]:
    """Saves products until stopped: creates, then price changes on random ones."""
    skus: list[str] = []

    def write() -> None:
        rng = random.Random(7)
        n = 0
        while not stop.is_set():
            if n < 40 or rng.random() < 0.3:
                sku = f"CR-{n}"
                hub.catalog.create(
                    "Product",
                    {"sku": sku, "name": {"en": sku}, "price": {"amount": 1, "currency": "EUR"}},
                    author="writer",
                )
                skus.append(sku)
            else:
                sku = rng.choice(skus)
                price = {"amount": rng.randint(1, 999), "currency": "EUR"}
                hub.catalog.patch("Product", sku, {"price": price}, author="writer")
            n += 1
            time.sleep(0.005)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        yield skus
    finally:
        stop.set()
        thread.join(30)


def wait_until_delivered(receiver: Receiver, expected: set[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if expected <= set(receiver.ids()):
            return
        time.sleep(0.05)
    missing = expected - set(receiver.ids())
    raise AssertionError(f"{len(missing)} of {len(expected)} events never arrived")


def slow_ok(_: object) -> int:
    time.sleep(0.002)  # keeps deliveries in flight long enough for kills to land mid-send
    return 200


@pytest.mark.e2e
def test_workers_killed_at_random_points_lose_nothing(hub: Hub, engine: Engine) -> None:
    workers = 2 if engine.dialect.name == "postgresql" else 1
    rng = random.Random(2026)
    with receiver_in_thread(Receiver(answer=slow_ok)) as receiver:
        hub.webhooks.create({"url": receiver.url})
        start = outbox_high_water(engine)
        stop = threading.Event()
        running = [start_worker(engine) for _ in range(workers)]
        with writer(hub, stop):
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.3, 1.2))
                victim = rng.randrange(workers)
                running[victim].send_signal(signal.SIGKILL)
                running[victim].wait()
                running[victim] = start_worker(engine)
        expected = committed_event_ids(engine, start)
        try:
            wait_until_delivered(receiver, expected)
        finally:
            for process in running:
                process.terminate()
            for process in running:
                process.wait(10)
        ids = receiver.ids()
        assert len(expected) > 40
        assert set(ids) == expected  # everything arrived, nothing foreign
        per_object: dict[str, list[int]] = {}
        for got in receiver.delivered:
            data = got.payload["data"]
            per_object.setdefault(data["uuid"], []).append(data["version"])
        # Redelivery after a kill may repeat a version, but never goes backwards past it.
        for versions in per_object.values():
            firsts = list(dict.fromkeys(versions))
            assert firsts == sorted(firsts)


WRITER_THEN_CRASH = textwrap.dedent(
    """
    import os, signal
    from pimhub.bootstrap import bootstrap, build_worker
    hub = bootstrap()
    build_worker(hub)  # an in-process dispatcher, as under `pimhub demo`, waiting for commits
    saved = []
    def crash_after_third_commit():
        saved.append(1)
        if len(saved) == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # committed, not yet dispatched
    hub.units_of_work.committed.insert(0, crash_after_third_commit)
    for i in range(5):
        hub.catalog.create(
            "Product",
            {"sku": f"WC-{i}", "name": {"en": "x"}, "price": {"amount": 1, "currency": "EUR"}},
            author="crashy",
        )
    """
)


@pytest.mark.e2e
def test_writer_crash_between_commit_and_dispatch_loses_nothing(hub: Hub, engine: Engine) -> None:
    with receiver_in_thread(Receiver()) as receiver:
        hub.webhooks.create({"url": receiver.url})
        start = outbox_high_water(engine)
        crashed = subprocess.run(
            [sys.executable, "-c", WRITER_THEN_CRASH], env=child_env(engine), timeout=60
        )
        assert crashed.returncode == -signal.SIGKILL
        expected = committed_event_ids(engine, start)
        assert len(expected) == 3  # the third commit happened; the fourth save never started
        worker = start_worker(engine)
        try:
            wait_until_delivered(receiver, expected)
        finally:
            worker.terminate()
            worker.wait(10)
        keys = sorted(r.payload["data"]["businessKey"] for r in receiver.delivered)
        assert keys == ["WC-0", "WC-1", "WC-2"]


@pytest.mark.e2e
def test_worker_stops_cleanly_on_sigterm(hub: Hub, engine: Engine) -> None:
    with receiver_in_thread(Receiver()) as receiver:
        hub.webhooks.create({"url": receiver.url})
        worker = start_worker(engine)
        start = outbox_high_water(engine)
        hub.catalog.create(
            "Product",
            {"sku": "TERM", "name": {"en": "x"}, "price": {"amount": 1, "currency": "EUR"}},
            author="t",
        )
        wait_until_delivered(receiver, committed_event_ids(engine, start))
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=20)
        assert worker.returncode == 0, stderr.decode()
