"""POST /inbound/{source} over HTTP: statuses, bodies, limits before reading, hostile input."""

from __future__ import annotations

import asyncio
import base64
import hmac
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pimhub.api.app import HubApp, create_app
from pimhub.bootstrap import Hub
from pimhub.storage.tables import inbound_messages, outbox


@pytest.fixture
def app(bare_hub: Hub) -> HubApp:
    return create_app(bare_hub)


@pytest.fixture
def api(app: HubApp) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def secret(bare_hub: Hub) -> str:
    _, plain = bare_hub.inbound.add_source(
        {"name": "shop", "scheme": "standard-webhooks", "maxBytes": 32768}
    )
    assert plain is not None
    return plain


def signed(secret: str, body: bytes, msg_id: str = "m-1", **extra: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = base64.b64encode(hmac.digest(key, f"{msg_id}.{stamp}.".encode() + body, "sha256"))
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + mac.decode(),
        **extra,
    }


BODY = b'{"type":"order.placed","data":{"id":1}}'


def audited(hub: Hub) -> list[Any]:
    with hub.engine.connect() as conn:
        return conn.execute(select(inbound_messages).order_by(inbound_messages.c.id)).all()


def problem_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code and body["status"] == status
    return dict(body)


def raw_post(
    app: HubApp, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, dict[bytes, bytes], bytes, int]:
    """The app called as an ASGI server would: headers as given, the body in chunks. Returns
    the status, headers, body and how many chunks the app read."""
    pending = list(chunks)
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if not pending:
            return {"type": "http.disconnect"}
        read += 1
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

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
        "headers": headers,
        "client": ("10.1.2.3", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body, read


def test_accepted_then_duplicate(api: TestClient, bare_hub: Hub, secret: str) -> None:
    headers = signed(secret, BODY)
    first = api.post("/inbound/shop", content=BODY, headers=headers)
    assert first.status_code == 202 and first.headers["content-type"] == "application/json"
    receipt = first.json()
    assert receipt["status"] == "accepted" and receipt["eventId"].startswith("evt_")
    assert receipt["duplicateOf"] is None
    again = api.post("/inbound/shop", content=BODY, headers=headers)
    assert again.status_code == 200
    duplicate = again.json()
    assert duplicate["message"] > receipt["message"]  # its own audit row
    assert duplicate == {
        "status": "duplicate",
        "message": duplicate["message"],
        "eventId": receipt["eventId"],
        "duplicateOf": receipt["message"],
    }
    with bare_hub.engine.connect() as conn:
        assert len(conn.execute(select(outbox)).all()) == 1
    assert audited(bare_hub)[0].remote == "testclient"


def test_refusals(api: TestClient, bare_hub: Hub, secret: str) -> None:
    problem_of(
        api.post("/inbound/nobody", content=BODY, headers=signed(secret, BODY)),
        404,
        "source-not-found",
    )
    assert audited(bare_hub) == []
    unverified = problem_of(
        api.post("/inbound/shop", content=BODY, headers={"content-type": "application/json"}),
        401,
        "inbound-unverified",
    )
    assert "webhook-id" in unverified["detail"] and unverified["errors"][0]["field"] == "webhook-id"
    problem_of(
        api.post(
            "/inbound/shop",
            content=BODY,
            headers=signed(secret, BODY, **{"content-type": "text/plain"}),
        ),
        415,
        "unsupported-media-type",
    )
    problem_of(
        api.post(
            "/inbound/shop",
            content=BODY,
            headers=signed(secret, BODY, **{"content-type": "application/x-www-form-urlencoded"}),
        ),
        415,
        "unsupported-media-type",
    )
    assert (
        api.post(
            "/inbound/shop",
            content=BODY,
            headers=signed(secret, BODY, **{"content-type": "application/cloudevents+json"}),
        ).status_code
        == 202
    )
    problem_of(
        api.post("/inbound/shop", content=b"x" * 40000, headers=signed(secret, b"x" * 40000)),
        413,
        "payload-too-large",
    )
    bare_hub.inbound.update_source("shop", {"enabled": False})
    disabled = api.post("/inbound/shop", content=BODY, headers=signed(secret, BODY, "m-2"))
    problem_of(disabled, 503, "source-disabled")
    assert int(disabled.headers["retry-after"]) > 0
    assert api.get("/inbound/shop").status_code == 405
    assert [r.problem for r in audited(bare_hub)] == [
        "inbound-unverified", "unsupported-media-type", "unsupported-media-type", None,
        "payload-too-large", "source-disabled",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"type":"order.placed","a":"\x00"}', 400, "nul-character"),
        (b'{"type":"order.placed","a":"\\u0000"}', 400, "nul-character"),
        (b'{"type":"order.placed","a":"\\udc00"}', 400, "malformed-json"),
        (b'{"type":"order.placed","a":"\xc3\x28"}', 400, "malformed-json"),
        (b"[" * 10_000 + b"]" * 10_000, 400, "malformed-json"),
        (b'{"type":"order.placed","n":1' + b"0" * 400 + b"}", 400, "malformed-json"),
        (b'{"type":"order.placed","n":1e400}', 400, "malformed-json"),
        (b'{"data":{}}', 422, "invalid-message"),
        (b'{"type":"object.updated"}', 422, "invalid-message"),
    ],
)
def test_hostile_bodies(
    api: TestClient, bare_hub: Hub, secret: str, body: bytes, status: int, code: str
) -> None:
    response = api.post("/inbound/shop", content=body, headers=signed(secret, body))
    detail = problem_of(response, status, code)["detail"]
    assert detail
    [row] = audited(bare_hub)
    assert (row.outcome, row.verification, row.problem) == ("rejected", "passed", code)


