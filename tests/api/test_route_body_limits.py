"""One table of body limits by route (api/body.py ROUTE_LIMITS), enforced at the edge: a
413 problem `payload-too-large` from Content-Length before the body is read, and as soon as
a chunked body passes the limit. Through the app, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import anyio
import orjson
import pytest

from pimhub.api.app import create_app
from pimhub.api.body import route_limit
from pimhub.bootstrap import Hub
from pimhub.settings import Settings


@pytest.mark.parametrize(
    ("method", "path", "setting"),
    [
        ("POST", "/api/v1/objects/Product", "max_body_bytes"),
        ("PATCH", "/api/v1/objects/Product/TS-1", "max_body_bytes"),
        ("PUT", "/api/v1/datahub/shop", "max_body_bytes"),
        ("POST", "/graphql/shop", "graphql_max_body_bytes"),
        ("POST", "/api/v1/imports", "import_max_upload_bytes"),
        ("POST", "/api/v1/imports/abc/cancel", "max_body_bytes"),
        ("POST", "/api/v1/assets", "assets_max_bytes"),
        ("PUT", "/api/v1/assets/images/a.png", "assets_max_bytes"),
        ("PATCH", "/api/v1/assets/images/a.png", "max_body_bytes"),
        ("POST", "/inbound/erp", None),
        ("POST", "/admin/classes/new", None),
    ],
)
def test_each_route_has_its_limit(method: str, path: str, setting: str | None) -> None:
    assert route_limit(method, path).setting == setting


def test_an_asset_form_has_room_for_its_other_fields() -> None:
    settings = Settings(assets_max_bytes=5000)
    assert route_limit("POST", "/api/v1/assets").limit(settings) == 5000 + (1 << 20)
    assert route_limit("PUT", "/api/v1/assets/a.png").limit(settings) == 5000


def call(
    hub: Hub,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: list[bytes],
    *,
    declare: bool = True,
) -> tuple[int, dict[str, str], bytes, int]:
    """Sends `chunks` as the body straight to the ASGI app (Content-Length their total when
    `declare`, else chunked); (status, headers, body, chunks the app received)."""
    app: Any = create_app(hub)  # anyio.run's types do not know ASGI's
    sent: dict[str, Any] = {"status": 0, "headers": {}, "body": b""}
    read = 0
    head = {k.lower(): v for k, v in headers.items()}
    if declare:
        head["content-length"] = str(sum(map(len, chunks)))
    else:
        head["transfer-encoding"] = "chunked"

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        if read > len(chunks):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
            sent["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            sent["body"] += message.get("body", b"")

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in head.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    anyio.run(app, scope, receive, send)
    return sent["status"], sent["headers"], sent["body"], read


def problem_of(body: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(body)
    return parsed


JSON = {"Content-Type": "application/json"}


def test_a_json_body_declared_over_max_body_bytes_is_refused_unread(
    hub: Hub, admin: dict[str, str]
) -> None:
    hub.settings.max_body_bytes = 2048
    status, headers, body, read = call(
        hub, "POST", "/api/v1/objects/Product", {**admin, **JSON}, [b" " * 3000]
    )
    assert (status, read) == (413, 0)
    assert headers["content-type"] == "application/problem+json"
    problem = problem_of(body)
    assert problem["code"] == "payload-too-large" and problem["status"] == 413
    assert problem["detail"] == (
        "the request body is larger than 2048 bytes; send bulk data as an import file "
        "(POST /api/v1/imports)"
    )
    assert problem["errors"][0]["field"] == "body"


def test_a_chunked_json_body_stops_being_read_at_the_limit(hub: Hub, admin: dict[str, str]) -> None:
    hub.settings.max_body_bytes = 4096
    chunks = [b'{"fields": {"sku": "'] + [b"x" * 1024] * 100
    status, _, body, read = call(
        hub, "POST", "/api/v1/objects/Product", {**admin, **JSON}, chunks, declare=False
    )
    assert status == 413 and problem_of(body)["code"] == "payload-too-large"
    assert read <= 6  # 4 KiB is 4 of these chunks (and the first): the rest never came


def test_a_json_body_under_the_limit_is_served(hub: Hub, admin: dict[str, str]) -> None:
    hub.settings.max_body_bytes = 2048
    payload = b'{"fields": {"sku": "SMALL-1", "name": {"en": "Small"}}}'
    status, _, body, _ = call(hub, "POST", "/api/v1/objects/Product", {**admin, **JSON}, [payload])
    assert status == 201, body


def test_graphql_takes_graphql_max_body_bytes(hub: Hub, admin: dict[str, str]) -> None:
    hub.settings.graphql_max_body_bytes = 4096
    hub.settings.max_body_bytes = 1 << 20
    big = b'{"query": "{ a }", "x": "' + b"y" * 5000 + b'"}'
    status, headers, body, read = call(hub, "POST", "/graphql/shop", {**admin, **JSON}, [big])
    assert (status, read) == (413, 0)
    assert headers["content-type"] == "application/problem+json"
    assert problem_of(body)["detail"] == "the request body is larger than 4096 bytes"
    # Chunked: the same 413 problem payload-too-large, however the client framed the body.
    status, headers, body, _ = call(
        hub, "POST", "/graphql/shop", {**admin, **JSON}, [big[:3000], big[3000:]], declare=False
    )
    assert status == 413 and headers["content-type"] == "application/problem+json"
    chunked = problem_of(body)
    assert chunked["code"] == "payload-too-large"
    assert chunked["detail"] == "the request body is larger than 4096 bytes"
    # Raised above the JSON routes' limit, a larger GraphQL body passes the edge.
    hub.settings.graphql_max_body_bytes = 8192
    hub.settings.max_body_bytes = 2048
    status, _, body, _ = call(hub, "POST", "/graphql/shop", {**admin, **JSON}, [big])
    assert status == 404, body  # no such configuration: the endpoint ran


def test_an_import_upload_has_its_own_limit(hub: Hub, admin: dict[str, str]) -> None:
    hub.settings.import_max_upload_bytes = 2048
    hub.settings.max_body_bytes = 1 << 20
    form = {**admin, "Content-Type": "multipart/form-data; boundary=x"}
    status, _, body, read = call(hub, "POST", "/api/v1/imports", form, [b"-" * 3000])
    assert (status, read) == (413, 0)
    assert problem_of(body)["detail"] == "the upload is larger than 2048 bytes"
    # An upload over max_body_bytes but under its own limit is no 413 (only a bad form).
    hub.settings.import_max_upload_bytes = 1 << 20
    hub.settings.max_body_bytes = 2048
    status, _, body, _ = call(hub, "POST", "/api/v1/imports", form, [b"-" * 3000])
    assert status == 400, body


def test_an_asset_file_has_its_own_limit(hub: Hub, admin: dict[str, str]) -> None:
    hub.settings.assets_max_bytes = 2048
    octets = {**admin, "Content-Type": "application/octet-stream"}
    status, _, body, read = call(hub, "PUT", "/api/v1/assets/a/b.bin", octets, [b"\0" * 3000])
    assert (status, read) == (413, 0)
    assert problem_of(body)["detail"] == "the file is larger than 2048 bytes"
    status, _, body, _ = call(
        hub, "PUT", "/api/v1/assets/a/b.bin", octets, [b"\1" * 1500] * 2, declare=False
    )
    assert status == 413 and problem_of(body)["detail"] == "the file is larger than 2048 bytes"


def test_inbound_bodies_are_left_to_their_source(hub: Hub) -> None:
    hub.settings.max_body_bytes = 2048
    status, _, body, _ = call(hub, "POST", "/inbound/nobody", JSON, [b" " * 3000])
    assert status == 404 and problem_of(body)["code"] != "payload-too-large"


def test_reads_are_not_held_to_a_body_limit(hub: Hub, admin: dict[str, str]) -> None:
    hub.settings.max_body_bytes = 2048
    status, _, _, _ = call(hub, "GET", "/api/v1/classes", admin, [b" " * 3000])
    assert status == 200
