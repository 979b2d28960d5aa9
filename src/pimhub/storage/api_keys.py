"""API key rows; each call is its own short transaction."""

from __future__ import annotations

from collections.abc import Mapping
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
    "revoked_at, description, allowed_networks, rate_limit, rotated_at, previous_valid_until, "
    "secret_hash, previous_secret_hash FROM api_keys WHERE key_id = %s"
)
# What update() may change; everything else about a key is fixed once made.
_CHANGEABLE = {"allowed_networks", "rate_limit", "description", "expires_at"}


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
        allowed_networks=tuple(row.allowed_networks or ()),
        rate_limit=row.rate_limit,
        rotated_at=row.rotated_at,
        previous_valid_until=row.previous_valid_until,
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
                    allowed_networks=list(key.allowed_networks) or None,
                    rate_limit=key.rate_limit,
                )
            )

    def all(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            return [_key(r) for r in conn.execute(select(api_keys).order_by(api_keys.c.id))]

    def find(self, key_id: str) -> tuple[ApiKey, str] | None:
        found = self.find_secrets(key_id)
        return (found[0], found[1]) if found else None

    def find_secrets(self, key_id: str) -> tuple[ApiKey, str, str | None] | None:
        """The key, its secret's hash and the hash of the secret before its last rotation."""
        memo = self.reader.memo()
        if memo is not None and (hit := memo.get(key_id)) is not None:
            found: tuple[ApiKey, str, str | None] = hit
            return found
        row = self.reader.first(self._find, [key_id])
        if row is None:
            return None
        r, dt = self.reader, self.reader.utc_or_none
        networks = r.json(row[9]) if row[9] is not None else None
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
            allowed_networks=tuple(networks or ()),
            rate_limit=row[10],
            rotated_at=dt(row[11]),
            previous_valid_until=dt(row[12]),
        )
        result = (key, row[13], row[14])
        if memo is not None:
            memo[key_id] = result
        return result

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

    def rotate(
        self,
        key_id: str,
        *,
        expected_hash: str,
        new_hash: str,
        previous_valid_until: datetime,
        at: datetime,
    ) -> bool:
        """Swap in a new secret if the current one is still `expected_hash` (compare and
        set): of two rotations at once only one matches, the other changes nothing. On
        PostgreSQL the second UPDATE waits for the first's row lock and then re-reads the
        row, so it sees the changed hash."""
        with begin_write(self.engine) as conn:
            result = conn.execute(
                update(api_keys)
                .where(
                    api_keys.c.key_id == key_id,
                    api_keys.c.secret_hash == expected_hash,
                    api_keys.c.revoked_at.is_(None),
                )
                .values(
                    secret_hash=new_hash,
                    previous_secret_hash=expected_hash,
                    previous_valid_until=previous_valid_until,
                    rotated_at=at,
                )
            )
        return result.rowcount == 1

    def update(self, key_id: str, changes: Mapping[str, Any]) -> bool:
        """Change some of allowed_networks, rate_limit, description and expires_at of an
        active key."""
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise ValueError(f"not changeable: {sorted(unknown)}")
        values = dict(changes)
        if "allowed_networks" in values:
            values["allowed_networks"] = list(values["allowed_networks"]) or None
        with begin_write(self.engine) as conn:
            result = conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(**values)
            )
        return result.rowcount == 1

    def touch(self, key_id: str, at: datetime) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(
                update(api_keys).where(api_keys.c.key_id == key_id).values(last_used_at=at)
            )
