"""The grid offers "New <Class>" to those who may create objects of the class, only."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient


def test_new_link_for_writers_only(signed_in: Callable[[str], AdminClient]) -> None:
    manager = signed_in("manager").get("/admin/objects/Product")
    assert 'href="/admin/new/Product"' in manager.text
    assert signed_in("manager").get("/admin/new/Product").status_code == 200
    viewer = signed_in("viewer").get("/admin/objects/Product")
    assert viewer.status_code == 200
    assert "/admin/new/Product" not in viewer.text


def test_static_files_skip_the_session_lookup(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in("viewer")

    def no_lookup(token: str | None) -> None:
        raise AssertionError("a static file looked up the session")

    monkeypatch.setattr(users_hub.users, "session", no_lookup)
    css = client.get("/admin/static/admin.css")
    assert css.status_code == 200
    assert css.headers.get("cache-control") != "no-store"
