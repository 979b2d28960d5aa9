"""The inbox's writer when things go wrong: a writer thread that dies, a database that fails,
write conflicts that outlast the retries. A sender is answered (503 with Retry-After, which
keeps the message at the sender) and never left waiting; the next message is stored."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import WriteConflict
from pimhub.storage import group_commit
from pimhub.storage.group_commit import GroupCommit, WriterDied
from pimhub.storage.inbound import InboxUnavailable, SqlInbox
from tests.api.test_inbound_route import BODY, audited, problem_of, signed
from tests.inbound.test_inbox_storage import message

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


def _settle_fails_once(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Makes the writer thread's next settle raise (an error escaping its loop)."""
    real = group_commit._settle
    failed = threading.Event()

    def settle(outcomes: list[tuple[Any, Any]]) -> None:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("the writer thread breaks")
        real(outcomes)

    monkeypatch.setattr(group_commit, "_settle", settle)
    return failed


def test_a_dead_writer_fails_its_writes_and_the_next_one_restarts_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()

    def run_batch(items: Sequence[int]) -> list[int]:
        release.wait(5)
        return [i * 2 for i in items]

    group: GroupCommit[int, int] = GroupCommit(run_batch, lambda i: i * 2, linger_seconds=0)
    failed = _settle_fails_once(monkeypatch)
    first = group.submit(1)  # the thread holds it in run_batch
    queued: list[Future[int]] = [group.submit(n) for n in (2, 3)]
    release.set()
    with pytest.raises(WriterDied):
        first.result(timeout=10)
    assert failed.is_set()
    for future in queued:  # queued or in the same batch: failed, not left waiting
        with pytest.raises(WriterDied):
            future.result(timeout=10)
    assert group.submit(4).result(timeout=10) == 8  # a new thread


def test_a_batch_is_split_only_for_errors_of_one_item() -> None:
    alone: list[int] = []
    blocker = threading.Event()

    def run_batch(items: Sequence[int]) -> list[int]:
        blocker.wait(5)
        raise ConnectionError("database away")

    def run_one(item: int) -> int:
        alone.append(item)
        return item

    group: GroupCommit[int, int] = GroupCommit(
        run_batch,
        run_one,
        linger_seconds=0,
        splits=lambda exc: not isinstance(exc, ConnectionError),
    )
    futures = [group.submit(n) for n in range(4)]
    blocker.set()
    for future in futures:
        with pytest.raises(ConnectionError):
            future.result(timeout=10)
    assert alone == []


def test_inbox_writer_killed_mid_run_then_a_message_is_stored(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import empty_database

    empty_database(engine)
    inbox = SqlInbox(engine)
    _settle_fails_once(monkeypatch)
    with pytest.raises(InboxUnavailable):
        inbox.accept(message("m-1"))
    # Committed before the thread broke: the retry is answered as a duplicate of it.
    again = inbox.accept(message("m-1"))
    assert again.duplicate_of is not None
    assert inbox.accept(message("m-2")).duplicate_of is None


@pytest.fixture
def api(bare_hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(bare_hub)) as client:
        yield client


@pytest.fixture
def secret(bare_hub: Hub) -> str:
    _, plain = bare_hub.inbound.add_source({"name": "shop", "scheme": "standard-webhooks"})
    assert plain is not None
    return plain


def _sql_inbox(hub: Hub) -> SqlInbox:
    """The hub's SqlInbox (the app wraps it to count messages)."""
    inbox = hub.inbound.inbox
    inbox = getattr(inbox, "inner", inbox)
    assert isinstance(inbox, SqlInbox)
    return inbox


def _thread_only(inbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite the loop writes when the lock is free: send everything to the thread."""
    if inbox._ticks is not None:
        monkeypatch.setattr(inbox._ticks, "try_batch", lambda messages: None)


def test_route_answers_after_the_writer_died(
    api: TestClient, bare_hub: Hub, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _thread_only(_sql_inbox(bare_hub), monkeypatch)
    _settle_fails_once(monkeypatch)
    first = api.post("/inbound/shop", content=BODY, headers=signed(secret, BODY, "m-1"))
    problem_of(first, 503, "service-unavailable")
    assert int(first.headers["retry-after"]) > 0
    second = api.post("/inbound/shop", content=BODY, headers=signed(secret, BODY, "m-2"))
    assert second.status_code == 202, second.text


def test_database_errors_answer_503_with_retry_after(
    api: TestClient, bare_hub: Hub, secret: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = _sql_inbox(bare_hub)
    operational = engine.dialect.loaded_dbapi.OperationalError

    def broken(cursor: Any, msg: Any) -> Any:
        raise operational("could not write: the server went away")

    monkeypatch.setattr(inbox, "_accept", broken)
    calls: list[int] = []
    real_one = inbox._group.run_one

    def run_one(item: Any) -> Any:
        calls.append(1)
        return real_one(item)

    monkeypatch.setattr(inbox._group, "run_one", run_one)
    for n in range(3):
        answer = api.post("/inbound/shop", content=BODY, headers=signed(secret, BODY, f"m-{n}"))
        problem = problem_of(answer, 503, "service-unavailable")
        assert "send it again" in problem["detail"]
        assert int(answer.headers["retry-after"]) > 0
    assert calls == []  # a connection error is not retried message by message
    monkeypatch.undo()
    answer = api.post("/inbound/shop", content=BODY, headers=signed(secret, BODY, "m-0"))
    assert answer.status_code == 202
    assert [row.outcome for row in audited(bare_hub)] == ["accepted"]


def test_write_conflicts_left_after_retries_answer_503(
    api: TestClient, bare_hub: Hub, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = bare_hub.inbound.inbox

    def conflict(*args: Any) -> Any:
        raise WriteConflict("another write to the same rows got in the way")

    async def conflict_async(*args: Any) -> Any:
        raise WriteConflict("another write to the same rows got in the way")

    monkeypatch.setattr(inbox, "accept", conflict)
    monkeypatch.setattr(inbox, "submit", conflict_async)
    monkeypatch.setattr("pimhub.inbound.service.RETRY_PAUSE_SECONDS", 0.001)
    monkeypatch.setattr("pimhub.catalog.retry.RETRY_PAUSE_SECONDS", 0.001, raising=False)
    small = api.post("/inbound/shop", content=BODY, headers=signed(secret, BODY, "m-1"))
    problem_of(small, 503, "service-unavailable")
    assert int(small.headers["retry-after"]) > 0
    # The thread path (a large body) too.
    big = b'{"type":"order.placed","data":{"pad":"' + b"x" * 70_000 + b'"}}'
    answer = api.post("/inbound/shop", content=big, headers=signed(secret, big, "m-2"))
    problem_of(answer, 503, "service-unavailable")
