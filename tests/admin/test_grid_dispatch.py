"""The admin's pages are served by create_app's fast path (outside FastAPI's layers): they
keep the request log's id, the edge's NUL refusal, their own error pages and the redirect
of /admin itself."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient


def test_a_grid_page_goes_through_the_fast_path_with_its_request_id(
    signed_in: Callable[[str], AdminClient],
) -> None:
    client = signed_in("manager")
    app = client.app
    calls: list[str] = []
    fast = app.fast_app  # type: ignore[attr-defined]
    assert fast is not None

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["path"])
        await original(scope, receive, send)

    original = fast.__call__
    app.fast_app = spy  # type: ignore[attr-defined]
    answer = client.get("/admin/objects/Product", headers={"X-Request-ID": "grid-1"})
    assert answer.status_code == 200
    assert "<table" in answer.text
    assert answer.headers["x-request-id"] == "grid-1"
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    assert calls == ["/admin/objects/Product"]


def test_the_edge_still_refuses_nul_on_admin_pages(
    signed_in: Callable[[str], AdminClient],
) -> None:
    answer = signed_in("manager").get("/admin/objects/Product?q=%00")
    assert answer.status_code == 400
    assert answer.json()["code"] == "nul-character"


def test_admin_error_pages_and_the_bare_prefix(
    signed_in: Callable[[str], AdminClient], sample: Hub
) -> None:
    missing = signed_in("manager").get("/admin/objects/NoSuchClass")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    bare = TestClient(create_app(sample)).get("/admin", follow_redirects=False)
    assert bare.status_code in (307, 308)
    assert bare.headers["location"].endswith("/admin/")
