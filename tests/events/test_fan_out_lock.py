"""PostgreSQL's fan-out lock belongs to one hub: advisory locks are per database, so two hubs
in schemas of one database (or two test sessions) must not take each other's turn."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select

from pimhub.catalog.ids import new_event_id
from pimhub.storage.migrate import upgrade
from pimhub.storage.tables import outbox
from pimhub.storage.webhook_queue import SqlDeliveryQueue
from tests.conftest import postgres_schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def other_schema(engine: Engine) -> Iterator[Engine]:
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    with postgres_schema(engine.url.render_as_string(hide_password=False), "pimhub_other") as eng:
        upgrade(eng)
        yield eng


def _event(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(outbox).values(
                event_id=new_event_id(),
                event_type="object.updated",
                class_name="Product",
                object_uuid=None,
                business_key="SKU-1",
                version=1,
                changed_fields=[],
                payload={},
                created_at=T0,
            )
        )


def test_two_schemas_fan_out_at_once(engine: Engine, other_schema: Engine) -> None:
    _event(engine)
    _event(other_schema)
    holder = SqlDeliveryQueue(engine)
    with engine.begin() as conn:
        # This hub's fan-out is under way (its transaction holds the lock) ...
        assert holder._fan_out(conn, T0, 10) == 1
        # ... so another worker of the same hub waits its turn ...
        assert SqlDeliveryQueue(engine).fan_out(T0, 10) == 0
        # ... while the hub in the other schema fans out its event.
        assert SqlDeliveryQueue(other_schema).fan_out(T0, 10) == 1
    with other_schema.connect() as conn:
        assert conn.execute(select(outbox.c.dispatched_at)).scalar() is not None
