"""The inbound and broker pages in the browser: an integrator creates a source from YAML (the
secret shown once), the source receives messages over HTTP, the audit, a message's detail and
the refused items are opened, and a broker destination is created; every page is accessible
(axe) and keeps the Content-Security-Policy."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.browser.conftest import Site, assert_accessible


def test_an_integrator_adds_a_source_reads_its_audit_and_adds_a_broker(
    site: Site, sign_in: Any
) -> None:
    from playwright.sync_api import expect

    tag = uuid.uuid4().hex[:6]
    name = f"erp{tag}"
    page = sign_in("integrator")
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.get_by_role("link", name="Inbound", exact=True).click()
    expect(page.get_by_role("heading", name="Inbound sources", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="New source").click()
    text = f"name: {name}\nscheme: shared-secret\nkey: {{path: data.sku}}\n"
    page.get_by_label("Settings (YAML)").fill(text.replace("shared-secret", "pigeon"))
    page.get_by_role("button", name="Check without saving").click()
    expect(page.locator("#form-summary")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Settings (YAML)").fill(text)
    page.get_by_role("button", name="Check without saving").click()
    expect(page.locator("#check-result")).to_contain_text(f"would create the source {name}")
    page.get_by_role("button", name="Create source").click()
    secret = page.get_by_label("Secret", exact=True).input_value()
    assert len(secret) >= 16
    assert_accessible(page)

    for i, qty in enumerate((1, 2)):
        answer = httpx.post(
            f"{site.base}/inbound/{name}",
            content=f'{{"type": "erp.stock.changed", "data": {{"sku": "S-{i}", "qty": {qty}}}}}',
            headers={"X-Webhook-Secret": secret, "Content-Type": "application/json"},
        )
        assert answer.status_code == 202, answer.text
    refused = httpx.post(
        f"{site.base}/inbound/{name}",
        content=b"{}",
        headers={"X-Webhook-Secret": "wrong", "Content-Type": "application/json"},
    )
    assert refused.status_code == 401

    page.goto(site.admin(f"/inbound/messages?source={name}"))
    expect(page.locator("tbody tr")).to_have_count(3)
    assert_accessible(page)
    page.goto(site.admin(f"/inbound/messages?source={name}&outcome=maybe"))
    expect(page.locator("#f-outcome-error")).to_be_visible()
    assert_accessible(page)
    page.goto(site.admin(f"/inbound/messages?source={name}&outcome=accepted"))
    page.locator("tbody tr").first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name=re.compile("Inbound message #"))).to_be_visible()
    expect(page.locator("pre")).to_contain_text('"sku": "S-1"')
    assert_accessible(page)
    page.goto(site.admin(f"/inbound/sources/{name}"))
    assert_accessible(page)
    page.goto(site.admin("/inbound/refusals"))
    assert_accessible(page)

    page.get_by_role("link", name="Brokers", exact=True).click()
    page.get_by_role("link", name="New broker").click()
    page.get_by_label("Name", exact=True).fill(f"mq{tag}")
    page.get_by_label(re.compile("^Broker address")).fill("amqp://127.0.0.1:1/")
    page.get_by_label("User name").fill("pim")
    page.get_by_role("button", name="Create broker").click()
    expect(page.locator("#password-error")).to_be_visible()  # no password: refused inline
    assert_accessible(page)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Create broker").click()
    expect(page.get_by_role("heading", name=f"Broker mq{tag}")).to_be_visible()
    page.get_by_role("button", name="Test the connection").click()
    expect(page.get_by_role("heading", name="Connection test")).to_be_visible()
    assert_accessible(page)
    page.goto(site.admin("/brokers"))
    assert_accessible(page)
    assert not violations, violations
    # The site is shared by the package's tests: a broker left subscribed to every catalog
    # event would add its deliveries to theirs.
    removed = httpx.delete(
        f"{site.base}/api/v1/brokers/mq{tag}",
        headers={"Authorization": f"Bearer {site.api_key}"},
    )
    assert removed.status_code == 204, removed.text
