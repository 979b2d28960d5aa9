"""Creating, listing, revoking and checking API keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from pimhub.access.audit import Auditor
from pimhub.access.keys import (
    ENVIRONMENTS,
    ApiKey,
    new_secret,
    parse_scopes,
    secret_matches,
    split_key,
)
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import FieldError, InvalidInput, NotFound, Unauthorized

# Recording last use on every request would turn each read into a write; once a minute is
# precise enough for "is this key still used?".
LAST_USED_RESOLUTION = timedelta(seconds=60)
_DUMMY_HASH = "0" * 64


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey, secret_hash: str) -> None: ...
    def all(self) -> list[ApiKey]: ...
    def find(self, key_id: str) -> tuple[ApiKey, str] | None: ...
    def find_by_name(self, name: str) -> list[ApiKey]: ...
    def revoke(self, key_id: str, at: datetime) -> bool: ...
    def touch(self, key_id: str, at: datetime) -> None: ...


class TokenVerifier(Protocol):
    """Checks a bearer token that is not an API key (an OIDC JWT, access/oidc.py): the
    principal it stands for, with the scopes its claims map to, or Unauthorized."""

    def verify(self, token: str) -> ApiKey: ...


class AccessService:
    def __init__(
        self,
        keys: ApiKeyRepository,
        clock: Callable[[], datetime] = utc_now,
        *,
        tokens: TokenVerifier | None = None,
        audit: Auditor | None = None,
    ) -> None:
        self.keys = keys
        self.clock = clock
        self.tokens = tokens
        self.audit = audit
        self._touched: dict[str, datetime] = {}

    def create(
        self,
        name: str,
        scopes: list[str],
        *,
        environment: str = "production",
        expires_in_days: int | None = None,
        description: str | None = None,
    ) -> tuple[ApiKey, str]:
        """Make a key; returns it and its full secret, which is never shown again."""
        if not name.strip() or len(name) > 128:
            raise InvalidInput(
                "a key needs a name of 1 to 128 characters", [FieldError("name", "required")]
            )
        if environment not in ENVIRONMENTS:
            raise InvalidInput(
                f"environment must be one of: {', '.join(ENVIRONMENTS)}",
                [FieldError("environment", f"got {environment!r}")],
            )
        if expires_in_days is not None and expires_in_days <= 0:
            raise InvalidInput(
                "expiry must be at least one day",
                [FieldError("expires_in_days", "must be positive")],
            )
        now = self.clock()
        key_id, token, secret_hash = new_secret()
        key = ApiKey(
            key_id=key_id,
            name=name.strip(),
            environment=environment,
            scopes=parse_scopes(scopes),
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
            description=description,
        )
        self.keys.add(key, secret_hash)
        return key, token

    def all(self) -> list[ApiKey]:
        return self.keys.all()

    def revoke(self, key_id_or_name: str) -> list[ApiKey]:
        """Revoke by key id, or every active key with that name. Takes effect at once."""
        found = self.keys.find(key_id_or_name)
        targets = [found[0]] if found else self.keys.find_by_name(key_id_or_name)
        targets = [k for k in targets if k.revoked_at is None]
        if not targets:
            raise NotFound(f"no active key with id or name '{key_id_or_name}'")
        now = self.clock()
        for key in targets:
            self.keys.revoke(key.key_id, now)
        return targets

    def authenticate(self, token: str | None) -> ApiKey:
        """The active key behind `token`, or Unauthorized."""
        if not token:
            raise Unauthorized(
                "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )
        parts = split_key(token.strip())
        if parts is None and self.tokens is not None and token.count(".") == 2:
            return self.tokens.verify(token.strip())
        found = self.keys.find(parts[0]) if parts else None
        # Compare even when nothing was found, so timing does not tell which ids exist.
        matches = secret_matches(parts[1] if parts else token, found[1] if found else _DUMMY_HASH)
        if found is None or not matches:
            raise Unauthorized("the API key is not valid")
        key = found[0]
        now = self.clock()
        if key.revoked_at is not None:
            raise Unauthorized("the API key has been revoked")
        if not key.is_active(now):
            raise Unauthorized("the API key has expired")
        last = self._touched.get(key.key_id) or key.last_used_at
        if last is None or now - last >= LAST_USED_RESOLUTION:
            self.keys.touch(key.key_id, now)
            self._touched[key.key_id] = now
        return key
