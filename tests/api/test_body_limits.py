"""Request bodies over their limit are refused with 413 `payload-too-large` while they stream
in: a chunked body without a Content-Length is not read whole first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub

CHUNK = b" " * (64 * 1024)


def test_a_chunked_json_body_over_the_limit_is_413(
    hub: Hub, client: TestClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.settings, "max_body_bytes", 1 << 20)

    def chunks() -> Iterator[bytes]:
        yield b'{"fields": {"sku": "'
        for _ in range(40):  # 2.5 MB
            yield CHUNK
        yield b'"}}'

    response = client.post(
        "/api/v1/objects/Product",
        content=chunks(),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    problem = response.json()
    assert problem["code"] == "payload-too-large" and problem["status"] == 413
    assert str(1 << 20) in problem["detail"]


def test_a_declared_length_over_the_limit_is_refused_before_reading(
    hub: Hub, client: TestClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.settings, "max_body_bytes", 1000)
    response = client.post(
        "/api/v1/objects/Product",
        content=b"{" + b" " * 2000 + b"}",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["code"] == "payload-too-large"


def asgi_scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    """The scope of a JSON POST to `path`, as a server would hand it to the app."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (k.lower().encode(), v.encode())
            for k, v in {**headers, "Content-Type": "application/json"}.items()
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }


def asgi_post(hub: Hub, path: str, headers: dict[str, str], chunks: int) -> tuple[int, int]:
    """POSTs `chunks` chunks of 64 KiB straight to the ASGI app; (status, chunks read)."""
    app = create_app(hub)
    read = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": CHUNK, "more_body": read < chunks}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = asgi_scope(path, headers)
    anyio.run(app, scope, receive, send)
    return status, read


def test_the_body_stops_being_read_at_the_limit(
    hub: Hub, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.settings, "max_body_bytes", 1 << 20)
    status, read = asgi_post(hub, "/api/v1/objects/Product", admin, chunks=1000)  # 64 MB
    assert status == 413
    assert read <= 17  # 1 MiB is 16 chunks: the rest was never received


def test_graphql_shares_the_streaming_limit(hub: Hub, admin: dict[str, str]) -> None:
    status, read = asgi_post(hub, "/graphql/anything", admin, chunks=1000)
    assert status == 413
    assert read <= 17


def run_asgi(hub: Hub, path: str, headers: dict[str, str], receive: Any) -> int:
    """The status the app answers a POST to `path` whose body comes from `receive`."""
    app = create_app(hub)
    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    anyio.run(app, asgi_scope(path, headers), receive, send)
    return status


@pytest.mark.parametrize("path", ["/api/v1/objects/Product", "/graphql/anything"])
def test_a_body_that_stops_arriving_is_a_408(hub: Hub, admin: dict[str, str], path: str) -> None:
    hub.settings.body_idle_seconds = 0.2
    sent = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        sent += 1
        if sent == 1:
            return {"type": "http.request", "body": b'{"fields": ', "more_body": True}
        await anyio.sleep(5)  # the rest never comes; without a deadline the client gives up
        return {"type": "http.disconnect"}

    assert run_asgi(hub, path, admin, receive) == 408


def test_a_client_that_hangs_up_mid_body_is_no_server_error(
    hub: Hub, admin: dict[str, str]
) -> None:
    messages = iter(
        [
            {"type": "http.request", "body": b'{"fields": ', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict[str, Any]:
        return next(messages)

    # No exception leaves the app (uvicorn would log a 500 with a traceback for one).
    assert run_asgi(hub, "/api/v1/objects/Product", admin, receive) == 499
