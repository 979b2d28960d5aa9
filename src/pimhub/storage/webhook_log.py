"""The operator's side of the delivery queue: listing deliveries and their attempts, replay,
pruning and the per-endpoint counts behind /metrics. The hot path (fan-out, claim, record) is
in webhook_queue.py."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Text, case, cast, delete, exists, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from pimhub.events.deliveries import (
    AttemptRecord,
    Backlog,
    DeliveryFilter,
    DeliveryRecord,
    DeliveryStatus,
    EndpointStats,
)
from pimhub.events.endpoints import PayloadMode, shaped_body
from pimhub.events.transform import TransformFailed
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import outbox
from pimhub.storage.tables import webhook_attempts as att
from pimhub.storage.tables import webhook_deliveries as d
from pimhub.storage.tables import webhook_endpoints as ep

OPEN = (DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERING.value)


class DeliveryLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def deliveries(
        self,
        where: DeliveryFilter,
        limit: int,
        after_id: int | None,
        *,
        newest_first: bool = False,
    ) -> list[DeliveryRecord]:
        """A page of matching deliveries by id; newest first, `after_id` is the last id of the
        previous page all the same (the next page holds smaller ids)."""
        order = d.c.id.desc() if newest_first else d.c.id
        query = _record_query().where(*_conditions(where)).order_by(order).limit(limit)
        if after_id is not None:
            query = query.where(d.c.id < after_id if newest_first else d.c.id > after_id)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def delivery(self, delivery_id: int) -> DeliveryRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(_record_query().where(d.c.id == delivery_id)).first()
        return _record(row) if row else None

    def attempts(self, delivery_id: int) -> list[AttemptRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(att).where(att.c.delivery_id == delivery_id).order_by(att.c.id)
            ).all()
        return [_attempt(r) for r in rows]

    def replayable(self, where: DeliveryFilter) -> int:
        """How many deliveries `replay(where, None, ...)` would queue again now."""
        matching = _replayable(where, None)
        if matching is None:
            return 0
        with self.engine.connect() as conn:
            found = conn.execute(select(func.count()).select_from(matching.subquery()))
            return int(found.scalar_one())

    def replay(self, where: DeliveryFilter, ids: Sequence[int] | None, now: datetime) -> int:
        matching = _replayable(where, ids)
        if matching is None:
            return 0  # already on their way
        with begin_write(self.engine) as conn:
            # A replay starts the retry schedule afresh; the webhook-id stays the event's.
            # The row's own conditions are checked again by the UPDATE itself: on PostgreSQL
            # (READ COMMITTED) a row the subquery found may have been replayed, or replayed
            # and claimed, while this waited for its lock; only the rows still as asked for
            # change (no lease cleared under a worker), and the count is of those.
            done = conn.execute(
                update(d)
                .where(d.c.id.in_(matching.scalar_subquery()), *_still_replayable(where))
                .values(
                    status=DeliveryStatus.PENDING.value,
                    attempts=0,
                    next_attempt_at=now,
                    delivered_at=None,
                    lease_until=None,
                )
            )
        return done.rowcount

    def prune(self, before: datetime) -> tuple[int, int]:
        with begin_write(self.engine) as conn:
            attempts = conn.execute(delete(att).where(att.c.attempted_at < before)).rowcount
            deliveries = conn.execute(
                delete(d).where(
                    d.c.status == DeliveryStatus.DELIVERED.value, d.c.delivered_at < before
                )
            ).rowcount
            still_needed = exists().where(d.c.outbox_id == outbox.c.id)
            conn.execute(
                delete(outbox).where(
                    outbox.c.dispatched_at < before,
                    outbox.c.dispatched_at.is_not(None),
                    ~still_needed,
                )
            )
        return attempts, deliveries

    def hourly_attempts(self, since: datetime) -> list[tuple[str, datetime, bool, int]]:
        """Attempts since `since` counted per endpoint, hour (UTC) and success, in one grouped
        query for every endpoint: (endpoint id, hour, succeeded, count)."""
        if self.engine.dialect.name == "postgresql":
            hour: Any = func.to_char(func.timezone("UTC", att.c.attempted_at), "YYYY-MM-DD HH24")
        else:
            hour = func.strftime("%Y-%m-%d %H", att.c.attempted_at)
        ok = case((att.c.status_code.between(200, 299), 1), else_=0)
        query = (
            select(ep.c.endpoint_id, hour, ok, func.count())
            .select_from(att.join(ep, ep.c.id == att.c.endpoint_id))
            .where(att.c.attempted_at >= since)
            .group_by(ep.c.endpoint_id, hour, ok)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            (e, datetime.strptime(h, "%Y-%m-%d %H").replace(tzinfo=UTC), bool(s), n)
            for e, h, s, n in rows
        ]

    def last_attempts(self, since: datetime) -> dict[str, AttemptRecord]:
        """Each endpoint's latest attempt since `since`, by endpoint id."""
        latest = (
            select(func.max(att.c.id))
            .where(att.c.attempted_at >= since)
            .group_by(att.c.endpoint_id)
            .scalar_subquery()
        )
        query = (
            select(ep.c.endpoint_id.label("public_id"), att)
            .select_from(att.join(ep, ep.c.id == att.c.endpoint_id))
            .where(att.c.id.in_(latest))
        )
        with self.engine.connect() as conn:
            return {r.public_id: _attempt(r) for r in conn.execute(query)}

    def sent_body(self, delivery_id: int) -> bytes | None:
        """The body a delivery's attempts send: its event shaped for its endpoint's payload
        setting and transform, exactly as the dispatcher builds it; None when there is no such
        delivery, or its endpoint's transform fails on its event (nothing is sent then)."""
        query = (
            select(ep.c.payload, cast(outbox.c.payload, Text), ep.c.transform)
            .select_from(d.join(ep, ep.c.id == d.c.endpoint_id))
            .join(outbox, outbox.c.id == d.c.outbox_id)
            .where(d.c.id == delivery_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        try:
            return shaped_body(row[1], PayloadMode(row[0]), row[2])
        except TransformFailed:
            return None

    def stats(self) -> list[EndpointStats]:
        with self.engine.connect() as conn:
            endpoints = conn.execute(
                select(ep.c.id, ep.c.endpoint_id, ep.c.url, ep.c.enabled).order_by(ep.c.id)
            ).all()
            counts = conn.execute(
                select(d.c.endpoint_id, d.c.status, func.count()).group_by(
                    d.c.endpoint_id, d.c.status
                )
            ).all()
            oldest = dict(
                conn.execute(
                    select(d.c.endpoint_id, func.min(d.c.created_at))
                    .where(d.c.status.in_(OPEN))
                    .group_by(d.c.endpoint_id)
                ).all()
            )
            failed: dict[int, int] = dict(
                conn.execute(
                    select(att.c.endpoint_id, func.count())
                    .where(
                        or_(
                            att.c.status_code.is_(None),
                            att.c.status_code >= 300,
                            att.c.status_code < 200,
                        )
                    )
                    .group_by(att.c.endpoint_id)
                ).all()
            )
        by_status: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DeliveryStatus, 0))
        for endpoint, status, count in counts:
            by_status[endpoint][DeliveryStatus(status)] = count
        return [
            EndpointStats(
                e.endpoint_id,
                e.url,
                e.enabled,
                {str(k): v for k, v in by_status[e.id].items()},
                failed.get(e.id, 0),
                oldest.get(e.id),
            )
            for e in endpoints
        ]

    def backlog(self) -> Backlog:
        # Both read indexes: outbox (dispatched_at, id) and deliveries (status, ...). An open
        # delivery's age is its event's, not its fan-out's: that is how long a receiver waits.
        with self.engine.connect() as conn:
            waiting, oldest_waiting = conn.execute(
                select(func.count(), func.min(outbox.c.created_at)).where(
                    outbox.c.dispatched_at.is_(None)
                )
            ).one()
            open_, oldest_open = conn.execute(
                select(func.count(), func.min(outbox.c.created_at))
                .select_from(d.join(outbox, outbox.c.id == d.c.outbox_id))
                .where(d.c.status.in_(OPEN))
            ).one()
        known = [t for t in (oldest_waiting, oldest_open) if t is not None]
        return Backlog(waiting, open_, min(known) if known else None)


