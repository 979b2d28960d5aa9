"""The search index on SQLite: an FTS5 table of documents, ranked by BM25.

A document's rowid is its object's id times 64 plus its number among the object's documents,
so an object's documents are one rowid range: found without a scan, deleted in one statement.
The language is an indexed column holding a marker token, so the language condition is part
of the full-text match instead of a check on every matching row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    column,
    func,
    literal_column,
    select,
    table,
)

from pimhub.search.documents import MAX_LANGUAGES, SearchDocument, language_token
from pimhub.search.ports import Facet, Part, TextQuery
from pimhub.search.sql_index import SqlIndexWriter, SqlSearchIndex
from pimhub.storage.tables import objects

TABLE = "search_fts"
CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
    "key, name, body, language, tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
)
DROP = f"DROP TABLE IF EXISTS {TABLE}"
# BM25 weights of key, name, body and the language marker (which never scores).
WEIGHTS = (100.0, 10.0, 1.0, 0.0)
SLOTS = MAX_LANGUAGES
SHIFT = SLOTS.bit_length() - 1  # rowid >> SHIFT is the object's id
assert 1 << SHIFT == SLOTS

fts = table(TABLE, column("rowid"), column("key"), column("name"), column("body"))


def match_expression(text: TextQuery, language: str) -> str:
    """An FTS5 query: every token in the allowed parts (the last as a prefix), in a document
    of `language` or of any language. Tokens are word characters only, so quoting them is
    safe."""
    terms = [f'"{t}"' for t in text.tokens]
    terms[-1] += "*"
    parts = " ".join(p.value for p in Part if p in text.parts)
    langs = f'"{language_token(language)}" OR "{language_token("*")}"'
    return f"{{{parts}}} : ({' AND '.join(terms)}) AND language : ({langs})"


class SqliteIndexWriter(SqlIndexWriter):
    def delete_ids(self, ids: Sequence[int]) -> None:
        if ids:
            self.conn.exec_driver_sql(
                f"DELETE FROM {TABLE} WHERE rowid >= ? AND rowid < ?",
                [(i * SLOTS, (i + 1) * SLOTS) for i in ids],
            )

    def insert(self, docs: Sequence[tuple[int, list[SearchDocument]]]) -> None:
        rows = [
            (object_id * SLOTS + n, d.key, d.name, d.body, language_token(d.language))
            for object_id, object_docs in docs
            for n, d in enumerate(object_docs)
        ]
        if rows:
            self.conn.exec_driver_sql(
                f"INSERT INTO {TABLE} (rowid, key, name, body, language) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def clear(self) -> None:
        self.conn.exec_driver_sql(f"DELETE FROM {TABLE}")


class SqliteSearchIndex(SqlSearchIndex):
    def writer(self, conn: Connection) -> SqliteIndexWriter:
        return SqliteIndexWriter(conn, self.languages)

    def matched(self, text: TextQuery, language: str, name: str = "hits") -> Select[Any]:
        # bm25() only works while FTS5 scans its own table, so the matches are ranked in a
        # materialized CTE and the objects (and any window or sort) are joined outside it.
        hits = (
            select(
                fts.c.rowid.op(">>")(SHIFT).label("object_id"),
                func.bm25(literal_column(TABLE), *WEIGHTS).label("_rank"),
            )
            .where(literal_column(TABLE).op("MATCH")(match_expression(text, language)))
            .cte(name)
            .prefix_with("MATERIALIZED")
        )
        return (
            select(objects, hits.c._rank)
            .select_from(hits)
            .join(objects, objects.c.id == hits.c.object_id)
        )

    def list_items_of(self, hits: Any, facet: Facet) -> tuple[Any, ColumnElement[Any]]:
        items = func.json_each(hits.c.data, f"$.{facet.field}").table_valued("value")
        return items, items.c.value

    def size(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.exec_driver_sql(f"SELECT count(*) FROM {TABLE}").scalar_one())
