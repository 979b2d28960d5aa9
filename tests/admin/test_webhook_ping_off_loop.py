"""The admin's test ping reads the endpoint and its secrets (and resolves its host) in the
thread pool, not on the event loop that serves every other request. Both backends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient
from tests.events.receiver import Receiver, receiver_in_thread


def on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_the_ping_reads_nothing_on_the_event_loop(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = users_hub.webhooks.endpoints
    calls: list[tuple[str, bool]] = []

    def spied(name: str) -> Callable[..., Any]:
        real = getattr(repo, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, on_loop()))
            return real(*args, **kwargs)

        return call

    client = signed_in("integrator")
    with receiver_in_thread(Receiver(answer=lambda r: 204)) as receiver:
        endpoint_id = users_hub.webhooks.create({"url": receiver.url}).endpoint.endpoint_id
        for name in ("get", "secrets"):
            monkeypatch.setattr(repo, name, spied(name))
        answer = client.post_form(f"/admin/webhooks/{endpoint_id}/ping")
        assert [r.payload["type"] for r in receiver.requests] == ["webhook.ping"]
    assert answer.status_code == 200 and "answered HTTP 204" in answer.text
    assert {name for name, _ in calls} == {"get", "secrets"}
    assert [name for name, looped in calls if looped] == []
