"""Webhook endpoint rows; each call is its own short transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, delete, func, insert, select, update

from pimhub.events.endpoints import EndpointSpec, PayloadMode, WebhookEndpoint
from pimhub.events.ports import StoredSecrets
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import outbox, webhook_deliveries
from pimhub.storage.tables import webhook_endpoints as t


def _endpoint(row: Row[Any]) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id,
        endpoint_id=row.endpoint_id,
        spec=EndpointSpec(
            url=row.url,
            description=row.description,
            event_types=tuple(row.event_types),
            classes=tuple(row.classes),
            changed_fields=tuple(row.changed_fields),
            payload=PayloadMode(row.payload),
            enabled=row.enabled,
            rate_limit=row.rate_limit,
            sources=tuple(row.sources),
            transform=row.transform,
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
        consecutive_failures=row.consecutive_failures,
        failing_since=row.failing_since,
        paused_until=row.paused_until,
        disabled_reason=row.disabled_reason,
        secret_rotated_at=row.secret_rotated_at,
        previous_secret_until=row.previous_secret_until,
        kind=row.kind,
    )


def spec_columns(spec: EndpointSpec) -> dict[str, Any]:
    return {
        "url": spec.url,
        "description": spec.description,
        "event_types": list(spec.event_types),
        "classes": list(spec.classes),
        "changed_fields": list(spec.changed_fields),
        "payload": spec.payload.value,
        "enabled": spec.enabled,
        "rate_limit": spec.rate_limit,
        "sources": list(spec.sources),
        "transform": spec.transform,
    }


class SqlEndpointRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, endpoint_id: str, spec: EndpointSpec, sealed_secret: str, now: datetime
    ) -> WebhookEndpoint:
        with begin_write(self.engine) as conn:
            high_water = conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar()
            conn.execute(
                insert(t).values(
                    endpoint_id=endpoint_id,
                    after_outbox_id=high_water,
                    secret=sealed_secret,
                    consecutive_failures=0,
                    created_at=now,
                    updated_at=now,
                    **spec_columns(spec),
                )
            )
            row = conn.execute(select(t).where(t.c.endpoint_id == endpoint_id)).one()
        return _endpoint(row)

    def get(self, endpoint_id: str) -> WebhookEndpoint | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.endpoint_id == endpoint_id)).first()
        return _endpoint(row) if row else None

    def all(self) -> list[WebhookEndpoint]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.id)).all()
        return [_endpoint(r) for r in rows]

    def save_spec(
        self,
        endpoint_id: str,
        spec: EndpointSpec,
        now: datetime,
        *,
        reset_health: bool,
        expected: datetime | None = None,
    ) -> bool:
        """Store a changed spec; `reset_health` clears the failure record (and an open
        circuit) as well. With `expected`, only while the row's updated_at is still that
        stamp: the check and the write are one UPDATE, so of two saves from the same stamp
        exactly one matches. False when nothing matched (no such row, or a newer one)."""
        if expected is not None and now <= expected:
            # The new stamp must differ from the one compared against, or a second save
            # from the same stamp would match again (a coarse or frozen clock).
            now = expected + timedelta(microseconds=1)
        values: dict[str, Any] = {**spec_columns(spec), "updated_at": now}
        if reset_health:
            values |= {
                "disabled_reason": None,
                "consecutive_failures": 0,
                "failing_since": None,
                "paused_until": None,
            }
        with begin_write(self.engine) as conn:
            where = t.c.endpoint_id == endpoint_id
            if expected is not None:
                where = where & (t.c.updated_at == expected)
            done = conn.execute(update(t).where(where).values(**values))
        return done.rowcount == 1

    def remove(self, endpoint_id: str) -> bool:
        with begin_write(self.engine) as conn:
            done = conn.execute(delete(t).where(t.c.endpoint_id == endpoint_id))
        return done.rowcount == 1

    def secrets(self, endpoint_id: str) -> StoredSecrets | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.c.secret, t.c.previous_secret, t.c.previous_secret_until).where(
                    t.c.endpoint_id == endpoint_id
                )
            ).first()
        return (
            StoredSecrets(row.secret, row.previous_secret, row.previous_secret_until)
            if row
            else None
        )

    def all_secrets(self) -> dict[int, StoredSecrets]:
        """Sealed secrets of every endpoint by internal id, for the dispatcher's cache."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.id, t.c.secret, t.c.previous_secret, t.c.previous_secret_until)
            ).all()
        return {
            r.id: StoredSecrets(r.secret, r.previous_secret, r.previous_secret_until) for r in rows
        }

    def rotate(
        self, endpoint_id: str, sealed_secret: str, previous_until: datetime, now: datetime
    ) -> bool:
        """The current secret becomes the previous one (valid until `previous_until`)."""
        with begin_write(self.engine) as conn:
            done = conn.execute(
                update(t)
                .where(t.c.endpoint_id == endpoint_id)
                .values(
                    previous_secret=t.c.secret,
                    previous_secret_until=previous_until,
                    secret=sealed_secret,
                    secret_rotated_at=now,
                    updated_at=now,
                )
            )
        return done.rowcount == 1

    def resume(self, endpoint_id: str, now: datetime) -> bool:
        """Ends a pause now: the pause and the run of failures that doubles it are cleared
        (failing_since stays: it still counts towards disabling until a delivery succeeds),
        and the endpoint's pending deliveries waiting for a later retry are due at once.
        The settings' stamp (updated_at) is left alone: an edit form open meanwhile is not
        made stale by it. False when there is no such endpoint."""
        d = webhook_deliveries
        with begin_write(self.engine) as conn:
            row = conn.execute(select(t.c.id).where(t.c.endpoint_id == endpoint_id)).first()
            if row is None:
                return False
            conn.execute(
                update(t).where(t.c.id == row.id).values(paused_until=None, consecutive_failures=0)
            )
            conn.execute(
                update(d)
                .where(
                    d.c.endpoint_id == row.id, d.c.status == "pending", d.c.next_attempt_at > now
                )
                .values(next_attempt_at=now)
            )
        return True
