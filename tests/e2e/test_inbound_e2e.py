"""The inbound gateway end to end with real processes (`pimhub serve`, `pimhub worker`) on SQLite
and PostgreSQL: a Magento store's signed order event (a Mage-OS async event, a CloudEvent)
posted to /inbound/magento reaches the ERP as a reshaped, signed webhook and a RabbitMQ consumer
under the routing key magento.order.placed; the ERP's stock feed posted to /inbound/erp updates
the product by SKU, authored by inbound:erp, and that change goes onwards like any other."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from pimhub.bootstrap import Hub
from tests.conftest import AMQP_ENV, bearer
from tests.e2e.inbound_processes import (
    AmqpQueue,
    Server,
    hub_env,
    mageos_headers,
    until,
    verified,
    worker,
)
from tests.e2e.processes import PIMHUB
from tests.events.receiver import Received, Receiver, receiver_in_thread

pytestmark = pytest.mark.e2e

ORDER_TYPE = "magento.order.placed"
# What the ERP wants of an order: its number, total and lines, nothing of the envelope.
TRANSFORM = (
    "{orderNumber: data.payload.data.increment_id, total: data.payload.data.grand_total,"
    " currency: data.payload.data.order_currency_code,"
    " lines: data.payload.data.items[].{sku: sku, qty: qty_ordered}, from: data.source}"
)

MAGENTO_SOURCE = {
    "name": "magento",
    "scheme": "mageos",
    "description": "Luma store (Mage-OS async events)",
    "eventType": {"path": "type", "map": {"sales.order.place.after": ORDER_TYPE}},
    "eventTypes": [ORDER_TYPE],
    "key": {"path": "data.increment_id"},
}
ERP_SOURCE = {
    "name": "erp",
    "scheme": "shared-secret",
    "description": "ERP stock feed",
    "eventType": {"value": "erp.stock.changed"},
    "key": {"path": "warehouse"},
    "apply": {
        "eventTypes": ["erp.stock.changed"],
        "items": "items",
        "mapping": {
            "class": "Product",
            "fields": {"sku": "sku", "stock": {"column": "qty", "number": True}},
        },
    },
}


def order_event(increment_id: str) -> dict[str, Any]:
    """A Mage-OS async event for a placed order, as the store sends it."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "https://luma.example.com",
        "type": "sales.order.place.after",
        "datacontenttype": "application/json",
        "time": "2026-12-05T00:00:00Z",
        "data": {
            "increment_id": increment_id,
            "grand_total": 59.9,
            "order_currency_code": "EUR",
            "customer_email": "roni_cost@example.com",
            "items": [
                {"sku": "MH01", "qty_ordered": 2, "price": 25},
                {"sku": "MH02", "qty_ordered": 1, "price": 9.9},
            ],
        },
    }


def optional_amqp(request: pytest.FixtureRequest) -> str | None:
    """The RabbitMQ URL, or None when it is not set and services are not required (then only
    the broker's part of the test is left out; with --require-services the fixture fails)."""
    strict = (
        request.config.getoption("--require-services")
        or os.environ.get("PIMHUB_TEST_REQUIRE_SERVICES") == "1"
    )
    if os.environ.get(AMQP_ENV) or strict:
        url: str = request.getfixturevalue("amqp_url")
        return url
    return None


class SigningReceiver(Receiver):
    """A receiver that accepts only deliveries whose Standard Webhooks signature verifies with
    its endpoint's secret (set once the endpoint exists); others get 401 and are not kept."""

    secret: str = ""

    def __init__(self) -> None:
        super().__init__(answer=self.check)

    def check(self, got: Received) -> int:
        headers = {
            "webhook-id": got.webhook_id,
            "webhook-timestamp": got.timestamp,
            "webhook-signature": got.signature,
        }
        try:
            verified(self.secret, headers, got.body)
        except Exception:
            return 401
        return 200

    def bodies(self, event_id: str) -> list[Any]:
        return [orjson.loads(r.body) for r in self.delivered if r.webhook_id == event_id]


@contextmanager
def consumer(amqp: str | None, exchange: str) -> Iterator[AmqpQueue | None]:
    """A queue bound to the broker's exchange for orders and product events (None: no
    RabbitMQ)."""
    if amqp is None:
        yield None
        return
    queue = AmqpQueue(amqp, exchange, f"{exchange}-erp", [ORDER_TYPE, "catalog.Product.*"])
    queue.declare()
    try:
        yield queue
    finally:
        queue.delete()


