"""The navigation: each page's label, address and who sees it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pimhub.access.keys import Action, ApiKey
from pimhub.api.auth import writes_some_class


@dataclass(frozen=True, slots=True)
class NavEntry:
    label: str
    path: str  # under /admin
    visible: Callable[[ApiKey], bool]


def _reads_any(key: ApiKey) -> bool:
    return key.allows(Action.READ) or any(s.startswith(("read", "write")) for s in key.scopes)


NAV: tuple[NavEntry, ...] = (
    NavEntry("Dashboard", "/", lambda k: True),
    NavEntry("Catalog", "/objects", _reads_any),
    NavEntry("Classes", "/classes", _reads_any),
    NavEntry(
        "Imports",
        "/imports",
        writes_some_class,  # the imports pages' own check
    ),
    NavEntry("Webhooks", "/webhooks", lambda k: k.allows(Action.INTEGRATE)),
    NavEntry("Deliveries", "/deliveries", lambda k: k.allows(Action.INTEGRATE)),
    NavEntry("Datahub", "/datahub", lambda k: k.allows(Action.INTEGRATE)),
    NavEntry("Inbound", "/inbound", lambda k: k.allows(Action.INTEGRATE)),
    NavEntry("Brokers", "/brokers", lambda k: k.allows(Action.INTEGRATE)),
    NavEntry("API keys", "/keys", lambda k: k.allows(Action.ADMIN)),
    NavEntry("Users", "/users", lambda k: k.allows(Action.ADMIN)),
    NavEntry("Audit log", "/audit", lambda k: k.allows(Action.ADMIN)),
)


def visible_nav(key: ApiKey) -> list[NavEntry]:
    return [entry for entry in NAV if entry.visible(key)]
