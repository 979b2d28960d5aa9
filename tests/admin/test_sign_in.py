"""Signing in and out of the admin: the session cookie's attributes in each
admin_secure_cookies mode, logout ending the server-side session, the failed sign-in
throttle, and where `next` may lead."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pimhub.admin import auth_views
from pimhub.admin.auth_views import (
    FAILURE_WINDOW,
    MAX_FAILURES,
    MAX_SPRAY,
    FailedSignIns,
    safe_next,
    sign_in_keys,
)
from pimhub.admin.web import SESSION_COOKIE
from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from tests.admin.conftest import PASSWORD, AdminClient, csrf_in

TOO_MANY = "Too many failed sign-ins; wait a quarter of an hour and try again."


@pytest.fixture(autouse=True)
def fresh_throttle(monkeypatch: pytest.MonkeyPatch) -> Iterator[FailedSignIns]:
    throttle = FailedSignIns()
    monkeypatch.setattr(auth_views, "FAILURES", throttle)
    yield throttle


def sign_in(
    client: TestClient, username: str, password: str = PASSWORD, next_: str = ""
) -> httpx.Response:
    page = client.get("/admin/login")
    answer: httpx.Response = client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_in(page.text),
            "username": username,
            "password": password,
            "next": next_,
        },
        follow_redirects=False,
    )
    return answer


@pytest.mark.parametrize(
    ("mode", "base", "secure"),
    [
        ("auto", "http://testserver", False),
        ("auto", "https://testserver", True),
        ("always", "http://testserver", True),
        ("never", "https://testserver", False),
    ],
)
def test_the_session_cookie(users_hub: Hub, mode: str, base: str, secure: bool) -> None:
    users_hub.settings.admin_secure_cookies = mode
    client = TestClient(create_app(users_hub), base_url=base)
    answer = sign_in(client, "viewer")
    assert answer.status_code == 303
    [cookie] = [
        c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    ]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "Path=/admin" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert ("secure" in attributes) is secure


def test_logout_ends_the_session_on_the_server(
    signed_in: Callable[[str], AdminClient], users_hub: Hub
) -> None:
    client = signed_in("viewer")
    stolen = client.cookies.get(SESSION_COOKIE)
    assert stolen and users_hub.users.session(stolen) is not None
    answer = client.post_form("/admin/logout")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/login"
    assert users_hub.users.session(stolen) is None
    thief = TestClient(create_app(users_hub))
    thief.cookies.set(SESSION_COOKIE, stolen, path="/admin")
    assert thief.get("/admin/", follow_redirects=False).status_code == 303  # to sign-in


def test_signing_in_again_ends_the_previous_session(users_hub: Hub) -> None:
    client = TestClient(create_app(users_hub))
    sign_in(client, "viewer")
    first = client.cookies.get(SESSION_COOKIE)
    assert first
    client.cookies.delete(SESSION_COOKIE)
    page = client.get("/admin/login")  # a sign-in form, then the old cookie comes back
    client.cookies.set(SESSION_COOKIE, first, domain="testserver.local", path="/admin")
    answer = client.post(
        "/admin/login",
        data={"csrf_token": csrf_in(page.text), "username": "viewer", "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert users_hub.users.session(first) is None


def test_wrong_passwords_are_throttled_by_name(users_hub: Hub) -> None:
    client = TestClient(create_app(users_hub))
    for _ in range(MAX_FAILURES):
        answer = sign_in(client, "viewer", "wrong password")
        assert answer.status_code == 401
    blocked = sign_in(client, "VIEWER", PASSWORD)  # even the right password now
    assert blocked.status_code == 429
    assert TOO_MANY in blocked.text
    assert client.cookies.get(SESSION_COOKIE) is None


def test_the_throttle_counts_addresses_and_forgets_after_the_window() -> None:
    now = [1000.0]
    throttle = FailedSignIns(clock=lambda: now[0])
    for i in range(MAX_SPRAY - 1):
        throttle.failed(*sign_in_keys(f"u{i}", "1.2.3.4"))
    assert not throttle.blocked(*sign_in_keys("fresh", "1.2.3.4"))
    throttle.failed(*sign_in_keys("last", "1.2.3.4"))
    assert throttle.blocked(*sign_in_keys("fresh", "1.2.3.4"))  # the address, whatever the name
    assert not throttle.blocked(*sign_in_keys("fresh", "5.6.7.8"))
    now[0] += FAILURE_WINDOW
    assert not throttle.blocked(*sign_in_keys("fresh", "1.2.3.4"))


def test_one_guesser_locks_out_neither_the_address_nor_the_name() -> None:
    throttle = FailedSignIns()
    for _ in range(MAX_FAILURES):
        throttle.failed(*sign_in_keys("admin", "10.0.0.9"))
    assert throttle.blocked(*sign_in_keys("admin", "10.0.0.9"))  # the guesser, at that name
    assert not throttle.blocked(*sign_in_keys("viewer", "10.0.0.9"))  # others behind the proxy
    assert not throttle.blocked(*sign_in_keys("admin", "10.0.0.7"))  # the admin elsewhere


def test_many_addresses_at_one_name_block_the_name() -> None:
    throttle = FailedSignIns()
    for i in range(MAX_SPRAY):
        throttle.failed(*sign_in_keys("admin", f"10.0.{i // 200}.{i % 200}"))
    assert throttle.blocked(*sign_in_keys("admin", "192.0.2.1"))
    assert not throttle.blocked(*sign_in_keys("viewer", "192.0.2.1"))


def test_wrong_passwords_for_others_do_not_block_a_right_one(users_hub: Hub) -> None:
    client = TestClient(create_app(users_hub))
    for i in range(MAX_FAILURES + 3):
        assert sign_in(client, f"nosuch{i}", "wrong password").status_code == 401
    for _ in range(MAX_FAILURES):
        assert sign_in(client, "admin", "wrong password").status_code == 401
    assert sign_in(client, "integrator").status_code == 303


def test_success_clears_the_name_not_the_address(
    users_hub: Hub, fresh_throttle: FailedSignIns
) -> None:
    client = TestClient(create_app(users_hub))
    for _ in range(MAX_FAILURES - 1):
        sign_in(client, "viewer", "wrong password")
    assert sign_in(client, "viewer").status_code == 303
    assert "pair:viewer|testclient" not in fresh_throttle._seen
    assert len(fresh_throttle._seen["ip:testclient"]) == MAX_FAILURES - 1
    assert len(fresh_throttle._seen["user:viewer"]) == MAX_FAILURES - 1


def test_a_spray_of_names_does_not_free_a_blocked_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FailedSignIns, "LIMIT", 50)
    now = [0.0]
    throttle = FailedSignIns(clock=lambda: now[0])
    for _ in range(MAX_FAILURES):
        throttle.failed("pair:target|1.2.3.4")
    now[0] += 120
    for i in range(200):
        throttle.failed(f"user:spray{i}")
    assert throttle.blocked("pair:target|1.2.3.4")
    assert len(throttle._seen) <= 51  # bounded


def test_asking_about_a_name_stores_nothing() -> None:
    throttle = FailedSignIns()
    for i in range(100):
        throttle.blocked(f"user:{i}")
    assert throttle._seen == {}


@pytest.mark.parametrize(
    ("raw", "lands"),
    [
        ("/objects/Product?q=tee", "/admin/objects/Product?q=tee"),
        ("", "/admin/"),
        (None, "/admin/"),
        ("//evil.example/x", "/admin/"),
        ("https://evil.example/", "/admin/"),
        ("/\\evil.example", "/admin/"),
        ("\\\\evil.example", "/admin/"),
        ("/%5Cevil", "/admin/%5Cevil"),
        ("javascript:alert(1)", "/admin/"),
        ("evil.example", "/admin/"),
    ],
)
def test_safe_next_stays_inside_the_admin(raw: str | None, lands: str) -> None:
    assert safe_next(raw) == lands


def test_sign_in_follows_next_but_never_off_site(users_hub: Hub) -> None:
    client = TestClient(create_app(users_hub))
    answer = sign_in(client, "viewer", next_="//evil.example/")
    assert answer.headers["location"] == "/admin/"


@pytest.mark.parametrize("token", ["é" * 43, "\x00", ""])
def test_odd_sign_in_tokens_are_refused_not_a_500(users_hub: Hub, token: str) -> None:
    client = TestClient(create_app(users_hub))
    client.get("/admin/login")
    answer = client.post(
        "/admin/login",
        data={"csrf_token": token, "username": "viewer", "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code in (400, 403)


def test_a_nul_in_the_username_is_a_4xx(users_hub: Hub) -> None:
    client = TestClient(create_app(users_hub))
    assert sign_in(client, "vie\x00wer").status_code == 400


def test_auto_marks_the_cookie_secure_behind_an_https_proxy(users_hub: Hub) -> None:
    """uvicorn's proxy headers middleware (on by default for trusted proxies) turns
    X-Forwarded-Proto: https into the request's scheme, which 'auto' follows."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    users_hub.settings.admin_secure_cookies = "auto"
    app: Any = create_app(users_hub)  # ASGI typing differs between uvicorn and Starlette
    proxied: Any = ProxyHeadersMiddleware(app, trusted_hosts="*")
    client = TestClient(proxied, headers={"X-Forwarded-Proto": "https"})
    answer = sign_in(client, "viewer")
    [cookie] = [c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    assert "secure" in cookie.lower()
