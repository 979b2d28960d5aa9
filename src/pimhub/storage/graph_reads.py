"""Reads for the GraphQL datahub, on one connection per request.

Statements are SQLAlchemy Core (so filters reuse listing.py's compiler and the statement
cache), but object columns are selected without result processing: decoding JSON and two
timestamps per row through SQLAlchemy's type processors cost more than the query on a page of
100; PointReader decodes them directly instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, func, select, type_coerce
from sqlalchemy.sql import Select
from sqlalchemy.types import NullType

from pimhub.catalog.objects import CatalogObject
from pimhub.datahub.ports import ListingRequest, ListingRows
from pimhub.storage import listing
from pimhub.storage.point_reads import OBJECT_COLUMNS, PointReader
from pimhub.storage.tables import class_definitions, datahub_configs, objects

_RAW = [type_coerce(objects.c[name], NullType()).label(name) for name in OBJECT_COLUMNS]
_WIDTH = len(OBJECT_COLUMNS)
MAX_IN = 500  # uuids per IN list; larger batches are split


class SqlGraphReadSession:
    def __init__(self, conn: Connection, reader: PointReader) -> None:
        self.conn = conn
        self.reader = reader

    def _conditions(self, request: ListingRequest) -> list[Any]:
        conditions = [objects.c.class_name == request.class_name]
        if request.where is not None:
            conditions.append(listing.compile_filter(request.where))
        if request.published_only:
            conditions.append(objects.c.published.is_(True))
        if request.ids is not None:
            conditions.append(objects.c.id.in_(list(request.ids)))
        return conditions

    def listing(self, request: ListingRequest) -> ListingRows:
        cols = listing.sort_columns(request.sort)
        query: Select[Any] = select(  # type: ignore[assignment]
            *_RAW, *[c.label(f"_s{i}") for i, (c, _) in enumerate(cols)]
        ).where(*self._conditions(request))
        if request.after:
            values = listing.decode_cursor(request.sort, request.after)
            query = query.where(listing.after_cursor(cols, values))
        query = query.order_by(*[c.desc() if d else c.asc() for c, d in cols])
        query = query.limit(request.first + 1)
        if request.offset:
            query = query.offset(request.offset)
        rows = self.conn.execute(query).all()
        more = len(rows) > request.first
        rows = rows[: request.first]
        decode = self.reader.catalog_object
        sort = request.sort
        return ListingRows(
            [decode(r) for r in rows],
            [tuple(r[_WIDTH:]) for r in rows],
            more,
            lambda values: listing.encode_cursor(sort, values),
        )

    def count(self, request: ListingRequest) -> int:
        statement = select(func.count()).select_from(objects).where(*self._conditions(request))
        total: int = self.conn.execute(statement).scalar_one()
        return total

    def one(
        self, class_name: str, *, id: int | None, uuid: str | None, key: str | None
    ) -> CatalogObject | None:
        query = select(*_RAW).where(objects.c.class_name == class_name)
        if id is not None:
            query = query.where(objects.c.id == id)
        if uuid is not None:
            query = query.where(objects.c.uuid == uuid)
        if key is not None:
            query = query.where(objects.c.business_key == key)
        row = self.conn.execute(query).first()
        return self.reader.catalog_object(row) if row is not None else None

    def by_uuids(self, uuids: Sequence[str]) -> dict[str, CatalogObject]:
        found: dict[str, CatalogObject] = {}
        wanted = list(dict.fromkeys(uuids))
        for start in range(0, len(wanted), MAX_IN):
            chunk = wanted[start : start + MAX_IN]
            rows = self.conn.execute(select(*_RAW).where(objects.c.uuid.in_(chunk)))
            for row in rows:
                obj = self.reader.catalog_object(row)
                found[obj.uuid] = obj
        return found

    def fresh(self) -> None:
        self.conn.rollback()


class SqlGraphReads:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = PointReader(engine)

    @contextmanager
    def session(self) -> Iterator[SqlGraphReadSession]:
        with self.engine.connect() as conn:
            yield SqlGraphReadSession(conn, self.reader)

    def fingerprint(self, config_name: str) -> tuple[Any, ...] | None:
        """One small statement; memoized on SQLite until anything is committed (see
        PointReader.memo), read every time on PostgreSQL."""
        memo = self.reader.memo()
        cache_key = ("datahub-fingerprint", config_name)
        if memo is not None and cache_key in memo:
            cached: tuple[Any, ...] | None = memo[cache_key]
            return cached
        config = select(datahub_configs.c.version, datahub_configs.c.updated_at).where(
            datahub_configs.c.name == config_name
        )
        classes = select(
            class_definitions.c.name, class_definitions.c.version, class_definitions.c.updated_at
        ).order_by(class_definitions.c.name)
        with self.engine.connect() as conn:
            head = conn.execute(config).first()
            result = (
                None
                if head is None
                else (tuple(head), tuple(tuple(r) for r in conn.execute(classes)))
            )
        if memo is not None:
            memo[cache_key] = result
        return result
