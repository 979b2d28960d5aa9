"""The dashboard, class definitions, datahub configurations and API keys in Chromium: an admin
reads the dashboard, a class and a configuration's schema, makes a datahub configuration,
creates a key whose secret is shown once and works, and revokes it."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Site, assert_accessible, screenshot


def _status_with(site: Site, secret: str) -> int:
    answer = httpx.get(
        f"{site.base}/api/v1/classes/Product", headers={"Authorization": f"Bearer {secret}"}
    )
    return answer.status_code


def test_admin_reads_the_dashboard_and_a_class(site: Site, sign_in: Any) -> None:
    page = sign_in("admin")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    products = page.locator("#count-Product td.num").first
    expect(products).to_have_text(re.compile(r"^\d[\d,]*$"))
    expect(page.get_by_role("heading", name="Outbox backlog")).to_be_visible()
    expect(page.get_by_role("heading", name="Recent imports")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "dashboard")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Classes").click()
    page.wait_for_url(site.admin("/classes"))
    assert_accessible(page)
    screenshot(page, "classes")
    page.get_by_role("link", name="Product", exact=True).click()
    page.wait_for_url(site.admin("/classes/Product"))
    expect(page.locator("#field-sku")).to_contain_text("business key")
    expect(page.get_by_label("Definition (YAML)")).to_have_value(re.compile(r"^name: Product\n"))
    page.get_by_role("button", name="Check without saving").click()
    expect(page.get_by_role("status")).to_contain_text("changes nothing")
    assert_accessible(page)
    screenshot(page, "classes-product")


def test_admin_makes_a_datahub_configuration_and_sees_its_schema(site: Site, sign_in: Any) -> None:
    name = f"bt-{uuid.uuid4().hex[:8]}"
    page = sign_in("admin")
    page.goto(site.admin("/datahub"))
    field = page.get_by_label("Configuration (YAML)")
    field.fill("name: nope\nclasses:\n  Product:\n    fields: [sku, missing]\n")
    page.get_by_role("button", name="Create configuration").click()
    expect(page.locator("#form-summary")).to_be_visible()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_value(re.compile("missing"))  # the text is kept
    assert_accessible(page)
    field.fill(
        f"name: {name}\nclasses:\n  Product:\n    fields: [sku, name]\n    operations: [read]\n"
    )
    page.get_by_role("button", name="Create configuration").click()
    page.wait_for_url(site.admin(f"/datahub/{name}"))
    expect(page.get_by_role("status")).to_have_text(f"Configuration {name} created.")
    expect(page.locator("#schema-sdl")).to_contain_text("type Query")
    expect(page.locator("#exposed-Product")).to_contain_text("sku, name")
    assert_accessible(page)
    screenshot(page, "datahub")


def test_admin_creates_a_key_sees_the_secret_once_and_revokes_it(site: Site, sign_in: Any) -> None:
    name = f"browser-key-{uuid.uuid4().hex[:8]}"
    page = sign_in("admin")
    page.goto(site.admin("/keys"))
    assert_accessible(page)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("checkbox", name=re.compile(r"^read:\*")).check()
    page.get_by_label("Environment").select_option("test")
    page.get_by_label("Expires after (days)").fill("7")
    screenshot(page, "keys")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name=f"Key {name} created")).to_be_visible()
    shown = page.get_by_label("API key (shown once)")
    expect(shown).to_have_attribute("readonly", "")
    secret = shown.input_value()
    assert secret.startswith("phk_")
    assert_accessible(page)
    assert _status_with(site, secret) == 200

    page.reload()  # sends the form again: no second key, and the secret is not shown again
    expect(page.get_by_role("alert")).to_contain_text("was made from this form already")
    assert secret not in page.content()
    expect(page.locator("#new-secret")).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile(name))).to_have_count(1)

    page.goto(site.admin("/keys"))
    page.get_by_role("link", name=f"Revoke {name}").click()
    expect(page.get_by_role("heading", name=f"Revoke key {name}?")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name=f"Revoke {name}").click()
    page.wait_for_url(site.admin("/keys"))
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(page.get_by_role("row", name=re.compile(name))).to_contain_text("revoked")
    assert _status_with(site, secret) == 401
