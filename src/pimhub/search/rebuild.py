"""Rebuilding the search index from the catalog: `pimhub search rebuild`, and the migration
that creates the index for a catalog that already has objects."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from pimhub.search.postgres_fts import PostgresIndexWriter
from pimhub.search.sql_index import IndexLanguages, SqlIndexWriter
from pimhub.search.sqlite_fts import SqliteIndexWriter
from pimhub.settings import Settings


def writer_for(conn: Connection, languages: IndexLanguages) -> SqlIndexWriter:
    if conn.dialect.name == "postgresql":
        return PostgresIndexWriter(conn, languages)
    return SqliteIndexWriter(conn, languages)


def rebuild_on(
    conn: Connection,
    languages: IndexLanguages | None = None,
    class_names: Sequence[str] | None = None,
) -> int:
    """Index the objects of `class_names` (all classes: the whole index, emptied first) again
    inside the caller's transaction; the number of objects indexed."""
    if languages is None:
        settings = Settings()
        languages = IndexLanguages(tuple(settings.languages), settings.default_language)
    return writer_for(conn, languages).rebuild(class_names)
