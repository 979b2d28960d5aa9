"""API key rows; each call is its own short transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, bindparam, insert, select, update

from pimhub.access.keys import ApiKey
from pimhub.storage.engine import begin_write
from pimhub.storage.tables import api_keys

# Built once: every request authenticates with it.
_FIND = select(api_keys).where(api_keys.c.key_id == bindparam("key_id"))


def _key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        key_id=row.key_id,
        name=row.name,
        environment=row.environment,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        description=row.description,
    )


class SqlApiKeyRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, key: ApiKey, secret_hash: str) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(
                insert(api_keys).values(
                    key_id=key.key_id,
                    name=key.name,
                    environment=key.environment,
                    secret_hash=secret_hash,
                    scopes=list(key.scopes),
                    created_at=key.created_at,
                    expires_at=key.expires_at,
                    description=key.description,
                )
            )

    def all(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            return [_key(r) for r in conn.execute(select(api_keys).order_by(api_keys.c.id))]

    def find(self, key_id: str) -> tuple[ApiKey, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(_FIND, {"key_id": key_id}).first()
        return (_key(row), row.secret_hash) if row else None

    def find_by_name(self, name: str) -> list[ApiKey]:
        with self.engine.connect() as conn:
            return [_key(r) for r in conn.execute(select(api_keys).where(api_keys.c.name == name))]

    def revoke(self, key_id: str, at: datetime) -> bool:
        with begin_write(self.engine) as conn:
            result = conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
        return result.rowcount == 1

    def touch(self, key_id: str, at: datetime) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(
                update(api_keys).where(api_keys.c.key_id == key_id).values(last_used_at=at)
            )
