"""Users in the browser: an administrator creates a user, who signs in elsewhere, changes
their own password, and is then disabled; their open page lands on the sign-in form."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.browser.conftest import Site, assert_accessible, screenshot

FIRST = "first password of pat"
SECOND = "second password of pat"


def test_admin_creates_a_user_who_changes_their_password_and_is_disabled(
    site: Site, browser: Any, sign_in: Any
) -> None:
    from playwright.sync_api import expect

    name = f"pat-{uuid.uuid4().hex[:8]}"
    admin = sign_in("admin")
    admin.get_by_role("link", name="Users", exact=True).click()
    admin.wait_for_url(site.admin("/users"))
    assert_accessible(admin)
    screenshot(admin, "users-list")

    admin.get_by_label("Username").fill(name)
    admin.get_by_label("Display name").fill("Pat Example")
    admin.get_by_label("Role").select_option("catalog-manager")
    admin.get_by_label("Initial password").fill(FIRST)
    admin.get_by_role("button", name="Create user").click()
    admin.wait_for_url(site.admin(f"/users/{name}"))
    expect(admin.get_by_role("status")).to_have_text(f"Created user {name}.")
    assert_accessible(admin)
    screenshot(admin, "users-user")

    context = browser.new_context(viewport={"width": 1366, "height": 850})
    context.set_default_timeout(10_000)
    try:
        pat = context.new_page()
        pat.goto(site.admin("/login"))
        pat.get_by_label("Username").fill(name)
        pat.get_by_label("Password").fill(FIRST)
        pat.get_by_role("button", name="Sign in").click()
        pat.wait_for_url(site.admin("/"))
        pat.get_by_role("link", name=re.compile("Pat Example")).click()
        pat.wait_for_url(site.admin("/account"))
        expect(pat.get_by_role("heading", level=1)).to_have_text("Your account")
        assert_accessible(pat)
        screenshot(pat, "users-account")

        # A wrong current password is refused next to its field; nothing changes.
        pat.get_by_label("Current password").fill("not my password")
        pat.get_by_label("New password", exact=True).fill(SECOND)
        pat.get_by_label("New password again").fill(SECOND)
        pat.get_by_role("button", name="Change password").click()
        expect(pat.get_by_role("alert")).to_contain_text("current password is not right")
        expect(pat.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
        assert_accessible(pat)

        pat.get_by_label("Current password").fill(FIRST)
        pat.get_by_label("New password", exact=True).fill(SECOND)
        pat.get_by_label("New password again").fill(SECOND)
        pat.get_by_role("button", name="Change password").click()
        expect(pat.get_by_role("status")).to_contain_text("Your password is changed")

        admin.get_by_role("button", name=f"Disable {name}").click()
        expect(admin.get_by_role("status")).to_contain_text(f"{name} is disabled")
        expect(admin.get_by_role("button", name=f"Enable {name}")).to_be_visible()

        pat.get_by_role("link", name="Dashboard").click()  # their open page, next click
        pat.wait_for_url(re.compile(re.escape(site.admin("/login"))))
        pat.get_by_label("Username").fill(name)
        pat.get_by_label("Password").fill(SECOND)
        pat.get_by_role("button", name="Sign in").click()
        expect(pat.get_by_role("alert")).to_have_text(
            "this account is disabled; ask an administrator"
        )
    finally:
        context.close()
