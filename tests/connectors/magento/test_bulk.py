"""Full sync through Magento's async bulk API and the ledger, against the contract double."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub, build_dispatcher
from pimhub.connectors.magento.bulk import BulkSync, SyncReport
from pimhub.events.deliveries import DeliveryFilter
from tests.conftest import bearer

from .double import MagentoDouble
from .test_push import CONFIG, CREDENTIALS, custom, push, tee


@pytest.fixture
def double() -> Any:
    double = MagentoDouble(stores={"default": 1, "de": 1}, bulk_delay=0.01)
    yield double
    assert double.violations == []


@pytest.fixture
def shop(hub: Hub, double: MagentoDouble) -> Hub:
    hub.connectors.transport = httpx.ASGITransport(app=double)
    hub.connectors.add({**CONFIG, "bulk": {"chunk": 3}}, CREDENTIALS)
    c = hub.catalog
    c.create("Category", {"code": "men", "name": {"en": "Men"}}, author="t")
    c.create("Category", {"code": "men-tops", "name": {"en": "Tops"}, "parent": "men"}, author="t")
    return hub


def catalog(hub: Hub) -> list[str]:
    """Four simple products and a configurable with two variants."""
    skus = []
    for i in range(4):
        tee(hub, f"S-{i}", ean=None, stock=i)
        skus.append(f"S-{i}")
    tee(hub, "C-1", ean=None, color=None)
    for size in ("S", "M"):
        hub.catalog.create(
            "Product",
            {"sku": f"C-1-{size}", "color": "black", "size": size},
            parent="C-1",
            author="t",
        )
    return [*skus, "C-1", "C-1-S", "C-1-M"]


def sync(hub: Hub, **options: Any) -> SyncReport:
    report: SyncReport = asyncio.run(
        hub.connectors.full_sync("shop", poll_interval=0.02, **options)
    )
    return report


def bulk_requests(double: MagentoDouble) -> list[Any]:
    return [r for r in double.requests if "/async/bulk/" in r.path]


def test_a_full_sync_brings_every_product_with_its_family_and_stock(
    shop: Hub, double: MagentoDouble
) -> None:
    skus = catalog(shop)
    report = sync(shop)
    assert report.failed == 0, report.messages
    assert sorted(double.skus) == sorted(skus)
    assert sorted(double.children("C-1")) == ["C-1-M", "C-1-S"]
    assert double.product("C-1")["type_id"] == "configurable"  # type: ignore[index]
    assert double.stock("S-3")["quantity"] == 3  # type: ignore[index]
    assert double.product("S-2", store="de")["name"] == "T-Shirt"  # type: ignore[index]
    # Chunks of three operations per request, global and store-view bulks apart.
    assert all(len(r.body) <= 3 for r in bulk_requests(double))
    counts, _ = shop.connectors.ledger_page("shop")
    assert set(counts) == {"complete"}
    status = shop.connectors.status("shop")
    assert status.counts == {"synced": len(skus)}
    # Entity ids are read only where a configurable's links need them: its children's.
    ids = {i.sku: i.remote_id for i in status.items}
    assert ids["C-1-S"] and ids["C-1-M"]


def test_a_second_full_sync_sends_nothing_and_an_incremental_push_neither(
    shop: Hub, double: MagentoDouble
) -> None:
    catalog(shop)
    sync(shop)
    before = len(double.requests)
    again = sync(shop)
    assert (again.submitted, again.unchanged) == (0, 7)
    assert not [r for r in double.requests[before:] if r.method != "GET"]
    [outcome] = push(shop, "C-1-S")
    assert outcome.ok and outcome.calls == 0, outcome.error


def test_magento_owned_values_survive_a_forced_full_resync(
    shop: Hub, double: MagentoDouble
) -> None:
    catalog(shop)
    sync(shop)
    double.set_value("S-1", "tax_class_id", "7")
    report = sync(shop, force=True)
    assert report.submitted > 0 and report.failed == 0
    assert custom(double.product("S-1"), "tax_class_id") == "7"  # type: ignore[arg-type]


def test_operation_status_2_is_retried_and_3_fails_with_magentos_message(
    shop: Hub, double: MagentoDouble
) -> None:
    catalog(shop)
    double.bulk_outcome("S-1", 2, 1)
    double.bulk_outcome("S-2", 3, message='The value of attribute "%1" must be set')
    report = sync(shop)
    assert report.retried == 1
    assert double.product("S-1") is not None
    assert report.failed == 1
    item = shop.connectors.item("shop", "S-2")
    assert item.state == "failed" and "must be set" in (item.last_error or "")
    _, failed = shop.connectors.ledger_page("shop", status="failed")
    assert [e.sku for e in failed] == ["S-2"]


def test_a_sync_that_crashed_with_operations_open_resumes_without_sending_twice(
    shop: Hub, double: MagentoDouble
) -> None:
    skus = catalog(shop)[:4]
    for sku in skus:
        double.bulk_outcome(sku, 4)  # accepted, then left open: Magento's consumer is down

    async def crash() -> None:
        pusher = shop.connectors.pusher("shop")
        sync = BulkSync(pusher, shop.connectors.ledger, poll_interval=0.02)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(sync.full(), 1.0)  # killed while waiting for Magento
        await pusher.client.aclose()

    asyncio.run(crash())
    submitted = sum(len(r.body) for r in bulk_requests(double))
    # Meanwhile an incremental change to one of them waits for the open operation.
    [blocked] = push(shop, "S-0")
    assert not blocked.ok and blocked.status == 409
    double.release_open()
    report = sync(shop)
    assert report.failed == 0, report.messages
    assert sum(len(r.body) for r in bulk_requests(double)) > submitted
    # Every (SKU, scope) went out exactly once, across the crash.
    sent = [(r.store, op["product"]["sku"]) for r in bulk_requests(double) for op in r.body]
    assert len(sent) == len(set(sent))
    assert all(double.writes_for(sku) == 2 for sku in skus)  # global and German, once each
    assert shop.connectors.status("shop").counts == {"synced": 7}


def test_a_backlog_of_deliveries_goes_through_bulk_and_links_its_variants(
    shop: Hub, double: MagentoDouble
) -> None:
    shop.connectors.update("shop", {**CONFIG, "bulk": {"threshold": 3, "chunk": 3}})
    dispatcher = build_dispatcher(shop)
    skus = catalog(shop)

    async def deliver() -> None:
        while await dispatcher.run_once():
            pass
        for target in list(dispatcher._targets.values()):
            settling = getattr(target.destination, "_settling", None)
            if settling is not None:
                await settling
        for target in list(dispatcher._targets.values()):
            if target.destination is not None:
                await target.destination.aclose()

    asyncio.run(deliver())
    assert sorted(double.skus) == sorted(skus)
    bulked = {op["product"]["sku"] for r in bulk_requests(double) for op in r.body}
    assert bulked == {"S-0", "S-1", "S-2", "S-3", "C-1-S", "C-1-M"}  # the parent went alone
    assert sorted(double.children("C-1")) == ["C-1-M", "C-1-S"]
    assert double.stock("S-2")["quantity"] == 2  # type: ignore[index]
    assert double.product("S-1", store="de")["name"] == "T-Shirt"  # type: ignore[index]
    deliveries = shop.webhooks.deliveries(DeliveryFilter(endpoint_id="connector-shop"))
    assert {d.status.value for d in deliveries} == {"delivered"} and len(deliveries) == 7
    assert shop.connectors.status("shop").counts == {"synced": 7}


def test_legacy_stock_and_a_missing_price_in_a_full_sync(shop: Hub, double: MagentoDouble) -> None:
    shop.connectors.update("shop", {**CONFIG, "stock": {"mode": "legacy"}})
    tee(shop, "L-1", ean=None, stock=4)
    tee(shop, "L-2", ean=None, price={"amount": 3, "currency": "USD"})
    report = sync(shop)
    assert double.stock("L-1")["quantity"] == 4  # type: ignore[index]
    assert any(r.method == "PUT" and r.path.endswith("/stockItems/1") for r in double.requests)
    assert not any(r.path.endswith("/inventory/source-items") for r in double.requests)
    assert report.failed == 1 and double.product("L-2") is None
    item = shop.connectors.item("shop", "L-2")
    assert item.state == "failed" and "no price in EUR" in (item.last_error or "")


def test_the_ledger_over_rest(shop: Hub, double: MagentoDouble) -> None:
    catalog(shop)
    double.bulk_outcome(
        "S-2",
        3,
        message="Refused by %1",
    )
    sync(shop)
    client = TestClient(create_app(shop))
    headers = bearer(shop, "admin")
    answer = client.get("/api/v1/connectors/shop/ledger", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["counts"]["failed"] == 1 and body["counts"]["complete"] >= 6
    failed = client.get(
        "/api/v1/connectors/shop/ledger", params={"status": "failed"}, headers=headers
    ).json()["items"]
    assert [(e["sku"], e["status"]) for e in failed] == [("S-2", "failed")]
    page = client.get("/api/v1/connectors/shop/ledger", params={"limit": 2}, headers=headers).json()
    assert len(page["items"]) == 2 and page["nextCursor"] == page["items"][-1]["id"]
    following = client.get(
        "/api/v1/connectors/shop/ledger",
        params={"limit": 2, "after": page["nextCursor"]},
        headers=headers,
    ).json()["items"]
    assert following and following[0]["id"] > page["nextCursor"]
    bad = client.get("/api/v1/connectors/shop/ledger", params={"status": "x"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["status"] == 400
    reader = bearer(shop, "read", name="reader")
    assert client.get("/api/v1/connectors/shop/ledger", headers=reader).status_code == 403
