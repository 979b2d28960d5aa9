"""The hub's clock: aware UTC time, in a module of its own so that callers as light as the
API-key commands do not import the catalog service to read it."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
