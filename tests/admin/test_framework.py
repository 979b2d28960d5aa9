"""The admin framework: sign-in, sessions, CSRF on every POST route, security headers."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import Route

from pimhub.admin.app import build_admin
from pimhub.api.app import graphql_service
from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient


def _post_routes(hub: Hub) -> list[str]:
    paths = []
    for route in build_admin(hub, graphql=graphql_service(hub)).routes:
        if isinstance(route, Route) and "POST" in (route.methods or ()) and route.path != "/login":
            paths.append(route.path)
    return paths


def test_every_post_route_refuses_a_form_without_the_csrf_token(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    for path in _post_routes(users_hub):
        concrete = path.replace("{", "x").replace("}", "")  # a parameter's placeholder value
        missing = client.post("/admin" + concrete, data={}, follow_redirects=False)
        assert missing.status_code == 403, (path, missing.status_code)
        wrong = client.post(
            "/admin" + concrete, data={"csrf_token": "x" * 43}, follow_redirects=False
        )
        assert wrong.status_code == 403, (path, wrong.status_code)


def test_a_cross_site_origin_is_refused_even_with_the_token(
    signed_in: Callable[[str], AdminClient],
) -> None:
    client = signed_in("viewer")
    answer = client.post_form("/admin/logout", headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert client.get("/admin/").status_code == 200  # still signed in


def test_pages_carry_the_content_security_policy_and_are_not_cached(
    signed_in: Callable[[str], AdminClient],
) -> None:
    page = signed_in("viewer").get("/admin/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"


def test_a_page_without_a_session_redirects_to_sign_in_keeping_the_address(
    users_hub: Hub,
) -> None:
    from fastapi.testclient import TestClient

    from pimhub.api.app import create_app

    client = TestClient(create_app(users_hub))
    answer = client.get("/admin/objects/Product?q=tee", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login?next=%2Fobjects%2FProduct%3Fq%3Dtee"
    htmx = client.get("/admin/objects/Product", headers={"HX-Request": "true"})
    assert htmx.headers["hx-redirect"].startswith("/admin/login")


def test_a_disabled_user_is_signed_out_at_once(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    users_hub.users.disable("manager")
    assert client.get("/admin/", follow_redirects=False).status_code == 303


def test_a_refusal_names_the_user_and_their_role_not_a_key(
    signed_in: Callable[[str], AdminClient],
) -> None:
    page = signed_in("viewer").get("/admin/webhooks")
    assert page.status_code == 403
    assert "the user &#39;viewer&#39; may not integrate" in page.text
    assert "their role lacks the scope &#39;integrate&#39;" in page.text
    assert "the key" not in page.text
