"""The ledger of a connector's asynchronous bulk operations, one row per operation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from pimhub.catalog.retry import retrying
from pimhub.connectors.ledger import LedgerEntry, NewOperation, OpenBulk
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import connector_bulk_operations as t

CHUNK = 500
OPEN = ("submitting", "open", "retrying")


class SqlBulkLedger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, connector: str, operations: Sequence[NewOperation], now: datetime) -> list[int]:
        """Rows for operations about to be submitted (status 'submitting'), so that a crash
        between the request and its answer leaves a trace to resume from."""
        # A token of ours stands in for Magento's bulk uuid until the answer comes, and finds
        # the new rows again after one executemany.
        token = "pending-" + uuid.uuid4().hex
        rows = [
            {
                "connector": connector,
                "bulk_uuid": token,
                "request_index": i,
                "sku": op.sku,
                "store": op.store,
                "payload_hash": op.payload_hash,
                "payload": op.payload,
                "status": "submitting",
                "attempts": op.attempts,
                "submitted_at": now,
            }
            for i, op in enumerate(operations)
        ]

        def work() -> list[int]:
            with begin_write(self.engine) as conn:
                conn.execute(insert(t), rows)
                found = conn.execute(
                    select(t.c.id).where(t.c.bulk_uuid == token).order_by(t.c.request_index)
                )
                return [r.id for r in found]

        return retrying(work)

    def submitted(
        self,
        ids: Sequence[int],
        bulk_uuid: str,
        outcomes: Sequence[tuple[str, str | None]],
        now: datetime,
        next_check: datetime,
    ) -> None:
        """Magento's answer to a bulk request: per operation 'open' (accepted) or 'rejected'
        with its message."""

        def work() -> None:
            with begin_write(self.engine) as conn:
                for ident, (status, message) in zip(ids, outcomes, strict=True):
                    conn.execute(
                        update(t)
                        .where(t.c.id == ident)
                        .values(
                            bulk_uuid=bulk_uuid,
                            status=status,
                            message=message,
                            checked_at=now,
                            next_check_at=next_check,
                        )
                    )

        retrying(work)

    def settle(self, changes: Sequence[tuple[int, str, str | None]], now: datetime) -> None:
        """(id, status, message) for operations whose outcome is known now."""

        def work() -> None:
            with begin_write(self.engine) as conn:
                for ident, status, message in changes:
                    conn.execute(
                        update(t)
                        .where(t.c.id == ident)
                        .values(status=status, message=message, checked_at=now)
                    )

        if changes:
            retrying(work)

    def postpone(self, ids: Sequence[int], now: datetime, next_check: datetime) -> None:
        def work() -> None:
            with begin_write(self.engine) as conn:
                for start in range(0, len(ids), CHUNK):
                    conn.execute(
                        update(t)
                        .where(t.c.id.in_(list(ids[start : start + CHUNK])))
                        .values(checked_at=now, next_check_at=next_check)
                    )

        if ids:
            retrying(work)

    def open_bulks(self, connector: str) -> list[OpenBulk]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.bulk_uuid, func.count(), func.min(t.c.submitted_at))
                .where(t.c.connector == connector, t.c.status == "open")
                .group_by(t.c.bulk_uuid)
                .order_by(func.min(t.c.id))
            ).all()
        return [OpenBulk(uuid, count, _utc(oldest)) for uuid, count, oldest in rows]

    def operations(self, bulk_uuid: str) -> list[LedgerEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t).where(t.c.bulk_uuid == bulk_uuid).order_by(t.c.request_index)
            ).all()
        return [_entry(r) for r in rows]

    def unsent(self, connector: str) -> list[LedgerEntry]:
        """Operations written down but never answered for (a crash mid-request)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t).where(t.c.connector == connector, t.c.status == "submitting")
            ).all()
        return [_entry(r) for r in rows]

    def pending_hashes(self, connector: str, skus: Sequence[str]) -> dict[tuple[str, str], str]:
        """(sku, store) -> payload hash of operations still open: what a resumed sync must not
        send again. Completed ones are in the connector's sent sections, which forget them
        when the hub has reason to (a disable, a reconcile fix)."""
        found: dict[tuple[str, str], str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(skus), CHUNK):
                rows = conn.execute(
                    select(t.c.sku, t.c.store, t.c.payload_hash).where(
                        t.c.connector == connector,
                        t.c.sku.in_(list(skus[start : start + CHUNK])),
                        t.c.status.in_(OPEN),
                    )
                ).all()
                found.update(((r.sku, r.store), r.payload_hash) for r in rows)
        return found

    def failed_skus(self, connector: str, skus: Sequence[str]) -> dict[str, str]:
        """SKUs whose latest operation was rejected or failed, with Magento's message."""
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(skus), CHUNK):
                rows = conn.execute(
                    select(t.c.sku, t.c.status, t.c.message)
                    .where(
                        t.c.connector == connector,
                        t.c.sku.in_(list(skus[start : start + CHUNK])),
                    )
                    .order_by(t.c.id)
                ).all()
                for r in rows:
                    if r.status in ("rejected", "failed"):
                        found[r.sku] = r.message or r.status
                    else:
                        found.pop(r.sku, None)
        return found

    def open_skus(self, connector: str, skus: Sequence[str]) -> set[str]:
        """SKUs with an operation Magento has not finished: a write for them now could be
        overtaken by the older bulk operation."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(skus), CHUNK):
                rows = conn.execute(
                    select(t.c.sku).where(
                        t.c.connector == connector,
                        t.c.sku.in_(list(skus[start : start + CHUNK])),
                        t.c.status.in_(OPEN),
                    )
                ).all()
                found.update(r.sku for r in rows)
        return found

    def forget(self, connector: str) -> None:
        """Every entry of a removed connector (a new one of the same name starts afresh)."""

        def work() -> None:
            with begin_write(self.engine) as conn:
                conn.execute(delete(t).where(t.c.connector == connector))

        retrying(work)

    def counts(self, connector: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.status, func.count())
                .where(t.c.connector == connector)
                .group_by(t.c.status)
            ).all()
        return {status: count for status, count in rows}

    def page(
        self, connector: str, *, status: str | None, after: int | None, limit: int
    ) -> list[LedgerEntry]:
        query = select(t).where(t.c.connector == connector)
        if status:
            query = query.where(t.c.status == status)
        if after:
            query = query.where(t.c.id > after)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.c.id).limit(limit)).all()
        return [_entry(r) for r in rows]


def _utc(value: Any) -> datetime:
    """An aggregate of a UtcDateTime column comes back as the driver gives it (naive text or
    a naive datetime on SQLite)."""
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        bulk_uuid=row.bulk_uuid,
        request_index=row.request_index,
        sku=row.sku,
        store=row.store,
        payload_hash=row.payload_hash,
        payload=row.payload,
        status=row.status,
        message=row.message,
        attempts=row.attempts,
        submitted_at=row.submitted_at,
        checked_at=row.checked_at,
    )
