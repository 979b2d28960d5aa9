"""SQLAlchemy Core implementations of the catalog's repository protocols."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select

from pimhub.catalog.errors import FieldError, WriteConflict
from pimhub.catalog.events import OutboxEvent
from pimhub.catalog.objects import CatalogObject, ChangeAction, ObjectVersion
from pimhub.catalog.ports import ObjectCounts, Page, Referrer, TargetRef
from pimhub.catalog.query import Node, SortKey
from pimhub.catalog.variants import FamilyFilter
from pimhub.storage import listing
from pimhub.storage.bulk import BulkWriter
from pimhub.storage.locks import lock_names
from pimhub.storage.tables import (
    object_references,
    object_versions,
    objects,
    outbox,
)

_OBJECT_COLUMNS = (
    "uuid", "class_name", "business_key", "published", "version", "created_at",
    "modified_at", "data", "parent_uuid", "inherited", "completeness", "workflow_state",
)  # fmt: skip
_VERSION_COLUMNS = (
    "object_uuid", "class_name", "business_key", "version", "action", "author",
    "created_at", "published", "changed_fields", "data",
)  # fmt: skip
_OUTBOX_COLUMNS = (
    "event_id", "event_type", "class_name", "object_uuid", "business_key", "version",
    "changed_fields", "payload", "created_at",
)  # fmt: skip
ITERATE_BATCH = 500
IN_LIST_CHUNK = 500  # values per IN (...) list


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), IN_LIST_CHUNK):
        yield values[start : start + IN_LIST_CHUNK]


def row_to_object(row: Row[Any], prefix: str = "") -> CatalogObject:
    m = row._mapping
    return CatalogObject(
        class_name=m[f"{prefix}class_name"],
        key=m[f"{prefix}business_key"],
        uuid=m[f"{prefix}uuid"],
        values=m[f"{prefix}data"],
        published=m[f"{prefix}published"],
        version=m[f"{prefix}version"],
        created_at=m[f"{prefix}created_at"],
        modified_at=m[f"{prefix}modified_at"],
        id=m[f"{prefix}id"],
        # Absent from reads that select only the columns every schema version has (the
        # search index's rebuild, which an early migration runs).
        parent=m.get(f"{prefix}parent_uuid"),
        inherited=tuple(m.get(f"{prefix}inherited") or ()),
        completeness=m.get(f"{prefix}completeness"),
        workflow_state=m.get(f"{prefix}workflow_state"),
    )


class SqlObjectRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.bulk = BulkWriter(conn)

    def lock(self, class_name: str, names: Sequence[str]) -> None:
        """Holds a lock per name of `class_name` until the transaction ends (see
        storage.locks); writers naming the same business key or unique value wait."""
        lock_names(self.conn, [f"{class_name}\x1f{n}" for n in names], striped=True)

    def get_by_key(self, class_name: str, key: str) -> CatalogObject | None:
        row = self.conn.execute(
            select(objects).where(objects.c.class_name == class_name, objects.c.business_key == key)
        ).first()
        return row_to_object(row) if row else None

    def get_by_uuid(self, class_name: str, uuid: str) -> CatalogObject | None:
        row = self.conn.execute(
            select(objects).where(objects.c.class_name == class_name, objects.c.uuid == uuid)
        ).first()
        return row_to_object(row) if row else None

    def children(self, parent_uuid: str) -> list[CatalogObject]:
        rows = self.conn.execute(
            select(objects).where(objects.c.parent_uuid == parent_uuid).order_by(objects.c.id)
        )
        return [row_to_object(r) for r in rows]

    def with_children(self, uuids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(uuids)):
            rows = self.conn.execute(
                select(objects.c.parent_uuid).where(objects.c.parent_uuid.in_(chunk)).distinct()
            )
            found.update(r.parent_uuid for r in rows)
        return found

    def family_keys(self, class_name: str, keys: Sequence[str]) -> set[str]:
        variant = objects.alias("variant")
        has_children = select(variant.c.id).where(variant.c.parent_uuid == objects.c.uuid)
        found: set[str] = set()
        for chunk in _chunks(list(keys)):
            rows = self.conn.execute(
                select(objects.c.business_key).where(
                    objects.c.class_name == class_name,
                    objects.c.business_key.in_(chunk),
                    or_(objects.c.parent_uuid.is_not(None), has_children.exists()),
                )
            )
            found.update(r.business_key for r in rows)
        return found

    def keys_of(self, uuids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(list(uuids)):
            rows = self.conn.execute(
                select(objects.c.uuid, objects.c.business_key).where(objects.c.uuid.in_(chunk))
            )
            found.update((r.uuid, r.business_key) for r in rows)
        return found

    def resolve_keys(self, class_name: str, keys: Sequence[str]) -> dict[str, str]:
        rows = self.conn.execute(
            select(objects.c.business_key, objects.c.uuid).where(
                objects.c.class_name == class_name, objects.c.business_key.in_(list(keys))
            )
        )
        return {r.business_key: r.uuid for r in rows}

    def resolve_uuids(self, uuids: Sequence[str]) -> dict[str, TargetRef]:
        rows = self.conn.execute(
            select(objects.c.uuid, objects.c.class_name).where(objects.c.uuid.in_(list(uuids)))
        )
        return {r.uuid: TargetRef(r.uuid, r.class_name) for r in rows}

    def get_many_by_keys(self, class_name: str, keys: Sequence[str]) -> dict[str, CatalogObject]:
        found: dict[str, CatalogObject] = {}
        for chunk in _chunks(list(keys)):
            rows = self.conn.execute(
                select(objects).where(
                    objects.c.class_name == class_name, objects.c.business_key.in_(chunk)
                )
            )
            found.update((r.business_key, row_to_object(r)) for r in rows)
        return found

    def insert(self, obj: CatalogObject) -> None:
        self.insert_many([obj])

    def insert_many(self, objs: Sequence[CatalogObject]) -> None:
        if not objs:
            return
        bulk, t, j = self.bulk, self.bulk.time, self.bulk.json
        rows = [
            (o.uuid, o.class_name, o.key, o.published, o.version, t(o.created_at),
             t(o.modified_at), j(o.values), o.parent, j(o.inherited) if o.parent else None,
             j(o.completeness or {}), o.workflow_state)
            for o in objs
        ]  # fmt: skip
        try:
            bulk.insert(objects, _OBJECT_COLUMNS, rows)
        except IntegrityError:
            # A concurrent writer won the race between our existence check and the insert
            # (writers that lock their keys first never get here). Running the write again
            # finds the object and answers as if the two had come one after the other.
            first = objs[0]
            raise WriteConflict(
                f"another writer created {first.class_name} '{first.key}' at the same time"
                if len(objs) == 1
                else f"another writer created {first.class_name} objects of this batch first",
                [FieldError("key", "created concurrently", "write-conflict")],
            ) from None
        ids: dict[str, int] = {}
        for chunk in _chunks([o.uuid for o in objs]):
            query = select(objects.c.uuid, objects.c.id).where(objects.c.uuid.in_(chunk))
            ids.update((r.uuid, r.id) for r in self.conn.execute(query))
        for obj in objs:
            obj.id = ids[obj.uuid]

    def update(self, obj: CatalogObject, expected_version: int) -> bool:
        return self.update_many([(obj, expected_version)]) == 1

    def update_many(self, changes: Sequence[tuple[CatalogObject, int]]) -> int:
        """Writes each object whose stored version is still the expected one; how many were."""
        t, j = self.bulk.time, self.bulk.json
        rows = [
            (o.key, o.published, o.version, t(o.modified_at), j(o.values), o.parent,
             j(o.inherited) if o.parent else None, j(o.completeness or {}), o.workflow_state,
             o.id, expected)
            for o, expected in changes
        ]  # fmt: skip
        try:
            return self.bulk.update(
                objects,
                (
                    "business_key",
                    "published",
                    "version",
                    "modified_at",
                    "data",
                    "parent_uuid",
                    "inherited",
                    "completeness",
                    "workflow_state",
                ),
                ("id", "version"),
                rows,
            )
        except IntegrityError:
            # A rename raced another writer to the same key; see insert_many.
            first = changes[0][0]
            raise WriteConflict(
                f"another writer took {first.class_name} key '{first.key}' at the same time",
                [FieldError("key", "taken concurrently", "write-conflict")],
            ) from None

    def delete(self, obj: CatalogObject) -> None:
        self.conn.execute(delete(object_references).where(object_references.c.source_id == obj.id))
        self.conn.execute(delete(objects).where(objects.c.id == obj.id))

    def set_references(self, obj: CatalogObject, refs: Sequence[tuple[str, str]]) -> None:
        self.set_references_many([(obj, refs)])

    def set_references_many(
        self,
        items: Sequence[tuple[CatalogObject, Sequence[tuple[str, str]]]],
        *,
        new: bool = False,
    ) -> None:
        for chunk in [] if new else _chunks([obj.id for obj, _ in items]):
            self.conn.execute(
                delete(object_references).where(object_references.c.source_id.in_(chunk))
            )
        rows = [(obj.id, f, t) for obj, refs in items for f, t in sorted(set(refs))]
        self.bulk.insert(object_references, ("source_id", "field", "target_uuid"), rows)

    def referrers(self, uuid: str, limit: int) -> list[Referrer]:
        rows = self.conn.execute(
            select(objects.c.class_name, objects.c.business_key, object_references.c.field)
            .join(objects, objects.c.id == object_references.c.source_id)
            .where(object_references.c.target_uuid == uuid)
            .order_by(objects.c.id)
            .limit(limit)
        )
        return [Referrer(r.class_name, r.business_key, r.field) for r in rows]

    def referrer_classes(self, uuid: str, *, with_variants: bool) -> set[str]:
        # One DISTINCT query: the deleted set (the object, its variants) as a subquery.
        doomed = select(objects.c.uuid).where(
            or_(objects.c.uuid == uuid, objects.c.parent_uuid == uuid)
            if with_variants
            else objects.c.uuid == uuid
        )
        source = objects.alias("source")
        query = (
            select(source.c.class_name)
            .join(object_references, source.c.id == object_references.c.source_id)
            .where(
                object_references.c.target_uuid.in_(doomed),
                source.c.uuid.not_in(doomed),
            )
            .distinct()
        )
        return set(self.conn.execute(query).scalars())

    def value_taken(
        self, class_name: str, field: str, value: Any, exclude_uuid: str | None
    ) -> bool:
        element = objects.c.data[field]
        col = element.as_float() if isinstance(value, int | float) else element.as_string()
        query = select(objects.c.id).where(objects.c.class_name == class_name, col == value)
        if exclude_uuid is not None:
            query = query.where(objects.c.uuid != exclude_uuid)
        return self.conn.execute(query.limit(1)).first() is not None

    def values_taken(self, class_name: str, field: str, values: Sequence[Any]) -> dict[Any, str]:
        taken: dict[Any, str] = {}
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        texts = [v for v in values if isinstance(v, str)]
        element = objects.c.data[field]
        for col, group in ((element.as_float(), numbers), (element.as_string(), texts)):
            for chunk in _chunks(group):
                rows = self.conn.execute(
                    select(col.label("value"), objects.c.uuid).where(
                        objects.c.class_name == class_name, col.in_(chunk)
                    )
                )
                taken.update((r.value, r.uuid) for r in rows)
        return taken

    def values_batches(self, class_name: str, size: int) -> Iterator[list[tuple[int, Any]]]:
        """(id, values) of every object of the class, `size` at a time (see
        catalog.completeness.recompute_class): two columns, no object built."""
        last_id = 0
        while True:
            rows = self.conn.execute(
                select(objects.c.id, objects.c.data)
                .where(objects.c.class_name == class_name, objects.c.id > last_id)
                .order_by(objects.c.id)
                .limit(size)
            ).all()
            if not rows:
                return
            yield [(r.id, r.data) for r in rows]
            last_id = rows[-1].id

    def set_completeness_many(self, rows: Iterable[tuple[int, dict[str, Any]]]) -> None:
        j = self.bulk.json
        pairs = [(j(c), i) for i, c in rows]
        if self.bulk.sqlite:
            self.bulk.update(objects, ("completeness",), ("id",), pairs)
        elif pairs:
            # One statement for the whole batch: psycopg's executemany runs one UPDATE per
            # row, about 1.4 times as long for 20,000 products here.
            self.conn.exec_driver_sql(
                "UPDATE objects SET completeness = CAST(x.c AS jsonb) "
                "FROM unnest(%s::text[], %s::bigint[]) AS x(c, id) WHERE objects.id = x.id",
                ([c for c, _ in pairs], [i for _, i in pairs]),
            )

    def count(self, class_name: str) -> int:
        return self.conn.execute(
            select(func.count()).select_from(objects).where(objects.c.class_name == class_name)
        ).scalar_one()

    def counts(self) -> dict[str, ObjectCounts]:
        rows = self.conn.execute(
            select(objects.c.class_name, objects.c.published, func.count()).group_by(
                objects.c.class_name, objects.c.published
            )
        ).all()
        found: dict[str, list[int]] = {}
        for class_name, published, count in rows:
            found.setdefault(class_name, [0, 0])[0 if published else 1] += count
        return {name: ObjectCounts(p, d) for name, (p, d) in found.items()}

    def iterate(self, class_name: str) -> Iterator[CatalogObject]:
        last_id = 0
        while True:
            rows = self.conn.execute(
                select(objects)
                .where(
                    objects.c.class_name == class_name,
                    objects.c.id > last_id,
                )
                .order_by(objects.c.id)
                .limit(ITERATE_BATCH)
            ).all()
            yield from (row_to_object(r) for r in rows)
            if len(rows) < ITERATE_BATCH:
                return
            last_id = rows[-1].id

    def duplicate_values(self, class_name: str, field: str, limit: int) -> list[Any]:
        col = objects.c.data[field].as_string()
        rows = self.conn.execute(
            select(col.label("value"))
            .where(objects.c.class_name == class_name, col.is_not(None))
            .group_by(col)
            .having(func.count() > 1)
            .limit(limit)
        )
        return [r.value for r in rows]

    def list_page(
        self,
        class_name: str,
        where: Node | None,
        sort: Sequence[SortKey],
        first: int,
        after: str | None,
        include_drafts: bool,
        family: FamilyFilter | None = None,
        count: bool = True,
    ) -> Page:
        conditions = [objects.c.class_name == class_name, listing.where_true(where)]
        conditions += listing.family_conditions(family)
        if not include_drafts:
            conditions.append(objects.c.published.is_(True))
        total = -1
        if count:
            total = self.conn.execute(
                select(func.count()).select_from(objects).where(*conditions)
            ).scalar_one()
        cols = listing.sort_columns(sort)
        query: Select[Any] = select(
            objects, *[c.label(f"_s{i}") for i, (c, _) in enumerate(cols)]
        ).where(*conditions)
        if after:
            query = query.where(listing.after_cursor(cols, listing.decode_cursor(sort, after)))
        query = query.order_by(*[c.desc() if d else c.asc() for c, d in cols]).limit(first + 1)
        rows = self.conn.execute(query).all()
        more = len(rows) > first
        rows = rows[:first]
        cursor = None
        if more and rows:
            last = rows[-1]._mapping
            cursor = listing.encode_cursor(sort, [last[f"_s{i}"] for i in range(len(cols))])
        return Page([row_to_object(r) for r in rows], total, cursor)


class SqlVersionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.bulk = BulkWriter(conn)

    def add(self, version: ObjectVersion) -> None:
        self.add_many([version])

    def add_many(self, versions: Sequence[ObjectVersion]) -> None:
        t, j = self.bulk.time, self.bulk.json
        rows = [
            (v.object_uuid, v.class_name, v.key, v.version, v.action.value, v.author,
             t(v.created_at), v.published, j(list(v.changed_fields)), j(v.values))
            for v in versions
        ]  # fmt: skip
        self.bulk.insert(object_versions, _VERSION_COLUMNS, rows)

    def for_object(self, object_uuid: str) -> list[ObjectVersion]:
        rows = self.conn.execute(
            select(object_versions)
            .where(object_versions.c.object_uuid == object_uuid)
            .order_by(object_versions.c.version.desc())
        )
        return [self._version(r) for r in rows]

    def get(self, object_uuid: str, version: int) -> ObjectVersion | None:
        row = self.conn.execute(
            select(object_versions).where(
                object_versions.c.object_uuid == object_uuid, object_versions.c.version == version
            )
        ).first()
        return self._version(row) if row else None

    def _version(self, row: Row[Any]) -> ObjectVersion:
        return ObjectVersion(
            object_uuid=row.object_uuid,
            class_name=row.class_name,
            key=row.business_key,
            version=row.version,
            action=ChangeAction(row.action),
            author=row.author,
            created_at=row.created_at,
            published=row.published,
            changed_fields=tuple(row.changed_fields),
            values=row.data,
        )


class SqlOutboxRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.bulk = BulkWriter(conn)

    def add(self, event: OutboxEvent) -> None:
        self.add_many([event])

    def add_many(self, events: Sequence[OutboxEvent]) -> None:
        t, j = self.bulk.time, self.bulk.json
        rows = [
            (e.event_id, e.type.value, e.class_name, e.object_uuid, e.business_key, e.version,
             j(list(e.changed_fields)), j(e.payload), t(e.created_at))
            for e in events
        ]  # fmt: skip
        self.bulk.insert(outbox, _OUTBOX_COLUMNS, rows)
