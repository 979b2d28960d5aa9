"""Refused items of inbound feeds (inbound_refusals): inbound.ports.RefusalStore. Each call is
its own short transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pimhub.catalog.errors import FieldError, WriteConflict
from pimhub.catalog.validation import spell_nul, without_nul
from pimhub.inbound.ports import Refusal
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import inbound_messages as messages
from pimhub.storage.tables import inbound_refusals as refusals

KEY_CHARS = 255  # inbound_refusals.key
RESOLVE_CHUNK = 500  # ids per UPDATE ... WHERE id IN (...)


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

    def record(self, refused: Sequence[Refusal]) -> None:
        """Stores refused items. An item already recorded for the same event and index is
        replaced in place (its id and first refusal time kept, open again): a retried
        delivery, or a replay that still fails, leaves one row per item with the newest
        reasons. `message` <= 0 means the accepted audit row of the event, looked up here
        (a delivery knows its event, not the row that audited it)."""
        if not refused:
            return
        for attempt in range(2):  # a parallel record of the same item: the second one updates
            try:
                with begin_write(self.engine) as conn:
                    for refusal in refused:
                        self._put(conn, refusal)
                return
            except (IntegrityError, WriteConflict):
                if attempt:
                    raise

    def _put(self, conn: Any, refusal: Refusal) -> None:
        values = _stored(refusal)
        same = and_(
            refusals.c.event_id == refusal.event_id, refusals.c.item_index == refusal.item_index
        )
        found = conn.execute(
            update(refusals).where(same).values(**values, resolved_at=None)
        ).rowcount
        if found:
            return
        message: Any = refusal.message
        if message <= 0:
            audited = (
                select(func.min(messages.c.id))
                .where(messages.c.event_id == refusal.event_id)
                .scalar_subquery()
            )
            message = func.coalesce(audited, 0)
        conn.execute(
            insert(refusals).values(
                source=refusal.source,
                message=message,
                event_id=refusal.event_id,
                item_index=refusal.item_index,
                created_at=refusal.created_at,
                resolved_at=None,
                **values,
            )
        )

    def resolve(self, ids: Sequence[int], now: datetime) -> None:
        wanted = sorted(set(ids))
        if not wanted:
            return
        with begin_write(self.engine) as conn:
            for start in range(0, len(wanted), RESOLVE_CHUNK):
                chunk = wanted[start : start + RESOLVE_CHUNK]
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

    def page(
        self, source: str | None, *, open_only: bool, limit: int, after_id: int | None
    ) -> list[Refusal]:
        """Oldest first, from after `after_id`."""
        query = select(refusals).order_by(refusals.c.id).limit(limit)
        if source is not None:
            query = query.where(refusals.c.source == source)
        if open_only:
            query = query.where(refusals.c.resolved_at.is_(None))
        if after_id is not None:
            query = query.where(refusals.c.id > after_id)
        with self.engine.connect() as conn:
            return [_refusal(row) for row in conn.execute(query)]

    def get(self, refusal_id: int) -> Refusal | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(refusals).where(refusals.c.id == refusal_id)).first()
        return _refusal(row) if row is not None else None
