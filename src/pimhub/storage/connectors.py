"""Connector rows: a connector's settings beside the pipeline destination row it delivers
through (webhook_endpoints with a non-webhook kind), written together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, delete, func, insert, select, update

from pimhub.connectors.records import StoredConnector
from pimhub.events.endpoints import EndpointSpec
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import connectors as c
from pimhub.storage.tables import outbox
from pimhub.storage.tables import webhook_endpoints as ep
from pimhub.storage.webhook_endpoints import spec_columns


def endpoint_id_of(name: str) -> str:
    return f"connector-{name}"


class SqlConnectorRepository:
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
    ) -> StoredConnector | None:
        """None when a connector of that name exists."""
        with begin_write(self.engine) as conn:
            if conn.execute(select(c.c.name).where(c.c.name == name)).first():
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
                    **spec_columns(spec),
                )
                .returning(ep.c.id)
            ).scalar_one()
            conn.execute(
                insert(c).values(
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

    def get(self, name: str) -> StoredConnector | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._select().where(c.c.name == name)).first()
        return _stored(row) if row else None

    def by_endpoint(self, endpoint: int) -> StoredConnector | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._select().where(c.c.endpoint_id == endpoint)).first()
        return _stored(row) if row else None

    def all(self) -> list[StoredConnector]:
        with self.engine.connect() as conn:
            rows = conn.execute(self._select().order_by(c.c.name)).all()
        return [_stored(r) for r in rows]

    def save(
        self,
        name: str,
        config: dict[str, Any],
        spec: EndpointSpec,
        now: datetime,
        sealed: str | None = None,
    ) -> bool:
        """New settings (and credentials when given). The destination row's updated_at moves
        too, which is what makes running workers rebuild the connector."""
        with begin_write(self.engine) as conn:
            done = conn.execute(
                update(c)
                .where(c.c.name == name)
                .values(config=config, version=c.c.version + 1, updated_at=now)
            )
            if done.rowcount != 1:
                return False
            values: dict[str, Any] = {**spec_columns(spec), "updated_at": now}
            if sealed is not None:
                values["secret"] = sealed
            conn.execute(
                update(ep).where(ep.c.endpoint_id == endpoint_id_of(name)).values(**values)
            )
        return True

    def remove(self, name: str) -> bool:
        """The connector, its destination row and that row's deliveries (by cascade)."""
        with begin_write(self.engine) as conn:
            done = conn.execute(delete(ep).where(ep.c.endpoint_id == endpoint_id_of(name)))
            conn.execute(delete(c).where(c.c.name == name))
        return done.rowcount == 1

    def sealed_secret(self, name: str) -> str | None:
        """The connector's credentials, encrypted as stored."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(ep.c.secret).where(ep.c.endpoint_id == endpoint_id_of(name))
            ).scalar()

    def _select(self) -> Any:
        return select(
            c.c.name,
            c.c.kind,
            c.c.config,
            c.c.version,
            c.c.created_at,
            c.c.updated_at,
            ep.c.endpoint_id.label("endpoint_public_id"),
            ep.c.enabled,
            ep.c.disabled_reason,
            ep.c.consecutive_failures,
            ep.c.paused_until,
        ).join(ep, ep.c.id == c.c.endpoint_id)


def _stored(row: Row[Any]) -> StoredConnector:
    return StoredConnector(
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
