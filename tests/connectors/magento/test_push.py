"""The incremental push against the contract double: what arrives, what is not sent twice,
what the hub never overwrites or removes, and how failures surface."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from pimhub.bootstrap import Hub, build_dispatcher
from pimhub.connectors.magento.client import MagentoClient
from pimhub.connectors.magento.push import Outcome
from pimhub.events.deliveries import DeliveryFilter

from .double import DEFAULT_CREDENTIALS, MagentoDouble

CREDENTIALS = {
    "consumerKey": DEFAULT_CREDENTIALS.consumer_key,
    "consumerSecret": DEFAULT_CREDENTIALS.consumer_secret,
    "accessToken": DEFAULT_CREDENTIALS.access_token,
    "accessTokenSecret": DEFAULT_CREDENTIALS.access_token_secret,
}
CONFIG: dict[str, Any] = {
    "name": "shop",
    "baseUrl": "http://magento.test",
    "stores": {"de": "de"},
}


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
    c.create(
        "Category",
        {"code": "men-tops", "name": {"en": "Tops"}, "parent": "men"},
        author="t",
    )
    return hub


def push(hub: Hub, *skus: str) -> list[Outcome]:
    outcomes: list[Outcome] = asyncio.run(hub.connectors.push_skus("shop", list(skus)))
    return outcomes


def tee(hub: Hub, sku: str = "TS-1", **values: Any) -> None:
    """A product; a value given as None is left out."""
    fields = {
        "sku": sku,
        "name": {"en": "Tee", "de": "T-Shirt"},
        "price": {"amount": 19.99, "currency": "EUR"},
        "stock": 7,
        "category": "men-tops",
        "ean": "4006381333931",
        "color": "black",
        **values,
    }
    hub.catalog.create("Product", {k: v for k, v in fields.items() if v is not None}, author="t")


def magento_put(double: MagentoDouble, product: dict[str, Any]) -> None:
    """A product created in Magento by someone else."""

    async def run() -> None:
        async with MagentoClient(
            "http://magento.test", DEFAULT_CREDENTIALS, transport=httpx.ASGITransport(app=double)
        ) as client:
            await client.request("PUT", f"/V1/products/{product['sku']}", json={"product": product})

    asyncio.run(run())


def custom(product: dict[str, Any], code: str) -> Any:
    return next(
        (a["value"] for a in product.get("custom_attributes", []) if a["attribute_code"] == code),
        None,
    )


def product_writes(double: MagentoDouble, sku: str) -> list[Any]:
    return [
        r for r in double.requests if r.method == "PUT" and r.path.endswith(f"/V1/products/{sku}")
    ]


def test_a_product_arrives_with_its_values_store_view_text_category_and_stock(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop)
    [outcome] = push(shop, "TS-1")
    assert outcome.ok, outcome.error
    product = double.product("TS-1")
    assert product is not None
    assert (product["name"], product["price"], product["status"]) == ("Tee", 19.99, 1)
    assert (product["visibility"], product["type_id"], product["attribute_set_id"]) == (
        4,
        "simple",
        4,
    )
    assert custom(product, "ean") == "4006381333931"
    # The hub's option code "black" found Magento's "Black" option by its admin label.
    assert custom(product, "color") == str(double.option_id("color", "Black"))
    # Localized text: the default language at the global scope, German only in its store.
    assert double.product("TS-1", store="de")["name"] == "T-Shirt"  # type: ignore[index]
    assert set(double.store_overrides("TS-1", "de")) <= {"name", "sku"}
    # The category and its parent were created under the root and remembered.
    links = product["extension_attributes"]["category_links"]
    assert len(links) == 1
    created = double.categories[int(links[0]["category_id"])]
    assert created["name"] == "Tops"
    assert double.categories[created["parent_id"]]["name"] == "Men"
    assert double.stock("TS-1")["quantity"] == 7  # type: ignore[index]
    item = shop.connectors.item("shop", "TS-1")
    assert (item.state, item.synced_version, item.created_by_hub) == ("synced", 1, True)


def test_nothing_changed_sends_nothing_and_a_change_sends_only_itself(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop)
    push(shop, "TS-1")
    before = len(double.requests)
    [again] = push(shop, "TS-1")
    assert again.ok and again.calls == 0
    assert len(double.requests) == before
    shop.catalog.patch(
        "Product", "TS-1", {"price": {"amount": 17.5, "currency": "EUR"}}, author="t"
    )
    [changed] = push(shop, "TS-1")
    assert changed.ok and changed.calls == 1
    body = product_writes(double, "TS-1")[-1].body
    assert body == {"product": {"sku": "TS-1", "price": 17.5}}
    assert double.product("TS-1")["price"] == 17.5  # type: ignore[index]


def test_values_owned_by_magento_survive_a_push(shop: Hub, double: MagentoDouble) -> None:
    tee(shop)
    push(shop, "TS-1")
    double.set_value("TS-1", "tax_class_id", "5")
    shop.catalog.patch("Product", "TS-1", {"name": {"en": "Tee 2", "de": "T-Shirt"}}, author="t")
    push(shop, "TS-1")
    product = double.product("TS-1")
    assert product is not None
    assert custom(product, "tax_class_id") == "5"
    assert product["name"] == "Tee 2"


def test_a_new_select_option_is_created_once_by_its_code(shop: Hub, double: MagentoDouble) -> None:
    tee(shop, "A-1", color="lavender")
    tee(shop, "A-2", color="lavender", ean="4006381333948")
    outcomes = push(shop, "A-1", "A-2")
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    created = double.option_id("color", "lavender")
    assert created is not None
    assert custom(double.product("A-1"), "color") == str(created)  # type: ignore[arg-type]
    assert custom(double.product("A-2"), "color") == str(created)  # type: ignore[arg-type]
    posts = [r for r in double.requests if r.method == "POST" and r.path.endswith("/options")]
    assert len(posts) == 1


def test_configurable_parent_and_children_are_linked_and_read_back(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop, "P-1", color=None, ean=None)
    for size, ean in (("S", "4006381333955"), ("M", "4006381333962")):
        shop.catalog.create(
            "Product",
            {"sku": f"P-1-{size}", "color": "black", "size": size, "ean": ean},
            parent="P-1",
            author="t",
        )
    [parent] = push(shop, "P-1")
    assert parent.ok, parent.error
    assert double.product("P-1")["type_id"] == "configurable"  # type: ignore[index]
    children = push(shop, "P-1-S", "P-1-M")
    assert all(o.ok for o in children), [o.error for o in children]
    assert sorted(double.children("P-1")) == ["P-1-M", "P-1-S"]
    child = double.product("P-1-S")
    assert child is not None and child["visibility"] == 1
    assert child["price"] == 19.99  # inherited from the parent
    # Pushing the parent again now names both children and checks Magento lists them.
    shop.catalog.patch("Product", "P-1", {"name": {"en": "Tee!"}}, author="t")
    [again] = push(shop, "P-1")
    assert again.ok, again.error
    assert any(r.method == "GET" and r.path.endswith("/children") for r in double.requests)


def test_a_child_waits_for_its_parent(shop: Hub, double: MagentoDouble) -> None:
    tee(shop, "P-2", color=None, ean=None)
    shop.catalog.create(
        "Product", {"sku": "P-2-S", "color": "black", "size": "S"}, parent="P-2", author="t"
    )
    [child] = push(shop, "P-2-S")
    assert not child.ok and "waiting for the configurable parent P-2" in (child.error or "")
    assert shop.connectors.item("shop", "P-2-S").state == "failed"
    push(shop, "P-2")
    [child] = push(shop, "P-2-S")
    assert child.ok, child.error
    assert double.children("P-2") == ["P-2-S"]


def test_deleted_in_the_hub_is_disabled_and_only_when_the_hub_created_it(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop)
    push(shop, "TS-1")
    shop.catalog.delete("Product", "TS-1", author="t")
    [gone] = push(shop, "TS-1")
    assert gone.ok, gone.error
    assert double.product("TS-1")["status"] == 2  # type: ignore[index]
    assert shop.connectors.item("shop", "TS-1").state == "disabled"
    # A product Magento had before the hub knew it is updated, never disabled or deleted.
    magento_put(double, {"sku": "MAG-ONLY", "name": "Mine", "price": 1, "attribute_set_id": 4})
    tee(shop, "MAG-ONLY", ean="4006381333979")
    [first] = push(shop, "MAG-ONLY")
    assert first.ok, first.error
    assert "attribute_set_id" not in product_writes(double, "MAG-ONLY")[-1].body["product"]
    assert shop.connectors.item("shop", "MAG-ONLY").created_by_hub is False
    writes_before = double.writes_for("MAG-ONLY")
    shop.catalog.delete("Product", "MAG-ONLY", author="t")
    push(shop, "MAG-ONLY")
    assert double.writes_for("MAG-ONLY") == writes_before


def test_unpublishing_takes_the_product_offline(shop: Hub, double: MagentoDouble) -> None:
    tee(shop)
    push(shop, "TS-1")
    shop.catalog.patch("Product", "TS-1", {}, published=False, author="t")
    push(shop, "TS-1")
    assert double.product("TS-1")["status"] == 2  # type: ignore[index]
    shop.catalog.patch("Product", "TS-1", {}, published=True, author="t")
    push(shop, "TS-1")
    product = double.product("TS-1")
    assert product is not None and product["status"] == 1 and product["name"] == "Tee"


def test_magento_failures_are_reported_readably_and_retried(
    shop: Hub, double: MagentoDouble
) -> None:
    tee(shop)
    double.fail_next(1, 503, retry_after=7)
    [failed] = push(shop, "TS-1")
    assert not failed.ok and failed.status == 503 and failed.retry_after == 7.0
    item = shop.connectors.item("shop", "TS-1")
    assert item.state == "failed" and "503" in (item.last_error or "")
    [fixed] = push(shop, "TS-1")
    assert fixed.ok
    assert shop.connectors.item("shop", "TS-1").last_error is None


def test_dry_run_shows_the_requests_and_writes_nothing(shop: Hub, double: MagentoDouble) -> None:
    tee(shop)
    requests = asyncio.run(shop.connectors.dry_run("shop", "TS-1"))
    methods = [(r["method"], r["store"], r["path"]) for r in requests]
    assert ("PUT", "all", "/V1/products/TS-1") in methods
    assert ("PUT", "de", "/V1/products/TS-1") in methods
    assert ("POST", "all", "/V1/inventory/source-items") in methods
    assert double.product("TS-1") is None
    assert shop.connectors.status("shop").counts == {}


def test_the_worker_delivers_changes_through_the_pipeline(shop: Hub, double: MagentoDouble) -> None:
    """The connector is a destination of the one delivery pipeline: the dispatcher claims the
    outbox events and the connector's outcome is the delivery's attempt."""
    dispatcher = build_dispatcher(shop)
    tee(shop)
    shop.catalog.patch("Product", "TS-1", {"stock": 9}, author="t")

    async def drain() -> None:
        while await dispatcher.run_once():
            pass

    asyncio.run(drain())
    product = double.product("TS-1")
    assert product is not None and double.stock("TS-1")["quantity"] == 9  # type: ignore[index]
    deliveries = shop.webhooks.deliveries(DeliveryFilter(endpoint_id="connector-shop"))
    assert {d.status.value for d in deliveries} == {"delivered"}
    assert len(deliveries) == 2
    # The second delivery found the product up to date (the first already sent version 2):
    # one write at the global scope and one for the German store view, nothing twice.
    writes = [(r.method, r.store) for r in product_writes(double, "TS-1")]
    assert writes == [("PUT", "all"), ("PUT", "de")]
