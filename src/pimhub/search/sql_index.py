"""What the two index implementations share: the object-side conditions of a search, keyset
listings without text, facets, the writer's loop, and the rebuild."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    func,
    select,
    true,
)

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidQuery
from pimhub.catalog.objects import CatalogObject
from pimhub.search.documents import SearchDocument, documents_for, index_shape
from pimhub.search.ports import Facet, SearchPage, SearchRequest, TextQuery
from pimhub.storage import listing
from pimhub.storage.repositories import row_to_object
from pimhub.storage.tables import objects

REBUILD_BATCH = 1000


@dataclass(frozen=True, slots=True)
class IndexLanguages:
    """Which languages objects are indexed in (empty: those their text uses) and the one
    missing translations fall back to."""

    languages: tuple[str, ...]
    default: str

    def documents(self, definition: ClassDefinition, obj: CatalogObject) -> list[SearchDocument]:
        return documents_for(
            definition,
            obj.key,
            obj.values,
            languages=self.languages,
            default_language=self.default,
        )


class SqlIndexWriter:
    """Keeps one object's documents current, on the unit of work's connection."""

    def __init__(self, conn: Connection, languages: IndexLanguages) -> None:
        self.conn = conn
        self.languages = languages

    def put(self, definition: ClassDefinition, obj: CatalogObject) -> None:
        assert obj.id is not None
        self.delete_ids([obj.id])
        self.insert([(obj.id, self.languages.documents(definition, obj))])

    def remove(self, obj: CatalogObject) -> None:
        assert obj.id is not None
        self.delete_ids([obj.id])

    def class_changed(self, old: ClassDefinition, new: ClassDefinition) -> None:
        if index_shape(old) != index_shape(new):
            self.reindex_class(new)

    def reindex_class(self, definition: ClassDefinition) -> int:
        done = 0
        for batch in _batches(self.conn, definition.name):
            self.delete_ids([o.id for o in batch if o.id is not None])
            self.insert([(o.id, self.languages.documents(definition, o)) for o in batch if o.id])
            done += len(batch)
        return done

    def delete_ids(self, ids: Sequence[int]) -> None:
        raise NotImplementedError

    def insert(self, docs: Sequence[tuple[int, list[SearchDocument]]]) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError


def _batches(conn: Connection, class_name: str) -> Iterator[list[CatalogObject]]:
    last = 0
    while True:
        rows = conn.execute(
            select(objects)
            .where(objects.c.class_name == class_name, objects.c.id > last)
            .order_by(objects.c.id)
            .limit(REBUILD_BATCH)
        ).all()
        if not rows:
            return
        yield [row_to_object(r) for r in rows]
        last = rows[-1].id


class SqlSearchIndex:
    """A search: the matching documents (dialect-specific) joined to their objects, which
    the class, visibility and filter conditions narrow (shared)."""

    def __init__(self, engine: Engine, languages: IndexLanguages) -> None:
        self.engine = engine
        self.languages = languages

    # -- what a dialect provides ----------------------------------------------------------

    def writer(self, conn: Connection) -> SqlIndexWriter:
        raise NotImplementedError

    def matched(self, text: TextQuery, language: str) -> Select[Any]:
        """Objects whose documents in `language` match, with a `_rank` column (lower is
        better)."""
        raise NotImplementedError

    def near(self, text: TextQuery, language: str) -> Select[Any] | None:
        """Objects whose name nearly matches (typos), ranked; None where not supported."""
        return None

    def size(self) -> int:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------

    def conditions(self, request: SearchRequest) -> list[ColumnElement[bool]]:
        conds = [
            objects.c.class_name.in_(request.class_names)
            if len(request.class_names) > 1
            else objects.c.class_name == request.class_names[0],
            listing.where_true(request.where),
        ]
        if request.published_only:
            conds.append(objects.c.published.is_(True))
        return conds

    def search(self, request: SearchRequest) -> SearchPage:
        with self.engine.connect() as conn, conn.begin():
            if request.text is None:
                return self._listing(conn, request)
            page = self._ranked(conn, request, self.matched(request.text, request.language))
            if page.total == 0 and (near := self.near(request.text, request.language)) is not None:
                nearby = self._ranked(conn, request, near)
                if nearby.total:
                    nearby.fuzzy = True
                    return nearby
            return page

    def _ranked(self, conn: Connection, request: SearchRequest, matched: Select[Any]) -> SearchPage:
        query = matched.where(*self.conditions(request))
        order: list[ColumnElement[Any]] = []
        if request.sort:
            order = [c.desc() if d else c.asc() for c, d in listing.sort_columns(request.sort)]
        else:
            assert request.text is not None
            exact = func.lower(objects.c.business_key) == request.text.raw.strip().lower()
            order = [exact.desc(), query.selected_columns["_rank"].asc(), objects.c.id.asc()]
        page = query.add_columns(func.count().over().label("_total"))
        rows = conn.execute(page.order_by(*order).limit(request.size).offset(request.offset)).all()
        if rows:
            total = rows[0]._mapping["_total"]
        else:
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        facets = self._facets(conn, request, query)
        return SearchPage([row_to_object(r) for r in rows], total, None, facets)

    def _listing(self, conn: Connection, request: SearchRequest) -> SearchPage:
        conds = self.conditions(request)
        cols = listing.sort_columns(request.sort)
        query = select(objects, *[c.label(f"_s{i}") for i, (c, _) in enumerate(cols)]).where(*conds)
        if request.after is not None:
            try:
                values = listing.decode_cursor(request.sort, request.after)
            except InvalidQuery:
                raise InvalidQuery(
                    "cursor: not a cursor this API issued",
                    [FieldError("cursor", "not a cursor this API issued", "invalid-cursor")],
                ) from None
            query = query.where(listing.after_cursor(cols, values))
        order = [c.desc() if d else c.asc() for c, d in cols]
        rows = conn.execute(query.order_by(*order).limit(request.size)).all()
        total = conn.execute(select(func.count()).select_from(objects).where(*conds)).scalar_one()
        last = (
            listing.encode_cursor(
                request.sort, [rows[-1]._mapping[f"_s{i}"] for i in range(len(cols))]
            )
            if rows
            else None
        )
        facets = self._facets(conn, request, select(objects.c.id, objects.c.data).where(*conds))
        return SearchPage([row_to_object(r) for r in rows], total, last, facets)

    def _facets(
        self, conn: Connection, request: SearchRequest, matched: Select[Any]
    ) -> dict[str, list[tuple[Any, int]]]:
        out: dict[str, list[tuple[Any, int]]] = {}
        if not request.facets:
            return out
        hits = matched.with_only_columns(objects.c.id, objects.c.data).subquery("hits")
        for facet in request.facets:
            out[facet.field] = [
                (r[0], r[1]) for r in conn.execute(self._facet_query(hits, facet, request))
            ]
        return out

    def _facet_query(self, hits: Any, facet: Facet, request: SearchRequest) -> Select[Any]:
        if facet.is_list:
            items, value = self.list_items_of(hits, facet)
            source: Any = hits.join(items, true())
        else:
            element = hits.c.data[facet.field]
            value = element.as_boolean() if facet.is_boolean else element.as_string()
            source = hits
        count = func.count().label("n")
        return (
            select(value.label("value"), count)
            .select_from(source)
            .where(value.is_not(None))
            .group_by(value)
            .order_by(count.desc(), value)
            .limit(request.facet_size)
        )

    def list_items_of(self, hits: Any, facet: Facet) -> tuple[Any, ColumnElement[Any]]:
        """A table of the items of the list field `facet` of each row of `hits`, and its
        value column."""
        raise NotImplementedError

    def rebuild(self, class_names: Sequence[str] | None = None) -> int:
        from pimhub.search.rebuild import rebuild_on

        with self.engine.begin() as conn:
            return rebuild_on(conn, self.languages, class_names)