def test_magento_order_and_erp_stock_feed_flow_through_the_hub(
    hub: Hub, engine: Engine, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    amqp = optional_amqp(request)
    exchange = f"pimhub-e2e-{uuid.uuid4().hex[:8]}"
    # No worker is killed here: a lease long enough for the catalog feed to apply a batch
    # (it hands back work that has less than a second of lease left).
    env = {**hub_env(engine, tmp_path), "PIMHUB_WEBHOOK_LEASE_SECONDS": "30"}
    server, work = Server(env, tmp_path), worker(env, tmp_path)
    auth = bearer(hub, "admin", name="e2e")
    with (
        receiver_in_thread(SigningReceiver()) as erp,
        receiver_in_thread(SigningReceiver()) as shop,
        consumer(amqp, exchange) as queue,
    ):
        assert isinstance(erp, SigningReceiver) and isinstance(shop, SigningReceiver)
        server.start()
        work.start()
        try:
            with httpx.Client(base_url=server.base, headers=auth, timeout=30) as http:
                flow(http, erp, shop, queue, amqp, exchange, env, tmp_path)
        finally:
            work_exit, server_exit = work.stop(), server.stop()
        assert work_exit == 0, work.log()
        assert server_exit in (0, -signal.SIGTERM), server.log()  # uvicorn re-raises it


def flow(
    http: httpx.Client,
    erp: SigningReceiver,
    shop: SigningReceiver,
    queue: AmqpQueue | None,
    amqp: str | None,
    exchange: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    for sku, stock in (("MH01", 5), ("MH02", 3)):
        product = {"name": {"en": sku}, "price": {"amount": 25, "currency": "EUR"}, "stock": stock}
        saved = http.put(f"/api/v1/objects/Product/{sku}", json={"fields": product})
        assert saved.status_code == 201, saved.text

    # The Magento source from the command line, with the verification token Magento's admin
    # already shows (the sender's secret, given rather than generated).
    magento_secret = "luma-" + uuid.uuid4().hex
    config = tmp_path / "magento.json"
    config.write_bytes(orjson.dumps(MAGENTO_SOURCE))
    added = subprocess.run(
        [*PIMHUB, "sources", "add", "magento", "--file", str(config), "--secret-stdin"],
        input=magento_secret + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert magento_secret not in added.stdout + added.stderr  # never echoed
    erp_secret = created(http, "/api/v1/inbound/sources", ERP_SOURCE)["secret"]
    erp_endpoint = created(
        http,
        "/api/v1/webhooks/endpoints",
        {
            "url": erp.url,
            "description": "ERP order intake",
            "eventTypes": [ORDER_TYPE],
            "sources": ["magento"],
            "transform": TRANSFORM,
        },
    )
    erp.secret = erp_endpoint["secret"]
    shop.secret = created(
        http,
        "/api/v1/webhooks/endpoints",
        {"url": shop.url, "eventTypes": ["object.updated"], "classes": ["Product"]},
    )["secret"]
    if amqp is not None:
        # The address without its credentials: they are given apart, sealed at rest.
        address = urlsplit(amqp)
        broker = {
            "config": {
                "name": "shopbus",
                "url": f"{address.scheme}://{address.hostname}:{address.port or 5672}"
                + address.path,
                "exchange": exchange,
                "eventTypes": [ORDER_TYPE, "object.updated"],
            },
            "credentials": {
                "username": unquote(address.username or "guest"),
                "password": unquote(address.password or "guest"),
            },
        }
        created(http, "/api/v1/brokers", broker)

    # A Magento order, signed with the source's verification token.
    event = order_event("000000123")
    body = orjson.dumps(event)
    forged = http.post(
        "/inbound/magento", content=body, headers=mageos_headers(body, "not-the-token")
    )
    assert forged.status_code == 401, forged.text
    signed = mageos_headers(body, magento_secret)
    answer = http.post("/inbound/magento", content=body, headers=signed)
    assert answer.status_code == 202, answer.text
    receipt = answer.json()
    assert receipt["status"] == "accepted"
    order_event_id = receipt["eventId"]

    until(lambda: bool(erp.bodies(order_event_id)), "the order at the ERP receiver")
    assert erp.bodies(order_event_id)[0] == {
        "orderNumber": "000000123",
        "total": 59.9,
        "currency": "EUR",
        "lines": [{"sku": "MH01", "qty": 2}, {"sku": "MH02", "qty": 1}],
        "from": "magento",
    }
    # Magento sends again when it missed the answer: acknowledged, not a second event.
    again = http.post("/inbound/magento", content=body, headers=signed)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "duplicate"
    assert again.json()["eventId"] == order_event_id
    assert again.json()["duplicateOf"] == receipt["message"]

    if queue is not None:
        until(
            lambda: any(p.routing_key == ORDER_TYPE for p in queue.drain()),
            "the order at the RabbitMQ consumer",
            explain=lambda: str(queue.received),
        )
        [published] = [p for p in queue.received if p.routing_key == ORDER_TYPE]
        assert published.persistent
        assert published.body["type"] == ORDER_TYPE
        assert published.body["data"]["source"] == "magento"
        assert published.body["data"]["key"] == "000000123"
        assert published.body["data"]["payload"] == event

    # The ERP's stock feed: by SKU, into the catalog, authored by the source.
    feed = {"warehouse": "main", "items": [{"sku": "MH01", "qty": 42}, {"sku": "MH02", "qty": 0}]}
    feed_body = orjson.dumps(feed)
    wrong = http.post(
        "/inbound/erp", content=feed_body, headers={"X-Webhook-Secret": "guess", **JSON}
    )
    assert wrong.status_code == 401, wrong.text
    headers = {"X-Webhook-Secret": erp_secret, "Idempotency-Key": "stock-0001", **JSON}
    answer = http.post("/inbound/erp", content=feed_body, headers=headers)
    assert answer.status_code == 202, answer.text

    until(
        lambda: stock_of(http, "MH01") == 42 and stock_of(http, "MH02") == 0,
        "the feed's stock in the catalog",
        explain=lambda: " ".join(
            http.get(path).text
            for path in (
                "/api/v1/inbound/refusals",
                "/api/v1/webhooks/deliveries?endpoint=feed-erp",
            )
        ),
    )
    for sku in ("MH01", "MH02"):
        versions = http.get(f"/api/v1/objects/Product/{sku}/versions").json()["items"]
        assert len(versions) == 2  # created by the test, then the feed's one change
        assert versions[0]["author"] == "inbound:erp"
        assert versions[0]["changedFields"] == ["stock"]

    # The change goes onwards: to the shop's webhook and to the broker.
    def updates() -> dict[str, Any]:
        return {
            r.payload["data"]["businessKey"]: r.payload["data"]
            for r in shop.delivered
            if r.payload["type"] == "object.updated"
        }

    until(lambda: {"MH01", "MH02"} <= set(updates()), "the stock updates at the shop receiver")
    assert updates()["MH01"]["changedFields"] == ["stock"]
    assert updates()["MH01"]["object"]["fields"]["stock"] == 42
    if queue is not None:

        def product_updates() -> set[str]:
            return {
                p.body["data"]["businessKey"]
                for p in queue.drain()
                if p.routing_key == "catalog.Product.updated"
            }

        until(lambda: {"MH01", "MH02"} <= product_updates(), "catalog.Product.updated")
        assert {p.routing_key for p in queue.received} == {ORDER_TYPE, "catalog.Product.updated"}

    # The audit: both Magento requests that were verified, the forged one refused; the fate
    # of the accepted one is its deliveries.
    listed = http.get("/api/v1/inbound/messages", params={"source": "magento"})
    assert listed.status_code == 200, listed.text
    outcomes = sorted(m["outcome"] for m in listed.json()["items"])
    assert outcomes == ["accepted", "duplicate", "rejected"]

    def detail() -> dict[str, Any]:
        answer = http.get(f"/api/v1/inbound/messages/{receipt['message']}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    assert detail()["eventType"] == ORDER_TYPE
    assert detail()["key"] == "000000123"
    assert detail()["body"] == event
    until(
        lambda: (
            {(f["endpoint"], f["status"]) for f in detail()["fate"]}
            >= {(erp_endpoint["id"], "delivered")}
        ),
        "the order's fate: delivered to the ERP",
        explain=lambda: str(detail()["fate"]),
    )
    # Only the destinations that subscribed: the ERP's endpoint, and the broker if any.
    assert len(detail()["fate"]) == (1 if queue is None else 2)
    metrics = http.get("/metrics").text
    for outcome in ("accepted", "duplicate", "rejected"):
        found = sample(metrics, "pimhub_inbound_messages_total", source="magento", outcome=outcome)
        assert found == 1, (outcome, metrics)
    unverified = {"source": "erp", "problem": "inbound-unverified"}
    assert sample(metrics, "pimhub_inbound_rejections_total", **unverified) == 1, metrics
    until(
        lambda: sample(http.get("/metrics").text, "pimhub_inbound_backlog", source="magento") == 0,
        "no backlog of Magento events once delivered",
    )
    # Nothing arrived twice at the ERP and nothing unsigned was kept.
    assert {r.webhook_id for r in erp.delivered} == {order_event_id}
    assert len(erp.requests) == len(erp.delivered)


JSON = {"Content-Type": "application/json"}


def created(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(path, json=body)
    assert answer.status_code == 201, f"POST {path}: {answer.status_code} {answer.text}"
    result: dict[str, Any] = answer.json()
    return result


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of the Prometheus sample `name` with exactly these labels (any order)."""
    for line in metrics.splitlines():
        if line.startswith(name + "{"):
            names, value = line[len(name) + 1 :].rsplit("} ", 1)
            if dict(re.findall(r'(\w+)="([^"]*)"', names)) == labels:
                return float(value)
    return None


def stock_of(http: httpx.Client, sku: str) -> Any:
    answer = http.get(f"/api/v1/products/{sku}")
    assert answer.status_code == 200, answer.text
    return answer.json()["stock"]
