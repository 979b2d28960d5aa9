"""API keys: format, hashing and scopes.

A key reads `phk_<key id>_<secret>`. The key id is stored in clear to find the row; only a
SHA-256 of the secret is stored. A slow password hash is not needed: the secret is 256 random
bits, so it cannot be guessed from its hash, and a fast hash keeps every request cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pimhub.catalog.errors import FieldError, InvalidInput

KEY_PREFIX = "phk"
# The key id of an admin UI user acting through the same checks (users.model.User.principal).
USER_KEY_PREFIX = "user:"
_KEY_PATTERN = re.compile(r"^phk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_SCOPE_PATTERN = re.compile(
    r"^(admin|integrate|(read|read-drafts|write|delete|review|publish)(:(\*|[A-Z][A-Za-z0-9]*))?"
    r"|datahub:[a-z][a-z0-9_-]{0,63}|inbound(:[a-z][a-z0-9_-]{0,29})?)$"
)
ENVIRONMENTS = ("production", "staging", "development", "test")


class InvalidKey(InvalidInput):
    """A key's settings are not valid (name, scopes, networks, rate, expiry, overlap)."""

    code = "invalid-key"
    title = "Invalid API key settings"


class Action(StrEnum):
    READ = "read"
    READ_DRAFTS = "read-drafts"
    WRITE = "write"
    DELETE = "delete"
    # Workflow transitions (catalog.workflows) name these besides write, delete and admin.
    REVIEW = "review"
    PUBLISH = "publish"
    # Webhook endpoints, deliveries, datahub configurations, connectors and import profiles:
    # what an integrator runs without holding admin (classes, keys and users stay admin's).
    INTEGRATE = "integrate"
    ADMIN = "admin"


_ACTIONS = frozenset(a.value for a in Action)
# Scopes that name no class; `inbound` lets a key post to every api-key inbound source.
_WHOLE = frozenset({"admin", "integrate", "inbound"})


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    environment: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    description: str | None = None
    # CIDR networks the key may be used from (empty: anywhere), checked by api/guard.py.
    allowed_networks: tuple[str, ...] = ()
    # The key's own rate ("N/minute"), else settings.rate_limit_per_key.
    rate_limit: str | None = None
    rotated_at: datetime | None = None
    # Until when the secret before the last rotation is still accepted.
    previous_valid_until: datetime | None = None

    def allows(self, action: Action, class_name: str | None = None) -> bool:
        """Whether this key may do `action` on `class_name` (None: on every class)."""
        if "admin" in self.scopes:
            return True
        if action == Action.ADMIN:
            return False
        if action == Action.INTEGRATE:
            return "integrate" in self.scopes
        wanted = [action.value]
        if action == Action.READ:
            wanted.append(Action.READ_DRAFTS.value)  # drafts access includes published reads
        for name in wanted:
            if f"{name}:*" in self.scopes:
                return True
            if class_name is not None and f"{name}:{class_name}" in self.scopes:
                return True
        return False

    def may_run(self, scopes: Sequence[str], class_name: str) -> bool:
        """Whether this key holds any of a workflow transition's `scopes` (action names:
        write, review, publish, delete, admin) on `class_name`; admin runs every one."""
        return any(self.allows(Action(s), class_name) for s in scopes if s in _ACTIONS)

    def opens_datahub(self, config_name: str) -> bool:
        """Whether this key may use the datahub configuration `config_name`. Class scopes do
        not count: each configuration has its own keys, and its own rules say what they may
        do there."""
        return "admin" in self.scopes or f"datahub:{config_name}" in self.scopes

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def expiry_warning(self, now: datetime, window: timedelta) -> str | None:
        """`expires in 3d` (or 5h, 12m) when an active key expires within `window`."""
        if not self.is_active(now) or self.expires_at is None or window <= timedelta(0):
            return None
        left = self.expires_at - now
        if left > window:
            return None
        seconds = int(left.total_seconds())
        if seconds >= 86400:
            return f"expires in {seconds // 86400}d"
        if seconds >= 3600:
            return f"expires in {seconds // 3600}h"
        return f"expires in {max(seconds // 60, 1)}m"

    def status(self, now: datetime, window: timedelta = timedelta(0)) -> str:
        """What the API does with the key now: revoked, expired, active, or (still active)
        `expires in ...` within the warning window."""
        if self.revoked_at:
            return "revoked"
        if not self.is_active(now):
            return "expired"
        return self.expiry_warning(now, window) or "active"

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "keyId": self.key_id,
            "name": self.name,
            "environment": self.environment,
            "scopes": list(self.scopes),
            "createdAt": iso(self.created_at),
            "lastUsedAt": iso(self.last_used_at),
            "expiresAt": iso(self.expires_at),
            "revokedAt": iso(self.revoked_at),
            "description": self.description,
            "allowedNetworks": list(self.allowed_networks),
            "rateLimit": self.rate_limit,
            "rotatedAt": iso(self.rotated_at),
            "previousValidUntil": iso(self.previous_valid_until),
        }


def parse_scopes(raw: list[str]) -> tuple[str, ...]:
    """Normalize scope strings: `read` means `read:*`; unknown forms are an error."""
    scopes: list[str] = []
    errors: list[FieldError] = []
    for item in (s.strip() for chunk in raw for s in chunk.split(",")):
        if not item:
            continue
        if not _SCOPE_PATTERN.match(item):
            errors.append(
                FieldError(
                    "scopes",
                    f"'{item}' is not a scope; use admin, integrate, "
                    "read|read-drafts|write|delete|review|publish[:Class|*], "
                    "datahub:<configuration> or inbound[:<source>]",
                )
            )
            continue
        scopes.append(item if ":" in item or item in _WHOLE else f"{item}:*")
    if errors:
        raise InvalidKey("invalid scopes", errors)
    if not scopes:
        raise InvalidKey("a key needs at least one scope", [FieldError("scopes", "empty")])
    return tuple(dict.fromkeys(scopes))


MAX_NETWORKS = 100


def parse_networks(raw: Sequence[str], field: str = "allowed_networks") -> tuple[str, ...]:
    """CIDR networks (or single addresses, as /32 or /128) in their normal form. A network
    with host bits set (10.0.0.5/24) is refused rather than widened silently."""
    networks: list[str] = []
    bad: list[str] = []
    errors: list[FieldError] = []
    for item in (s.strip() for chunk in raw for s in chunk.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=True)))
        except ValueError as exc:
            bad.append(item[:64])
            errors.append(FieldError(field, f"'{item[:64]}' is not a CIDR network: {exc}"))
    if errors:
        raise InvalidKey(f"not a CIDR network: {', '.join(bad[:5])}", errors)
    if len(networks) > MAX_NETWORKS:
        raise InvalidKey(
            f"a key allows at most {MAX_NETWORKS} networks",
            [FieldError(field, f"{len(networks)} given")],
        )
    return tuple(dict.fromkeys(networks))


def new_secret(key_id: str | None = None) -> tuple[str, str, str]:
    """A fresh key: (key id, the full key to hand out once, the hash to store). With
    `key_id`, a new secret for that key (a rotation)."""
    key_id = key_id or secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(token: str) -> tuple[str, str] | None:
    match = _KEY_PATTERN.match(token)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
