"""The worker prunes refused feed items with the inbound audit, on both backends: those
resolved longer than the retention ago go, open ones stay whatever their age."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pimhub.bootstrap import Hub, build_worker
from pimhub.storage.inbound_refusals import SqlRefusalStore
from tests.inbound.test_refusals_storage import refusal

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def listed(store: SqlRefusalStore) -> list[tuple[str, int, bool]]:
    return [
        (r.event_id, r.item_index, r.resolved_at is None)
        for r in store.page(None, open_only=False, limit=100, after_id=None)
    ]


def test_resolved_refusals_older_than_the_retention_are_deleted(bare_hub: Hub) -> None:
    store = SqlRefusalStore(bare_hub.engine)
    store.record([refusal("evt_old", n) for n in range(3)] + [refusal("evt_new", 0)])
    old = store.page(None, open_only=True, limit=10, after_id=None)
    store.resolve([old[0].id, old[1].id], T0)  # evt_old 0 and 1 resolved at T0; 2 stays open
    store.resolve([old[3].id], T0 + timedelta(days=5))

    assert store.prune(T0) == 0  # resolved at T0 is not before T0
    assert store.prune(T0 + timedelta(days=1)) == 2
    assert listed(store) == [("evt_old", 2, True), ("evt_new", 0, False)]
    # Open ones are kept whatever their age.
    assert store.prune(T0 + timedelta(days=3650)) == 1
    assert listed(store) == [("evt_old", 2, True)]


def test_the_worker_prunes_refusals_with_the_inbound_retention(bare_hub: Hub) -> None:
    hub = bare_hub
    hub.settings = hub.settings.model_copy(update={"inbound_log_retention_days": 3})
    worker = build_worker(hub)
    assert worker.feeds is hub.feeds
    store = SqlRefusalStore(hub.engine)
    store.record([refusal("evt_1", 0), refusal("evt_1", 1)])
    first, _ = store.page(None, open_only=True, limit=10, after_id=None)
    store.resolve([first.id], T0)
    hub.feeds.clock = lambda: T0 + timedelta(days=2)
    asyncio.run(worker._prune_inbound())
    assert len(listed(store)) == 2  # resolved two days ago: within three days
    hub.feeds.clock = lambda: T0 + timedelta(days=4)
    asyncio.run(worker._prune_inbound())
    assert listed(store) == [("evt_1", 1, True)]


def test_parallel_prunes_and_records(bare_hub: Hub) -> None:
    """Prunes racing new refusals and resolutions (PostgreSQL: own connections) fail nothing."""
    store = SqlRefusalStore(bare_hub.engine)
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait()
            for round_ in range(5):
                store.record([refusal(f"evt_{n}_{round_}", 0)])
                mine = store.page(None, open_only=True, limit=100, after_id=None)
                store.resolve([r.id for r in mine if r.event_id.startswith(f"evt_{n}_")], T0)
                store.prune(T0 + timedelta(days=1))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    store.prune(T0 + timedelta(days=1))
    assert listed(store) == []


def test_the_worker_start_up_line_names_the_inbound_retention(
    bare_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker's logger is replaced rather than captured: structlog's capture_logs misses a
    # logger that an earlier test in the session already bound (cache_logger_on_first_use).
    from pimhub.events import worker as worker_module

    lines: list[dict[str, Any]] = []

    class Log:
        def __getattr__(self, level: str) -> Any:
            return lambda event, *args, **kw: lines.append({"event": event, **kw})

    monkeypatch.setattr(worker_module, "log", Log())
    bare_hub.settings = bare_hub.settings.model_copy(update={"inbound_log_retention_days": 3})
    worker = build_worker(bare_hub)

    async def run() -> None:
        stop = asyncio.Event()
        stop.set()
        await worker.run(stop)

    asyncio.run(run())
    [started] = [e for e in lines if e["event"] == "worker.started"]
    assert started["inbound_retention_days"] == 3
