"""Webhooks in the browser (the issue's "see a webhook delivery and replay a dead letter"): an
integrator registers an endpoint pointing at a receiver started here, a product made through
REST fails there until its delivery is dead (the shared site's worker retries after 1 s and
1 s), the integrator opens the delivery and its attempts, replays it once the receiver is
fixed, and sees it delivered."""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any

import httpx

from tests.browser.conftest import Site, assert_accessible, screenshot
from tests.events.receiver import Received, Receiver, receiver_in_thread


def test_an_integrator_follows_a_failing_delivery_and_replays_the_dead_letter(
    site: Site, sign_in: Any
) -> None:
    from playwright.sync_api import expect

    tag = uuid.uuid4().hex[:8].upper()
    sku = f"WH-{tag}"
    fixed = threading.Event()  # the receiver accepts our product's event once set
    first_try = threading.Event()

    def answer(received: Received) -> int:
        if sku.encode() not in received.body:
            return 200  # other tests' changes: accepted, so they never pause the endpoint
        first_try.set()
        return 200 if fixed.is_set() else 500

    with receiver_in_thread(Receiver(answer=answer)) as receiver:
        page = sign_in("integrator")
        page.get_by_role("link", name="Webhooks", exact=True).click()
        expect(page.get_by_role("heading", name="Webhook endpoints", level=1)).to_be_visible()
        page.get_by_role("link", name="New endpoint").click()
        page.get_by_label("Description").fill(f"browser test {tag}")
        page.get_by_label("URL", exact=True).fill("ftp://wrong.example/hook")
        page.get_by_role("button", name="Create endpoint").click()
        url_field = page.get_by_label("URL", exact=True)
        expect(url_field).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#url-error")).to_have_text("must be an absolute http(s) URL")
        expect(page.get_by_label("Description")).to_have_value(f"browser test {tag}")  # kept
        assert_accessible(page)
        url_field.fill(receiver.url)
        page.get_by_label("Product", exact=True).check()
        page.get_by_label("object.created").check()
        assert_accessible(page)
        page.get_by_role("button", name="Create endpoint").click()
        expect(page.get_by_label("Secret", exact=True)).to_have_value(re.compile(r"^whsec_"))
        expect(page.get_by_text("Copy its signing secret now")).to_be_visible()
        assert_accessible(page)

        product = {"sku": sku, "name": {"en": f"Webhook {tag}"}}
        created = httpx.post(
            f"{site.base}/api/v1/objects/Product",
            json={"fields": product},
            headers={"Authorization": f"Bearer {site.api_key}"},
        )
        assert created.status_code == 201, created.text
        assert first_try.wait(30), "the worker never sent the product's event"

        page.goto(site.admin(f"/deliveries?object={sku}"))
        rows = page.locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("object.created")
        rows.first.get_by_role("link", name=re.compile(r"^#\d+$")).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("object.created")
        # The status line follows the retries live (htmx), until the schedule runs out.
        expect(page.locator("#delivery-status .badge")).to_have_text("dead", timeout=30_000)
        page.get_by_role("link", name="reload for every attempt").click()
        expect(page.get_by_role("heading", name=re.compile(r"^Attempt \d+ at"))).to_have_count(3)
        expect(page.get_by_text("HTTP 500").first).to_be_visible()
        expect(page.get_by_text("webhook-signature")).to_have_count(3)
        sent = [r for r in receiver.requests if sku.encode() in r.body]
        for received in sent:  # the request shown is the one the receiver got
            # Two attempts in one second carry the same timestamp, hence the same signature.
            expect(page.get_by_text(received.signature, exact=True).first).to_be_visible()
            expect(page.get_by_text(received.timestamp, exact=True).first).to_be_visible()
        delivery_id = re.search(r"/deliveries/(\d+)$", page.url)
        assert delivery_id is not None
        assert_accessible(page)
        screenshot(page, "delivery-detail")

        page.goto(site.admin(f"/deliveries?status=dead&object={sku}"))
        expect(page.get_by_role("heading", name="Dead letters", level=1)).to_be_visible()
        expect(page.get_by_text("1 dead letter matches this filter.")).to_be_visible()
        assert_accessible(page)
        screenshot(page, "deliveries")

        fixed.set()
        page.get_by_role("button", name=f"Replay delivery {delivery_id.group(1)}").click()
        expect(page.get_by_role("status")).to_have_text(
            f"Delivery {delivery_id.group(1)} queued again."
        )
        expect(page.locator("tbody tr")).to_have_count(0)  # no longer a dead letter
        page.goto(site.admin(f"/deliveries/{delivery_id.group(1)}"))
        expect(page.locator("#delivery-status .badge")).to_have_text("delivered", timeout=30_000)
        mine = [r for r in receiver.delivered if sku.encode() in r.body]
        assert len(mine) == 1
        tries = [r for r in receiver.requests if sku.encode() in r.body]
        assert {r.webhook_id for r in tries} == {mine[0].webhook_id}  # replayed as the same id

        page.goto(site.admin("/webhooks"))
        row = page.get_by_role("row").filter(has_text=f"browser test {tag}")
        expect(row).to_contain_text("1 delivered, 3 failed")
        expect(row.locator("svg.sparkline rect.failed")).not_to_have_count(0)
        assert_accessible(page)
        screenshot(page, "webhooks")


