"""How much of what inbound sources sent is still on its way, per source, for /metrics."""

from __future__ import annotations

from sqlalchemy import Engine, func, literal, select, union_all

from pimhub.events.endpoints import CATALOG_TYPES
from pimhub.storage.tables import inbound_sources, outbox, webhook_deliveries
from pimhub.storage.webhook_log import OPEN


class SqlInboundBacklog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def by_source(self) -> dict[str, int]:
        """Per source: its events' deliveries not yet delivered or dead-lettered, plus its
        events no worker has fanned out yet (with the workers stopped, those are the whole
        backlog). Every configured source is listed, at 0 when nothing waits. An inbound
        event is any event of a type the hub does not raise itself; its outbox class_name is
        the source's name. One statement, so a scrape costs one round trip."""
        inbound = outbox.c.event_type.not_in(sorted(CATALOG_TYPES))
        d = webhook_deliveries
        open_deliveries = (
            select(outbox.c.class_name.label("source"), func.count().label("n"))
            .select_from(d.join(outbox, outbox.c.id == d.c.outbox_id))
            .where(d.c.status.in_(OPEN), inbound)
            .group_by(outbox.c.class_name)
        )
        not_fanned_out = (
            select(outbox.c.class_name, func.count())
            .where(outbox.c.dispatched_at.is_(None), inbound)
            .group_by(outbox.c.class_name)
        )
        configured = select(inbound_sources.c.name, literal(0))
        with self.engine.connect() as conn:
            rows = conn.execute(union_all(open_deliveries, not_fanned_out, configured)).all()
        totals: dict[str, int] = {}
        for source, count in rows:
            totals[source] = totals.get(source, 0) + int(count)
        return totals
