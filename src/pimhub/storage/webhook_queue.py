"""The delivery queue in SQL, hot path: fan-out from the outbox, claims with leases, outcomes.

PostgreSQL runs several workers at once: claims use FOR UPDATE SKIP LOCKED, and fan-out is
serialized by a transaction-level advisory lock so that the deliveries of one object are always
created in outbox order (two fan-outs racing could otherwise publish a later version's delivery
before an earlier one's, and a worker could send it first). On SQLite every write transaction
is serialized anyway.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    select,
    text,
    update,
)
from sqlalchemy.exc import DataError

from pimhub.catalog.events import endpoint_disabled_event
from pimhub.events.deliveries import (
    RESPONSE_EXCERPT_BYTES,
    AttemptResult,
    Delivery,
    DeliveryStatus,
)
from pimhub.events.endpoints import EndpointSpec, PayloadMode, shaped_body
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from pimhub.events.transform import TransformFailed
from pimhub.storage.engine import begin_write
from pimhub.storage.locks import lock_key
from pimhub.storage.repositories import SqlOutboxRepository
from pimhub.storage.tables import webhook_endpoints as ep
from pimhub.storage.webhook_log import DeliveryLog

# What one row can make a statement fail with: a value the column refuses (PostgreSQL raises
# DataError) or text the driver cannot encode (UnicodeEncodeError, a ValueError).
_ROW_FAULTS = (DataError, ValueError)
FAN_OUT_LOCK = "pimhub.fan-out"  # named per schema: see SqlDeliveryQueue._fan_out_lock

_UNDISPATCHED = (
    "SELECT id, event_id, event_type, class_name, object_uuid, changed_fields, order_key "
    "FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT %s"
)
_NEW_DELIVERY = (
    "INSERT INTO webhook_deliveries (endpoint_id, outbox_id, event_id, order_key, status, "
    "attempts, next_attempt_at, created_at) VALUES (%s, %s, %s, %s, 'pending', 0, %s, %s)"
)
_PG_NEW_DELIVERY = (
    "INSERT INTO webhook_deliveries (endpoint_id, outbox_id, event_id, order_key, status, "
    "attempts, next_attempt_at, created_at) SELECT e, o, ev, k, 'pending', 0, %s, %s "
    "FROM unnest(%s::int[], %s::bigint[], %s::text[], %s::text[]) AS t(e, o, ev, k)"
)
# Deliveries of enabled, unpaused endpoints whose object has no earlier delivery still open
# for that endpoint; `{due}` picks pending ones that are due, or leased ones whose lease ran
# out (their worker died). Two statements rather than one with OR, so that the pending one can
# walk the (status, next_attempt_at, id) index in order and stop at LIMIT instead of sorting
# the whole backlog on every claim.
_CLAIM = """
SELECT d.id, d.endpoint_id, d.event_id, d.attempts, e.payload, CAST(o.payload AS TEXT),
  e.transform, o.event_type, o.class_name
