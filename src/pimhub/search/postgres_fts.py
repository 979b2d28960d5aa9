"""The search index on PostgreSQL: a table of documents with a weighted tsvector (key A, name
B, other text C) under a GIN index, and a trigram index on names for near matches when a
search finds nothing (typos).

Documents hold text already normalized by search.documents, so the 'simple' configuration
(no stemming, no stop words) only splits it: the same tokens as on SQLite.
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
    literal,
    literal_column,
    select,
    table,
    text,
)

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.objects import CatalogObject
from pimhub.search.documents import ANY_LANGUAGE, SearchDocument, normalize
from pimhub.search.ports import Facet, Part, TextQuery
from pimhub.search.sql_index import SqlIndexWriter, SqlSearchIndex
from pimhub.storage.bulk import BulkWriter
from pimhub.storage.tables import objects

TABLE = "search_documents"
TRGM_SCHEMA = "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
CREATE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        object_id BIGINT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
        language VARCHAR(16) NOT NULL,
        key_text TEXT NOT NULL,
        name_text TEXT NOT NULL,
        body_text TEXT NOT NULL,
        document TSVECTOR GENERATED ALWAYS AS (
            setweight(to_tsvector('simple', key_text), 'A')
            || setweight(to_tsvector('simple', name_text), 'B')
            || setweight(to_tsvector('simple', body_text), 'C')
        ) STORED,
        PRIMARY KEY (object_id, language)
    )""",
    f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_document ON {TABLE} USING gin (document)",
    # The extension may live in a schema off the search path: name it ({trgm}).
    f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_name_trgm ON {TABLE} "
    "USING gin (name_text {trgm}.gin_trgm_ops)",
)
DROP = f"DROP TABLE IF EXISTS {TABLE}"
# ts_rank's weights for D, C, B, A: body, name and key ten times apart.
RANK_WEIGHTS = "{0, 0.01, 0.1, 1}"
_WEIGHT_LABELS = {Part.KEY: "A", Part.NAME: "B", Part.BODY: "C"}

docs = table(
    TABLE,
    column("object_id"),
    column("language"),
    column("key_text"),
    column("name_text"),
    column("document"),
)


def tsquery(text: TextQuery) -> str:
    """A to_tsquery('simple', ...) string: every token, the last as a prefix, limited to the
    allowed parts by weight label."""
    labels = (
        ""
        if text.parts == frozenset(Part)
        else "".join(_WEIGHT_LABELS[p] for p in Part if p in text.parts)
    )
    terms = [f"{t}:{labels}" if labels else t for t in text.tokens]
    last = text.tokens[-1]
    terms[-1] = f"{last}:*{labels}"
    return " & ".join(terms)


class PostgresIndexWriter(SqlIndexWriter):
    def add_many(self, definition: ClassDefinition, objs: Sequence[CatalogObject]) -> None:
        # New objects' rows cannot be there yet (not even from a rebuild, which sees only
        # committed objects), so COPY, without the upsert's conflict check.
        rows = [
            (object_id, d.language, d.key, d.name, d.body)
            for object_id, object_docs in self.languages.documents(definition, objs)
            for d in object_docs
        ]
        BulkWriter(self.conn).insert(
            docs, ("object_id", "language", "key_text", "name_text", "body_text"), rows
        )

    def delete_ids(self, ids: Sequence[int]) -> None:
        if ids:
            self.conn.execute(docs.delete().where(docs.c.object_id.in_(list(ids))))

    def insert(self, documents: Sequence[tuple[int, list[SearchDocument]]]) -> None:
        rows = [
            {
                "object_id": object_id,
                "language": d.language,
                "key_text": d.key,
                "name_text": d.name,
                "body_text": d.body,
            }
            for object_id, object_docs in documents
            for d in object_docs
        ]
        if rows:
            self.conn.execute(
                text(
                    f"INSERT INTO {TABLE} (object_id, language, key_text, name_text, body_text) "
                    "VALUES (:object_id, :language, :key_text, :name_text, :body_text) "
                    # A rebuild committing meanwhile may have written the same row.
                    "ON CONFLICT (object_id, language) DO UPDATE SET key_text = excluded.key_text, "
                    "name_text = excluded.name_text, body_text = excluded.body_text"
                ),
                rows,
            )

    def clear(self) -> None:
        self.conn.execute(text(f"DELETE FROM {TABLE}"))


def trgm_schema(conn: Connection) -> str:
    return str(conn.exec_driver_sql(TRGM_SCHEMA).scalar_one())


def create_tables(conn: Connection) -> None:
    conn.exec_driver_sql(CREATE[0])
    schema = trgm_schema(conn)
    for statement in CREATE[1:]:
        conn.exec_driver_sql(statement.replace("{trgm}", schema))


class PostgresSearchIndex(SqlSearchIndex):
    trgm_schema: str | None = None

    def writer(self, conn: Connection) -> PostgresIndexWriter:
        return PostgresIndexWriter(conn, self.languages)

    def matched(self, text_query: TextQuery, language: str, name: str = "hits") -> Select[Any]:
        query = func.to_tsquery(literal_column("'simple'::regconfig"), tsquery(text_query))
        ranked: ColumnElement[Any] = docs.c.document
        if text_query.parts != frozenset(Part):
            # Rank only what may match: hidden text must not move an object up either.
            labels = ",".join(_WEIGHT_LABELS[p].lower() for p in Part if p in text_query.parts)
            ranked = func.ts_filter(docs.c.document, literal_column(f"'{{{labels}}}'::\"char\"[]"))
        rank = -func.ts_rank(literal_column(f"'{RANK_WEIGHTS}'::float4[]"), ranked, query)
        return self._joined(language, rank).where(docs.c.document.op("@@")(query))

    def near(self, text_query: TextQuery, language: str, name: str = "near") -> Select[Any] | None:
        words = normalize(text_query.raw)
        if Part.NAME not in text_query.parts or not words:
            return None
        # pg_trgm may live in a schema off the search path, so both are named by schema.
        # `<%` (word similarity above pg_trgm.word_similarity_threshold, 0.6 unless set)
        # is the form the trigram index serves.
        trgm = self._trgm_schema()
        similarity = getattr(func, trgm).word_similarity(words, docs.c.name_text)
        near = literal(words).op(f"OPERATOR({trgm}.<%)")(docs.c.name_text)
        return self._joined(language, -similarity).where(near)

    def _trgm_schema(self) -> str:
        if self.trgm_schema is None:
            with self.engine.connect() as conn:
                self.trgm_schema = trgm_schema(conn)
        return self.trgm_schema

    def _joined(self, language: str, rank: ColumnElement[Any]) -> Select[Any]:
        return (
            select(objects, rank.label("_rank"))
            .select_from(docs)
            .join(objects, objects.c.id == docs.c.object_id)
            .where(docs.c.language.in_([language, ANY_LANGUAGE]))
        )

    def list_items_of(self, hits: Any, facet: Facet) -> tuple[Any, ColumnElement[Any]]:
        items = func.jsonb_array_elements_text(hits.c.data[facet.field]).table_valued("value")
        return items, items.c.value

    def size(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar_one())
