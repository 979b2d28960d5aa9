"""Reconcile against the contract double: drift made in Magento behind the hub's back is found
attribute by attribute, products are missing or extra only when the hub has a say, and a fix
brings the shop back to the hub's state."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from pimhub.bootstrap import Hub
from pimhub.connectors.magento.client import MagentoClient
from pimhub.connectors.magento.reconcile import DriftReport, reconcile

from .double import DEFAULT_CREDENTIALS, MagentoDouble
from .test_push import CONFIG, CREDENTIALS, custom, magento_put, push, tee


@pytest.fixture
def double() -> Any:
    double = MagentoDouble(stores={"default": 1, "de": 1})
    yield double
    assert double.violations == []


@pytest.fixture
def shop(hub: Hub, double: MagentoDouble) -> Hub:
    hub.connectors.transport = httpx.ASGITransport(app=double)
    hub.connectors.add(CONFIG, CREDENTIALS)
    c = hub.catalog
    c.create("Category", {"code": "men", "name": {"en": "Men", "de": "Herren"}}, author="t")
    c.create("Category", {"code": "men-tops", "name": {"en": "Tops"}, "parent": "men"}, author="t")
    return hub


def run(hub: Hub, **options: Any) -> DriftReport:
    async def go() -> DriftReport:
        pusher = hub.connectors.pusher("shop")
        try:
            return await reconcile(pusher, **options)
        finally:
            await pusher.client.aclose()

    return asyncio.run(go())


def magento(double: MagentoDouble, method: str, path: str, store: str = "all", **kw: Any) -> Any:
    async def go() -> Any:
        async with MagentoClient(
            "http://magento.test", DEFAULT_CREDENTIALS, transport=httpx.ASGITransport(app=double)
        ) as client:
            return (await client.request(method, path, store=store, **kw)).data

    return asyncio.run(go())


def kinds(report: DriftReport) -> dict[str, str]:
    return {d.sku: d.kind for d in report.items}


def test_in_sync_reports_nothing(shop: Hub, double: MagentoDouble) -> None:
    tee(shop)
    assert all(o.ok for o in push(shop, "TS-1"))
    # Magento answering a number as a string is the same value.
    double.set_value("TS-1", "price", "19.990")
    report = run(shop)
    assert report.items == [] and report.checked == 1
    assert report.to_dict()["counts"] == {"missing": 0, "extra": 0, "different": 0}


def test_a_value_changed_in_magento_is_different_and_fix_restores_it(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop)
    push(shop, "TS-1")
    double.set_value("TS-1", "ean", "4006381333948")
    double.set_value("TS-1", "price", 5)
    double.set_value("TS-1", "color", str(double.option_id("color", "Red")))
    report = run(shop)
    [drift] = report.items
    black, red = double.option_id("color", "Black"), double.option_id("color", "Red")
    assert (drift.sku, drift.kind) == ("TS-1", "different")
    assert drift.attributes == {
        "ean": ("4006381333931", "4006381333948"),
        "price": (19.99, 5),
        "color": (str(black), str(red)),
    }
    assert report.to_dict()["items"][0]["attributes"]["price"] == {"hub": 19.99, "magento": 5}
    fixed = run(shop, fix=True)
    assert fixed.fixed == 1 and fixed.errors == []
    product = double.product("TS-1")
    assert product is not None
    assert (custom(product, "ean"), product["price"]) == ("4006381333931", 19.99)
    assert custom(product, "color") == str(black)
    assert run(shop).items == []


def test_a_store_view_value_changed_in_magento_is_different(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop)
    push(shop, "TS-1")
    magento(
        double, "PUT", "/V1/products/TS-1", "de", json={"product": {"sku": "TS-1", "name": "Hemd"}}
    )
    [drift] = run(shop).items
    assert drift.attributes == {"name@de": ("T-Shirt", "Hemd")}
    assert run(shop, fix=True).fixed == 1
    assert double.product("TS-1", store="de")["name"] == "T-Shirt"  # type: ignore[index]
    assert run(shop).items == []


def test_a_product_deleted_in_magento_is_missing_and_fix_creates_it_again(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop)
    tee(shop, "TS-2", ean="4006381333948")
    push(shop, "TS-1", "TS-2")
    magento(double, "DELETE", "/V1/products/TS-1")
    report = run(shop)
    assert kinds(report) == {"TS-1": "missing"} and report.checked == 2
    fixed = run(shop, fix=True)
    assert fixed.fixed == 1, fixed.errors
    product = double.product("TS-1")
    assert product is not None and product["name"] == "Tee" and product["status"] == 1
    assert custom(product, "ean") == "4006381333931"
    item = shop.connectors.item("shop", "TS-1")
    assert (item.state, item.remote_id) == ("synced", product["id"])
    assert run(shop).items == []


def test_a_product_the_hub_created_and_deleted_is_extra_and_fix_disables_it(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop)
    push(shop, "TS-1")
    shop.catalog.delete("Product", "TS-1", author="t")
    assert kinds(run(shop)) == {"TS-1": "extra"}
    fixed = run(shop, fix=True)
    assert fixed.fixed == 1
    assert double.product("TS-1")["status"] == 2  # type: ignore[index]
    assert shop.connectors.item("shop", "TS-1").state == "disabled"
    assert run(shop).items == []


def test_magento_owned_products_and_values_are_not_drift(shop: Hub, double: MagentoDouble) -> None:
    magento_put(double, {"sku": "MAG-ONLY", "name": "Mine", "price": 1, "attribute_set_id": 4})
    # A product Magento had before the hub pushed it, then deleted in the hub: still Magento's.
    magento_put(double, {"sku": "MAG-2", "name": "Theirs", "price": 2, "attribute_set_id": 4})
    tee(shop, "MAG-2", ean="4006381333979")
    tee(shop)
    push(shop, "MAG-2", "TS-1")
    shop.catalog.delete("Product", "MAG-2", author="t")
    double.set_value("TS-1", "tax_class_id", "5")  # not an attribute the hub owns
    report = run(shop)
    assert report.items == [] and report.checked == 3
    writes = double.writes_for("MAG-ONLY"), double.writes_for("MAG-2")
    run(shop, fix=True)
    assert (double.writes_for("MAG-ONLY"), double.writes_for("MAG-2")) == writes


def test_paging_sees_every_sku_exactly_once(shop: Hub, double: MagentoDouble) -> None:
    skus = [f"P-{n}" for n in range(5)]
    for n, sku in enumerate(skus):
        tee(shop, sku, ean=f"400638133{n:04d}")
    assert all(o.ok for o in push(shop, *skus))
    double.set_value("P-4", "name", "Changed")
    before = len(double.requests)
    report = run(shop, page_size=2)
    lists = [r for r in double.requests[before:] if r.path.endswith("/V1/products")]
    assert len(lists) == 3  # 2 + 2 + 1, paged by total_count
    assert report.checked == 5
    assert [(d.sku, d.kind) for d in report.items] == [("P-4", "different")]
    assert report.items[0].attributes == {"name": ("Tee", "Changed")}


def test_only_the_skus_asked_about(shop: Hub, double: MagentoDouble) -> None:
    tee(shop)
    tee(shop, "TS-2", ean="4006381333948")
    push(shop, "TS-1", "TS-2")
    double.set_value("TS-1", "name", "Other")
    double.set_value("TS-2", "name", "Other")
    report = run(shop, skus=["TS-2", "NOPE"])
    assert report.checked == 1
    assert kinds(report) == {"TS-2": "different"}
