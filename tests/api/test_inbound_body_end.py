"""A body that does not end: a stalled one (408, audited as body-timeout) and one cut off by
the client going away (not processed at all)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pimhub.api.app import HubApp, create_app
from pimhub.bootstrap import Hub
from tests.api.test_inbound_route import BODY, audited, signed


@pytest.fixture
def app(bare_hub: Hub) -> HubApp:
    return create_app(bare_hub)


@pytest.fixture
def secret(bare_hub: Hub) -> str:
    _, plain = bare_hub.inbound.add_source({"name": "shop", "scheme": "standard-webhooks"})
    assert plain is not None
    return plain


def call(app: HubApp, headers: dict[str, str], messages: list[Any]) -> list[dict[str, Any]]:
    """The app as an ASGI server calls it; each of `messages` is a receive() result, or an
    exception that receive raises (what EdgeGuard's idle deadline does)."""
    pending = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        item = pending.pop(0) if pending else {"type": "http.disconnect"}
        if isinstance(item, BaseException):
            raise item
        return dict(item)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/inbound/shop",
        "raw_path": b"/inbound/shop",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("10.1.2.3", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return sent


def test_a_stalled_body_is_408_and_audited(app: HubApp, bare_hub: Hub, secret: str) -> None:
    from pimhub.catalog.errors import BodyTimeout

    stalled = BodyTimeout("the request body stopped arriving: nothing came for 30 seconds")
    sent = call(
        app,
        signed(secret, BODY),
        [{"type": "http.request", "body": BODY[:5], "more_body": True}, stalled],
    )
    assert sent[0]["status"] == 408
    rows = audited(bare_hub)
    assert [(r.outcome, r.problem, r.size) for r in rows] == [("rejected", "body-timeout", 5)]


def test_a_body_cut_off_by_a_disconnect_is_not_processed(
    app: HubApp, bare_hub: Hub, secret: str
) -> None:
    # The first half of a body that would be accepted whole (a JSON prefix that parses: '{}'
    # would be a complete message of its own).
    half = b'{"type":"order.placed"}'
    headers = signed(secret, half)
    sent = call(
        app,
        headers,
        [{"type": "http.request", "body": half, "more_body": True}, {"type": "http.disconnect"}],
    )
    assert all(m.get("status") != 202 for m in sent)
    assert [r.outcome for r in audited(bare_hub)] == []
