"""Picks the search index implementation for a database, and its DDL for the migration."""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from pimhub.search import postgres_fts, sqlite_fts
from pimhub.search.sql_index import IndexLanguages, SqlSearchIndex


def search_index(engine: Engine, languages: IndexLanguages) -> SqlSearchIndex:
    if engine.dialect.name == "postgresql":
        return postgres_fts.PostgresSearchIndex(engine, languages)
    if engine.dialect.name == "sqlite":
        return sqlite_fts.SqliteSearchIndex(engine, languages)
    raise ValueError(f"no search index for {engine.dialect.name} databases")


def create_index_tables(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        postgres_fts.create_tables(conn)
    else:
        conn.exec_driver_sql(sqlite_fts.CREATE)


def drop_index_tables(conn: Connection) -> None:
    conn.exec_driver_sql(
        postgres_fts.DROP if conn.dialect.name == "postgresql" else sqlite_fts.DROP
    )


# The tables (and SQLite's FTS5 shadow tables) the search index owns outside tables.py.
INDEX_TABLE_PREFIXES = (sqlite_fts.TABLE, postgres_fts.TABLE)