def test_huge_but_exact_numbers_are_stored(api: TestClient, bare_hub: Hub, secret: str) -> None:
    body = (
        b'{"type":"order.placed","big":18446744073709551615,'
        b'"small":-9223372036854775808,"f":1.5e308}'
    )
    assert api.post("/inbound/shop", content=body, headers=signed(secret, body)).status_code == 202
    with bare_hub.engine.connect() as conn:
        [event] = conn.execute(select(outbox)).all()
    assert event.payload["data"]["payload"] == orjson.loads(body)


def test_header_values_with_control_characters(api: TestClient, bare_hub: Hub, secret: str) -> None:
    # A control character in the message id: refused after verifying, naming the field.
    bad_id = problem_of(
        api.post("/inbound/shop", content=BODY, headers=signed(secret, BODY, "id\x01x")),
        422,
        "invalid-message",
    )
    assert bad_id["errors"][0]["field"] == "messageId"
    # NUL in any header: refused at the edge, before the route.
    nul = signed(secret, BODY, **{"webhook-signature": "v1,\x00"})
    problem_of(api.post("/inbound/shop", content=BODY, headers=nul), 400, "nul-character")


def test_content_length_over_the_limit_is_refused_unread(
    app: HubApp, bare_hub: Hub, secret: str
) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2147483648")]
    status, _response_headers, body, read = raw_post(app, "/inbound/shop", headers, [b"{"] * 3)
    assert status == 413 and read == 0
    assert orjson.loads(body)["code"] == "payload-too-large"
    [row] = audited(bare_hub)
    assert row.problem == "payload-too-large" and row.size == 2147483647


def test_a_chunked_body_is_cut_at_the_limit(app: HubApp, bare_hub: Hub, secret: str) -> None:
    chunks = [b"x" * 5000] * 10  # no Content-Length: 50 kB against a 32 kB limit
    status, _, _body, read = raw_post(
        app, "/inbound/shop", [(b"content-type", b"application/json")], chunks
    )
    assert status == 413 and read == 7
    assert audited(bare_hub)[0].size == 35000


def test_the_route_is_documented(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    operation = paths["/inbound/{source}"]["post"]
    assert {"202", "200"} <= set(operation["responses"])
