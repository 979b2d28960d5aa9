"""The admin's session lookup reads on the event loop (SQLite) but writes off it: a touch
or the end of an expired session may wait on another writer's lock (30 s busy timeout on
SQLite), which must stall that request only, never the loop serving every request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from pimhub.admin.web import SESSION_COOKIE
from pimhub.bootstrap import Hub
from pimhub.users.service import TOUCH_RESOLUTION, token_hash
from tests.admin.conftest import AdminClient


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def writes(users_hub: Hub, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Each session write the service makes: its name and whether it ran on the loop."""
    seen: list[tuple[str, bool]] = []
    sessions = users_hub.users.sessions
    for name in ("touch", "delete"):
        real = getattr(sessions, name)

        def recorded(*args: Any, _name: str = name, _real: Any = real) -> Any:
            seen.append((_name, _on_loop()))
            return _real(*args)

        monkeypatch.setattr(sessions, name, recorded)
    return seen


def _later(hub: Hub, delta: timedelta) -> None:
    start = hub.users.clock()
    hub.users.clock = lambda: start + delta


def test_a_due_touch_is_written_off_the_loop(
    signed_in: Callable[[str], AdminClient], users_hub: Hub, writes: list[tuple[str, bool]]
) -> None:
    client = signed_in("viewer")
    assert client.get("/admin/").status_code == 200
    assert writes == []  # just signed in: nothing due, nothing written
    _later(users_hub, TOUCH_RESOLUTION + timedelta(seconds=1))
    assert client.get("/admin/").status_code == 200
    assert writes == [("touch", False)]
    stored = users_hub.users.sessions.find(_hash(client))
    assert stored is not None and stored[0].last_seen_at == users_hub.users.clock()
    assert client.get("/admin/").status_code == 200  # touched just now: not due again
    assert writes == [("touch", False)]


def test_an_expired_session_is_ended_off_the_loop(
    signed_in: Callable[[str], AdminClient], users_hub: Hub, writes: list[tuple[str, bool]]
) -> None:
    client = signed_in("viewer")
    _later(users_hub, timedelta(days=30))
    answer = client.get("/admin/", follow_redirects=False)
    assert answer.status_code == 303 and "/admin/login" in answer.headers["location"]
    assert writes == [("delete", False)]
    assert users_hub.users.sessions.find(_hash(client)) is None


def test_a_lookup_not_due_writes_nothing(
    signed_in: Callable[[str], AdminClient], users_hub: Hub, writes: list[tuple[str, bool]]
) -> None:
    client = signed_in("viewer")
    token = client.cookies.get(SESSION_COOKIE)
    lookup = users_hub.users.look_up(token)
    assert lookup.found is not None and not lookup.due
    users_hub.users.settle(lookup)
    assert writes == []


def _hash(client: AdminClient) -> str:
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    return token_hash(token)
