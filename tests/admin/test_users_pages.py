"""/admin/users (admin only) and /admin/account (everyone), through the TestClient on both
backends: each form does what it says, checked through the service, and refuses bad input
naming the field, keeping what was typed."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from pimhub.admin import auth_views
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import Unauthorized
from pimhub.users.model import Role
from tests.admin.conftest import PASSWORD, AdminClient

Open = Callable[[str], AdminClient]
NEW = "a brand new password"


@pytest.mark.parametrize("role", ["manager", "integrator", "viewer"])
def test_only_admins_see_the_users_pages(signed_in: Open, role: str) -> None:
    client = signed_in(role)
    for path in ("/admin/users", "/admin/users/viewer"):
        page = client.get(path)
        assert page.status_code == 403
        assert f"only administrators manage users; you are signed in as {role}" in page.text
    answer = client.post_form("/admin/users", {"username": "sneaky", "password": NEW})
    assert answer.status_code == 403
    assert client.post_form("/admin/users/viewer/disable").status_code == 403
    assert 'href="/admin/users"' not in client.get("/admin/").text  # not in the navigation


def test_the_list_shows_every_user(signed_in: Open, users_hub: Hub) -> None:
    users_hub.users.disable("viewer")
    page = signed_in("admin").get("/admin/users")
    assert page.status_code == 200
    rows = re.findall(r"<tr>\s*<td><a href=\"/admin/users/([^\"]+)\">", page.text)
    assert rows == ["admin", "integrator", "manager", "viewer"]
    assert "Catalog manager" in page.text and 'badge bad">disabled' in page.text


def test_create_a_user_who_then_signs_in(signed_in: Open, users_hub: Hub) -> None:
    client = signed_in("admin")
    answer = client.post_form(
        "/admin/users",
        {"username": "Nora", "display_name": "Nora N", "role": "integrator", "password": NEW},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/users/nora"
    user = users_hub.users.authenticate("nora", NEW)
    assert (user.display_name, user.role) == ("Nora N", Role.INTEGRATOR)
    assert "Created user nora." in client.get("/admin/users/nora").text


@pytest.mark.parametrize(
    ("data", "field", "status"),
    [
        ({"username": "bad name", "password": NEW}, "username", 422),
        ({"username": "ok", "password": "short"}, "password", 422),
        ({"username": "ok", "password": NEW, "role": "root"}, "role", 422),
        ({"username": "ok", "password": NEW, "display_name": "x" * 200}, "display_name", 422),
        ({"username": "ok", "password": "p\x00" * 6}, "password", 422),
        ({"username": "viewer", "password": NEW}, None, 409),
    ],
)
def test_create_refusals_name_the_field_and_keep_the_input(
    signed_in: Open, users_hub: Hub, data: dict[str, str], field: str | None, status: int
) -> None:
    data = {"role": "viewer", "display_name": "Kept Name", **data}
    page = signed_in("admin").post_form("/admin/users", data)
    assert page.status_code == status, page.text
    assert 'role="alert"' in page.text
    if field:
        assert f'id="new-{field}-error"' in page.text
        assert re.search(rf'id="new-{field}"[^>]* aria-invalid="true"', page.text, re.S)
    if data["display_name"] == "Kept Name":
        assert 'value="Kept Name"' in page.text
    assert data["password"] not in page.text  # a password is never sent back
    assert len(users_hub.users.all()) == 4


def test_change_role_takes_effect_at_once(signed_in: Open, users_hub: Hub) -> None:
    viewer = signed_in("viewer")
    assert viewer.get("/admin/users").status_code == 403
    answer = signed_in("admin").post_form("/admin/users/viewer/role", {"role": "admin"})
    assert answer.status_code == 303
    assert users_hub.users.get("viewer").role == Role.ADMIN
    assert viewer.get("/admin/users").status_code == 200  # the same session, new rights


def test_disable_ends_their_sessions_and_enable_lets_them_back(
    signed_in: Open, users_hub: Hub
) -> None:
    manager = signed_in("manager")
    admin = signed_in("admin")
    assert admin.post_form("/admin/users/manager/disable").status_code == 303
    assert manager.get("/admin/", follow_redirects=False).status_code == 303
    with pytest.raises(Unauthorized, match="disabled"):
        users_hub.users.authenticate("manager", PASSWORD)
    assert admin.post_form("/admin/users/manager/enable").status_code == 303
    assert users_hub.users.authenticate("manager", PASSWORD).active


def test_the_last_admin_cannot_demote_or_disable_themselves(
    signed_in: Open, users_hub: Hub
) -> None:
    admin = signed_in("admin")
    page = admin.post_form("/admin/users/admin/role", {"role": "viewer"})
    assert page.status_code == 409 and "last active administrator" in page.text
    page = admin.post_form("/admin/users/admin/disable")
    assert page.status_code == 409 and "your own account" in page.text
    assert users_hub.users.get("admin").role == Role.ADMIN and users_hub.users.get("admin").active
    # With a second admin, demoting yourself works and leads to your account page.
    users_hub.users.set_role("integrator", "admin")
    answer = admin.post_form("/admin/users/admin/role", {"role": "viewer"})
    assert answer.headers["location"] == "/admin/account"
    assert admin.get("/admin/users").status_code == 403


def test_admin_resets_a_password_and_ends_their_sessions(signed_in: Open, users_hub: Hub) -> None:
    viewer = signed_in("viewer")
    admin = signed_in("admin")
    page = admin.post_form("/admin/users/viewer/password", {"password": NEW, "confirm": "other"})
    assert page.status_code == 422 and 'id="reset-confirm-error"' in page.text
    assert users_hub.users.authenticate("viewer", PASSWORD)
    answer = admin.post_form("/admin/users/viewer/password", {"password": NEW, "confirm": NEW})
    assert answer.status_code == 303
    assert users_hub.users.authenticate("viewer", NEW)
    assert viewer.get("/admin/", follow_redirects=False).status_code == 303


def test_own_reset_on_the_user_page_keeps_this_session(signed_in: Open, users_hub: Hub) -> None:
    admin = signed_in("admin")
    other = signed_in("admin")
    answer = admin.post_form("/admin/users/admin/password", {"password": NEW, "confirm": NEW})
    assert answer.status_code == 303
    assert admin.get("/admin/", follow_redirects=False).status_code == 200
    assert other.get("/admin/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("path", "status"),
    [("nobody", 404), ("x" * 5000, 404), ("%00", 400), ("a%0Ab", 404), ("%C3%A9", 404)],
)
def test_unknown_and_hostile_users_are_4xx(signed_in: Open, path: str, status: int) -> None:
    assert signed_in("admin").get("/admin/users/" + path).status_code == status


def test_posts_about_unknown_users_are_404(signed_in: Open) -> None:
    admin = signed_in("admin")
    for action, data in [
        ("role", {"role": "viewer"}),
        ("disable", {}),
        ("enable", {}),
        ("password", {"password": NEW, "confirm": NEW}),
    ]:
        assert admin.post_form(f"/admin/users/nobody/{action}", data).status_code == 404
    assert admin.post_form("/admin/users/viewer/role", {"role": "x\x00"}).status_code in (400, 422)


@pytest.mark.parametrize("role", ["admin", "manager", "integrator", "viewer"])
def test_everyone_has_an_account_page(signed_in: Open, role: str) -> None:
    page = signed_in(role).get("/admin/account")
    assert page.status_code == 200 and "Change your password" in page.text
    assert 'href="/admin/account"' in page.text


def test_change_own_password_keeps_this_session_and_ends_the_others(
    signed_in: Open, users_hub: Hub
) -> None:
    here, elsewhere = signed_in("viewer"), signed_in("viewer")
    answer = here.post_form(
        "/admin/account/password",
        {"current_password": PASSWORD, "password": NEW, "confirm": NEW},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/account"
    assert here.get("/admin/account").status_code == 200
    assert elsewhere.get("/admin/", follow_redirects=False).status_code == 303
    assert users_hub.users.authenticate("viewer", NEW)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"current_password": "wrong password", "password": NEW, "confirm": NEW},
            "current_password",
        ),
        ({"current_password": PASSWORD, "password": NEW, "confirm": NEW + "!"}, "confirm"),
        ({"current_password": PASSWORD, "password": "short", "confirm": "short"}, "password"),
    ],
)
def test_change_own_password_refusals(
    signed_in: Open, users_hub: Hub, data: dict[str, str], field: str
) -> None:
    page = signed_in("viewer").post_form("/admin/account/password", data)
    assert page.status_code == 422
    assert f'id="account-{field}-error"' in page.text and 'role="alert"' in page.text
    assert users_hub.users.authenticate("viewer", PASSWORD)  # nothing changed


def test_guessing_the_current_password_is_throttled(
    signed_in: Open, users_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth_views, "FAILURES", auth_views.FailedSignIns())
    client = signed_in("viewer")
    wrong = {"current_password": "a wrong guess", "password": NEW, "confirm": NEW}
    for _ in range(auth_views.MAX_FAILURES):
        assert client.post_form("/admin/account/password", wrong).status_code == 422
    right = {**wrong, "current_password": PASSWORD}
    page = client.post_form("/admin/account/password", right)
    assert page.status_code == 422 and "too many wrong passwords" in page.text
    assert users_hub.users.authenticate("viewer", PASSWORD)  # unchanged