FROM webhook_deliveries d
JOIN webhook_endpoints e ON e.id = d.endpoint_id
JOIN outbox o ON o.id = d.outbox_id
WHERE {due}
  AND e.enabled AND (e.paused_until IS NULL OR e.paused_until <= %s)
  AND NOT EXISTS (
    SELECT 1 FROM webhook_deliveries p
    WHERE p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key
      AND p.outbox_id < d.outbox_id AND p.status IN ('pending', 'delivering'))
{order}
LIMIT %s"""
# Expired leases are few and their order does not matter (NOT EXISTS keeps per-object order).
_CLAIM_EXPIRED = _CLAIM.format(due="d.status = 'delivering' AND d.lease_until <= %s", order="")
_CLAIM_DUE = _CLAIM.format(
    due="d.status = 'pending' AND d.next_attempt_at <= %s",
    order="ORDER BY d.next_attempt_at, d.id",
)
_RECORD = (
    "UPDATE webhook_deliveries SET status = %s, attempts = %s, next_attempt_at = %s, "
    "delivered_at = %s, last_error = %s, lease_until = NULL "
    "WHERE id = %s AND status = 'delivering' AND lease_until = %s"
)
_PG_RECORD = (
    "UPDATE webhook_deliveries AS d SET status = v.status, attempts = v.attempts, "
    "next_attempt_at = v.due, delivered_at = v.delivered, last_error = v.error, "
    "lease_until = NULL FROM unnest(%s::text[], %s::int[], %s::timestamptz[], "
    "%s::timestamptz[], %s::text[], %s::bigint[], %s::timestamptz[]) AS v(status, attempts, "
    "due, delivered, error, id, lease) "
    "WHERE d.id = v.id AND d.status = 'delivering' AND d.lease_until = v.lease"
)
# Attempts are logged only for deliveries that still exist: an endpoint deleted while its
# deliveries were on the wire takes them with it, and one missing row must not fail the batch.
_PG_LOG_ATTEMPT = (
    "INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status_code, "
    "duration_ms, response_excerpt, error) SELECT a.* FROM unnest(%s::bigint[], %s::int[], "
    "%s::timestamptz[], %s::int[], %s::float8[], %s::text[], %s::text[]) AS a(delivery_id, "
    "endpoint_id, attempted_at, status_code, duration_ms, response_excerpt, error) "
    "WHERE EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = a.delivery_id)"
)
_LOG_ATTEMPT = (
    "INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status_code, "
    "duration_ms, response_excerpt, error) SELECT %s, %s, %s, %s, %s, %s, %s "
    "WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = %s)"
)
# Deliveries a worker claimed but did not get to send before their lease ran short: due again
# at once, with no attempt counted.
_RELEASE = (
    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = %s, "
    "lease_until = NULL WHERE id = %s AND status = 'delivering' AND lease_until = %s"
)


def _strings(value: Any) -> tuple[str, ...]:
    """A JSON list column as the driver returns it: text on SQLite, decoded on PostgreSQL."""
    return tuple(orjson.loads(value) if isinstance(value, str | bytes) else value)


class SqlDeliveryQueue(DeliveryLog):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.postgres = engine.dialect.name == "postgresql"
        self._fan_out_key: int | None = None

    # The three statements every delivery goes through (fan-out, claim, record) are written
    # by hand and run through the driver directly: SQLAlchemy's per-row parameter processing
    # cost more than the SQL itself (measured: ~130 us against ~60 us per delivery on
    # SQLite). Everything else stays on Core.

    def _sql(self, template: str) -> str:
        return template.replace("%s", "%s" if self.postgres else "?")

    def _time(self, value: datetime) -> Any:
        """A time as the column stores it (tables.UtcDateTime): naive UTC text on SQLite."""
        if self.postgres:
            return value
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def _in(self, count: int) -> str:
        return "(" + ", ".join(["%s"] * count) + ")"

    # -- fan-out ---------------------------------------------------------------------------

    def fan_out(self, now: datetime, limit: int) -> int:
        with begin_write(self.engine) as conn:
            return self._fan_out(conn, now, limit)

    def fan_out_and_claim(
        self, now: datetime, fan_out_limit: int, limit: int, lease_until: datetime
    ) -> tuple[int, list[Delivery]]:
        """Both in one transaction: one commit per dispatch round instead of two."""
        with begin_write(self.engine) as conn:
            fanned = self._fan_out(conn, now, fan_out_limit)
            rows = self._claim(conn, now, limit, lease_until)
        # Bodies are shaped after the commit: a transform's work does not hold the write lock.
        return fanned, [_delivery(row, lease_until) for row in rows]

    def _fan_out_lock(self, conn: Connection) -> int:
        """The advisory-lock key that serializes this hub's fan-out. Advisory locks are per
        database, and a database may hold several hubs (or test sessions) in schemas of
        their own: the key is named after the schema, so each hub's workers take one lock
        and never wait on another hub's. Asked once per queue (its engine's search_path)."""
        if self._fan_out_key is None:
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            self._fan_out_key = lock_key(f"{FAN_OUT_LOCK}:{schema}")
        return self._fan_out_key

    def _fan_out(self, conn: Connection, now: datetime, limit: int) -> int:
        if (
            self.postgres
            and not conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": self._fan_out_lock(conn)}
            ).scalar()
        ):
            return 0  # another worker of this hub is fanning out right now
        events = conn.exec_driver_sql(self._sql(_UNDISPATCHED), (limit,)).all()
        if not events:
            return 0
        endpoints = self._enabled_specs(conn)
        at = self._time(now)
        # An inbound event's order key (its source and key) is the outbox's; a catalog
        # event's is its object's, or its class's.
        rows = [
            (endpoint, oid, event_id, order_key or uuid or f"class:{class_name}")
            for oid, event_id, event_type, class_name, uuid, changed, order_key in events
            for endpoint, after, spec in endpoints
            if oid > after and spec.wants(event_type, class_name, _strings(changed))
        ]
        if rows:
            self._insert_many(conn, _NEW_DELIVERY, _PG_NEW_DELIVERY, rows, prefix=(at, at))
        self._set_where_ids(conn, "outbox", "dispatched_at = %s", at, [e[0] for e in events])
        return len(events)

    def _insert_many(
        self,
        conn: Connection,
        sqlite_sql: str,
        postgres_sql: str,
        rows: list[tuple[Any, ...]],
        prefix: tuple[Any, ...] = (),
    ) -> None:
        """Many rows in one statement: executemany on SQLite (a C loop over one prepared
        statement); on PostgreSQL one statement over unnest()ed arrays, which is several times
        faster than a round of protocol messages per row. `prefix` holds values that are the
        same for every row; on SQLite they come after the per-row ones."""
        if self.postgres:
            columns = [list(column) for column in zip(*rows, strict=True)]
            conn.exec_driver_sql(postgres_sql, (*prefix, *columns))
        else:
            conn.exec_driver_sql(self._sql(sqlite_sql), [(*row, *prefix) for row in rows])

    def _set_where_ids(
        self, conn: Connection, table: str, assignment: str, value: Any, ids: list[int]
    ) -> None:
        if self.postgres:
            sql = f"UPDATE {table} SET {assignment} WHERE id = ANY(%s::bigint[])"
            conn.exec_driver_sql(sql, (value, ids))
        else:
            sql = f"UPDATE {table} SET {assignment} WHERE id IN {self._in(len(ids))}"
            conn.exec_driver_sql(self._sql(sql), (value, *ids))

    def _enabled_specs(self, conn: Connection) -> list[tuple[int, int, EndpointSpec]]:
        rows = conn.execute(
            select(
                ep.c.id,
                ep.c.after_outbox_id,
                ep.c.url,
                ep.c.event_types,
                ep.c.classes,
                ep.c.changed_fields,
                ep.c.sources,
            ).where(ep.c.enabled)
        ).all()
        return [
            (
                r.id,
                r.after_outbox_id,
                EndpointSpec(
                    url=r.url,
                    event_types=tuple(r.event_types),
                    classes=tuple(r.classes),
                    changed_fields=tuple(r.changed_fields),
                    sources=tuple(r.sources),
                ),
            )
            for r in rows
        ]

    # -- claiming --------------------------------------------------------------------------

    def claim(self, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
        with begin_write(self.engine) as conn:
            rows = self._claim(conn, now, limit, lease_until)
        return [_delivery(row, lease_until) for row in rows]

    def _claim(
        self, conn: Connection, now: datetime, limit: int, lease_until: datetime
    ) -> list[Any]:
        """The claimed rows, leased until `lease_until` (made Deliveries by _delivery)."""
        at = self._time(now)
        lock = " FOR UPDATE OF d SKIP LOCKED" if self.postgres else ""
        expired = self._sql(_CLAIM_EXPIRED + lock)
        rows = list(conn.exec_driver_sql(expired, (at, at, limit)).all())
        if len(rows) < limit:
            if self.postgres:
                # A backlog that appeared since the last ANALYZE (an outage, a bulk import)
                # looks like a handful of rows to the planner, which then sorts all of it on
                # every claim (measured: 25 ms instead of 2.7 ms per 200 at 3,000 pending).
                # Without sorting, the plan is to walk the index in order up to LIMIT.
                conn.exec_driver_sql("SET LOCAL enable_sort = off")
            due = self._sql(_CLAIM_DUE + lock)
            rows += conn.exec_driver_sql(due, (at, at, limit - len(rows))).all()
            if self.postgres:
                conn.exec_driver_sql("SET LOCAL enable_sort = on")
        if not rows:
            return []
        self._set_where_ids(
            conn,
            "webhook_deliveries",
            "status = 'delivering', lease_until = %s",
            self._time(lease_until),
            [r[0] for r in rows],
        )
        return rows

    # -- outcomes --------------------------------------------------------------------------

    def record(
        self,
        results: Sequence[AttemptResult],
        retry: RetryPolicy,
        circuit: CircuitPolicy,
        now: datetime,
    ) -> list[str]:
        if not results:
            return []
        try:
            return self._record(results, retry, circuit, now)
        except _ROW_FAULTS:
            # One outcome the database refuses must not cost the others theirs (healthy
            # receivers would be sent everything again once the leases ran out): the batch is
            # recorded again one delivery at a time. Only here does a batch pay for that.
            return self._record_one_by_one(results, retry, circuit, now)

    def _record_one_by_one(
        self,
        results: Sequence[AttemptResult],
        retry: RetryPolicy,
        circuit: CircuitPolicy,
        now: datetime,
    ) -> list[str]:
        """Each outcome in its own transaction; one refused even so is recorded with its text
        escaped, so that its delivery leaves `delivering` too. The first error that stopped
        one for good is raised after all the others are in (that one is sent again)."""
        disabled: list[str] = []
        lost: Exception | None = None
        for result in results:
            try:
                disabled += self._record([result], retry, circuit, now)
                continue
            except _ROW_FAULTS:
                pass
            try:
                disabled += self._record([_escaped(result)], retry, circuit, now)
            except _ROW_FAULTS as exc:
                lost = lost or exc
        if lost is not None:
            raise lost
        return disabled

    def _record(
        self,
        results: Sequence[AttemptResult],
        retry: RetryPolicy,
        circuit: CircuitPolicy,
        now: datetime,
    ) -> list[str]:
        released = [r for r in results if r.skipped]
        tried = [r for r in results if not r.skipped]
        changes = [self._delivery_change(r, retry) for r in tried]
        attempts = [self._attempt_row(r) for r in tried]
        with begin_write(self.engine) as conn:
            if released:
                due = self._time(now)
                conn.exec_driver_sql(
                    self._sql(_RELEASE),
                    [(due, r.delivery.id, self._time(r.delivery.lease_until)) for r in released],
                )
            if not tried:
                return []
            if self.postgres:
                columns = [list(column) for column in zip(*changes, strict=True)]
                conn.exec_driver_sql(_PG_RECORD, tuple(columns))
            else:
                conn.exec_driver_sql(self._sql(_RECORD), changes)
            if self.postgres:
                columns = [list(column) for column in zip(*attempts, strict=True)]
                conn.exec_driver_sql(_PG_LOG_ATTEMPT, tuple(columns))
            else:
                conn.exec_driver_sql(self._sql(_LOG_ATTEMPT), [(*a, a[0]) for a in attempts])
            return self._update_health(conn, tried, circuit, now)

    def _delivery_change(self, result: AttemptResult, retry: RetryPolicy) -> tuple[Any, ...]:
        """(status, attempts, next_attempt_at, delivered_at, last_error, id, lease): the lease
        fences the update, so the outcome of a send whose lease ran out (and whose delivery
        another worker may have claimed since) changes nothing."""
        attempts = result.delivery.attempts + 1
        key = (result.delivery.id, self._time(result.delivery.lease_until))
        if result.ok:
            delivered = self._time(result.attempted_at)
            return (DeliveryStatus.DELIVERED.value, attempts, None, delivered, None, *key)
        error = result.describe()
        delay = retry.next_delay(attempts, result.retry_after)
        if delay is None:
            return (DeliveryStatus.DEAD.value, attempts, None, None, error, *key)
        due = self._time(result.attempted_at + delay)
        return (DeliveryStatus.PENDING.value, attempts, due, None, error, *key)

    def _attempt_row(self, result: AttemptResult) -> tuple[Any, ...]:
        excerpt = result.response_excerpt
        return (
            result.delivery.id,
            result.delivery.endpoint,
            self._time(result.attempted_at),
            result.status_code,
            result.duration_ms,
            excerpt[:RESPONSE_EXCERPT_BYTES] if excerpt else None,
            result.error,
        )

    def _update_health(
        self,
        conn: Connection,
        results: Sequence[AttemptResult],
        circuit: CircuitPolicy,
        now: datetime,
    ) -> list[str]:
        by_endpoint: dict[int, list[AttemptResult]] = defaultdict(list)
        for r in results:
            by_endpoint[r.delivery.endpoint].append(r)
        disabled: list[str] = []
        for endpoint, outcomes in by_endpoint.items():
            row = conn.execute(
                select(
                    ep.c.endpoint_id,
                    ep.c.url,
                    ep.c.enabled,
                    ep.c.consecutive_failures,
                    ep.c.failing_since,
                ).where(ep.c.id == endpoint)
            ).first()
            if row is None:
                continue  # deleted while its deliveries were in flight
            values = _health(row, outcomes, circuit, now)
            if not values:
                continue
            conn.execute(update(ep).where(ep.c.id == endpoint).values(**values))
            if values.get("enabled") is False and row.enabled:
                disabled.append(row.endpoint_id)
                # Raised in the same transaction as the disable, through the outbox like
                # every other event, so an operations endpoint hears about it.
                event = endpoint_disabled_event(
                    row.endpoint_id, row.url, values["disabled_reason"], now
                )
                SqlOutboxRepository(conn).add(event)
        return disabled


def _delivery(row: Any, lease_until: datetime) -> Delivery:
    """A claimed row as sent: its body shaped for its endpoint (as stored when it asks for
    the full event and no transform); a transform that fails on this event leaves an empty
    body and the reason, which the dispatcher records as a failed attempt."""
    delivery_id, endpoint, event_id, attempts, mode, stored, transform, event_type, cls = row
    problem = None
    if transform is None and mode == PayloadMode.FULL:
        # The common case, once per delivery: the stored bytes, no shaping call.
        body = stored.encode() if isinstance(stored, str) else stored
    else:
        try:
            body = shaped_body(stored, PayloadMode(mode), transform)
        except TransformFailed as exc:
            body, problem = b"", f"transform failed: {exc}"
    return Delivery(
        delivery_id, endpoint, event_id, body, attempts, lease_until, event_type, cls, problem
    )


def _escaped(result: AttemptResult) -> AttemptResult:
    """The outcome with its texts as ASCII escapes (\\x00 for a NUL), which any column holds."""

    def escape(text: str | None) -> str | None:
        return None if text is None else ascii(text)[1:-1]

    return replace(
        result, response_excerpt=escape(result.response_excerpt), error=escape(result.error)
    )


def _health(
    row: Any, outcomes: Sequence[AttemptResult], circuit: CircuitPolicy, now: datetime
) -> dict[str, Any]:
    """The endpoint's failure record after this batch: a success resets it; failures after the
    last success extend it, open the circuit, and after long enough disable the endpoint."""
    outcomes = [r for r in outcomes if r.ok or r.receiver_fault]
    if not outcomes:
        return {}  # only failures of single deliveries' own making: health unchanged
    last_ok = max((i for i, r in enumerate(outcomes) if r.ok), default=-1)
    failures_after = len(outcomes) - last_ok - 1
    if last_ok >= 0 and failures_after == 0:
        return {"consecutive_failures": 0, "failing_since": None, "paused_until": None}
    failures = failures_after + (0 if last_ok >= 0 else row.consecutive_failures)
    since = row.failing_since if last_ok < 0 and row.failing_since else now
    values: dict[str, Any] = {"consecutive_failures": failures, "failing_since": since}
    pause = circuit.pause_for(failures)
    values["paused_until"] = now + pause if pause else None
    if any(r.gone for r in outcomes):
        values |= {"enabled": False, "disabled_reason": "the receiver answered 410 Gone"}
    elif now - since >= circuit.disable_after:
        values |= {
            "enabled": False,
            "disabled_reason": f"every delivery failed for {_span(circuit.disable_after)}",
        }
    return values


def _span(duration: timedelta) -> str:
    days = duration / timedelta(days=1)
    if days >= 1:
        return f"{days:g} days"
    return f"{duration / timedelta(hours=1):g} hours"
