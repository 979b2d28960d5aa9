"""Signing in and out in the browser; the pages anyone sees are accessible."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import PASSWORD, Site, assert_accessible, screenshot


def test_sign_in_page_is_accessible_and_refuses_a_wrong_password(site: Site, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(site.admin("/objects/Product"))
    assert page.url.startswith(site.admin("/login"))
    assert_accessible(page)
    screenshot(page, "login")
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "the username or the password is not right"
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.admin("/objects/Product"))  # back where the user was going
    context.close()


def test_sign_out_ends_the_session(site: Site, sign_in: Any) -> None:
    page = sign_in("viewer")
    assert_accessible(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(site.admin("/login"))
    assert page.get_by_role("status").inner_text() == "You are signed out."
    page.goto(site.admin("/"))
    assert page.url.startswith(site.admin("/login"))
