"""Single-statement reads on a pooled DBAPI connection, for the hottest read paths (a product
by SKU, an API key by id).

Measured on SQLite, SQLAlchemy's per-statement machinery (transaction events, compiled-cache
lookup, result processors) costs about five times the query itself: ~100 us against ~20 us.
A single SELECT needs no transaction and no unit of work, so these reads run hand-written SQL
per dialect and decode the few column types themselves. Everything that writes, or reads more
than one statement, stays on SQLAlchemy Core.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Engine

from pimhub.catalog.objects import OBJECT_FIELDS, CatalogObject, RelatedObject

# The object columns, in the order joined GraphQL rows use too.
OBJECT_COLUMNS = OBJECT_FIELDS
_WIDTH = len(OBJECT_COLUMNS)
# Related objects are read without their times and version: nothing shows them, and decoding
# two timestamps per target was a fifth of the read.
RELATED_COLUMNS = ("uuid", "class_name", "business_key", "published", "data")
_RELATED_WIDTH = len(RELATED_COLUMNS)


class PointReader:
    """Runs one SELECT and returns its first row, with dialect-neutral value decoding."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        # Templates use %s; SQLite's driver wants qmark placeholders.
        self._placeholder = "?" if self.sqlite else "%s"
        self._local = threading.local()

    def sql(self, template: str) -> str:
        return template.replace("%s", self._placeholder)

    def first(self, sql: str, args: Sequence[Any]) -> tuple[Any, ...] | None:
        if self.sqlite:
            # fetchall, not fetchone: an unfinished statement would keep its read snapshot.
            rows = self._sqlite_connection().execute(sql, tuple(args)).fetchall()
            return rows[0] if rows else None
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(sql, tuple(args))
                row: tuple[Any, ...] | None = cursor.fetchone()
                return row
            finally:
                cursor.close()
        finally:
            raw.close()

    def all(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        """As `first`, every row (for a short list, as a user's saved views)."""
        if self.sqlite:
            return list(self._sqlite_connection().execute(sql, tuple(args)).fetchall())
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(sql, tuple(args))
                return list(cursor.fetchall())
            finally:
                cursor.close()
        finally:
            raw.close()

    def memo(self) -> dict[Any, Any] | None:
        """A per-thread dict for caching point reads, emptied whenever anything was committed
        to the database since it was last used, by this process or any other (SQLite's
        PRAGMA data_version, which costs a fraction of a query). So a cached row is never
        stale: a revoked API key is refused on the very next request. None on PostgreSQL,
        which has no equally cheap signal; callers then read every time."""
        if not self.sqlite:
            return None
        local = self._local
        version = self._sqlite_connection().execute("PRAGMA data_version").fetchone()[0]
        if version != getattr(local, "memo_version", None):
            local.memo, local.memo_version = {}, version
        memo: dict[Any, Any] = local.memo
        return memo

    def _sqlite_connection(self) -> Any:
        """This thread's own connection, taken out of the pool once. A pool checkout and
        return (with its reset) cost as much as the read; an idle autocommit SQLite
        connection holds no lock and no snapshot, so keeping one per thread is free."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            raw = self.engine.raw_connection()
            raw.detach()
            conn = self._local.conn = raw.dbapi_connection
        return conn

    def json(self, value: Any) -> Any:
        """SQLite hands JSON back as text; psycopg has already decoded it."""
        return orjson.loads(value) if self.sqlite and isinstance(value, str | bytes) else value

    def utc_or_none(self, value: datetime | str | None) -> datetime | None:
        """SQLite stores naive UTC text (see tables.UtcDateTime); psycopg returns aware."""
        return None if value is None else self.utc(value)

    def utc(self, value: datetime | str) -> datetime:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def related_object(self, row: Sequence[Any], offset: int) -> RelatedObject:
        uuid, class_name, key, published, data = row[offset : offset + _RELATED_WIDTH]
        return RelatedObject(class_name, key, uuid, bool(published), self.json(data))

    def catalog_object(self, row: Sequence[Any], offset: int = 0) -> CatalogObject:
        (id_, uuid, class_name, key, published, version, created, modified, data, parent, inh,
         completeness, workflow_state) = row[offset : offset + _WIDTH]  # fmt: skip
        return CatalogObject(
            class_name=class_name,
            key=key,
            uuid=uuid,
            values=self.json(data),
            published=bool(published),
            version=version,
            created_at=self.utc(created),
            modified_at=self.utc(modified),
            id=id_,
            parent=parent,
            inherited=tuple(self.json(inh)) if inh is not None else (),
            completeness=self.json(completeness),
            workflow_state=workflow_state,
        )


@lru_cache(maxsize=64)
def _with_targets_sql(fields: int, sqlite: bool) -> str:
    def cols(alias: str, columns: Sequence[str]) -> str:
        return ", ".join(f"{alias}.{c}" for c in columns)

    # The JSON path (SQLite) or key (PostgreSQL) is a bound parameter too, never spliced in.
    extract = "json_extract(o.data, %s)" if sqlite else "(o.data ->> %s)"
    select = [cols("o", OBJECT_COLUMNS)] + [cols(f"t{i}", RELATED_COLUMNS) for i in range(fields)]
    joins = [f"LEFT OUTER JOIN objects AS t{i} ON t{i}.uuid = {extract}" for i in range(fields)]
    sql = (
        f"SELECT {', '.join(select)} FROM objects AS o {' '.join(joins)} "
        "WHERE o.class_name = %s AND o.business_key = %s"
    )
    return sql.replace("%s", "?") if sqlite else sql


class SqlObjectPointReads:
    """Implements catalog.ports.ObjectPointReads."""

    def __init__(self, engine: Engine) -> None:
        self.reader = PointReader(engine)

    def get_with_targets(
        self, class_name: str, key: str, fields: Sequence[str]
    ) -> tuple[CatalogObject, dict[str, RelatedObject]] | None:
        """One statement: the object and the single-valued relation targets in `fields`."""
        reader = self.reader
        sql = _with_targets_sql(len(fields), reader.sqlite)
        paths = [f'$."{name}"' if reader.sqlite else name for name in fields]
        row = reader.first(sql, [*paths, class_name, key])
        if row is None:
            return None
        offsets = [_WIDTH + _RELATED_WIDTH * i for i in range(len(fields))]
        related = {
            name: reader.related_object(row, at)
            for name, at in zip(fields, offsets, strict=True)
            if row[at] is not None
        }
        return reader.catalog_object(row), related
