"""Replaying dead letters while others replay or claim them: each is queued again once, and a
row that stopped being dead while the replay waited for it is left alone."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from pimhub.bootstrap import Hub
from pimhub.events.deliveries import DeliveryFilter, DeliveryStatus
from pimhub.storage.tables import webhook_deliveries as d
from tests.events.test_dispatch import product

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEAD_LETTERS = 35
REPLAYERS = 16


def dead_letters(hub: Hub, count: int) -> None:
    hub.webhooks.create({"url": "https://hooks.example.com/replay"})
    for i in range(count):
        hub.catalog.create("Product", product(f"R-{i}"), author="t")
    hub.webhooks.queue.fan_out(T0, 1000)
    kill_all(hub)


def kill_all(hub: Hub) -> None:
    with hub.engine.begin() as conn:
        conn.execute(update(d).values(status="dead", attempts=9, next_attempt_at=None))


def test_parallel_replays_of_everything_queue_each_dead_letter_once(hub: Hub) -> None:
    dead_letters(hub, DEAD_LETTERS)
    for _ in range(3):  # a few rounds: the race needs replays to meet on a row lock
        start = threading.Barrier(REPLAYERS)
        with ThreadPoolExecutor(REPLAYERS) as pool:
            replays = [pool.submit(replay_all, hub, start) for _ in range(REPLAYERS)]
            counts = [f.result() for f in replays]
        # Every row ends pending, so a total of exactly 35 means each was changed once.
        assert sum(counts) == DEAD_LETTERS, counts
        states = {r.status for r in hub.webhooks.deliveries(DeliveryFilter(), 100, None)}
        assert states == {DeliveryStatus.PENDING}
        kill_all(hub)


def replay_all(hub: Hub, start: threading.Barrier) -> int:
    start.wait(10)
    return hub.webhooks.replay(DeliveryFilter())


def test_a_dead_letter_claimed_while_a_replay_waited_for_it_keeps_its_lease(hub: Hub) -> None:
    """The replay read the row dead, then waited on its lock while a replay and a claim made
    it `delivering`: resetting it then would clear the worker's lease (a second send)."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time: no replay waits on a row")
    dead_letters(hub, 1)
    lease = T0 + timedelta(seconds=60)
    with hub.engine.connect() as holder:
        holder.execute(update(d).values(status="pending"))  # a replay, not yet committed
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(hub.webhooks.queue.replay, DeliveryFilter(), None, T0)
            wait_for_a_lock_wait(hub, holder.connection.dbapi_connection)
            holder.execute(update(d).values(status="delivering", lease_until=lease))  # claimed
            holder.commit()
            assert waiting.result(10) == 0
    with hub.engine.connect() as conn:
        status, lease_until = conn.execute(select(d.c.status, d.c.lease_until)).one()
    assert (status, lease_until) == ("delivering", lease)


def wait_for_a_lock_wait(hub: Hub, holder: Any) -> None:
    """Until some session waits for a lock `holder` holds (polls PostgreSQL's lock table)."""
    pid = holder.info.backend_pid
    deadline = time.monotonic() + 10
    query = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    while time.monotonic() < deadline:
        with hub.engine.connect() as conn:
            if conn.execute(query, {"pid": pid}).scalar():
                return
        time.sleep(0.01)
    raise AssertionError("the replay never waited for the row")