def test_an_integrator_resumes_a_paused_endpoint_after_a_good_ping(
    site: Site, sign_in: Any
) -> None:
    """Failures in a row pause the endpoint; its delivery (replayed if it was dead) then says
    it waits for the pause; a ping answered 200 offers 'Resume now', and resuming sends the
    delivery at once."""
    from playwright.sync_api import expect

    tag = uuid.uuid4().hex[:8].upper()
    skus = [f"PZ-{tag}-{n}" for n in (1, 2)]
    fixed = threading.Event()
    failures: list[int] = []
    fifth = threading.Event()  # five failures in a row pause the endpoint

    def answer(received: Received) -> int:
        if b"webhook.ping" in received.body or fixed.is_set():
            return 200
        if any(s.encode() in received.body for s in skus):
            failures.append(1)
            if len(failures) >= 5:
                fifth.set()
        return 500  # others' events fail too: only failures in a row, no success between

    admin = {"Authorization": f"Bearer {site.api_key}"}
    with receiver_in_thread(Receiver(answer=answer)) as receiver:
        made = httpx.post(
            f"{site.base}/api/v1/webhooks/endpoints",
            json={
                "url": receiver.url,
                "description": f"pause test {tag}",
                "eventTypes": ["object.created"],
                "classes": ["Product"],
            },
            headers=admin,
        )
        assert made.status_code == 201, made.text
        endpoint_id = made.json()["id"]
        for sku in skus:
            created = httpx.post(
                f"{site.base}/api/v1/objects/Product",
                json={"fields": {"sku": sku, "name": {"en": sku}}},
                headers=admin,
            )
            assert created.status_code == 201, created.text
        assert fifth.wait(30), "the worker never failed five times"

        page = sign_in("integrator")
        page.goto(site.admin(f"/deliveries?object={skus[0]}"))
        page.locator("tbody tr").first.get_by_role("link", name=re.compile(r"^#\d+$")).click()
        # Its third failure made it dead, or the pause holds its next attempt (polled live).
        status = page.locator("#delivery-status")
        waits = "waits: endpoint paused until"
        expect(status).to_contain_text(re.compile(f"dead|{waits}"), timeout=30_000)
        if waits not in status.inner_text():
            page.get_by_role("button", name="Replay this dead letter").click()
        expect(page.locator("#delivery-status")).to_contain_text(waits)
        delivery_url = page.url
        assert_accessible(page)

        page.goto(site.admin(f"/webhooks/{endpoint_id}"))
        expect(page.get_by_text(re.compile(r"^paused until"))).to_be_visible()
        fixed.set()
        page.get_by_role("button", name="Send test ping").click()
        ping = page.locator("section", has=page.locator("#ping-heading"))
        expect(ping).to_contain_text("answered HTTP 200")
        assert_accessible(page)
        screenshot(page, "webhook-paused-ping")
        ping.get_by_role("button", name="Resume now").click()
        expect(page.get_by_role("status")).to_have_text(
            "Endpoint resumed: its waiting deliveries go out now."
        )
        expect(page.get_by_role("button", name="Resume now")).to_have_count(0)
        page.goto(delivery_url)
        expect(page.locator("#delivery-status .badge")).to_have_text("delivered", timeout=30_000)
        assert any(skus[0].encode() in r.body for r in receiver.delivered)
