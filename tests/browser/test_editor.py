"""The object editor in Chromium: a catalog manager creates a product, picks its brand by
search, makes an invalid edit and sees the error, fixes it and publishes; reads the version
history and restores an older version; edits the same object in two pages and sees the
second save refused with their input kept and the other page's newer values shown."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.browser.conftest import Site, assert_accessible, screenshot


def test_edit_validate_publish_history_restore_and_conflict(
    site: Site, sign_in: Callable[[str], Any]
) -> None:
    from playwright.sync_api import expect

    page = sign_in("manager")
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sku = f"ED-{uuid.uuid4().hex[:8].upper()}"
    editor = site.admin(f"/objects/Product/{sku}")

    page.goto(site.admin("/new/Product"))
    assert_accessible(page)
    page.locator("#f-sku").fill(sku)
    page.locator("#f-name").fill("Editor test tee")
    page.locator("#f-price").fill("19.90")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(editor)
    expect(page.get_by_role("status")).to_have_text(f"Created Product '{sku}' as version 1.")
    expect(page.locator(".object-meta .badge").first).to_have_text("Draft")

    # A relation by search: the list under the input fills it.
    page.locator("#f-brand").fill("acm")
    page.locator("#f-brand-results button[data-pick='acme']").click()
    expect(page.locator("#f-brand")).to_have_value("acme")

    # An invalid edit: the error is named at the input, nothing typed is lost.
    page.locator("#f-stock").fill("-5")
    page.get_by_role("button", name="Save").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("must be at least 0")
    expect(page.locator("#f-stock")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-stock-error")).to_contain_text("must be at least 0")
    expect(page.locator("#f-stock")).to_have_value("-5")
    expect(page.locator("#f-brand")).to_have_value("acme")
    assert_accessible(page)
    summary.get_by_role("link", name="Stock", exact=True).click()
    expect(page.locator("#f-stock")).to_be_focused()

    # Fixed, saved and published.
    page.locator("#f-stock").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved as version 2.")
    expect(page.locator("#f-brand-shown")).to_contain_text("Acme")
    assert_accessible(page)
    screenshot(page, "editor")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("Published as version 3.")
    expect(page.locator(".object-meta .badge").first).to_have_text("Published")

    # The history, one version's diff, and restoring it.
    page.get_by_role("link", name="Version history").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Version history")
    expect(page.locator("tbody tr")).to_have_count(3)
    assert_accessible(page)
    screenshot(page, "history")
    page.get_by_role("link", name="Version 1", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Version 1 of Product")
    expect(page.locator("td.diff-new").first).to_be_visible()
    assert_accessible(page)
    screenshot(page, "history-version")
    page.get_by_role("button", name="Restore version 1").click()
    page.wait_for_url(editor)
    expect(page.get_by_role("status")).to_have_text("Restored version 1 as version 4.")
    expect(page.locator("#f-stock")).to_have_value("")
    expect(page.locator("#f-brand")).to_have_value("")

    # The same object in two pages: the second save is refused, nothing lost.
    other = page.context.new_page()
    other.goto(editor)
    page.locator("#f-name").fill("Renamed in the first page")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved as version 5.")
    other.locator("#f-stock").fill("42")
    other.get_by_role("button", name="Save").click()
    conflict = other.locator("#conflict")
    expect(conflict).to_contain_text("while you were editing")
    expect(conflict).to_contain_text("as version 5")
    expect(other.locator("#f-stock")).to_have_value("42")
    assert not refused, refused  # htmx and editor.js run under the 'self' policy
    expect(other.locator("#f-name")).to_have_value("Renamed in the first page")
    assert_accessible(other)
    screenshot(other, "editor-conflict")
    other.get_by_role("button", name="Save").click()
    expect(other.get_by_role("status")).to_have_text("Saved as version 6.")
    expect(other.locator("#f-name")).to_have_value("Renamed in the first page")
    expect(other.locator("#f-stock")).to_have_value("42")
    assert not refused, refused  # htmx and editor.js run under the 'self' policy


def test_a_viewer_sees_the_editor_read_only(site: Site, sign_in: Callable[[str], Any]) -> None:
    from playwright.sync_api import expect

    page = sign_in("viewer")
    page.goto(site.admin("/objects/Product/PH-00001"))
    expect(page.get_by_text("You may read this object but not change it.")).to_be_visible()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.locator("#f-stock")).to_be_disabled()
    assert_accessible(page)


def test_a_manager_sees_variants_and_creates_one_from_the_parent(
    site: Site, sign_in: Callable[[str], Any]
) -> None:
    from playwright.sync_api import expect

    page = sign_in("manager")
    parent = site.admin("/objects/Product/PH-00001")
    page.goto(parent)
    family = page.locator("#family")
    expect(family.get_by_role("heading", name="Variants")).to_be_visible()
    expect(family.locator("tbody tr").first).to_be_visible()  # the demo's size variants
    assert_accessible(page)
    screenshot(page, "editor-parent")
    sku = f"PH-00001-{uuid.uuid4().hex[:6].upper()}"
    family.get_by_role("link", name="New variant").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("variant of PH-00001")
    page.locator("#f-sku").fill(sku)
    page.locator("#f-color").select_option("lavender")
    page.locator("#f-size").select_option("40")
    assert_accessible(page)
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(site.admin(f"/objects/Product/{sku}"))
    variant = page.locator("#family")
    expect(variant).to_contain_text("A variant of PH-00001")
    expect(page.locator("#f-name-hint")).to_contain_text("inherited from PH-00001:")
    expect(page.locator("#f-name")).to_have_value("")
    assert_accessible(page)
    screenshot(page, "editor-variant")
    variant.get_by_role("link", name="PH-00001").click()
    page.wait_for_url(parent)
    expect(page.locator("#family").get_by_role("link", name=sku)).to_be_visible()
