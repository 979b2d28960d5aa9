"""SqlInbox and SqlSourceRepository on both backends: de-duplication by the partial unique
index, the audit, pruning, the feed destination row, parallel writers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from pimhub.events.endpoints import EndpointSpec
from pimhub.inbound.messages import (
    AcceptedMessage,
    MessageFilter,
    Outcome,
    RejectedMessage,
    Verification,
)
from pimhub.inbound.source_parser import parse_source
from pimhub.storage.inbound import InboxUnavailable, SqlInbox, SqlSourceRepository
from pimhub.storage.tables import inbound_messages, outbox, webhook_endpoints
from tests.conftest import empty_database

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def inbox(engine: Engine) -> SqlInbox:
    empty_database(engine)
    return SqlInbox(engine)


def message(
    msg_id: str, source: str = "shop", at: datetime = NOW, key: str | None = None
) -> AcceptedMessage:
    return AcceptedMessage(
        source=source,
        message_id=msg_id,
        event_type="shop.order.placed",
        key=key,
        received_at=at,
        body='{"a":1}',
        payload={"a": 1},
        payload_hash="0" * 64,
        size=7,
        remote="10.0.0.1",
    )


def rejected(at: datetime = NOW) -> RejectedMessage:
    return RejectedMessage(
        source="shop",
        received_at=at,
        verification=Verification.FAILED,
        problem="inbound-unverified",
        reason="the header webhook-signature is missing",
        payload_hash="1" * 64,
        size=3,
        remote=None,
    )


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_accept_and_duplicate(inbox: SqlInbox, engine: Engine) -> None:
    first = inbox.accept(message("a", key="K"))
    assert first.outcome is Outcome.ACCEPTED
    # Another source may use the same message id.
    assert inbox.accept(message("a", source="other")).outcome is Outcome.ACCEPTED
    again = inbox.accept(message("a"))
    assert (again.outcome, again.event_id, again.duplicate_of) == (
        Outcome.DUPLICATE,
        first.event_id,
        first.message,
    )
    assert count(engine, outbox) == 2
    stored = inbox.message(again.message)
    assert stored is not None and stored.duplicate_of == first.message
    assert inbox.body(first.message) == '{"a":1}' and inbox.body(again.message) is None
    with engine.connect() as conn:
        event = conn.execute(select(outbox).where(outbox.c.event_id == first.event_id)).one()
    assert (event.order_key, event.business_key, event.class_name) == ("in:shop:K", "K", "shop")
    # A rejected row with the same id does not count as accepted.
    inbox.reject(rejected())
    assert inbox.accept(message("b")).outcome is Outcome.ACCEPTED


def test_filters_counts_and_prune(inbox: SqlInbox, engine: Engine) -> None:
    old = NOW - timedelta(days=10)
    inbox.accept(message("old", at=old))
    inbox.reject(rejected(at=old))
    inbox.accept(message("new", key="k"))
    assert inbox.counts(NOW - timedelta(days=1)) == {("shop", "accepted"): 1}
    assert [m.message_id for m in inbox.messages(MessageFilter(key="k"), 10, None)] == ["new"]
    assert len(inbox.messages(MessageFilter(until=NOW), 10, None)) == 2
    assert len(inbox.messages(MessageFilter(outcome=Outcome.REJECTED), 10, None)) == 1
    # Rows older than a day go, but accepted ones only past the dedupe window (30 days).
    assert inbox.prune(NOW - timedelta(days=1), NOW - timedelta(days=30)) == 1
    assert inbox.accept(message("old")).outcome is Outcome.DUPLICATE
    assert inbox.prune(NOW - timedelta(days=1), NOW - timedelta(days=1)) == 1
    assert inbox.accept(message("old")).outcome is Outcome.ACCEPTED


def test_source_rows_and_the_feed_row(engine: Engine) -> None:
    empty_database(engine)
    repo = SqlSourceRepository(engine)
    spec = parse_source({"name": "erp", "scheme": "shared-secret", "key": {"path": "sku"}})
    stored = repo.add(spec, spec.to_dict(), "sealed-1", None, NOW)
    assert stored is not None and stored.spec == spec and stored.has_secret
    assert repo.add(spec, spec.to_dict(), "sealed-1", None, NOW) is None
    assert count(engine, webhook_endpoints) == 0
    feed = EndpointSpec(url="hub:catalog-feed/erp", event_types=("erp.x",), sources=("erp",))
    assert repo.save(spec, spec.to_dict(), feed, NOW, expected_version=1)
    assert not repo.save(spec, spec.to_dict(), feed, NOW, expected_version=1)
    with engine.connect() as conn:
        row = conn.execute(select(webhook_endpoints)).one()
    assert (row.endpoint_id, row.kind, row.secret, row.sources, row.event_types) == (
        "feed-erp",
        "catalog-feed",
        "sealed-1",
        ["erp"],
        ["erp.x"],
    )
    assert repo.rotate("erp", "sealed-2", NOW + timedelta(hours=1), NOW)
    secrets = repo.secrets("erp")
    assert secrets is not None
    assert (secrets.sealed, secrets.previous_sealed, secrets.previous_until) == (
        "sealed-2",
        "sealed-1",
        NOW + timedelta(hours=1),
    )
    assert [s.spec.name for s in repo.all()] == ["erp"]
    assert repo.remove("erp") and not repo.remove("erp")
    assert count(engine, webhook_endpoints) == 0
    assert repo.get("erp") is None and repo.secrets("erp") is None


def parallel(work: Callable[[int], Any], n: int) -> tuple[list[Any], list[BaseException]]:
    results: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        try:
            results.append(work(i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_parallel_writers(inbox: SqlInbox, engine: Engine) -> None:
    """16 threads: 8 send one id, 8 each a different one (same key). Four inboxes (as four
    processes would have), so that their writers' transactions run at the same time, each
    on its own connection, and some threads also write alone."""
    inboxes = [inbox, SqlInbox(engine), SqlInbox(engine), SqlInbox(engine)]

    def send(i: int) -> Any:
        chosen = inboxes[i % 4]
        msg = message("same" if i % 2 else f"own-{i}", key="K")
        return chosen.accept_alone(msg) if i % 3 == 0 else chosen.accept(msg)

    receipts, errors = parallel(send, 16)
    assert errors == []
    same = [r for r in receipts if r.event_id and r.outcome is Outcome.DUPLICATE]
    assert len(same) == 7
    assert sum(r.outcome is Outcome.ACCEPTED for r in receipts) == 9
    assert count(engine, outbox) == 9
    with engine.connect() as conn:
        accepted = conn.execute(
            select(func.count()).where(inbound_messages.c.outcome == "accepted")
        ).scalar_one()
    assert accepted == 9


def test_a_batch_shares_one_transaction_and_a_bad_write_fails_alone(
    inbox: SqlInbox, engine: Engine
) -> None:
    from pimhub.storage.group_commit import GroupCommit

    batches: list[int] = []

    def run_batch(items: Any) -> list[str]:
        batches.append(len(items))
        if "bad" in items:
            raise ValueError("one bad write")
        return [f"ok {i}" for i in items]

    def run_one(item: str) -> str:
        if item == "bad":
            raise ValueError("bad alone")
        return f"alone {item}"

    group: GroupCommit[str, str] = GroupCommit(run_batch, run_one)
    # Several writes queued before the writer runs share one batch.
    group._running = True  # hold the writer back while the queue fills
    futures = [group.submit(x) for x in ("a", "bad", "c")]
    group._running = False
    group.submit("d").result(timeout=10)
    assert [f.exception(timeout=10) is None for f in futures] == [True, False, True]
    assert futures[0].result() == "alone a" and futures[2].result() == "alone c"
    assert batches[0] == 4  # a, bad, c and d in one transaction, refused as a whole
    # A duplicate of a message earlier in the same batch is recognised inside it.
    receipts = inbox._accept_batch([message("x"), message("x"), message("y")])
    assert [r.outcome for r in receipts] == [Outcome.ACCEPTED, Outcome.DUPLICATE, Outcome.ACCEPTED]
    assert receipts[1].duplicate_of == receipts[0].message
    assert count(engine, outbox) == 2


def test_a_failed_batch_leaves_the_writer_usable(inbox: SqlInbox, engine: Engine) -> None:

    real = inbox._accept
    error = engine.dialect.loaded_dbapi.OperationalError

    def failing(cursor: Any, msg: AcceptedMessage) -> Any:
        if msg.message_id == "boom":
            raise error("the connection went away")
        return real(cursor, msg)

    inbox._accept = failing  # type: ignore[method-assign,assignment]
    # The connection went away: a retryable 503 for the sender, not a 500.
    with pytest.raises(InboxUnavailable) as failed:
        inbox.accept(message("boom"))
    assert isinstance(failed.value.__cause__, error)
    assert inbox.accept(message("fine")).outcome is Outcome.ACCEPTED
    assert [m.message_id for m in inbox.messages(MessageFilter(), 10, None)] == ["fine"]
    assert count(engine, outbox) == 1


def test_submits_of_one_loop_turn_share_a_transaction(inbox: SqlInbox, engine: Engine) -> None:
    """Messages submitted during one turn of the event loop are stored together, at the end
    of that turn, by the loop itself when SQLite's write lock is free (no thread); on
    PostgreSQL by the writer thread. A repeat of a message is a duplicate of it."""
    import asyncio

    batches: list[tuple[int, str]] = []
    write_in_loop, write_in_thread = inbox._loop_batch, inbox._writer_batch

    def in_loop(messages: Any) -> Any:
        batches.append((len(messages), threading.current_thread().name))
        return write_in_loop(messages)

    def in_thread(messages: Any) -> Any:
        batches.append((len(messages), threading.current_thread().name))
        return write_in_thread(messages)

    if inbox._ticks is not None:
        inbox._ticks.try_batch = in_loop
    inbox._group.run_batch = in_thread

    async def send() -> list[Any]:
        names = ["a", "b", "a", "c"]
        return list(await asyncio.gather(*(inbox.submit(message(n)) for n in names)))

    receipts = asyncio.run(send())
    assert [r.outcome for r in receipts] == [
        Outcome.ACCEPTED,
        Outcome.ACCEPTED,
        Outcome.DUPLICATE,
        Outcome.ACCEPTED,
    ]
    assert receipts[2].duplicate_of == receipts[0].message
    assert receipts[2].event_id == receipts[0].event_id
    loop_thread = threading.current_thread().name
    if engine.dialect.name == "sqlite":
        assert batches == [(4, loop_thread)]
    else:
        # The thread starts on the first message while the others queue.
        assert sum(size for size, _ in batches) == 4
        assert all(name != loop_thread for _, name in batches)
    assert count(engine, outbox) == 3


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_taken_write_lock_sends_the_batch_to_the_thread(inbox: SqlInbox, engine: Engine) -> None:
    """Another connection holds SQLite's write lock: the loop does not wait for it (no busy
    wait in the event loop) but hands the batch to the writer thread, which waits and
    stores it once the lock is free; the loop keeps serving meanwhile."""
    import asyncio

    blocker = engine.raw_connection()
    blocker.driver_connection.execute("BEGIN IMMEDIATE")
    tried: list[Any] = []
    write_in_loop = inbox._loop_batch

    def in_loop(messages: Any) -> Any:
        tried.append(write_in_loop(messages))
        return tried[-1]

    assert inbox._ticks is not None
    inbox._ticks.try_batch = in_loop

    async def send() -> Any:
        pending = inbox.submit(message("m"))
        for _ in range(20):  # the loop runs on while the thread waits for the lock
            await asyncio.sleep(0)
        assert tried == [None] and not pending.done()
        blocker.rollback()
        return await pending

    try:
        receipt = asyncio.run(send())
    finally:
        blocker.close()
    assert receipt.outcome is Outcome.ACCEPTED
    assert count(engine, outbox) == 1


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_failed_loop_batch_is_written_by_the_thread(inbox: SqlInbox, engine: Engine) -> None:
    """The loop's write fails (its connection broke): nothing of the batch is kept from it,
    the thread writes the messages again (one by one when the batch fails there too), and
    the loop opens a new connection next time."""
    import asyncio

    error = engine.dialect.loaded_dbapi.OperationalError
    real = inbox._accept
    failures = {"loop": 1}

    def failing(cursor: Any, msg: AcceptedMessage) -> Any:
        if threading.current_thread() is threading.main_thread() and failures["loop"]:
            failures["loop"] -= 1
            raise error("disk I/O error")
        if msg.message_id == "bad":  # an error of this message's data: the batch is split
            raise engine.dialect.loaded_dbapi.DataError("this one cannot be written")
        return real(cursor, msg)

    inbox._accept = failing  # type: ignore[method-assign,assignment]

    async def send(names: list[str]) -> list[Any]:
        return list(
            await asyncio.gather(*(inbox.submit(message(n)) for n in names), return_exceptions=True)
        )

    first = asyncio.run(send(["a", "bad", "b"]))
    assert [type(r).__name__ for r in first] == ["Receipt", "DataError", "Receipt"]
    assert inbox._loop_conn is None  # given up after the failure
    again = asyncio.run(send(["c"]))
    assert again[0].outcome is Outcome.ACCEPTED and inbox._loop_conn is not None
    assert sorted(m.message_id or "" for m in inbox.messages(MessageFilter(), 10, None)) == [
        "a",
        "b",
        "c",
    ]
    assert count(engine, outbox) == 3


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_loop_leaves_checkpoints_to_a_thread(
    inbox: SqlInbox, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint syncs the database file: the loop's connection never runs one itself;
    every CHECKPOINT_MESSAGES messages one runs on a worker thread."""
    import asyncio

    import pimhub.storage.inbound as storage

    monkeypatch.setattr(storage, "CHECKPOINT_MESSAGES", 3)
    ran: list[str] = []
    real = inbox._checkpoint

    def checkpoint() -> None:
        ran.append(threading.current_thread().name)
        real()

    inbox._checkpoint = checkpoint  # type: ignore[method-assign]

    async def send() -> int:
        for n in range(5):
            await inbox.submit(message(f"m{n}"))
        for _ in range(100):  # until the worker thread has run it
            if ran:
                break
            await asyncio.sleep(0.01)
        return int(inbox._loop_conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

    assert asyncio.run(send()) == 0
    assert len(ran) == 1 and ran[0] != threading.current_thread().name
    assert count(engine, outbox) == 5


def test_audit_ids_are_never_reused_after_pruning(inbox: SqlInbox, engine: Engine) -> None:
    """SQLite reuses the largest rowid after a delete unless AUTOINCREMENT: a refusal would
    then point at another message."""
    from sqlalchemy import delete

    first = inbox.reject(rejected())
    with engine.begin() as conn:
        conn.execute(delete(inbound_messages))
    assert inbox.reject(rejected()) > first
