"""The catalog grid in the browser: a catalog manager finds a product by search and by a
filter, opens it through its row's link, chooses columns, and saves a view and reapplies it."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.browser.conftest import Site, assert_accessible, screenshot


def _product(site: Site) -> tuple[str, str]:
    """A product of this test's own (sku, name), made through the REST API."""
    suffix = uuid.uuid4().hex[:8]
    sku, name = f"GRID-{suffix}", f"Zebra lamp {suffix}"
    answer = httpx.post(
        f"{site.base}/api/v1/objects/Product",
        headers={"Authorization": f"Bearer {site.api_key}"},
        json={
            "fields": {
                "sku": sku,
                "name": {"en": name},
                "price": {"amount": 4321.5, "currency": "EUR"},
                "stock": 3,
            }
        },
    )
    assert answer.status_code == 201, answer.text
    return sku, name


def _expect_only(page: Any, sku: str) -> None:
    from playwright.sync_api import expect

    rows = page.locator("#grid-body tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name=sku)).to_be_visible()


def test_manager_finds_opens_and_saves_a_view(site: Site, sign_in: Any) -> None:
    from playwright.sync_api import expect

    sku, name = _product(site)
    page = sign_in("manager")
    page.get_by_role("link", name="Catalog", exact=True).click()
    page.wait_for_url(site.admin("/objects"))
    assert_accessible(page)
    page.get_by_role("link", name="Product", exact=True).click()
    page.wait_for_url(site.admin("/objects/Product"))
    expect(page.locator("#grid-body tr")).to_have_count(50)
    expect(page.locator("img.thumb").first).to_be_visible()  # the demo's pictures
    assert_accessible(page)
    screenshot(page, "grid")

    # by search
    page.get_by_label("Search").fill(name.split()[-1])
    page.get_by_role("button", name="Apply").click()
    _expect_only(page, sku)
    assert "q=" in page.url

    # by filter rows (no search): price above 4000 and the SKU
    page.get_by_label("Search").fill("")
    page.get_by_label("Field 1").select_option("price")
    page.get_by_label("Operator 1").select_option("gt")
    page.get_by_label("Value 1").fill("4000")
    page.get_by_role("button", name="Apply").click()
    page.get_by_label("Field 2").select_option("sku")
    page.get_by_label("Operator 2").select_option("eq")
    page.get_by_label("Value 2").fill(sku)
    page.get_by_role("button", name="Apply").click()
    _expect_only(page, sku)
    assert_accessible(page)
    screenshot(page, "grid-filtered")

    # columns: add the version, drop the weight
    page.get_by_label("Version", exact=True).check()
    page.get_by_label("Weight", exact=True).uncheck()
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("columnheader", name="Version")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Weight")).to_have_count(0)

    # a saved view restores exactly this query string
    view = f"Zebra view {sku}"
    page.get_by_label("Save this view as").fill(view)
    page.get_by_role("button", name="Save view").click()
    expect(page.locator("p.flash")).to_contain_text(f"Saved the view '{view}'")
    page.goto(site.admin("/objects/Product"))
    saved = page.get_by_role("link", name=view)
    href = saved.get_attribute("href")
    assert href is not None and "cols=" in href and "after" not in href
    saved.click()
    page.wait_for_url(site.base + href)
    _expect_only(page, sku)
    expect(page.get_by_role("columnheader", name="Version")).to_be_visible()

    # the row's key is a real link: it opens the object in the same tab
    link = page.locator("#grid-body").get_by_role("link", name=sku)
    assert link.get_attribute("href") == f"/admin/objects/Product/{sku}"
    link.click()
    page.wait_for_url(site.admin(f"/objects/Product/{sku}"))


def test_sorting_by_a_header_and_paging(site: Site, sign_in: Any) -> None:
    from playwright.sync_api import expect

    page = sign_in("viewer")
    page.goto(site.admin("/objects/Product?cols=sku,price&first=25"))
    page.get_by_role("link", name="Price").click()
    header = page.get_by_role("columnheader", name="Price")
    expect(header).to_have_attribute("aria-sort", "ascending")
    page.get_by_role("link", name="Price").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    first = page.locator("#grid-body tr").first.get_by_role("link").inner_text()
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_role("link", name="First page")).to_be_visible()
    assert re.search(r"after=", page.url)
    assert page.locator("#grid-body tr").first.get_by_role("link").inner_text() != first
    assert_accessible(page)


