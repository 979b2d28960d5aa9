"""Several workers pushing to one Magento at once (PostgreSQL runs several workers; SQLite
serializes their database writes but not their Magento calls): a new category or option is
created once, every SKU ends in the hub's final state, and no delivery answers an error."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pimhub.bootstrap import Hub, build_dispatcher
from pimhub.catalog.errors import CatalogError

from .double import MagentoDouble
from .server import DoubleServer
from .test_push import CREDENTIALS, custom

WORKERS = 4
PRODUCTS = 20


@pytest.fixture
def served() -> Any:
    double = MagentoDouble()
    with DoubleServer(double) as server:
        yield double, server
    assert double.violations == []


@pytest.fixture
def shop(hub: Hub, served: tuple[MagentoDouble, DoubleServer]) -> Hub:
    _, server = served
    hub.connectors.add({"name": "shop", "baseUrl": server.base_url}, CREDENTIALS)
    hub.catalog.create("Category", {"code": "new-in", "name": {"en": "New in"}}, author="t")
    return hub


def test_workers_pushing_at_once_create_a_category_and_an_option_once(
    shop: Hub, served: tuple[MagentoDouble, DoubleServer]
) -> None:
    double, _ = served
    skus = [f"PAR-{i:02d}" for i in range(PRODUCTS)]
    for sku in skus:
        shop.catalog.create(
            "Product",
            {
                "sku": sku,
                "name": {"en": sku},
                "price": {"amount": 5, "currency": "EUR"},
                "category": "new-in",
                "color": "lavender",
            },
            author="t",
        )
    start = threading.Barrier(WORKERS)

    def worker(part: list[str]) -> list[Any]:
        start.wait()
        return asyncio.run(shop.connectors.push_skus("shop", part))

    parts = [skus[i::WORKERS] for i in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = [o for done in pool.map(worker, parts) for o in done]
    assert [o.error for o in outcomes if not o.ok] == []
    named = [c for c in double.categories.values() if c["name"] == "New in"]
    assert len(named) == 1
    option = double.option_id("color", "lavender")
    for sku in skus:
        product = double.product(sku)
        assert product is not None
        links = product["extension_attributes"]["category_links"]
        assert [link["category_id"] for link in links] == [str(named[0]["id"])]
        assert custom(product, "color") == str(option)


def test_two_workers_and_twenty_writers_end_in_the_hubs_final_state(
    shop: Hub, served: tuple[MagentoDouble, DoubleServer]
) -> None:
    double, _ = served
    skus = [f"RACE-{i:02d}" for i in range(PRODUCTS)]
    for sku in skus:
        shop.catalog.create(
            "Product",
            {"sku": sku, "name": {"en": sku}, "price": {"amount": 1, "currency": "EUR"}},
            author="t",
        )
    stop = threading.Event()
    errors: list[str] = []

    def work() -> None:
        dispatcher = build_dispatcher(shop)

        async def run() -> None:
            while not stop.is_set():
                if not await dispatcher.run_once():
                    await asyncio.sleep(0.02)
            while await dispatcher.run_once():
                pass

        try:
            asyncio.run(run())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    def write(i: int) -> None:
        sku = skus[i % PRODUCTS]
        for price in range(2, 6):
            shop.catalog.patch(
                "Product", sku, {"price": {"amount": price + i, "currency": "EUR"}}, author="t"
            )

    workers = [threading.Thread(target=work) for _ in range(2)]
    for thread in workers:
        thread.start()
    with ThreadPoolExecutor(20) as pool:
        list(pool.map(write, range(20)))
    final = {
        sku: shop.catalog.get_object("Product", sku, include_drafts=True).values["price"]["amount"]
        for sku in skus
    }
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        (double.product(s) or {}).get("price") != final[s] for s in skus
    ):
        time.sleep(0.1)
    stop.set()
    for thread in workers:
        thread.join(30)
    assert errors == []
    assert {s: (double.product(s) or {}).get("price") for s in skus} == final
    stats = {s.endpoint_id: s for s in shop.webhooks.stats()}["connector-shop"]
    assert stats.counts.get("dead", 0) == 0
    assert stats.failed_attempts == 0


def test_twenty_parallel_adds_of_one_name_make_one_connector(hub: Hub) -> None:
    """Twenty operators saving the same connector at once: one is saved, the others are told
    it exists (a lost race runs again: never a 500, a write conflict or two rows)."""
    start = threading.Barrier(20)
    config = {"name": "race", "baseUrl": "http://127.0.0.1:9"}

    def add(_: int) -> str:
        start.wait()
        try:
            hub.connectors.add(config, CREDENTIALS)
        except CatalogError as exc:
            return exc.code
        return "added"

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(add, range(20)))
    assert outcomes.count("added") == 1
    assert set(outcomes) - {"added"} == {"connector-exists"}
    assert [c.name for c in hub.connectors.all()] == ["race"]
