"""Audit log rows (access.audit); each call is its own short transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, delete, insert, select

from pimhub.access.audit import AuditEntry, AuditQuery
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import audit_log

PRUNE_BATCH = 5000  # entries deleted per statement and transaction


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target_type=row.target_type,
        target=row.target,
        before=row.before,
        after=row.after,
    )


class SqlAuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, entry: AuditEntry) -> int:
        with begin_write(self.engine) as conn:
            result = conn.execute(
                insert(audit_log)
                .values(
                    at=entry.at,
                    actor=entry.actor[:200],
                    action=entry.action[:64],
                    target_type=entry.target_type[:40],
                    target=entry.target[:200],
                    before=entry.before,
                    after=entry.after,
                )
                .returning(audit_log.c.id)
            )
            return int(result.scalar_one())

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        statement = select(audit_log).order_by(audit_log.c.id.desc()).limit(query.limit)
        for column, value in (
            (audit_log.c.target_type, query.target_type),
            (audit_log.c.target, query.target),
            (audit_log.c.actor, query.actor),
            (audit_log.c.action, query.action),
        ):
            if value is not None:
                statement = statement.where(column == value)
        if query.since is not None:
            statement = statement.where(audit_log.c.at >= query.since)
        if query.before_id is not None:
            statement = statement.where(audit_log.c.id < query.before_id)
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(statement)]

    def prune(self, older_than: datetime) -> int:
        """Deletes the entries older than `older_than`, PRUNE_BATCH per transaction: a year
        of entries deleted at once would hold SQLite's one writer lock (and bloat one
        PostgreSQL transaction) for as long as that takes."""
        old = select(audit_log.c.id).where(audit_log.c.at < older_than)
        pruned = 0
        while True:
            with begin_write(self.engine) as conn:
                ids = old.order_by(audit_log.c.id).limit(PRUNE_BATCH).scalar_subquery()
                done = conn.execute(delete(audit_log).where(audit_log.c.id.in_(ids))).rowcount
            pruned += done
            if done < PRUNE_BATCH:
                return pruned
