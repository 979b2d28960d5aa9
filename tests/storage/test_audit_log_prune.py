"""The audit log's retention prune deletes in batches, each its own statement and
transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from pimhub.access.audit import AuditEntry
from pimhub.storage import audit_log as audit_log_module
from pimhub.storage.audit_log import SqlAuditLog
from pimhub.storage.tables import audit_log
from tests.conftest import empty_database

NOW = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)


@pytest.fixture
def log(engine: Engine) -> Iterator[SqlAuditLog]:
    empty_database(engine)
    yield SqlAuditLog(engine)


def entry(at: datetime, target: str) -> AuditEntry:
    return AuditEntry(
        id=0, at=at, actor="system", action="key.created", target_type="key", target=target
    )


def test_prune_deletes_old_entries_in_batches(
    log: SqlAuditLog, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(7):
        log.add(entry(NOW - timedelta(days=400, minutes=n), f"old-{n}"))
    for n in range(2):
        log.add(entry(NOW - timedelta(days=1), f"new-{n}"))
    monkeypatch.setattr(audit_log_module, "PRUNE_BATCH", 3)
    deletes: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert log.prune(NOW - timedelta(days=365)) == 7
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(deletes) == 3  # 3 + 3 + 1
    with engine.connect() as conn:
        left = sorted(conn.execute(select(audit_log.c.target)).scalars())
    assert left == ["new-0", "new-1"]
    assert log.prune(NOW - timedelta(days=365)) == 0
