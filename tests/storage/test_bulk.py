"""The driver-level bulk writer stores exactly what SQLAlchemy Core statements store, so every
read (listings sorted and filtered by time, JSON paths, cursors) sees no difference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import DataError, IntegrityError

from pimhub.catalog.objects import iso
from pimhub.storage.bulk import BulkWriter, sqlite_time
from pimhub.storage.engine import begin_write, build_engine
from pimhub.storage.tables import objects
from pimhub.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.conftest import POSTGRES_ENV, empty_database, require_service

WHEN = datetime(2026, 11, 25, 11, 32, 10, 123, tzinfo=timezone(timedelta(hours=2)))
VALUES = {"name": {"en": "Tee ü"}, "n": 1.5, "tags": ["a", "b"], "none": None}
COLUMNS = (
    "uuid", "class_name", "business_key", "published", "version", "created_at",
    "modified_at", "data",
)  # fmt: skip


def test_bulk_rows_read_back_like_core_rows(engine: Engine) -> None:
    empty_database(engine)
    with begin_write(engine) as conn:
        conn.execute(
            insert(objects).values(
                uuid="core",
                class_name="X",
                business_key="a",
                published=True,
                version=1,
                created_at=WHEN,
                modified_at=WHEN,
                data=VALUES,
            )
        )
        bulk = BulkWriter(conn)
        row = ("bulk", "X", "b", True, 1, bulk.time(WHEN), bulk.time(WHEN), bulk.json(VALUES))
        bulk.insert(objects, COLUMNS, [row])
    with engine.connect() as conn:
        read = {r.uuid: r for r in conn.execute(select(objects))}
        # The stored form itself, as text: comparisons and sorts in SQL see the same thing.
        raw = {
            r[0]: r[1:]
            for r in conn.execute(
                text("SELECT uuid, CAST(created_at AS TEXT), CAST(data AS TEXT) FROM objects")
            )
        }
        later = conn.execute(
            select(objects.c.uuid).where(objects.c.created_at >= WHEN).order_by(objects.c.uuid)
        ).scalars()
        assert list(later) == ["bulk", "core"]
    core, mine = read["core"], read["bulk"]
    assert (mine.published, mine.created_at, mine.data) == (
        core.published,
        core.created_at,
        core.data,
    )
    assert mine.created_at == WHEN and mine.created_at.tzinfo is not None
    assert raw["bulk"][0] == raw["core"][0]
    if engine.dialect.name == "sqlite":
        assert raw["bulk"][1] == raw["core"][1]


def test_bulk_update_counts_only_rows_matching_every_condition(engine: Engine) -> None:
    empty_database(engine)
    with begin_write(engine) as conn:
        bulk = BulkWriter(conn)
        t = bulk.time(WHEN)
        bulk.insert(
            objects,
            COLUMNS,
            [(u, "X", u, True, 1, t, t, bulk.json({})) for u in ("a", "b", "c")],
        )
        changed = bulk.update(
            objects,
            ("version", "data"),
            ("uuid", "version"),
            [(2, bulk.json({"v": 2}), "a", 1), (2, bulk.json({"v": 2}), "b", 7)],
        )
        assert changed == 1
        assert bulk.update(objects, ("version",), ("uuid",), []) == 0
    with engine.connect() as conn:
        rows = {r.uuid: (r.version, r.data) for r in conn.execute(select(objects))}
    assert rows == {"a": (2, {"v": 2}), "b": (1, {}), "c": (1, {})}


def test_sqlite_time_is_utc_with_microseconds_and_refuses_naive_times() -> None:
    assert sqlite_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05.000000"
    assert sqlite_time(WHEN) == "2026-11-25 09:32:10.000123"
    with pytest.raises(ValueError, match="naive"):
        sqlite_time(datetime(2026, 1, 2))


def test_a_duplicate_in_a_bulk_insert_is_sqlalchemys_integrity_error(engine: Engine) -> None:
    empty_database(engine)
    with begin_write(engine) as conn:
        bulk = BulkWriter(conn)
        t = bulk.time(WHEN)
        rows = [(u, "X", u, True, 1, t, t, bulk.json({})) for u in ("a", "a")]
        with pytest.raises(IntegrityError):
            bulk.insert(objects, COLUMNS, rows)
        conn.rollback()
    with engine.connect() as conn:
        assert conn.execute(select(objects)).all() == []


def test_bulk_units_of_work_plan_each_statement_for_its_values_on_postgresql(
    request: pytest.FixtureRequest,
) -> None:
    url = require_service(request.config, POSTGRES_ENV, "PostgreSQL")
    engine = build_engine(url)
    factory = SqlUnitOfWorkFactory(engine, lambda conn: None)  # type: ignore[arg-type,return-value]

    def mode(**options: bool) -> str:
        with factory(**options) as uow:
            return str(uow.conn.exec_driver_sql("SHOW plan_cache_mode").scalar())

    try:
        assert mode(write=True, bulk=True) == "force_custom_plan"
        # SET LOCAL: the pooled connection is back to the default afterwards.
        assert mode(write=True) == "auto"
    finally:
        engine.dispose()


def test_a_value_postgresql_cannot_store_fails_as_sqlalchemys_error(engine: Engine) -> None:
    empty_database(engine)
    with begin_write(engine) as conn:
        bulk = BulkWriter(conn)
        t = bulk.time(WHEN)
        row = ("nul", "X", "a\x00b", True, 1, t, t, bulk.json({}))
        if engine.dialect.name == "postgresql":
            with pytest.raises(DataError):  # text cannot hold NUL there
                bulk.insert(objects, COLUMNS, [row])
            conn.rollback()
        else:
            bulk.insert(objects, COLUMNS, [row])


def test_iso_caches_utc_times_only() -> None:
    noon = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert iso(noon) == "2026-01-01T12:00:00.000Z"
    assert iso(noon.astimezone(timezone(timedelta(hours=1)))) == "2026-01-01T13:00:00.000+01:00"
