"""Pull against the contract double: Magento's products arrive in the hub with their values,
options and families, a second pull writes nothing, the checkpoint limits what is read, a
stopped pull resumes, and the push does not echo what was pulled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from pimhub.bootstrap import Hub
from pimhub.connectors.magento.client import MagentoClient, MagentoError
from pimhub.connectors.magento.pull import PullReport, pull
from pimhub.connectors.magento.reconcile import DriftReport, reconcile

from .double import DEFAULT_CREDENTIALS, MagentoDouble
from .test_push import CONFIG, CREDENTIALS, push

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class FailingList:
    """Lets Magento fail the `nth` product list call at the global scope (a page)."""

    def __init__(self, app: MagentoDouble) -> None:
        self.app = app
        self.nth = 0
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and path.endswith("all/V1/products")
        ):
            self.count += 1
            if self.count == self.nth:
                self.app.fail_next(1, 503)
        await self.app(scope, receive, send)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def double(clock: Clock) -> Any:
    double = MagentoDouble(stores={"default": 1, "de": 1}, clock=clock)
    yield double
    assert double.violations == []


@pytest.fixture
def failing(double: MagentoDouble) -> FailingList:
    return FailingList(double)


@pytest.fixture
def shop(hub: Hub, double: MagentoDouble, failing: FailingList) -> Hub:
    hub.connectors.transport = httpx.ASGITransport(app=failing)
    hub.catalog.create("Category", {"code": "mugs", "name": {"en": "Mugs"}}, author="t")
    mugs = magento(
        double,
        "POST",
        "/V1/categories",
        json={"category": {"parent_id": 2, "name": "Mugs", "is_active": True}},
    )["id"]
    hub.connectors.add({**CONFIG, "categories": {"map": {"mugs": mugs}}}, CREDENTIALS)
    return hub


def magento(double: MagentoDouble, method: str, path: str, store: str = "all", **kw: Any) -> Any:
    async def go() -> Any:
        async with MagentoClient(
            "http://magento.test", DEFAULT_CREDENTIALS, transport=httpx.ASGITransport(app=double)
        ) as client:
            return (await client.request(method, path, store=store, **kw)).data

    return asyncio.run(go())


def put(double: MagentoDouble, sku: str, store: str = "all", **values: Any) -> dict[str, Any]:
    """A product saved in Magento; keyword values that are not top-level become custom
    attributes."""
    top = {"name", "price", "weight", "status", "visibility", "type_id", "attribute_set_id"}
    product: dict[str, Any] = {"sku": sku, "attribute_set_id": 4, "price": 10}
    product |= {k: v for k, v in values.items() if k in top or k == "extension_attributes"}
    custom = [
        {"attribute_code": k, "value": v}
        for k, v in values.items()
        if k not in top and k != "extension_attributes"
    ]
    if custom:
        product["custom_attributes"] = custom
    if store != "all":
        product = {"sku": sku, **{k: v for k, v in values.items() if k in top}}
    found: dict[str, Any] = magento(
        double, "PUT", f"/V1/products/{sku}", store, json={"product": product}
    )
    return found


def run(hub: Hub, **options: Any) -> PullReport:
    async def go() -> PullReport:
        pusher = hub.connectors.pusher("shop")
        try:
            return await pull(pusher, hub.catalog, **options)
        finally:
            await pusher.client.aclose()

    return asyncio.run(go())


def reconciled(hub: Hub) -> DriftReport:
    async def go() -> DriftReport:
        pusher = hub.connectors.pusher("shop")
        try:
            return await reconcile(pusher)
        finally:
            await pusher.client.aclose()

    return asyncio.run(go())


def seed(double: MagentoDouble) -> None:
    black = double.option_id("color", "Black")
    mugs = next(i for i, c in double.categories.items() if c["name"] == "Mugs")
    put(
        double,
        "MUG-1",
        name="Mug",
        price=12.5,
        weight=0.4,
        ean="4006381333931",
        color=str(black),
        description="A mug",
        extension_attributes={"category_links": [{"category_id": str(mugs), "position": 0}]},
    )
    put(double, "MUG-1", "de", name="Tasse")
    sizes = {"S": double.option_id("size", "S"), "M": double.option_id("size", "M")}
    children = [
        put(double, f"TEE-{s}", name=f"Tee {s}", price=20, color=str(black), size=str(i))["id"]
        for s, i in sizes.items()
    ]
    options = [
        {
            "attribute_id": str(double.attribute_id(code)),
            "label": code,
            "position": n,
            "values": [{"value_index": i} for i in ids],
        }
        for n, (code, ids) in enumerate((("color", [black]), ("size", list(sizes.values()))))
    ]
    put(
        double,
        "TEE",
        name="Tee",
        price=20,
        type_id="configurable",
        extension_attributes={
            "configurable_product_options": options,
            "configurable_product_links": children,
        },
    )


def test_pull_creates_products_with_their_values_and_families(
    shop: Hub, double: MagentoDouble
) -> None:
    seed(double)
    report = run(shop, page_size=2)
    assert (report.seen, report.created, report.skipped) == (4, 4, 0), report.warnings
    mug = shop.catalog.get_object("Product", "MUG-1", include_drafts=True)
    assert mug.values["name"] == {"en": "Mug", "de": "Tasse"}
    assert mug.values["description"] == {"en": "A mug"}
    assert mug.values["price"] == {"amount": 12.5, "currency": "EUR"}
    assert mug.values["weight"] == {"value": 0.4, "unit": "kg"}
    assert (mug.values["color"], mug.values["ean"]) == ("black", "4006381333931")
    [category] = mug.values["categories"]
    assert shop.catalog.get_object("Category", "mugs", include_drafts=True).uuid == category
    tee = shop.catalog.get_object("Product", "TEE", include_drafts=True)
    for size in ("S", "M"):
        child = shop.catalog.get_object("Product", f"TEE-{size}", include_drafts=True)
        assert child.parent == tee.uuid
        assert (child.values["size"], child.values["color"]) == (size, "black")
    item = shop.connectors.item("shop", "MUG-1")
    assert (item.created_by_hub, item.state) == (False, "synced")
    assert item.remote_id == double.product("MUG-1")["id"]  # type: ignore[index]
    assert report.checkpoint == "2026-01-05 09:00:00"
    # Nothing pulled is sent back: the push finds Magento holding what it would send.
    outcomes = push(shop, "MUG-1", "TEE", "TEE-S", "TEE-M")
    assert [(o.sku, o.ok, o.calls) for o in outcomes] == [
        ("MUG-1", True, 0),
        ("TEE", True, 0),
        ("TEE-S", True, 0),
        ("TEE-M", True, 0),
    ], [o.requests for o in outcomes]
    # And a reconcile finds the hub and the shop agreeing.
    assert reconciled(shop).items == []
    # A value the hub changes afterwards is sent, alone.
    shop.catalog.patch("Product", "MUG-1", {"ean": "4006381333948"}, author="t")
    [changed] = push(shop, "MUG-1")
    assert changed.ok and changed.calls == 1


def test_a_second_pull_writes_nothing(shop: Hub, double: MagentoDouble) -> None:
    seed(double)
    run(shop)
    versions = {
        sku: shop.catalog.get_object("Product", sku, include_drafts=True).version
        for sku in ("MUG-1", "TEE", "TEE-S", "TEE-M")
    }
    again = run(shop)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert versions == {
        sku: shop.catalog.get_object("Product", sku, include_drafts=True).version
        for sku in versions
    }


def test_only_products_changed_since_the_checkpoint_are_read(
    shop: Hub, double: MagentoDouble, clock: Clock
) -> None:
    seed(double)
    first = run(shop)
    assert first.checkpoint == "2026-01-05 09:00:00"
    clock.now += timedelta(hours=1)
    double.set_value("MUG-1", "name", "Big mug", touch=True)
    # The overlap reaches back before the checkpoint: everything is read, one is written.
    second = run(shop)
    assert (second.seen, second.updated, second.unchanged) == (4, 1, 3)
    assert second.checkpoint == "2026-01-05 10:00:00"
    mug = shop.catalog.get_object("Product", "MUG-1", include_drafts=True)
    assert mug.values["name"] == {"en": "Big mug", "de": "Tasse"}
    clock.now += timedelta(hours=1)
    double.set_value("TEE-S", "name", "Small tee", touch=True)
    # Now only what changed since 09:50: MUG-1 (unchanged) and TEE-S.
    third = run(shop)
    assert (third.seen, third.updated, third.unchanged) == (2, 1, 1)
    assert third.checkpoint == "2026-01-05 11:00:00"
    small = shop.catalog.get_object("Product", "TEE-S", include_drafts=True)
    assert small.values["name"]["en"] == "Small tee"
    assert small.parent is not None
    # A full pull reads everything again, and changes nothing.
    full = run(shop, full=True)
    assert (full.seen, full.unchanged) == (4, 4)


def test_a_stopped_pull_resumes_from_its_checkpoint(
    shop: Hub, double: MagentoDouble, clock: Clock, failing: FailingList
) -> None:
    for n in range(5):
        clock.now = START + timedelta(hours=n)
        put(double, f"P-{n}", name=f"Product {n}", price=n + 1)
    failing.nth = 2  # the second page
    with pytest.raises(MagentoError):
        run(shop, page_size=2)
    assert [s for s in ("P-0", "P-1", "P-2") if _exists(shop, s)] == ["P-0", "P-1"]
    resumed = run(shop, page_size=2)
    # From P-1's time less the overlap: P-1 again (unchanged), then the three not pulled yet.
    assert (resumed.seen, resumed.created, resumed.unchanged) == (4, 3, 1)
    assert all(_exists(shop, f"P-{n}") for n in range(5))
    assert resumed.checkpoint == "2026-01-05 13:00:00"


def test_an_option_the_hub_does_not_have_leaves_the_field_out(
    shop: Hub, double: MagentoDouble
) -> None:
    magento(
        double,
        "POST",
        "/V1/products/attributes/color/options",
        json={"option": {"label": "Turquoise", "value": "", "is_default": False}},
    )
    turquoise = double.option_id("color", "Turquoise")
    put(double, "ODD-1", name="Odd", color=str(turquoise), extension_attributes={})
    report = run(shop)
    assert report.created == 1
    assert "color" not in shop.catalog.get_object("Product", "ODD-1", include_drafts=True).values
    assert report.warning_count == 1 and "Turquoise" in report.warnings[0]
    assert report.to_dict()["warnings"] == report.warnings


def _exists(hub: Hub, sku: str) -> bool:
    return bool(hub.connectors.catalog.by_keys("Product", [sku]))


def test_dates_booleans_and_multiselects_come_back_as_the_hub_keeps_them(
    shop: Hub, double: MagentoDouble
) -> None:
    double.add_attribute("released_on", "date", scope="global")
    double.add_attribute("available_from", "datetime", scope="global")
    double.add_attribute("featured", "boolean", scope="global")
    attributes = {
        "name": "name",
        "price": "price",
        "releasedOn": "released_on",
        "availableFrom": "available_from",
        "featured": "featured",
        "material": "material",
    }
    shop.connectors.update("shop", {**CONFIG, "attributes": attributes})
    ids = []
    for label in ("Cotton", "WOOL"):
        magento(
            double,
            "POST",
            "/V1/products/attributes/material/options",
            json={"option": {"label": label, "value": "", "is_default": False}},
        )
        ids.append(str(double.option_id("material", label)))
    put(
        double,
        "SHIRT",
        name="Shirt",
        released_on="2026-03-01 00:00:00",
        available_from="2026-02-01 08:30:00",
        featured="1",
        material=",".join(reversed(ids)),
    )
    report = run(shop)
    assert report.created == 1 and report.warnings == []
    values = shop.catalog.get_object("Product", "SHIRT", include_drafts=True).values
    assert values["releasedOn"] == "2026-03-01"
    assert values["availableFrom"].startswith("2026-02-01T08:30:00")
    assert values["featured"] is True
    assert sorted(values["material"]) == ["cotton", "wool"]
    [outcome] = push(shop, "SHIRT")
    assert outcome.ok and outcome.calls == 0, outcome.requests
