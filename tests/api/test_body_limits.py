"""Request bodies over their limit are refused with 413 `payload-too-large` while they stream
in: a chunked body without a Content-Length is not read whole first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from pimhub.api import body
from pimhub.api.app import create_app
from pimhub.bootstrap import Hub

CHUNK = b" " * (64 * 1024)


def test_a_chunked_json_body_over_the_limit_is_413(
    client: TestClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(body, "MAX_BODY_BYTES", 1 << 20)

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
    client: TestClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(body, "MAX_BODY_BYTES", 1000)
    response = client.post(
        "/api/v1/objects/Product",
        content=b"{" + b" " * 2000 + b"}",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["code"] == "payload-too-large"


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

    scope = {
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
    anyio.run(app, scope, receive, send)
    return status, read


def test_the_body_stops_being_read_at_the_limit(
    hub: Hub, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(body, "MAX_BODY_BYTES", 1 << 20)
    status, read = asgi_post(hub, "/api/v1/objects/Product", admin, chunks=1000)  # 64 MB
    assert status == 413
    assert read <= 17  # 1 MiB is 16 chunks: the rest was never received


def test_graphql_shares_the_streaming_limit(hub: Hub, admin: dict[str, str]) -> None:
    status, read = asgi_post(hub, "/graphql/anything", admin, chunks=1000)
    assert status == 413
    assert read <= 17
