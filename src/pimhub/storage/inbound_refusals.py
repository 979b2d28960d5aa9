"""Refused items of inbound feeds (inbound_refusals): inbound.ports.RefusalStore. Each call is
its own short transaction."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from pimhub.catalog.errors import FieldError
from pimhub.catalog.retry import retrying
from pimhub.catalog.validation import spell_nul, without_nul
from pimhub.inbound.ports import Refusal
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import inbound_messages as messages
from pimhub.storage.tables import inbound_refusals as refusals
from pimhub.storage.tables import object_versions as versions

KEY_CHARS = 255  # inbound_refusals.key
CHUNK = 500  # rows per upsert, ids per UPDATE ... WHERE id IN (...)


def _refusal(row: Any) -> Refusal:
    return Refusal(
        id=row.id,
        source=row.source,
        message=row.message,
        event_id=row.event_id,
        item_index=row.item_index,
        key=row.key,
        errors=tuple(
            FieldError(str(e.get("field", "")), str(e.get("message", "")), str(e.get("code", "")))
            for e in row.errors
            if isinstance(e, dict)
        ),
        item=row.item[0],
        created_at=row.created_at,
        resolved_at=row.resolved_at,
    )


def _stored(refusal: Refusal) -> dict[str, Any]:
    """The columns that a refusal of an item sets (again, when a retry refuses it anew). Texts
    are spelled without NUL: the inbound route refuses NUL characters, but a message may
    quote whatever a step read, and PostgreSQL's JSON holds no NUL."""
    key = spell_nul(refusal.key)[:KEY_CHARS] if refusal.key is not None else None
    return {
        "key": key,
        "errors": [without_nul(e.as_dict()) for e in refusal.errors],
        # In a list of one: SQLite gives a JSON column numeric affinity, so a bare number
        # (an item that is no object, refused as such) would come back as no JSON at all.
        "item": [without_nul(refusal.item)],
    }


class SqlRefusalStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def record(self, refused: Sequence[Refusal]) -> None:
        """Stores refused items. An item already recorded for the same event and index is
        replaced in place (its id and first refusal time kept, open again): a retried
        delivery, or a replay that still fails, leaves one row per item with the newest
        reasons. `message` <= 0 means the accepted audit row of the event, looked up here
        (a delivery knows its event, not the row that audited it). One upsert statement per
        chunk: a message of many thousand bad items is kept in one short transaction."""
        if not refused:
            return
        # The last word on an item wins, as it would row by row (an upsert cannot touch one
        # row twice in a statement).
        latest = {(r.event_id, r.item_index): r for r in refused}
        stmt = self._insert(refusals)
        stmt = stmt.on_conflict_do_update(
            index_elements=["event_id", "item_index"],
            set_={
                "key": stmt.excluded.key,
                "errors": stmt.excluded.errors,
                "item": stmt.excluded.item,
                "resolved_at": None,
            },
        )

        def write() -> None:
            with begin_write(self.engine) as conn:
                audited = self._audit_rows(conn, latest.values())
                rows = [
                    {
                        "source": r.source,
                        "message": r.message if r.message > 0 else audited.get(r.event_id, 0),
                        "event_id": r.event_id,
                        "item_index": r.item_index,
                        "created_at": r.created_at,
                        "resolved_at": None,
                        **_stored(r),
                    }
                    for r in latest.values()
                ]
                for start in range(0, len(rows), CHUNK):
                    conn.execute(stmt, rows[start : start + CHUNK])

        retrying(write)  # parallel upserts of one item may still deadlock on PostgreSQL

    def _audit_rows(self, conn: Any, refused: Iterable[Refusal]) -> dict[str, int]:
        """The accepted audit row of each event whose refusals name none."""
        events = sorted({r.event_id for r in refused if r.message <= 0})
        found: dict[str, int] = {}
        for start in range(0, len(events), CHUNK):
            query = (
                select(messages.c.event_id, func.min(messages.c.id))
                .where(messages.c.event_id.in_(events[start : start + CHUNK]))
                .group_by(messages.c.event_id)
            )
            found.update({event: int(row_id) for event, row_id in conn.execute(query)})
        return found

    def resolve(self, ids: Sequence[int], now: datetime) -> None:
        wanted = sorted(set(ids))
        if not wanted:
            return
        with begin_write(self.engine) as conn:
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                conn.execute(
                    update(refusals)
                    .where(refusals.c.id.in_(chunk), refusals.c.resolved_at.is_(None))
                    .values(resolved_at=now)
                )

    def settle(self, event_id: str, refused: Collection[int], now: datetime) -> None:
        taken = and_(refusals.c.event_id == event_id, refusals.c.resolved_at.is_(None))
        if refused:
            taken = and_(taken, refusals.c.item_index.not_in(sorted(set(refused))))
        with begin_write(self.engine) as conn:
            conn.execute(update(refusals).where(taken).values(resolved_at=now))

    def prune(self, resolved_before: datetime) -> int:
        """One statement: resolved rows are touched by nothing else (a retry that refuses an
        item again reopens it by upsert, which then finds it gone and inserts it anew)."""

        def once() -> int:
            with begin_write(self.engine) as conn:
                gone = conn.execute(
                    delete(refusals).where(
                        refusals.c.resolved_at.is_not(None),
                        refusals.c.resolved_at < resolved_before,
                    )
                )
            return int(gone.rowcount or 0)

        return retrying(once)

    def page(
        self,
        source: str | None,
        *,
        open_only: bool,
        limit: int,
        after_id: int | None,
        message: int | None = None,
    ) -> list[Refusal]:
        """Oldest first, from after `after_id`; `message`: only the items of that audited
        message."""
        query = select(refusals).order_by(refusals.c.id).limit(limit)
        if source is not None:
            query = query.where(refusals.c.source == source)
        if message is not None:
            query = query.where(refusals.c.message == message)
        if open_only:
            query = query.where(refusals.c.resolved_at.is_(None))
        if after_id is not None:
            query = query.where(refusals.c.id > after_id)
        with self.engine.connect() as conn:
            return [_refusal(row) for row in conn.execute(query)]

    def count_of_message(self, message: int) -> tuple[int, int]:
        """How many items of the audited message were refused, and how many of them are
        still open."""
        query = select(
            func.count(),
            func.count().filter(refusals.c.resolved_at.is_(None)),
        ).where(refusals.c.message == message)
        with self.engine.connect() as conn:
            refused, still_open = conn.execute(query).one()
        return int(refused), int(still_open)

    def get(self, refusal_id: int) -> Refusal | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(refusals).where(refusals.c.id == refusal_id)).first()
        return _refusal(row) if row is not None else None

    def supersede(self, superseded: Sequence[Refusal], now: datetime) -> int:
        """One transaction; a refusal another replay resolved meanwhile is left as it is
        (record() would open it again)."""
        if not superseded:
            return 0

        def write() -> int:
            done = 0
            with begin_write(self.engine) as conn:
                for r in superseded:
                    done += conn.execute(
                        update(refusals)
                        .where(refusals.c.id == r.id, refusals.c.resolved_at.is_(None))
                        .values(errors=_stored(r)["errors"], resolved_at=now)
                    ).rowcount
            return done

        return retrying(write)

    def last_written(
        self, class_name: str, author: str, keys: Collection[str], before: datetime
    ) -> dict[str, datetime]:
        wanted = sorted(set(keys))
        found: dict[str, datetime] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), CHUNK):
                query = (
                    select(versions.c.business_key, func.max(versions.c.created_at))
                    .where(
                        versions.c.class_name == class_name,
                        versions.c.business_key.in_(wanted[start : start + CHUNK]),
                        versions.c.author == author,
                        versions.c.created_at < before,
                    )
                    .group_by(versions.c.business_key)
                )
                found.update({key: at for key, at in conn.execute(query)})
        return found
