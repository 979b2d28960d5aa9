"""Datahub configuration rows; each call is its own short transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update

from pimhub.catalog.errors import WriteConflict
from pimhub.datahub.config import DatahubConfig, parse_datahub_config
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import datahub_configs as t


def _config(definition: dict[str, object], version: int) -> DatahubConfig:
    return parse_datahub_config(definition, None).with_version(version)


class SqlDatahubConfigRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, name: str) -> DatahubConfig | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.definition, t.c.version).where(t.c.name == name)).first()
        return _config(row.definition, row.version) if row else None

    def all(self) -> list[DatahubConfig]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.definition, t.c.version)).all()
        return [_config(r.definition, r.version) for r in rows]

    def save(self, config: DatahubConfig, author: str, at: datetime) -> None:
        values = {
            "version": config.version,
            "definition": config.to_dict(with_version=False),
            "updated_at": at,
            "updated_by": author,
        }
        with begin_write(self.engine) as conn:
            if config.version == 1:
                # Created concurrently by another writer: begin_write makes the unique
                # violation a WriteConflict, which the service retries as an update.
                conn.execute(insert(t).values(name=config.name, **values))
                return
            # Optimistic: only the writer that read version n may write n + 1.
            result = conn.execute(
                update(t)
                .where(t.c.name == config.name, t.c.version == config.version - 1)
                .values(values)
            )
            if result.rowcount != 1:
                raise WriteConflict(
                    f"datahub configuration {config.name} was changed concurrently; try again"
                )

    def delete(self, name: str) -> bool:
        with begin_write(self.engine) as conn:
            return conn.execute(delete(t).where(t.c.name == name)).rowcount == 1