def test_save_view_keeps_filters_typed_but_not_applied(site: Site, sign_in: Any) -> None:
    """The issue's 'saved views that lose their filters': type a search and a filter, then
    click Save view without Apply: the page shows them applied and the view restores them."""
    from playwright.sync_api import expect

    sku, name = _product(site)
    page = sign_in("manager")
    page.goto(site.admin("/objects/Product"))
    page.get_by_label("Search").fill(name.split()[-1])
    page.get_by_label("Field 1").select_option("stock")
    page.get_by_label("Operator 1").select_option("lt")
    page.get_by_label("Value 1").fill("200")
    view = f"Unapplied {sku}"
    page.get_by_label("Save this view as").fill(view)
    page.get_by_role("button", name="Save view").click()
    expect(page.locator("p.flash")).to_contain_text(f"Saved the view '{view}'")
    _expect_only(page, sku)
    expect(page.get_by_label("Value 1")).to_have_value("200")
    assert "csrf" not in page.url
    page.get_by_role("link", name="Reset").click()
    page.get_by_role("link", name=view).click()
    _expect_only(page, sku)
    expect(page.get_by_label("Search")).to_have_value(name.split()[-1])
    expect(page.get_by_label("Operator 1")).to_have_value("lt")
    # Apply sends no token in its URL
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert "csrf" not in page.url


def test_layout_holds_with_every_column_and_in_the_error_state(site: Site, sign_in: Any) -> None:
    from playwright.sync_api import expect

    page = sign_in("viewer")
    page.set_viewport_size({"width": 1366, "height": 850})
    page.goto(site.admin("/objects/Product?first=25"))
    every = page.locator('input[name="cols"]')
    for i in range(every.count()):
        every.nth(i).check()
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("columnheader", name="Version")).to_be_visible()
    key = page.locator("#grid-body td.key a").first
    assert key.evaluate("a => a.getClientRects().length") == 1  # 'PH-00050' on one line
    # each checkbox sits on its label's line
    for label in page.locator(".columns-choice label").all():
        box, mark = label.bounding_box(), label.locator("input").bounding_box()
        assert box is not None and mark is not None
        assert box["height"] < 2 * mark["height"] + 8, label.inner_text()
    screenshot(page, "grid-all-columns")

    # a row without a picture is as high as one with a thumbnail
    sku, _ = _product(site)
    page.goto(site.admin(f"/objects/Product?f=sku&op=in&v={sku},PH-00001&sort=key"))
    expect(page.locator("#grid-body img.thumb")).to_have_count(1)
    heights = page.locator("#grid-body tr").evaluate_all(
        "rows => rows.map(r => Math.round(r.getBoundingClientRect().height))"
    )
    assert len(heights) == 2 and abs(heights[0] - heights[1]) <= 1, heights

    page.goto(site.admin("/objects/Product?f=price&op=gt&v=cheap&cols=sku,stock"))
    expect(page.get_by_role("alert")).to_be_visible()
    field, value = page.get_by_label("Field 1"), page.get_by_label("Value 1")
    field_box, value_box = field.bounding_box(), value.bounding_box()
    assert field_box is not None and value_box is not None
    assert abs(field_box["y"] - value_box["y"]) < 2
    expect(page.get_by_label("Stock", exact=True)).to_be_checked()
    expect(page.get_by_label("Version", exact=True)).not_to_be_checked()
    assert_accessible(page)
    screenshot(page, "grid-error")
