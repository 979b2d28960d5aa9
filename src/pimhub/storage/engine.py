"""Engine construction: SQLite in WAL mode with explicit write locks, or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from pimhub.catalog.errors import WriteConflict

WRITE_OPTION = "pimhub_write"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def build_engine(url: str | URL, *, echo: bool = False, **kwargs: Any) -> Engine:
    """Create the engine for `url`; a SQLite file's folder is created if missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo, **kwargs)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    engine = create_engine(
        parsed, echo=echo, json_serializer=_json_dumps, json_deserializer=orjson.loads, **kwargs
    )
    # Every new connection, however it is asked for (a Session, engine.connect(), the raw
    # connections of the point reads), is opened by the dialect's connect.
    engine.dialect.connect = _refusing(engine.dialect.connect)  # type: ignore[method-assign]
    return engine


class ConnectionRefused(PoolTimeout):
    """PostgreSQL refused a new connection (too many clients, starting up or shutting down,
    unreachable). For a request this is what a pool wait timeout is, no connection now, so
    it is one (a PoolTimeout): every place that answers that 503 with Retry-After answers
    this one too."""


def _refusing(connect: Callable[..., Any]) -> Callable[..., Any]:
    def connect_or_refuse(*args: Any, **kwargs: Any) -> Any:
        # Only opening a connection: a statement's OperationalError (a lock or statement
        # timeout) is raised on a connection already open, and stays what it is.
        try:
            return connect(*args, **kwargs)
        except psycopg.OperationalError as exc:
            # The driver's own words (the CLI prints them: "connection refused", "too many
            # clients"); HTTP answers say no more than that no connection is free now.
            said = (str(exc).splitlines() or [exc.__class__.__name__])[0]
            raise ConnectionRefused(f"the database refused a connection: {said}") from exc

    return connect_or_refuse


def _sqlite_engine(url: URL, *, echo: bool, **kwargs: Any) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        # An in-memory database lives in one connection per thread (SingletonThreadPool),
        # which has no overflow and no checkout timeout.
        for option in ("max_overflow", "pool_timeout"):
            kwargs.pop(option, None)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", 30)
    engine = create_engine(
        url,
        echo=echo,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args=connect_args,
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event emit BEGIN itself (see below) instead of pysqlite's
        # implicit transactions, which cannot take the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock when they start: a deferred transaction that later upgrades
        # to a writer fails with SQLITE_BUSY instead of waiting.
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


# SQLSTATEs of a transaction that lost a race with another one and may simply run again:
# deadlock_detected, serialization_failure, unique_violation (two inserts of one key),
# lock_not_available.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "23505", "55P03"})


def sqlstate(error: DBAPIError) -> str | None:
    """The SQLSTATE of a database error (psycopg's), or None (SQLite has none)."""
    code = getattr(error.orig, "sqlstate", None)
    return code if isinstance(code, str) else None


# SQLite's name for the same lost race: an insert of a key another writer inserted first
# after this one checked outside its write transaction.
RETRYABLE_SQLITE_ERRORS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def _retryable(error: DBAPIError) -> bool:
    code = sqlstate(error)
    if code is not None:
        return code in RETRYABLE_SQLSTATES
    return getattr(error.orig, "sqlite_errorname", None) in RETRYABLE_SQLITE_ERRORS


def lost_race(error: BaseException | None) -> WriteConflict | None:
    """The WriteConflict that stands for `error` when it is a lost race, else None."""
    if isinstance(error, DBAPIError) and _retryable(error):
        conflict = WriteConflict(
            "another write to the same rows got in the way; nothing was saved, try again"
        )
        conflict.__cause__ = error
        return conflict
    return None


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction (on SQLite: BEGIN IMMEDIATE), committed on exit.
    A lost race (deadlock, duplicate insert) leaves it as a retryable WriteConflict."""
    try:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn
    except DBAPIError as exc:
        if (conflict := lost_race(exc)) is not None:
            raise conflict from exc
        raise
