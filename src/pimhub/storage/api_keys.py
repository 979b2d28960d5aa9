"""API key rows; each call is its own short transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update

from pimhub.access.keys import ApiKey
from pimhub.storage.engine import begin_write
from pimhub.storage.point_reads import PointReader
from pimhub.storage.tables import api_keys

# Every request authenticates, so the lookup is a point read (see point_reads.py).
_FIND = (
    "SELECT key_id, name, environment, scopes, created_at, last_used_at, expires_at, "
    "revoked_at, description, secret_hash FROM api_keys WHERE key_id = %s"
)


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
        self.reader = PointReader(engine)
        self._find = self.reader.sql(_FIND)

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
        memo = self.reader.memo()
        if memo is not None and (hit := memo.get(key_id)) is not None:
            found: tuple[ApiKey, str] = hit
            return found
        row = self.reader.first(self._find, [key_id])
        if row is None:
            return None
        r, dt = self.reader, self.reader.utc_or_none
        key = ApiKey(
            key_id=row[0],
            name=row[1],
            environment=row[2],
            scopes=tuple(r.json(row[3])),
            created_at=r.utc(row[4]),
            last_used_at=dt(row[5]),
            expires_at=dt(row[6]),
            revoked_at=dt(row[7]),
            description=row[8],
        )
        if memo is not None:
            memo[key_id] = (key, row[9])
        return key, row[9]

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
