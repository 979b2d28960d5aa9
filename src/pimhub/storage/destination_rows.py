"""Named pipeline destinations (connectors, brokers): a settings row in the destination's own
table beside the webhook_endpoints row it delivers through, always written together in one
transaction. The two tables have the same columns; each repository names its table, the
public endpoint id of a name, the pipeline columns of a spec and its record type."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, Row, Table, delete, func, insert, select, update

from pimhub.events.endpoints import EndpointSpec
from pimhub.storage.engine import begin_write
from pimhub.storage.locks import lock_names
from pimhub.storage.tables import outbox
from pimhub.storage.tables import webhook_endpoints as ep

Stored = TypeVar("Stored")

# Health columns cleared when an operator enables a destination again.
FRESH_HEALTH = {
    "disabled_reason": None,
    "consecutive_failures": 0,
    "failing_since": None,
    "paused_until": None,
}


class NamedDestinationRows(Generic[Stored]):
    def __init__(
        self,
        engine: Engine,
        table: Table,
        endpoint_id_of: Callable[[str], str],
        columns: Callable[[EndpointSpec], dict[str, Any]],
        record: Callable[..., Stored],
    ) -> None:
        self.engine = engine
        self._table = table
        self._endpoint_id_of = endpoint_id_of
        self._columns = columns
        self._record = record

    def add(
        self,
        name: str,
        kind: str,
        config: dict[str, Any],
        spec: EndpointSpec,
        sealed: str,
        now: datetime,
    ) -> Stored | None:
        """None when one of that name exists. Its row hears of events from now on."""
        t = self._table
        with begin_write(self.engine) as conn:
            # Adds and removes of one name take turns (PostgreSQL): otherwise an add racing
            # others' adds and removes could lose the unique insert on every retry and answer
            # a write-conflict to a client that named no version.
            lock_names(conn, [self._lock_name(name)])
            if conn.execute(select(t.c.name).where(t.c.name == name)).first():
                return None
            high_water = conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar()
            endpoint = conn.execute(
                insert(ep)
                .values(
                    endpoint_id=self._endpoint_id_of(name),
                    kind=kind,
                    after_outbox_id=high_water,
                    secret=sealed,
                    consecutive_failures=0,
                    created_at=now,
                    updated_at=now,
                    **self._columns(spec),
                )
                .returning(ep.c.id)
            ).scalar_one()
            conn.execute(
                insert(t).values(
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

    def get(self, name: str) -> Stored | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._select().where(self._table.c.name == name)).first()
        return self._stored(row) if row else None

    def by_endpoint(self, endpoint: int) -> Stored | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._select().where(self._table.c.endpoint_id == endpoint)).first()
        return self._stored(row) if row else None

    def all(self) -> list[Stored]:
        with self.engine.connect() as conn:
            rows = conn.execute(self._select().order_by(self._table.c.name)).all()
        return [self._stored(r) for r in rows]

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
        t = self._table
        where = t.c.name == name
        if expected is not None:
            where = where & (t.c.version == expected)
        with begin_write(self.engine) as conn:
            done = conn.execute(
                update(t)
                .where(where)
                .values(config=config, version=t.c.version + 1, updated_at=now)
            )
            if done.rowcount != 1:
                return False
            values: dict[str, Any] = {**self._columns(spec), "updated_at": now}
            if sealed is not None:
                values["secret"] = sealed
            if reset_health:
                values |= FRESH_HEALTH
            conn.execute(
                update(ep).where(ep.c.endpoint_id == self._endpoint_id_of(name)).values(**values)
            )
        return True

    def remove(self, name: str) -> bool:
        """The destination, its pipeline row and that row's deliveries (by cascade)."""
        with begin_write(self.engine) as conn:
            lock_names(conn, [self._lock_name(name)])
            done = conn.execute(delete(ep).where(ep.c.endpoint_id == self._endpoint_id_of(name)))
            conn.execute(delete(self._table).where(self._table.c.name == name))
        return done.rowcount == 1

    def _lock_name(self, name: str) -> str:
        return f"{self._table.name}:{name}"

    def sealed_secret(self, name: str) -> str | None:
        """The destination's credentials, encrypted as stored."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(ep.c.secret).where(ep.c.endpoint_id == self._endpoint_id_of(name))
            ).scalar()

    def _select(self) -> Any:
        t = self._table
        return select(
            t.c.name,
            t.c.kind,
            t.c.config,
            t.c.version,
            t.c.created_at,
            t.c.updated_at,
            ep.c.endpoint_id.label("endpoint_public_id"),
            ep.c.enabled,
            ep.c.disabled_reason,
            ep.c.consecutive_failures,
            ep.c.paused_until,
        ).join(ep, ep.c.id == t.c.endpoint_id)

    def _stored(self, row: Row[Any]) -> Stored:
        return self._record(
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
