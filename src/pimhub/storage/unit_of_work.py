"""The SQL unit of work: one connection, one transaction, all repositories on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import structlog
from sqlalchemy import Connection, Engine, RootTransaction

from pimhub.catalog.ports import SearchIndexWriter
from pimhub.storage.assets import SqlAssetRepository
from pimhub.storage.class_repository import SqlClassRepository
from pimhub.storage.engine import WRITE_OPTION, lost_race
from pimhub.storage.repositories import (
    SqlObjectRepository,
    SqlOutboxRepository,
    SqlVersionRepository,
)

log = structlog.get_logger("pimhub.storage")

# Makes the search index writer for a unit of work's connection.
IndexWriterFactory = Callable[[Connection], SearchIndexWriter]


class SqlUnitOfWork:
    """Use as a context manager; nothing is kept unless commit() is called inside it."""

    conn: Connection
    tx: RootTransaction
    classes: SqlClassRepository
    objects: SqlObjectRepository
    versions: SqlVersionRepository
    outbox: SqlOutboxRepository
    search: SearchIndexWriter
    assets: SqlAssetRepository

    def __init__(
        self,
        engine: Engine,
        index_writer: IndexWriterFactory,
        *,
        write: bool = False,
        bulk: bool = False,
        committed: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.engine = engine
        self.index_writer = index_writer
        self.write = write
        self.bulk = bulk
        self.committed = committed

    def __enter__(self) -> Self:
        self.conn = self.engine.connect()
        if self.write:
            self.conn.execution_options(**{WRITE_OPTION: True})
        self.tx = self.conn.begin()
        if self.bulk and self.conn.dialect.name == "postgresql":
            # A batch looks rows up by hundreds of keys at once. After a few runs PostgreSQL
            # would reuse a generic plan made while the table was still small (right after
            # the first rows of an import), comparing every row with every key: seconds per
            # batch by the time the table holds a million. Plans made for each run's values
            # see the table's real size.
            self.conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
        self.classes = SqlClassRepository(self.conn)
        self.objects = SqlObjectRepository(self.conn)
        self.versions = SqlVersionRepository(self.conn)
        self.outbox = SqlOutboxRepository(self.conn)
        self.search = self.index_writer(self.conn)
        self.assets = SqlAssetRepository(self.conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.tx.is_active:
                self.tx.rollback()
        finally:
            self.conn.close()
        if (conflict := lost_race(exc)) is not None:
            # The domain knows lost races only as WriteConflict, which its writes retry.
            raise conflict from exc

    def commit(self) -> None:
        self.tx.commit()
        for hook in self.committed:
            try:
                hook()
            except Exception:
                # The change is committed; a failing listener must not make it look failed.
                log.exception("unit_of_work.commit_hook_failed")


class SqlUnitOfWorkFactory:
    """Makes units of work; `committed` hooks run after every commit (an in-process webhook
    dispatcher uses one to start delivering at once instead of at its next poll)."""

    def __init__(self, engine: Engine, index_writer: IndexWriterFactory) -> None:
        self.engine = engine
        self.index_writer = index_writer
        self.committed: list[Callable[[], None]] = []

    def __call__(self, *, write: bool = False, bulk: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.engine, self.index_writer, write=write, bulk=bulk, committed=self.committed
        )