def _record_query() -> Any:
    return select(
        d.c.id,
        ep.c.endpoint_id,
        d.c.event_id,
        outbox.c.event_type,
        outbox.c.class_name,
        outbox.c.object_uuid,
        outbox.c.business_key,
        outbox.c.version,
        d.c.status,
        d.c.attempts,
        d.c.next_attempt_at,
        d.c.last_error,
        d.c.created_at,
        d.c.delivered_at,
    ).select_from(d.join(ep, ep.c.id == d.c.endpoint_id).join(outbox, outbox.c.id == d.c.outbox_id))


def _conditions(where: DeliveryFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.endpoint_id is not None:
        conditions.append(ep.c.endpoint_id == where.endpoint_id)
    if where.status is not None:
        conditions.append(d.c.status == where.status.value)
    if where.event_type is not None:
        conditions.append(outbox.c.event_type == where.event_type)
    if where.event_id is not None:
        # By the outbox's unique event id, then deliveries by outbox_id: both indexed.
        conditions.append(outbox.c.event_id == where.event_id)
    if where.object_uuid is not None:
        conditions.append(outbox.c.object_uuid == where.object_uuid)
    if where.business_key is not None:
        conditions.append(outbox.c.business_key == where.business_key)
    if where.since is not None:
        conditions.append(d.c.created_at >= where.since)
    if where.until is not None:
        conditions.append(d.c.created_at < where.until)
    if where.attempted is not None:
        conditions.append(d.c.attempts > 0 if where.attempted else d.c.attempts == 0)
    return conditions


def _replayable(where: DeliveryFilter, ids: Sequence[int] | None) -> Any:
    """The ids a replay of `where` (and `ids`) takes: dead ones unless a status is given;
    None when the status asked for is one that is on its way already."""
    conditions = _conditions(where)
    if ids is not None:
        conditions.append(d.c.id.in_(list(ids)))
    if where.status is None:
        conditions.append(d.c.status == DeliveryStatus.DEAD.value)
    elif where.status in (DeliveryStatus.PENDING, DeliveryStatus.DELIVERING):
        return None
    return (
        select(d.c.id)
        .join(ep, ep.c.id == d.c.endpoint_id)
        .join(outbox, outbox.c.id == d.c.outbox_id)
        .where(*conditions)
    )


def _still_replayable(where: DeliveryFilter) -> list[ColumnElement[bool]]:
    """The conditions of `_replayable` that can change on the delivery's row once it has been
    read (its status, its attempts); the others (endpoint, event, creation time, id) never do."""
    status = where.status or DeliveryStatus.DEAD
    conditions = [d.c.status == status.value]
    if where.attempted is not None:
        conditions.append(d.c.attempts > 0 if where.attempted else d.c.attempts == 0)
    return conditions


def _attempt(r: Any) -> AttemptRecord:
    return AttemptRecord(
        r.id,
        r.delivery_id,
        r.attempted_at,
        r.status_code,
        r.duration_ms,
        r.response_excerpt,
        r.error,
    )


def _record(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        class_name=row.class_name,
        object_uuid=row.object_uuid,
        business_key=row.business_key,
        version=row.version,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )
