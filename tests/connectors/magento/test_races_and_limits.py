"""What an outside attack on the running connector found, each kept fixed: SKUs resolved to the
object holding them now, renames taking the old SKU offline, a sync catching up with changes
made while it ran, a slow shop not holding the worker, product-level refusals not opening the
circuit, the private-address guard on every use, and settings refused at the edge."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from pimhub.bootstrap import Hub, build_dispatcher
from pimhub.catalog.service import utc_now
from pimhub.connectors.magento.config import InvalidConnector
from pimhub.connectors.service import parse_credentials
from pimhub.events.deliveries import DeliveryFilter
from pimhub.storage.tables import connectors, webhook_endpoints

from .double import MagentoDouble
from .test_push import CONFIG, CREDENTIALS, tee


@pytest.fixture
def double() -> Any:
    double = MagentoDouble(stores={"default": 1, "de": 1}, bulk_delay=0.01)
    yield double
    assert double.violations == []


@pytest.fixture
def shop(hub: Hub, double: MagentoDouble) -> Hub:
    hub.connectors.transport = httpx.ASGITransport(app=double)
    hub.connectors.add(CONFIG, CREDENTIALS)
    hub.catalog.create("Category", {"code": "men-tops", "name": {"en": "Tops"}}, author="t")
    return hub


def deliver(hub: Hub) -> None:
    dispatcher = build_dispatcher(hub)

    async def run() -> None:
        while await dispatcher.run_once():
            pass
        for target in list(dispatcher._targets.values()):
            if target.destination is not None:
                await target.destination.aclose()

    asyncio.run(run())


def status(double: MagentoDouble, sku: str) -> Any:
    found = double.product(sku)
    return None if found is None else found["status"]


def test_a_stale_event_of_a_deleted_object_does_not_disable_the_new_one(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop, "SAME-1")
    deliver(shop)
    shop.catalog.delete("Product", "SAME-1", author="t")
    tee(shop, "SAME-1")  # the same SKU, a new object
    deliver(shop)  # the delete's event and the create's, in one batch
    assert status(double, "SAME-1") == 1
    assert shop.connectors.item("shop", "SAME-1").state == "synced"


def test_a_renamed_sku_takes_the_old_one_offline(shop: Hub, double: MagentoDouble) -> None:
    tee(shop, "R-3")
    deliver(shop)
    shop.catalog.patch("Product", "R-3", {"sku": "R-3x"}, author="t")
    deliver(shop)
    assert status(double, "R-3x") == 1
    assert status(double, "R-3") == 2
    # Swapped back: the old SKU is the live one again.
    shop.catalog.patch("Product", "R-3x", {"sku": "R-3"}, author="t")
    deliver(shop)
    assert (status(double, "R-3"), status(double, "R-3x")) == (1, 2)


def test_a_change_made_while_a_full_sync_waited_is_caught_up(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop, "LATE-1")
    tee(shop, "LATE-2", ean="4006381333948")
    double.bulk_outcome("LATE-1", 4)
    double.bulk_outcome("LATE-2", 4)

    async def run() -> None:
        syncing = asyncio.ensure_future(shop.connectors.full_sync("shop", poll_interval=0.02))
        await asyncio.sleep(0.3)
        # Meanwhile: one product deleted, one repriced, both after their operations went out.
        await asyncio.to_thread(shop.catalog.delete, "Product", "LATE-1", author="t")
        await asyncio.to_thread(
            shop.catalog.patch,
            "Product",
            "LATE-2",
            {"price": {"amount": 1.5, "currency": "EUR"}},
            author="t",
        )
        double.release_open()
        await syncing

    asyncio.run(run())
    assert status(double, "LATE-1") == 2
    assert double.product("LATE-2")["price"] == 1.5  # type: ignore[index]


def test_a_shop_that_does_not_answer_does_not_hold_the_batch(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop, "SLOW-1")
    pusher = shop.connectors.pusher("shop")
    destination = shop.connectors.destination
    assert destination is not None
    double.delay(5)
    endpoint = shop.webhooks.endpoints.get("connector-shop")
    assert endpoint is not None
    built = destination(endpoint, shop.connectors._credentials("shop"))
    assert built is not None
    queue = shop.webhooks.queue
    now = utc_now()
    _, claimed = queue.fan_out_and_claim(now, 100, 100, now + timedelta(seconds=60))

    async def run() -> list[Any]:
        try:
            return await asyncio.wait_for(
                built.deliver(claimed, utc_now() + timedelta(seconds=6)), 10
            )
        finally:
            await built.aclose()
            await pusher.client.aclose()

    results = asyncio.run(run())
    assert [r.error for r in results] == [results[0].error] and results[0].error is not None
    assert "not finished within" in results[0].error
    double.delay(0)


def test_product_level_refusals_do_not_open_the_circuit(shop: Hub, double: MagentoDouble) -> None:
    for i in range(8):
        tee(shop, f"USD-{i}", ean=None, price={"amount": 1, "currency": "USD"})
    deliver(shop)
    endpoint = shop.webhooks.endpoints.get("connector-shop")
    assert endpoint is not None
    assert (endpoint.consecutive_failures, endpoint.paused_until) == (0, None)
    tee(shop, "EUR-1", ean=None)
    deliver(shop)
    assert status(double, "EUR-1") == 1
    failed = shop.webhooks.deliveries(DeliveryFilter(endpoint_id="connector-shop"))
    assert sum(1 for d in failed if d.last_error and "no price in EUR" in d.last_error) == 8


def test_every_use_of_a_connector_checks_its_address(shop: Hub) -> None:
    # Saved while private addresses were allowed; used by a process that does not allow them.
    shop.connectors.update("shop", {**CONFIG, "baseUrl": "http://127.0.0.1:9"})
    shop.connectors.allow_private = False
    with pytest.raises(InvalidConnector) as refused:
        asyncio.run(shop.connectors.dry_run("shop", "TS-1"))
    assert refused.value.errors[0].field == "baseUrl"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"baseUrl": "http://[::1"}, "baseUrl"),
        ({"baseUrl": "http://shop.example.com:99999"}, "baseUrl"),
        ({"baseUrl": "http://shop.example.com/?"}, "baseUrl"),
        ({"baseUrl": "http://shop.example.com/rest"}, "baseUrl"),
        ({"baseUrl": "http://shop.example.com/" + "a" * 3000}, "baseUrl"),
        ({"bulk": {"evil": 1}}, "bulk.evil"),
        ({"stock": {"evil": 1}}, "stock.evil"),
        ({"sync": {"evil": 1}}, "sync.evil"),
        ({"categories": {"evil": 1}}, "categories.evil"),
        ({"attributeSet": {"evil": 1}}, "attributeSet.evil"),
        ({"attributes": {"name": {"code": "name", "evil": 1}}}, "attributes.name.evil"),
        ({"attributes": None}, "attributes"),
        ({"currency": "XXX"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"websites": []}, "websites"),
        ({"rateLimit": 1e-300}, "rateLimit"),
        ({"timeout": 10000}, "timeout"),
        ({"concurrency": 1000}, "concurrency"),
        ({"defaultLanguage": "xx"}, "defaultLanguage"),
        ({"stores": {"xx": "xx_store"}}, "stores.xx"),
    ],
)
def test_settings_refused_at_the_edge(hub: Hub, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidConnector) as refused:
        hub.connectors.check({**CONFIG, "baseUrl": "https://shop.example.com", **changes})
    assert field in {e.field for e in refused.value.errors}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({**CREDENTIALS, "extra": "x"}, "credentials.extra"),
        ({**CREDENTIALS, "accessToken": "a\r\nb"}, "credentials.accessToken"),
        ({**CREDENTIALS, "accessToken": "x" * 600}, "credentials.accessToken"),
        ({**CREDENTIALS, "accessToken": 5}, "credentials.accessToken"),
        (["x"], "credentials"),
        (None, "credentials"),
    ],
)
def test_credentials_refused_by_path(value: Any, field: str) -> None:
    with pytest.raises(InvalidConnector) as refused:
        parse_credentials(value, bearer=False)
    assert field in {e.field for e in refused.value.errors}


def test_a_connector_that_cannot_be_built_fails_only_its_own_deliveries(
    shop: Hub, double: MagentoDouble
) -> None:
    # Settings saved under older, looser rules (a timeout since capped) no longer parse.
    with shop.engine.begin() as conn:
        conn.execute(
            update(connectors).values(config={**CONFIG, "timeout": 600}, updated_at=utc_now())
        )
        conn.execute(update(webhook_endpoints).values(updated_at=utc_now()))
    tee(shop, "BROKEN-1")
    deliver(shop)  # must not raise: the worker goes on
    [delivery] = shop.webhooks.deliveries(DeliveryFilter(endpoint_id="connector-shop"))
    assert delivery.status.value == "pending"
    assert delivery.last_error is not None
    assert (
        "the connector cannot be used" in delivery.last_error and "timeout" in delivery.last_error
    )
    assert double.product("BROKEN-1") is None
