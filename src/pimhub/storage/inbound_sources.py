"""Inbound source rows, each with the feed destination row (webhook_endpoints, kind
catalog-feed) of a source that applies its events to the catalog, written together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from pimhub.events.endpoints import EndpointSpec
from pimhub.inbound.source_parser import spec_from_stored
from pimhub.inbound.sources import (
    FEED_KIND,
    SourceSecrets,
    SourceSpec,
    StoredSource,
    feed_endpoint_id,
)
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import inbound_sources as s
from pimhub.storage.tables import outbox
from pimhub.storage.tables import webhook_endpoints as ep
from pimhub.storage.webhook_endpoints import spec_columns


def _endpoint_columns(spec: EndpointSpec) -> dict[str, Any]:
    # spec_columns may or may not carry the inbound filters yet; these are the feed's own.
    return {**spec_columns(spec), "sources": list(spec.sources), "transform": spec.transform}


class SqlSourceRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        spec: SourceSpec,
        config: dict[str, Any],
        sealed: str | None,
        feed: EndpointSpec | None,
        now: datetime,
        *,
        feed_sealed: str | None = None,
    ) -> StoredSource | None:
        """None when a source of that name exists. `feed_sealed` is the feed row's (unused,
        but decryptable) secret; without it, the source's."""
        with begin_write(self.engine) as conn:
            if conn.execute(select(s.c.name).where(s.c.name == spec.name)).first():
                return None
            conn.execute(
                insert(s).values(
                    name=spec.name,
                    scheme=spec.scheme.value,
                    config=config,
                    enabled=spec.enabled,
                    secret=sealed,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            if feed is not None:
                self._add_feed(conn, spec.name, feed, feed_sealed or sealed, now)
        return self.get(spec.name)

    def _add_feed(
        self, conn: Connection, name: str, feed: EndpointSpec, sealed: str | None, now: datetime
    ) -> None:
        if sealed is None:
            raise ValueError("a feed destination row needs a sealed secret")
        high_water = conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar()
        conn.execute(
            insert(ep).values(
                endpoint_id=feed_endpoint_id(name),
                kind=FEED_KIND,
                after_outbox_id=high_water,
                secret=sealed,
                consecutive_failures=0,
                created_at=now,
                updated_at=now,
                **_endpoint_columns(feed),
            )
        )

    def get(self, name: str) -> StoredSource | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(s).where(s.c.name == name)).first()
        return _stored(row) if row else None

    def all(self) -> list[StoredSource]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(s).order_by(s.c.name)).all()
        return [_stored(r) for r in rows]

    def save(
        self,
        spec: SourceSpec,
        config: dict[str, Any],
        feed: EndpointSpec | None,
        now: datetime,
        *,
        expected_version: int | None = None,
        feed_sealed: str | None = None,
    ) -> bool:
        """False when the source is gone, or its version is not `expected_version`. The feed
        row is added, changed or removed with it (its updated_at moves, so running workers
        rebuild the feed)."""
        with begin_write(self.engine) as conn:
            query = update(s).where(s.c.name == spec.name)
            if expected_version is not None:
                query = query.where(s.c.version == expected_version)
            done = conn.execute(
                query.values(
                    scheme=spec.scheme.value,
                    config=config,
                    enabled=spec.enabled,
                    version=s.c.version + 1,
                    updated_at=now,
                )
            )
            if done.rowcount != 1:
                return False
            endpoint_id = feed_endpoint_id(spec.name)
            if feed is None:
                conn.execute(delete(ep).where(ep.c.endpoint_id == endpoint_id))
                return True
            changed = conn.execute(
                update(ep)
                .where(ep.c.endpoint_id == endpoint_id)
                .values(**_endpoint_columns(feed), updated_at=now)
            )
            if changed.rowcount == 0:
                sealed = (
                    feed_sealed
                    or conn.execute(select(s.c.secret).where(s.c.name == spec.name)).scalar()
                )
                self._add_feed(conn, spec.name, feed, sealed, now)
        return True

    def remove(self, name: str) -> bool:
        with begin_write(self.engine) as conn:
            conn.execute(delete(ep).where(ep.c.endpoint_id == feed_endpoint_id(name)))
            done = conn.execute(delete(s).where(s.c.name == name))
        return done.rowcount == 1

    def secrets(self, name: str) -> SourceSecrets | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(s.c.secret, s.c.previous_secret, s.c.previous_secret_until).where(
                    s.c.name == name
                )
            ).first()
        if row is None:
            return None
        return SourceSecrets(row.secret, row.previous_secret, row.previous_secret_until)

    def with_secrets(self, name: str) -> tuple[StoredSource, SourceSecrets] | None:
        """The source and its secrets from one row read: read apart, a remove and add of the
        name in between paired one source with another's (or no) secret."""
        with self.engine.connect() as conn:
            row = conn.execute(select(s).where(s.c.name == name)).first()
        if row is None:
            return None
        return _stored(row), SourceSecrets(
            row.secret, row.previous_secret, row.previous_secret_until
        )

    def rotate(self, name: str, sealed: str, previous_until: datetime, now: datetime) -> bool:
        with begin_write(self.engine) as conn:
            done = conn.execute(
                update(s)
                .where(s.c.name == name)
                .values(
                    previous_secret=s.c.secret,
                    previous_secret_until=previous_until,
                    secret=sealed,
                    updated_at=now,
                )
            )
        return done.rowcount == 1


def _stored(row: Row[Any]) -> StoredSource:
    config = dict(row.config)
    config["enabled"] = row.enabled  # the column decides (enable/disable touch only it)
    return StoredSource(
        spec=spec_from_stored(config),  # checked when saved: not again on every load
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        has_secret=row.secret is not None,
        previous_secret_until=row.previous_secret_until,
    )
