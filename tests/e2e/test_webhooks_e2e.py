"""The real `pimhub serve` and `pimhub worker` processes: an endpoint registered over HTTP
receives a signed webhook for a product saved over HTTP, and the delivery shows in the log
and in /metrics."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.processes import init, running, serving
from tests.events.receiver import Receiver, receiver_in_thread

pytestmark = pytest.mark.e2e


def test_product_saved_over_http_arrives_signed_at_the_receiver(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PIMHUB_DATA_DIR": str(tmp_path / "data"),
        "PIMHUB_WEBHOOKS_ALLOW_PRIVATE": "true",
    }
    env.pop("PIMHUB_DATABASE_URL", None)
    key = init(env, tmp_path)
    auth = {"Authorization": f"Bearer {key}"}
    with (
        receiver_in_thread(Receiver()) as receiver,
        serving(env, tmp_path) as base,
        running(["worker"], env, tmp_path, "worker"),
        httpx.Client(base_url=base, headers=auth) as http,
    ):
        created = http.post(
            "/api/v1/webhooks/endpoints", json={"url": receiver.url, "classes": ["Product"]}
        )
        assert created.status_code == 201, created.text
        endpoint = created.json()
        saved = http.put(
            "/api/v1/objects/Product/HOOK-1",
            json={"fields": {"name": {"en": "Hooked"}, "price": {"amount": 5, "currency": "EUR"}}},
        )
        assert saved.status_code == 201, saved.text
        deadline = time.monotonic() + 30
        while not receiver.delivered and time.monotonic() < deadline:
            time.sleep(0.05)
        [got] = receiver.delivered
        headers = {
            "webhook-id": got.webhook_id,
            "webhook-timestamp": got.timestamp,
            "webhook-signature": got.signature,
        }
        payload = Webhook(str(endpoint["secret"])).verify(got.body, headers)
        assert payload["type"] == "object.created"
        assert payload["data"]["businessKey"] == "HOOK-1"

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            items = http.get("/api/v1/webhooks/deliveries").json()["items"]
            if items and items[0]["status"] == "delivered":
                break
            time.sleep(0.05)
        assert [(i["webhookId"], i["status"]) for i in items] == [(got.webhook_id, "delivered")]
        metrics = http.get("/metrics").text
        line = f'pimhub_webhook_deliveries{{endpoint="{endpoint["id"]}",status="delivered"}} 1.0'
        assert line in metrics

        # A parent's change reaches the consumer as an event of each variant that inherits it.
        parent = {"name": {"en": "Family"}, "price": {"amount": 5, "currency": "EUR"}}
        assert http.put("/api/v1/objects/Product/FAM", json={"fields": parent}).is_success
        for size in ("S", "M"):
            child = {"fields": {"color": "red", "size": size}, "parent": "FAM"}
            assert http.put(f"/api/v1/objects/Product/FAM-{size}", json=child).is_success
        new_price = {"fields": {"price": {"amount": 7, "currency": "EUR"}}}
        assert http.patch("/api/v1/objects/Product/FAM", json=new_price).is_success
        wanted = {("FAM", 2), ("FAM-S", 2), ("FAM-M", 2)}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            updates = {
                (r.payload["data"]["businessKey"], r.payload["data"]["version"])
                for r in receiver.delivered
                if r.payload["type"] == "object.updated"
            }
            if wanted <= updates:
                break
            time.sleep(0.05)
        assert wanted <= updates
        child_event = next(
            r.payload["data"]
            for r in receiver.delivered
            if r.payload["data"]["businessKey"] == "FAM-S" and r.payload["data"]["version"] == 2
        )
        assert child_event["changedFields"] == ["price"]
        assert child_event["object"]["fields"]["price"]["amount"] == 7
        assert child_event["object"]["inherited"] == ["name", "price"]
