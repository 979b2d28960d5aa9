"""The Alembic migrations build exactly the schema that tables.py describes, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from pimhub.storage.tables import metadata, owned_by_tables_py


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": False,
                "include_name": lambda name, type_, _parent: owned_by_tables_py(name, type_),
            },
        )
        differences = compare_metadata(context, metadata)
    assert differences == []
