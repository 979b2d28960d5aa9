"""Users, roles and sessions, and how a role maps onto the API's scopes.

A signed-in user acts through the same permission checks as an API key: `User.principal()`
is an `ApiKey` holding the role's scopes, so a UI handler calls `require()` and the services
exactly as a REST handler does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pimhub.access.keys import USER_KEY_PREFIX, ApiKey
from pimhub.catalog.errors import Conflict


class Role(StrEnum):
    ADMIN = "admin"
    CATALOG_MANAGER = "catalog-manager"
    INTEGRATOR = "integrator"
    VIEWER = "viewer"


ROLE_SCOPES: dict[Role, tuple[str, ...]] = {
    Role.ADMIN: ("admin",),
    Role.CATALOG_MANAGER: (
        "read-drafts:*",
        "write:*",
        "delete:*",
        "review:*",
        "publish:*",
    ),
    # Runs imports (which write objects), webhooks, deliveries, datahub configurations and
    # connectors; cannot delete objects, change classes, keys or users.
    Role.INTEGRATOR: ("read-drafts:*", "write:*", "integrate"),
    Role.VIEWER: ("read-drafts:*",),
}

ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "Administrator",
    Role.CATALOG_MANAGER: "Catalog manager",
    Role.INTEGRATOR: "Integrator",
    Role.VIEWER: "Viewer",
}

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 takes any length; a cap keeps a login from hashing megabytes


class LastAdmin(Conflict):
    """The change would leave the hub without an active administrator, and so with nobody
    who may manage users or keys in the UI."""

    code = "last-admin"
    title = "Last administrator"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    created_at: datetime
    password_changed_at: datetime
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def principal(self) -> ApiKey:
        """The user as the permission checks see them: a key with the role's scopes."""
        return ApiKey(
            key_id=f"{USER_KEY_PREFIX}{self.id}",
            name=self.username,
            environment="production",
            scopes=ROLE_SCOPES[self.role],
            created_at=self.created_at,
        )


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored.
    `csrf_token` goes into every form the session is shown and must come back with it."""

    token_hash: str
    user_id: int
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
