"""What the two index implementations share: the object-side conditions of a search, keyset
listings without text, facets, the writer's loop, and the rebuild (rebuild.py picks the
writer for a bare connection)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    func,
    select,
    true,
    union_all,
)

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidQuery
from pimhub.catalog.objects import CatalogObject
from pimhub.search.documents import DocumentShape, SearchDocument, index_shape
from pimhub.search.ports import Facet, SearchPage, SearchRequest, TextQuery
from pimhub.storage import listing
from pimhub.storage.class_repository import SqlClassRepository
from pimhub.storage.repositories import row_to_object
from pimhub.storage.tables import objects

REBUILD_BATCH = 1000
# (text, language, name for a CTE) -> the matching objects with a `_rank`, or None
Matcher = Callable[[TextQuery, str, str], "Select[Any] | None"]


@dataclass(frozen=True, slots=True)
class IndexLanguages:
    """Which languages objects are indexed in (empty: those their text uses) and the one
    missing translations fall back to."""

    languages: tuple[str, ...]
    default: str

    def documents(
        self, definition: ClassDefinition, objs: Sequence[CatalogObject]
    ) -> list[tuple[int, list[SearchDocument]]]:
        """(object id, documents) of each stored object."""
        shape = DocumentShape.of(definition)
        return [
            (
                o.id,
                shape.documents(
                    o.key, o.values, languages=self.languages, default_language=self.default
                ),
            )
            for o in objs
            if o.id is not None
        ]


class SqlIndexWriter(ABC):
    """Keeps one object's documents current, on the unit of work's connection."""

    def __init__(self, conn: Connection, languages: IndexLanguages) -> None:
        self.conn = conn
        self.languages = languages

    def put(self, definition: ClassDefinition, obj: CatalogObject) -> None:
        self.put_many(definition, [obj])

    def put_many(self, definition: ClassDefinition, objs: Sequence[CatalogObject]) -> None:
        self.delete_ids([o.id for o in objs if o.id is not None])
        self.insert(self.languages.documents(definition, objs))

    def add_many(self, definition: ClassDefinition, objs: Sequence[CatalogObject]) -> None:
        # Deleting what a new object cannot have yet cost as much as inserting, in FTS5.
        self.insert(self.languages.documents(definition, objs))

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
            self.insert(self.languages.documents(definition, batch))
            done += len(batch)
        return done

    def rebuild(self, class_names: Sequence[str] | None = None) -> int:
        """Index the objects of `class_names` (all classes: the whole index, emptied first)
        again inside the writer's transaction; the number of objects indexed."""
        definitions: Sequence[ClassDefinition] = SqlClassRepository(self.conn).all()
        if class_names is None:
            self.clear()  # documents of objects no class defines any more go too
        else:
            definitions = [d for d in definitions if d.name in class_names]
        return sum(self.reindex_class(d) for d in definitions)

    @abstractmethod
    def delete_ids(self, ids: Sequence[int]) -> None: ...

    @abstractmethod
    def insert(self, docs: Sequence[tuple[int, list[SearchDocument]]]) -> None: ...

    @abstractmethod
    def clear(self) -> None: ...


# The columns migration 0004, which builds the index, finds: later ones may not exist yet.
BASE_OBJECT_COLUMNS = (
    "id", "uuid", "class_name", "business_key", "published", "version", "created_at",
    "modified_at", "data",
)  # fmt: skip


def _batches(conn: Connection, class_name: str) -> Iterator[list[CatalogObject]]:
    last = 0
    while True:
        rows = conn.execute(
            select(*[objects.c[name] for name in BASE_OBJECT_COLUMNS])
            .where(objects.c.class_name == class_name, objects.c.id > last)
            .order_by(objects.c.id)
            .limit(REBUILD_BATCH)
        ).all()
        if not rows:
            return
        yield [row_to_object(r) for r in rows]
        last = rows[-1].id


class SqlSearchIndex(ABC):
    """A search: the matching documents (dialect-specific) joined to their objects, which
    the class, visibility and filter conditions narrow (shared)."""

    def __init__(self, engine: Engine, languages: IndexLanguages) -> None:
        self.engine = engine
        self.languages = languages

    # -- what a dialect provides ----------------------------------------------------------

    @abstractmethod
    def writer(self, conn: Connection) -> SqlIndexWriter: ...

    @abstractmethod
    def matched(self, text: TextQuery, language: str, name: str = "hits") -> Select[Any]:
        """Objects whose documents in `language` match, with a `_rank` column (lower is
        better)."""

    def near(self, text: TextQuery, language: str, name: str = "near") -> Select[Any] | None:
        """Objects whose name nearly matches (typos), ranked; None where not supported."""
        return None

    @abstractmethod
    def size(self) -> int: ...

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
            page = self._ranked(conn, request, self._matches(request, self.matched))
            if page.total:
                return page
            near = self._matches(request, self.near)
            if near is not None and (nearby := self._ranked(conn, request, near)).total:
                nearby.fuzzy = True
                return nearby
            return page

    def _matches(self, request: SearchRequest, match: Matcher) -> Select[Any] | None:
        """What `match` finds for the request: for one group of classes, its select; for
        classes that may match different parts, one select per group, each limited to its
        classes, as a union."""
        assert request.text is not None
        text, groups = request.text, request.part_groups
        if not groups:
            return match(text, request.language, "hits")
        branches = []
        for n, (parts, class_names) in enumerate(groups):
            found = match(replace(text, parts=parts), request.language, f"hits{n}")
            if found is not None:
                branches.append(found.where(objects.c.class_name.in_(class_names)))
        if not branches:
            return None
        union = union_all(*branches).subquery("matches")
        return select(union)

    def _ranked(
        self, conn: Connection, request: SearchRequest, matched: Select[Any] | None
    ) -> SearchPage:
        if matched is None:
            return SearchPage([], 0, None)
        columns = matched.selected_columns
        if request.part_groups:
            # A union of groups: every class and visibility condition is inside, and
            # filters, sorts and facets need a single class, so there are none.
            query = (
                matched.where(columns["published"].is_(True)) if request.published_only else matched
            )
        else:
            query = matched.where(*self.conditions(request))
        order: list[ColumnElement[Any]] = []
        if request.sort:
            order = [c.desc() if d else c.asc() for c, d in listing.sort_columns(request.sort)]
        else:
            assert request.text is not None
            exact = func.lower(columns["business_key"]) == request.text.raw.strip().lower()
            order = [exact.desc(), columns["_rank"].asc(), columns["id"].asc()]
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
                    "after: not a cursor this API issued",
                    [FieldError("after", "not a cursor this API issued", "invalid-cursor")],
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

    @abstractmethod
    def list_items_of(self, hits: Any, facet: Facet) -> tuple[Any, ColumnElement[Any]]:
        """A table of the items of the list field `facet` of each row of `hits`, and its
        value column."""

    def rebuild(self, class_names: Sequence[str] | None = None) -> int:
        with self.engine.begin() as conn:
            return self.writer(conn).rebuild(class_names)
