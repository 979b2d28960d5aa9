"""Broker rows: a broker destination's settings beside the pipeline row it delivers through
(webhook_endpoints of kind 'rabbitmq', endpoint id broker-<name>), written together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, delete, func, insert, select, update

from pimhub.brokers.records import StoredBroker, endpoint_id_of
from pimhub.events.endpoints import EndpointSpec
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import brokers as b
from pimhub.storage.tables import outbox
from pimhub.storage.tables import webhook_endpoints as ep
from pimhub.storage.webhook_endpoints import spec_columns

# Health columns cleared when an operator enables a broker again.
FRESH_HEALTH = {
    "disabled_reason": None,
    "consecutive_failures": 0,
    "failing_since": None,
    "paused_until": None,
}


def _columns(spec: EndpointSpec) -> dict[str, Any]:
    # The subscription's sources and transform are written here too, whatever the shared
    # helper covers: the fan-out reads them from this row.
    return {**spec_columns(spec), "sources": list(spec.sources), "transform": spec.transform}


class SqlBrokerRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        name: str,
        kind: str,
        config: dict[str, Any],
        spec: EndpointSpec,
        sealed: str,
        now: datetime,
    ) -> StoredBroker | None:
        """None when a broker of that name exists. Its row hears of events from now on."""
        with begin_write(self.engine) as conn:
            if conn.execute(select(b.c.name).where(b.c.name == name)).first():
                return None
            high_water = conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar()
            endpoint = conn.execute(
                insert(ep)
                .values(
                    endpoint_id=endpoint_id_of(name),
                    kind=kind,
                    after_outbox_id=high_water,
                    secret=sealed,
                    consecutive_failures=0,
                    created_at=now,
                    updated_at=now,
                    **_columns(spec),
                )
                .returning(ep.c.id)
            ).scalar_one()
            conn.execute(
                insert(b).values(
                    name=name,
                    kind=kind,
                    endpoint_id=endpoint,
                    config=config,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
        return self.get(name)

    def get(self, name: str) -> StoredBroker | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._select().where(b.c.name == name)).first()
        return _stored(row) if row else None

    def by_endpoint(self, endpoint: int) -> StoredBroker | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._select().where(b.c.endpoint_id == endpoint)).first()
        return _stored(row) if row else None

    def all(self) -> list[StoredBroker]:
        with self.engine.connect() as conn:
            rows = conn.execute(self._select().order_by(b.c.name)).all()
        return [_stored(r) for r in rows]

    def save(
        self,
        name: str,
        config: dict[str, Any],
        spec: EndpointSpec,
        now: datetime,
        sealed: str | None = None,
        *,
        expected: int | None = None,
        reset_health: bool = False,
    ) -> bool:
        """New settings (and credentials when given); with `expected`, only while the version
        is still that (one compare-and-set UPDATE). The pipeline row's updated_at moves too,
        which makes running workers rebuild the destination."""
        where = b.c.name == name
        if expected is not None:
            where = where & (b.c.version == expected)
        with begin_write(self.engine) as conn:
            done = conn.execute(
                update(b)
                .where(where)
                .values(config=config, version=b.c.version + 1, updated_at=now)
            )
            if done.rowcount != 1:
                return False
            values: dict[str, Any] = {**_columns(spec), "updated_at": now}
            if sealed is not None:
                values["secret"] = sealed
            if reset_health:
                values |= FRESH_HEALTH
            conn.execute(
                update(ep).where(ep.c.endpoint_id == endpoint_id_of(name)).values(**values)
            )
        return True

    def remove(self, name: str) -> bool:
        """The broker, its pipeline row and that row's deliveries (by cascade)."""
        with begin_write(self.engine) as conn:
            done = conn.execute(delete(ep).where(ep.c.endpoint_id == endpoint_id_of(name)))
            conn.execute(delete(b).where(b.c.name == name))
        return done.rowcount == 1

    def sealed_secret(self, name: str) -> str | None:
        """The broker's credentials, encrypted as stored."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(ep.c.secret).where(ep.c.endpoint_id == endpoint_id_of(name))
            ).scalar()

    def _select(self) -> Any:
        return select(
            b.c.name,
            b.c.kind,
            b.c.config,
            b.c.version,
            b.c.created_at,
            b.c.updated_at,
            ep.c.endpoint_id.label("endpoint_public_id"),
            ep.c.enabled,
            ep.c.disabled_reason,
            ep.c.consecutive_failures,
            ep.c.paused_until,
        ).join(ep, ep.c.id == b.c.endpoint_id)


def _stored(row: Row[Any]) -> StoredBroker:
    return StoredBroker(
        name=row.name,
        kind=row.kind,
        config=dict(row.config),
        version=row.version,
        endpoint_id=row.endpoint_public_id,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        consecutive_failures=row.consecutive_failures,
        paused_until=row.paused_until,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
