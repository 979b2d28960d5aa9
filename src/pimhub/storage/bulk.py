"""Bulk inserts and updates on the driver: one executemany with values already in the form the
driver stores, skipping SQLAlchemy's per-row parameter processing (which cost more than the
database's own work when an import writes thousands of objects per batch).

What is stored is exactly what the Core statements store, so reads through SQLAlchemy see no
difference: datetimes in UTC (on SQLite the text SQLAlchemy writes, always with
microseconds), JSON as compact text (cast to jsonb on PostgreSQL). PostgreSQL inserts use
COPY.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

import orjson
import psycopg
from sqlalchemy import Connection
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import TableClause
from sqlalchemy.types import JSON

Row = tuple[Any, ...]


class BulkWriter:
    """Statements for one connection's dialect; values go through `time` and `json` first."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.time: Callable[[datetime], Any] = sqlite_time if self.sqlite else _utc

    @staticmethod
    def json(value: Any) -> str:
        return orjson.dumps(value).decode()

    def insert(self, table: TableClause, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        if self.sqlite:
            self.conn.exec_driver_sql(_insert_sql(True, table, tuple(columns)), rows)
        else:
            self._copy(table, columns, rows)

    def _copy(self, table: TableClause, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """COPY on PostgreSQL: psycopg's executemany costs tens of microseconds a row, COPY a
        few. Same connection, so the same transaction."""
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        driver = self.conn.connection.driver_connection
        assert driver is not None
        try:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as exc:
            # As SQLAlchemy raises for every other statement (IntegrityError, DataError, a
            # dropped connection), so callers and the CLI handle COPY failures the same way.
            raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc

    def update(
        self, table: TableClause, columns: Sequence[str], where: Sequence[str], rows: Sequence[Row]
    ) -> int:
        """UPDATE `columns` of the rows matching every `where` column (each row's values are
        the new values, then the where values); the number of rows changed."""
        if not rows:
            return 0
        sql = _update_sql(self.sqlite, table, tuple(columns), tuple(where))
        result: CursorResult[Any] = self.conn.exec_driver_sql(sql, rows)
        return result.rowcount


@lru_cache(maxsize=64)  # a batch stores thousands of rows with one `now`
def sqlite_time(value: datetime) -> str:
    """The text SQLAlchemy stores for a UTC datetime on SQLite ("2026-11-25 11:32:10.000123"):
    the same text compares, sorts and parses the same."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value


@cache
def _insert_sql(sqlite: bool, table: TableClause, columns: tuple[str, ...]) -> str:
    values = ", ".join(_placeholder(sqlite, table, c) for c in columns)
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({values})"


@cache
def _update_sql(
    sqlite: bool, table: TableClause, columns: tuple[str, ...], where: tuple[str, ...]
) -> str:
    sets = ", ".join(f"{c} = {_placeholder(sqlite, table, c)}" for c in columns)
    conditions = " AND ".join(f"{c} = {_placeholder(sqlite, table, c)}" for c in where)
    return f"UPDATE {table.name} SET {sets} WHERE {conditions}"


def _placeholder(sqlite: bool, table: TableClause, column: str) -> str:
    if sqlite:
        return "?"
    return "CAST(%s AS jsonb)" if isinstance(table.c[column].type, JSON) else "%s"
