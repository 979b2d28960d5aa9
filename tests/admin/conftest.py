"""Admin UI tests through Starlette's TestClient, on both backends (the `hub` fixture): one
user per role, signed-in clients, and forms posted with the session's CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from pimhub.users.passwords import Argon2Passwords

PASSWORD = "admin-test-password"
ROLES = {
    "admin": "admin",
    "manager": "catalog-manager",
    "integrator": "integrator",
    "viewer": "viewer",
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class AdminClient(TestClient):
    """A TestClient signed in as one user; `post_form` adds the session's CSRF token."""

    csrf: str = ""

    def post_form(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        body = {"csrf_token": self.csrf, **(data or {})}
        return self.post(path, data=body, follow_redirects=False, **kwargs)


def csrf_in(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def users_hub(sample: Hub) -> Hub:
    """The sample catalog plus one user per role (cheap password hashes for speed)."""
    sample.users.passwords = Argon2Passwords(time_cost=1, memory_cost=64)
    for name, role in ROLES.items():
        sample.users.create(name, PASSWORD, role, display_name=name.title())
    return sample


@pytest.fixture
def signed_in(users_hub: Hub) -> Callable[[str], AdminClient]:
    """`signed_in("manager")`: a client with that user's session cookie."""
    app = create_app(users_hub)

    def open_as(username: str) -> AdminClient:
        client = AdminClient(app, base_url="http://testserver")
        page = client.get("/admin/login")
        answer = client.post(
            "/admin/login",
            data={
                "csrf_token": csrf_in(page.text),
                "username": username,
                "password": PASSWORD,
                "next": "",
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        client.csrf = csrf_in(client.get("/admin/").text)
        return client

    return open_as
