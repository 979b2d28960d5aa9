"""Every admin page a role can reach, crawled in Chromium: no serious accessibility
violation (axe), no Content-Security-Policy violation (an inline script or style would be
one), no error page and no broken same-site link among those followed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from tests.browser.conftest import Site, assert_accessible

MAX_PAGES = 45  # per role: the navigation, and the first links each of its pages shows
SKIP = ("/admin/static/", "/admin/logout", "/report", "/download", "/admin/login")


def _links(page: Any, site: Site) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    seen = []
    for href in hrefs:
        parts = urlsplit(urljoin(page.url, href))
        target = f"{site.base}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        if target.startswith(site.admin("")) and not any(s in parts.path for s in SKIP):
            seen.append(target)
    return list(dict.fromkeys(seen))


@pytest.mark.parametrize("user", ["admin", "manager", "integrator", "viewer"])
def test_every_reachable_page_is_accessible_and_keeps_the_policy(
    site: Site, sign_in: Callable[[str], Any], user: str
) -> None:
    page = sign_in(user)
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    nav = _links(page, site)
    queue = list(nav)
    # One level below the navigation: the first few links of each page (a row, a detail).
    visited: list[str] = []
    while queue and len(visited) < MAX_PAGES:
        target = queue.pop(0)
        if target in visited:
            continue
        answer = page.goto(target)
        visited.append(target)
        assert answer is not None and answer.status < 400, (target, answer and answer.status)
        assert_accessible(page)
        if target in nav:
            queue += [link for link in _links(page, site) if link not in visited][:4]
    assert len(visited) >= 2
    assert not violations, violations
