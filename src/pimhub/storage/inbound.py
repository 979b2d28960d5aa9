"""The inbox: the audit of every request to /inbound/{source}, and accepted messages stored with
their outbox event in one transaction (batched: by the event loop itself on SQLite, else by a
writer thread). The source repository lives in storage.inbound_sources and is importable from
here too."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

import orjson
import structlog
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError

from pimhub.catalog.errors import Unavailable
from pimhub.catalog.ids import new_event_id
from pimhub.inbound.messages import (
    AcceptedMessage,
    InboundMessage,
    MessageFilter,
    Outcome,
    Receipt,
    RejectedMessage,
    Verification,
    inbound_event_payload,
    inbound_order_key,
)
from pimhub.storage.bulk import sqlite_time
from pimhub.storage.engine import begin_write, lost_race
from pimhub.storage.group_commit import GroupCommit, TickCommit
from pimhub.storage.inbound_sources import SqlSourceRepository
from pimhub.storage.tables import inbound_messages as m

log = structlog.get_logger("pimhub.inbound")

REMOTE_CHARS = 64  # inbound_messages.remote
LOOP_IDLE_SECONDS = 2.0
CHECKPOINT_MESSAGES = 256
REASON_CHARS = 2000


_MESSAGE_COLUMNS = (
    m.c.id, m.c.source, m.c.message_id, m.c.event_type, m.c.key, m.c.received_at,
    m.c.verification, m.c.outcome, m.c.problem, m.c.reason, m.c.payload_hash, m.c.size,
    m.c.remote, m.c.event_id, m.c.duplicate_of,
)  # fmt: skip


_ACCEPTED_COLUMNS = (
    "source", "message_id", "event_type", "key", "received_at", "verification", "outcome",
    "payload_hash", "size", "remote", "body", "event_id",
)  # fmt: skip
_DUPLICATE_COLUMNS = (
    "source", "message_id", "event_type", "key", "received_at", "verification", "outcome",
    "payload_hash", "size", "remote", "event_id", "duplicate_of",
)  # fmt: skip
_OUTBOX_COLUMNS = (
    "event_id", "event_type", "class_name", "business_key", "version", "changed_fields",
    "payload", "created_at", "order_key",
)  # fmt: skip


class _Statements:
    """The receive path's statements as driver SQL, written once per dialect: SQLAlchemy's
    statement building and cache-key work cost more than the inserts themselves on the
    hottest write of the hub."""

    def __init__(self, sqlite: bool) -> None:
        mark = "?" if sqlite else "%s"
        json = "?" if sqlite else "CAST(%s AS jsonb)"

        def marks(columns: tuple[str, ...], json_columns: tuple[str, ...] = ()) -> str:
            return ", ".join(json if c in json_columns else mark for c in columns)

        self.time: Callable[[datetime], Any] = sqlite_time if sqlite else _aware
        # The partial unique index (source, message_id) WHERE outcome = 'accepted' decides:
        # a message id the source accepted before inserts nothing, whatever runs in parallel.
        self.accept = (
            f"INSERT INTO inbound_messages ({', '.join(_ACCEPTED_COLUMNS)}) "
            f"VALUES ({marks(_ACCEPTED_COLUMNS)}) "
            "ON CONFLICT (source, message_id) WHERE outcome = 'accepted' DO NOTHING RETURNING id"
        )
        self.original = (
            "SELECT id, event_id FROM inbound_messages "
            f"WHERE source = {mark} AND message_id = {mark} AND outcome = 'accepted'"
        )
        self.duplicate = (
            f"INSERT INTO inbound_messages ({', '.join(_DUPLICATE_COLUMNS)}) "
            f"VALUES ({marks(_DUPLICATE_COLUMNS)}) RETURNING id"
        )
        self.event = (
            f"INSERT INTO outbox ({', '.join(_OUTBOX_COLUMNS)}) "
            f"VALUES ({marks(_OUTBOX_COLUMNS, ('changed_fields', 'payload'))})"
        )


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value


# How long a sender's request waits for its message's commit before a 503: a writer that
# hangs (a database that stopped answering) must not hold senders' connections for ever.
WRITE_WAIT_SECONDS = 30.0


class InboxUnavailable(Unavailable):
    """The inbox could not store the message now (the database is away or failing, the
    writer stopped, or the commit took too long): 503 with Retry-After, so that the sender
    keeps the message and sends it again; nothing or a duplicate-safe copy was stored."""

    retry_after = 2


def _unavailable(error: BaseException) -> InboxUnavailable:
    failure = InboxUnavailable(
        f"the message could not be stored now ({type(error).__name__}); send it again later"
    )
    failure.__cause__ = error
    return failure


def _unavailable_or_self(error: BaseException) -> BaseException:
    """A lost race as WriteConflict (retried), an error of one message's data as itself,
    anything else (connection lost, disk full, locked too long) as InboxUnavailable."""
    if (conflict := lost_race(error)) is not None:
        return conflict
    if isinstance(error, DataError | IntegrityError | ProgrammingError):
        return error
    return _unavailable(error)


def _splits(error: Exception) -> bool:
    """Whether a failed batch is worth writing again message by message: only for an error
    that may be one message's; an unavailable database fails each one the same way."""
    return not isinstance(error, Unavailable)


class SqlInbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        sqlite = engine.dialect.name == "sqlite"
        self._sql = _Statements(sqlite)
        # SQLite has one writer at a time: threads of this process queue here, where the
        # next one runs as soon as the last commits, instead of in SQLite's busy handler,
        # which polls with sleeps of up to 100 ms. PostgreSQL takes writers in parallel.
        self._lock = threading.Lock()
        self._writing: AbstractContextManager[Any] = self._lock if sqlite else nullcontext()
        # Messages that arrive while one commits share the next transaction (each sender
        # is still answered only after its own commit): senders post in bursts, and the
        # commit is most of a message's cost.
        self._sqlite = sqlite
        self._writer = threading.local()  # the writer thread's own connection
        self._group = GroupCommit(
            self._writer_batch,
            self.accept_alone,
            name="inbox-writer",
            on_exit=self._close_writer_connection,
            splits=_splits,
            writer_died=_unavailable,
        )
        # On SQLite the event loop writes its own messages when the lock is free at once
        # (TickCommit); PostgreSQL's commit is a round trip, which only a thread may wait for.
        self._ticks = TickCommit(self._loop_batch, self._group) if sqlite else None
        self._loop_conn: Any = None  # the loop's own connection (SQLite), kept while in use
        self._loop_used = 0.0
        self._loop_timer: asyncio.TimerHandle | None = None
        self._unchecked = 0  # messages the loop committed since its last checkpoint
        self._checkpointing = False

    def accept(self, message: AcceptedMessage) -> Receipt:
        try:
            return self._group.submit(message).result(timeout=WRITE_WAIT_SECONDS)
        except concurrent.futures.TimeoutError as exc:
            raise _unavailable(exc) from None

    def submit(self, message: AcceptedMessage) -> asyncio.Future[Receipt]:
        """accept for the running event loop, without a thread of its own: the receipt comes
        on the future once committed."""
        if self._ticks is not None:
            return self._ticks.submit(message)
        return self._group.submit_async(message)

    def accept_alone(self, message: AcceptedMessage) -> Receipt:
        """accept in a transaction of its own."""
        return self._accept_batch([message])[0]

    def _accept_batch(self, messages: Sequence[AcceptedMessage]) -> list[Receipt]:
        # begin_write turns a lost race (deadlock, serialization failure) into WriteConflict,
        # which the service retries as a whole. A duplicate of a message earlier in the same
        # batch finds it like any other: the transaction sees its own rows.
        try:
            with self._writing, begin_write(self.engine) as conn:
                driver = conn.connection.driver_connection
                assert driver is not None
                cursor = driver.cursor()
                try:
                    return [self._accept(cursor, message) for message in messages]
                except conn.dialect.loaded_dbapi.Error as exc:
                    # As SQLAlchemy raises for its own statements, so begin_write can tell a
                    # lost race from a real failure.
                    raise DBAPIError.instance(
                        self._sql.accept, None, exc, conn.dialect.loaded_dbapi.Error
                    ) from exc
                finally:
                    cursor.close()
        except DBAPIError as exc:
            raise _unavailable_or_self(exc) from exc

    def _writer_batch(self, messages: Sequence[AcceptedMessage]) -> list[Receipt]:
        """_accept_batch on the writer thread's own connection, kept while it runs: a pool
        checkout and SQLAlchemy's transaction per batch cost as much as a batch's inserts."""
        raw = getattr(self._writer, "conn", None)
        if raw is None:
            try:
                raw = self._writer.conn = self.engine.raw_connection()
            except DBAPIError as exc:
                raise _unavailable_or_self(exc) from exc
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        with self._writing:
            cursor = raw.cursor()
            try:
                if self._sqlite:
                    cursor.execute("BEGIN IMMEDIATE")  # take the write lock up front
                receipts = [self._accept(cursor, message) for message in messages]
                raw.commit()
                return receipts
            except BaseException as exc:
                self._drop_writer_connection(raw)
                if isinstance(exc, dbapi_error):
                    wrapped = DBAPIError.instance(self._sql.accept, None, exc, dbapi_error)
                    raise _unavailable_or_self(wrapped) from exc
                raise
            finally:
                with contextlib.suppress(Exception):
                    cursor.close()

    def _loop_batch(self, messages: Sequence[AcceptedMessage]) -> list[Receipt] | None:
        """The batch written by the event loop (SQLite), or None without writing when the
        write lock is taken: by this process's writer (the lock here) or any other connection
        (BEGIN IMMEDIATE fails at once: this connection waits for nobody). A commit in WAL
        mode with synchronous=NORMAL hands the pages to the OS without an fsync; the
        checkpoints, which sync, run on a worker thread."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            raw = self._loop_conn
            if raw is None:
                raw = self._loop_conn = self._open_loop_connection()
            self._loop_used = time.monotonic()
            cursor = raw.cursor()
            try:
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError:
                    return None  # busy: another connection writes; the thread waits for it
                try:
                    receipts = [self._accept(cursor, message) for message in messages]
                    raw.commit()
                    self._checkpoint_now_and_then(len(messages))
                except BaseException:
                    self._loop_conn = None
                    with contextlib.suppress(Exception):
                        raw.rollback()
                    with contextlib.suppress(Exception):
                        raw.close()
                    raise
                return receipts
            finally:
                with contextlib.suppress(Exception):
                    cursor.close()
        finally:
            self._lock.release()

    def _open_loop_connection(self) -> Any:
        # Out of the pool for good (it never waits for the lock, unlike the pool's), with the
        # engine's pragmas; closed after LOOP_IDLE_SECONDS unused.
        pooled = self.engine.raw_connection()
        raw = pooled.driver_connection
        assert raw is not None
        pooled.detach()
        raw.execute("PRAGMA busy_timeout=0")
        raw.execute("PRAGMA wal_autocheckpoint=0")  # see _checkpoint_now_and_then
        if self._loop_timer is not None:
            self._loop_timer.cancel()
        self._loop_timer = asyncio.get_running_loop().call_later(
            LOOP_IDLE_SECONDS, self._close_idle_loop_connection
        )
        return raw

    def _checkpoint_now_and_then(self, written: int) -> None:
        """Checkpoints the WAL on a worker thread every CHECKPOINT_MESSAGES messages: the
        loop's connection never does (a checkpoint syncs the database file to disk, which
        the loop must not wait for)."""
        self._unchecked += written
        if self._unchecked < CHECKPOINT_MESSAGES or self._checkpointing:
            return
        self._unchecked, self._checkpointing = 0, True
        asyncio.get_running_loop().run_in_executor(None, self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            # PASSIVE: as far as readers allow, waiting for nobody; writers carry on.
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:
            log.warning("inbox.checkpoint_failed", exc_info=True)
        finally:
            self._checkpointing = False

    def _close_idle_loop_connection(self) -> None:
        idle = time.monotonic() - self._loop_used
        if idle >= LOOP_IDLE_SECONDS and self._lock.acquire(blocking=False):
            try:
                raw, self._loop_conn, self._loop_timer = self._loop_conn, None, None
                if raw is not None:
                    with contextlib.suppress(Exception):
                        raw.close()
                return
            finally:
                self._lock.release()
        wait = max(LOOP_IDLE_SECONDS - idle, 0.1)
        loop = asyncio.get_running_loop()
        self._loop_timer = loop.call_later(wait, self._close_idle_loop_connection)

    def _drop_writer_connection(self, raw: Any) -> None:
        # After a failure the connection may be broken or mid-transaction: roll back and
        # give it up; the next batch takes a fresh one (checked by the pool's pre-ping).
        self._writer.conn = None
        with contextlib.suppress(Exception):
            raw.rollback()
        with contextlib.suppress(Exception):
            raw.invalidate()

    def _close_writer_connection(self) -> None:
        raw = getattr(self._writer, "conn", None)
        self._writer.conn = None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.close()

    def _accept(self, cursor: Any, message: AcceptedMessage) -> Receipt:
        # The driver's cursor itself: the statements are fixed, and SQLAlchemy's execution
        # context costs more than the inserts on the hub's hottest write.
        sql = self._sql
        event_id = new_event_id()
        received = sql.time(message.received_at)
        remote = _remote(message.remote)
        cursor.execute(
            sql.accept,
            (
                message.source, message.message_id, message.event_type, message.key, received,
                Verification.PASSED.value, Outcome.ACCEPTED.value, message.payload_hash,
                message.size, remote, message.body, event_id,
            ),
        )  # fmt: skip
        inserted = cursor.fetchone()
        if inserted is not None:
            cursor.execute(
                sql.event,
                (
                    event_id, message.event_type, message.source, message.key, 0, "[]",
                    orjson.dumps(inbound_event_payload(message)).decode(), received,
                    inbound_order_key(message.source, message.key, event_id),
                ),
            )  # fmt: skip
            return Receipt(Outcome.ACCEPTED, int(inserted[0]), event_id)
        cursor.execute(sql.original, (message.source, message.message_id))
        original_id, original_event = cursor.fetchone()
        cursor.execute(
            sql.duplicate,
            (
                message.source, message.message_id, message.event_type, message.key, received,
                Verification.PASSED.value, Outcome.DUPLICATE.value, message.payload_hash,
                message.size, remote, original_event, original_id,
            ),
        )  # fmt: skip
        duplicate = cursor.fetchone()[0]
        return Receipt(Outcome.DUPLICATE, int(duplicate), original_event, int(original_id))

    def reject(self, message: RejectedMessage) -> int:
        with self._writing, begin_write(self.engine) as conn:
            return int(
                conn.execute(
                    insert(m)
                    .values(
                        source=message.source,
                        message_id=message.message_id,
                        event_type=message.event_type,
                        key=message.key,
                        received_at=message.received_at,
                        verification=message.verification.value,
                        outcome=Outcome.REJECTED.value,
                        problem=message.problem[:40],
                        reason=message.reason[:REASON_CHARS],
                        payload_hash=message.payload_hash,
                        size=message.size,
                        remote=_remote(message.remote),
                    )
                    .returning(m.c.id)
                ).scalar_one()
            )

    def messages(
        self, where: MessageFilter, limit: int, before_id: int | None
    ) -> list[InboundMessage]:
        query = select(*_MESSAGE_COLUMNS).order_by(m.c.id.desc()).limit(limit)
        conditions = [
            (where.source, m.c.source),
            (where.event_type, m.c.event_type),
            (where.key, m.c.key),
            (where.outcome.value if where.outcome else None, m.c.outcome),
        ]
        for value, column in conditions:
            if value is not None:
                query = query.where(column == value)
        if where.since is not None:
            query = query.where(m.c.received_at >= where.since)
        if where.until is not None:
            query = query.where(m.c.received_at < where.until)
        if before_id is not None:
            query = query.where(m.c.id < before_id)
        with self.engine.connect() as conn:
            return [_message(r) for r in conn.execute(query)]

    def message(self, message_id: int) -> InboundMessage | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_MESSAGE_COLUMNS).where(m.c.id == message_id)).first()
        return _message(row) if row else None

    def body(self, message_id: int) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(m.c.body).where(m.c.id == message_id)).scalar()

    def counts(self, since: datetime) -> dict[tuple[str, str], int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(m.c.source, m.c.outcome, func.count())
                .where(m.c.received_at >= since)
                .group_by(m.c.source, m.c.outcome)
            ).all()
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def prune(self, before: datetime, keep_accepted_after: datetime) -> int:
        with begin_write(self.engine) as conn:
            done = conn.execute(
                delete(m).where(
                    m.c.received_at < before,
                    (m.c.outcome != Outcome.ACCEPTED.value)
                    | (m.c.received_at < keep_accepted_after),
                )
            )
        return int(done.rowcount)


def _remote(remote: str | None) -> str | None:
    return remote[:REMOTE_CHARS] if remote else None


def _message(row: Any) -> InboundMessage:
    return InboundMessage(
        id=row.id,
        source=row.source,
        message_id=row.message_id,
        event_type=row.event_type,
        key=row.key,
        received_at=row.received_at,
        verification=Verification(row.verification),
        outcome=Outcome(row.outcome),
        problem=row.problem,
        reason=row.reason,
        payload_hash=row.payload_hash,
        size=row.size,
        remote=row.remote,
        event_id=row.event_id,
        duplicate_of=row.duplicate_of,
    )


__all__ = ["SqlInbox", "SqlSourceRepository"]
