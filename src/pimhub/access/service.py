"""Creating, listing, changing, rotating, revoking and checking API keys.

Each change is recorded in the audit log (access/audit.py) after it is stored; a failure to
record is logged by the Auditor and does not undo the change, which has already taken effect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pimhub.access.audit import Auditor
from pimhub.access.keys import (
    ENVIRONMENTS,
    ApiKey,
    InvalidKey,
    new_secret,
    parse_networks,
    parse_scopes,
    secret_matches,
    split_key,
)
from pimhub.access.rate_limits import parse_rate
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import Conflict, FieldError, InvalidInput, NotFound, Unauthorized

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
    def find_secrets(self, key_id: str) -> tuple[ApiKey, str, str | None] | None: ...
    def rotate(
        self,
        key_id: str,
        *,
        expected_hash: str,
        new_hash: str,
        previous_valid_until: datetime,
        at: datetime,
    ) -> bool: ...
    def update(self, key_id: str, changes: Mapping[str, Any]) -> bool: ...


class RotationConflict(Conflict):
    """Another rotation of the same key won the race; its secret is the current one."""

    code = "rotation-conflict"
    title = "Rotation conflict"


# Longest overlap and expiry accepted: longer defeats rotating and expiring.
MAX_OVERLAP = timedelta(days=366)
MAX_EXPIRY_DAYS = 3650
_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class KeyChanges:
    """What `update` changes; a field left UNSET stays as it is. expires_in_days None clears
    the expiry; allowed_networks () lets the key in from anywhere; rate_limit None falls back
    to the hub's default rate."""

    allowed_networks: Sequence[str] = _UNSET
    rate_limit: str | None = _UNSET
    description: str | None = _UNSET
    expires_in_days: int | None = _UNSET


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
        allowed_networks: Sequence[str] = (),
        rate_limit: str | None = None,
    ) -> tuple[ApiKey, str]:
        """Make a key; returns it and its full secret, which is never shown again."""
        if not name.strip() or len(name) > 128:
            raise InvalidKey(
                "a key needs a name of 1 to 128 characters", [FieldError("name", "required")]
            )
        if environment not in ENVIRONMENTS:
            raise InvalidKey(
                f"environment must be one of: {', '.join(ENVIRONMENTS)}",
                [FieldError("environment", f"got {environment!r}")],
            )
        _check_expiry(expires_in_days)
        networks = parse_networks(allowed_networks)
        rate = _checked_rate(rate_limit)
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
            allowed_networks=networks,
            rate_limit=rate,
        )
        self.keys.add(key, secret_hash)
        self._record("key.created", key.key_id, None, key)
        return key, token

    def get(self, key_id: str) -> ApiKey:
        found = self.keys.find(key_id)
        if found is None:
            raise NotFound(f"there is no API key '{key_id[:40]}'")
        return found[0]

    def active(self, key_id_or_name: str) -> ApiKey:
        """The one active key with this id, or else this name (several: an error)."""
        found = self.keys.find(key_id_or_name)
        if found is not None:
            if found[0].revoked_at is not None:
                raise NotFound(f"the key {found[0].key_id} is revoked")
            return found[0]
        named = [k for k in self.keys.find_by_name(key_id_or_name) if k.revoked_at is None]
        if not named:
            raise NotFound(f"no active key with id or name '{key_id_or_name[:128]}'")
        if len(named) > 1:
            ids = ", ".join(k.key_id for k in named)
            raise Conflict(f"several active keys are named '{key_id_or_name}' ({ids}); use an id")
        return named[0]

    def update(self, key_id_or_name: str, changes: KeyChanges) -> ApiKey:
        """Change a key's allowed networks, rate, description or expiry."""
        before = self.active(key_id_or_name)
        values: dict[str, Any] = {}
        if changes.allowed_networks is not _UNSET:
            values["allowed_networks"] = parse_networks(changes.allowed_networks)
        if changes.rate_limit is not _UNSET:
            values["rate_limit"] = _checked_rate(changes.rate_limit)
        if changes.description is not _UNSET:
            values["description"] = changes.description
        if changes.expires_in_days is not _UNSET:
            days = changes.expires_in_days
            _check_expiry(days)
            values["expires_at"] = self.clock() + timedelta(days=days) if days else None
        if not values:
            raise InvalidKey(
                "nothing to change: give allowed networks, a rate limit, a description or an expiry"
            )
        if not self.keys.update(before.key_id, values):
            raise NotFound(f"the key {before.key_id} is revoked")
        after = self.get(before.key_id)
        self._record("key.updated", after.key_id, before, after)
        return after

    def rotate(self, key_id_or_name: str, overlap: timedelta) -> tuple[ApiKey, str]:
        """A new secret for the same key (id, scopes, everything else kept); the secret it
        replaces stays valid for `overlap`. Rotating again within the overlap keeps only the
        latest previous secret. Returns the key and its new full secret, shown once."""
        if overlap < timedelta(0) or overlap > MAX_OVERLAP:
            raise InvalidKey(
                f"the overlap is from 0 to {MAX_OVERLAP.days} days",
                [FieldError("overlap", f"got {overlap}")],
            )
        before = self.active(key_id_or_name)
        if before.expires_at is not None and before.expires_at <= self.clock():
            # A new secret for a key the API refuses would look like a fix and not be one.
            raise Conflict(
                f"the key {before.key_id} expired at {before.expires_at.isoformat()}; give it a "
                "new expiry first (keys update --expires-in-days, or PATCH expiresInDays)"
            )
        found = self.keys.find_secrets(before.key_id)
        if found is None:
            raise NotFound(f"there is no API key '{before.key_id}'")
        current_hash = found[1]
        now = self.clock()
        _, token, new_hash = new_secret(before.key_id)
        rotated = self.keys.rotate(
            before.key_id,
            expected_hash=current_hash,
            new_hash=new_hash,
            previous_valid_until=now + overlap,
            at=now,
        )
        if not rotated:
            latest = self.get(before.key_id)
            if latest.revoked_at is not None:
                raise NotFound(f"the key {before.key_id} was revoked")
            raise RotationConflict(
                f"the key {before.key_id} was rotated by another request at the same time; "
                "that rotation's secret is the current one. Rotate again to get a secret "
                "of your own"
            )
        after = self.get(before.key_id)
        self._record("key.rotated", after.key_id, before, after)
        return after, token

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
        revoked = []
        for key in targets:
            if self.keys.revoke(key.key_id, now):
                after = self.get(key.key_id)
                self._record("key.revoked", key.key_id, key, after)
                revoked.append(after)
        if not revoked:
            raise NotFound(f"no active key with id or name '{key_id_or_name}'")
        return revoked

    def _record(self, action: str, key_id: str, before: ApiKey | None, after: ApiKey) -> None:
        if self.audit is None:
            return
        # Auditor.record logs, and never raises, when the entry cannot be written: the
        # change is stored and in effect, and must not look failed.
        self.audit.record(
            action,
            "key",
            key_id,
            before=before.to_dict() if before else None,
            after=after.to_dict(),
        )

    def authenticate(self, token: str | None) -> ApiKey:
        """The active key behind `token`, or Unauthorized."""
        if not token:
            raise Unauthorized(
                "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )
        parts = split_key(token.strip())
        if parts is None and self.tokens is not None and token.count(".") == 2:
            return self.tokens.verify(token.strip())
        found = self.keys.find_secrets(parts[0]) if parts else None
        secret = parts[1] if parts else token
        # Compare even when nothing was found, so timing does not tell which ids exist.
        matches = secret_matches(secret, found[1] if found else _DUMMY_HASH)
        previous = found[2] if found else None
        # The secret a rotation replaced: only compared when the current one did not match.
        old = not matches and previous is not None and secret_matches(secret, previous)
        if found is None or not (matches or old):
            raise Unauthorized("the API key is not valid")
        key = found[0]
        now = self.clock()
        if key.revoked_at is not None:
            raise Unauthorized("the API key has been revoked")
        if not key.is_active(now):
            raise Unauthorized("the API key has expired")
        until = key.previous_valid_until
        if old and (until is None or until <= now):
            when = until.isoformat() if until else "its rotation"
            raise Unauthorized(
                f"the API key's previous secret expired at {when}; use the secret the key "
                "was last rotated to"
            )
        last = self._touched.get(key.key_id) or key.last_used_at
        if last is None or now - last >= LAST_USED_RESOLUTION:
            self.keys.touch(key.key_id, now)
            self._touched[key.key_id] = now
        return key


def _check_expiry(days: int | None) -> None:
    if days is not None and not 1 <= days <= MAX_EXPIRY_DAYS:
        raise InvalidKey(
            f"expiry is a whole number of days from 1 to {MAX_EXPIRY_DAYS}",
            [FieldError("expires_in_days", f"got {days}")],
        )


def _checked_rate(text: str | None) -> str | None:
    """A key's own rate in its normal form; None (or empty) for the hub's default."""
    if text is None or not text.strip():
        return None
    try:
        rate = parse_rate(text, field="rate_limit")
    except InvalidInput as exc:
        raise InvalidKey(exc.detail, exc.errors) from None
    # "off" would exempt the key from every limit: that is the hub's setting to make.
    if rate is None:
        raise InvalidKey(
            "a key's rate cannot be off; give N/second, N/minute or N/hour",
            [FieldError("rate_limit", "off is not allowed for one key")],
        )
    return str(rate)
