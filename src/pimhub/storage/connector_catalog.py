"""The catalog as connectors read it: short read-only queries, in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Engine, select

from pimhub.catalog.objects import CatalogObject
from pimhub.storage.repositories import row_to_object
from pimhub.storage.tables import object_references, objects

CHUNK = 500


class SqlCatalogReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def by_uuids(self, uuids: Sequence[str]) -> dict[str, CatalogObject]:
        found: dict[str, CatalogObject] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(uuids), CHUNK):
                chunk = list(uuids[start : start + CHUNK])
                rows = conn.execute(select(objects).where(objects.c.uuid.in_(chunk)))
                found.update((r.uuid, row_to_object(r)) for r in rows)
        return found

    def by_keys(self, class_name: str, keys: Sequence[str]) -> dict[str, CatalogObject]:
        found: dict[str, CatalogObject] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), CHUNK):
                chunk = list(keys[start : start + CHUNK])
                rows = conn.execute(
                    select(objects).where(
                        objects.c.class_name == class_name, objects.c.business_key.in_(chunk)
                    )
                )
                found.update((r.business_key, row_to_object(r)) for r in rows)
        return found

    def using_assets(
        self, class_name: str, asset_uuids: Sequence[str]
    ) -> dict[str, list[tuple[str, str]]]:
        """asset uuid -> (uuid, business key) of the objects of the class whose asset fields
        hold it."""
        found: dict[str, list[tuple[str, str]]] = {}
        refs = object_references
        with self.engine.connect() as conn:
            for start in range(0, len(asset_uuids), CHUNK):
                chunk = list(asset_uuids[start : start + CHUNK])
                rows = conn.execute(
                    select(refs.c.target_uuid, objects.c.uuid, objects.c.business_key)
                    .distinct()
                    .join(objects, objects.c.id == refs.c.source_id)
                    .where(refs.c.target_uuid.in_(chunk), objects.c.class_name == class_name)
                )
                for r in rows:
                    found.setdefault(r.target_uuid, []).append((r.uuid, r.business_key))
        return found

    def children_of(self, parent_uuids: Sequence[str]) -> dict[str, list[CatalogObject]]:
        found: dict[str, list[CatalogObject]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(parent_uuids), CHUNK):
                chunk = list(parent_uuids[start : start + CHUNK])
                rows = conn.execute(
                    select(objects).where(objects.c.parent_uuid.in_(chunk)).order_by(objects.c.id)
                )
                for r in rows:
                    found.setdefault(r.parent_uuid, []).append(row_to_object(r))
        return found

    def pages(self, class_name: str, size: int) -> Iterator[list[CatalogObject]]:
        after = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(objects)
                    .where(objects.c.class_name == class_name, objects.c.id > after)
                    .order_by(objects.c.id)
                    .limit(size)
                ).all()
            if not rows:
                return
            yield [row_to_object(r) for r in rows]
            after = rows[-1].id
