"""The class definitions' repository: definitions stored as JSON, with their versions."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import orjson
from sqlalchemy import Connection, Text, cast, delete, func, insert, select, update

from pimhub.catalog.classes import ClassDefinition, parse_class_definition
from pimhub.storage.locks import lock_names
from pimhub.storage.tables import class_definition_versions, class_definitions

# Every write reads its class's definition; parsing it (checking every field, compiling its
# patterns) cost a quarter of a PATCH. The stored text with its version is the cache key, so
# a definition is parsed once per change and a cached one can never be stale, even in a
# database emptied and filled again.
_DEFINITION_TEXT = cast(class_definitions.c.definition, Text).label("text")


@lru_cache(maxsize=256)
def parsed_definition(text: str, version: int) -> ClassDefinition:
    return parse_class_definition({**orjson.loads(text), "version": version})


class SqlClassRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock(self, names: Sequence[str], *, shared: bool = False) -> None:
        """See ClassRepository.lock."""
        lock_names(self.conn, [f"class\x1f{n}" for n in names], shared=shared)

    def get(self, name: str) -> ClassDefinition | None:
        row = self.conn.execute(
            select(_DEFINITION_TEXT, class_definitions.c.version).where(
                class_definitions.c.name == name
            )
        ).first()
        return parsed_definition(row.text, row.version) if row else None

    def all(self) -> list[ClassDefinition]:
        rows = self.conn.execute(select(_DEFINITION_TEXT, class_definitions.c.version))
        return [parsed_definition(r.text, r.version) for r in rows]

    def save(self, definition: ClassDefinition, author: str) -> None:
        data = definition.to_dict(with_version=False)
        values = {
            "version": definition.version,
            "definition": data,
            "updated_by": author,
            "updated_at": func.now(),
        }
        if definition.version == 1:
            self.conn.execute(insert(class_definitions).values(name=definition.name, **values))
        else:
            self.conn.execute(
                update(class_definitions)
                .where(class_definitions.c.name == definition.name)
                .values(values)
            )
        self.conn.execute(
            insert(class_definition_versions).values(
                name=definition.name,
                version=definition.version,
                definition=data,
                created_at=func.now(),
                author=author,
            )
        )

    def delete(self, name: str) -> None:
        self.conn.execute(delete(class_definitions).where(class_definitions.c.name == name))
