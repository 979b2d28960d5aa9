"""Alembic environment: runs on the connection pimhub hands over, or on the configured URL."""

from alembic import context

from pimhub.storage.engine import build_engine
from pimhub.storage.tables import metadata, owned_by_tables_py

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = build_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.connect() as conn:
            _run(conn)
        engine.dispose()
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=lambda name, type_, _parent: owned_by_tables_py(name, type_),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
