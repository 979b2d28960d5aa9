"""The SQL unit of work: one connection, one transaction, all repositories on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import structlog
from sqlalchemy import Connection, Engine, RootTransaction

from pimhub.storage.engine import WRITE_OPTION
from pimhub.storage.repositories import (
    SqlClassRepository,
    SqlObjectRepository,
    SqlOutboxRepository,
    SqlVersionRepository,
)

log = structlog.get_logger("pimhub.storage")


class SqlUnitOfWork:
    """Use as a context manager; nothing is kept unless commit() is called inside it."""

    conn: Connection
    tx: RootTransaction
    classes: SqlClassRepository
    objects: SqlObjectRepository
    versions: SqlVersionRepository
    outbox: SqlOutboxRepository

    def __init__(
        self,
        engine: Engine,
        *,
        write: bool = False,
        committed: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.engine = engine
        self.write = write
        self.committed = committed

    def __enter__(self) -> Self:
        self.conn = self.engine.connect()
        if self.write:
            self.conn.execution_options(**{WRITE_OPTION: True})
        self.tx = self.conn.begin()
        self.classes = SqlClassRepository(self.conn)
        self.objects = SqlObjectRepository(self.conn)
        self.versions = SqlVersionRepository(self.conn)
        self.outbox = SqlOutboxRepository(self.conn)
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

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.committed: list[Callable[[], None]] = []

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write, committed=self.committed)
