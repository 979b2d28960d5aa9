"""The Magento connector end to end with real processes: `pimhub import` brings Magento's Luma
catalog into the hub, `pimhub connectors sync --full` sends it to the contract double (which
validates every request against Adobe's schema), and `pimhub serve` + `pimhub worker` keep the
double in sync as products change, through an outage, duplicate deliveries and a delete."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from pimhub.bootstrap import bootstrap
from pimhub.settings import Settings
from tests.connectors.magento.double import DEFAULT_CREDENTIALS, MagentoDouble
from tests.connectors.magento.server import DoubleServer
from tests.e2e.processes import PIMHUB, init, running, serving
from tests.transfer.test_magento_luma import luma_csv

pytestmark = pytest.mark.e2e


def pimhub(env: dict[str, str], workdir: Path, *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [*PIMHUB, *args], env=env, cwd=workdir, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"pimhub {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def until(
    condition: Callable[[], bool],
    what: str,
    seconds: float = 60,
    explain: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what} {explain()}")


def test_luma_reaches_magento_complete_and_stays_in_sync(tmp_path: Path) -> None:
    csv = luma_csv()
    double = MagentoDouble(bulk_delay=0.01)
    env = {
        **os.environ,
        "PIMHUB_DATA_DIR": str(tmp_path / "data"),
        "PIMHUB_WEBHOOKS_ALLOW_PRIVATE": "true",
        "PIMHUB_WEBHOOK_RETRY_SCHEDULE": "[0.5, 1, 1, 2, 2, 5]",
        "PIMHUB_MAGENTO_CONSUMER_KEY": DEFAULT_CREDENTIALS.consumer_key,
        "PIMHUB_MAGENTO_CONSUMER_SECRET": DEFAULT_CREDENTIALS.consumer_secret,
        "PIMHUB_MAGENTO_ACCESS_TOKEN": DEFAULT_CREDENTIALS.access_token,
        "PIMHUB_MAGENTO_ACCESS_TOKEN_SECRET": DEFAULT_CREDENTIALS.access_token_secret,
    }
    env.pop("PIMHUB_DATABASE_URL", None)
    key = init(env, tmp_path)
    pimhub(env, tmp_path, "import", str(csv), "--mapping", "magento-products")
    with DoubleServer(double) as server:
        config = {"name": "luma", "baseUrl": server.base_url, "currency": "USD"}
        (tmp_path / "luma.yaml").write_text(yaml.safe_dump(config))
        pimhub(env, tmp_path, "connectors", "add", "magento", "--config", "luma.yaml")
        pimhub(env, tmp_path, "connectors", "sync", "luma", "--full", "--poll-interval", "0.1")
        hub = bootstrap(Settings(data_dir=tmp_path / "data"))
        try:
            check_complete(hub, double)
        finally:
            hub.close()

        auth = {"Authorization": f"Bearer {key}"}
        with (
            serving(env, tmp_path) as base,
            running(["worker"], env, tmp_path, "worker"),
            httpx.Client(base_url=base, headers=auth, timeout=30) as http,
        ):
            parents = sorted(
                s for s in double.skus if _product(double, s)["type_id"] == "configurable"
            )
            changed = parents[:100]
            for sku in changed:
                answer = http.patch(
                    f"/api/v1/objects/Product/{sku}",
                    json={"fields": {"price": {"amount": 123.45, "currency": "USD"}}},
                )
                assert answer.status_code == 200, answer.text
            until(
                lambda: all(_product(double, s)["price"] == 123.45 for s in changed),
                "100 price changes",
                explain=lambda: (
                    str([(r.method, r.store, r.path, r.body) for r in double.requests[-3:]])
                    + str(_product(double, changed[0]).get("price"))
                ),
            )

            # Magento away for a while: the changes made meanwhile arrive when it is back.
            server.stop()
            for sku in parents[100:103]:
                answer = http.patch(
                    f"/api/v1/objects/Product/{sku}",
                    json={"fields": {"price": {"amount": 9.99, "currency": "USD"}}},
                )
                assert answer.status_code == 200, answer.text
            time.sleep(1.5)
            server.start()
            until(
                lambda: all(_product(double, s)["price"] == 9.99 for s in parents[100:103]),
                "changes made during the outage",
            )

            # Replayed (duplicate) deliveries write nothing.
            writes = {s: double.writes_for(s) for s in changed}
            replayed = http.post(
                "/api/v1/webhooks/replay",
                params={"endpoint": "connector-luma", "status": "delivered"},
            )
            assert replayed.status_code == 200, replayed.text
            assert replayed.json()["replayed"] >= 100
            until(lambda: _pending(http) == 0, "replayed deliveries")
            assert {s: double.writes_for(s) for s in changed} == writes

            # A product deleted in the hub is disabled in Magento.
            gone = parents[0]
            children = double.children(gone)
            deleted = http.delete(f"/api/v1/objects/Product/{gone}", params={"force": "true"})
            assert deleted.status_code in (200, 204), deleted.text
            until(lambda: _product(double, gone)["status"] == 2, "the delete")
            until(
                lambda: all(_product(double, c)["status"] == 2 for c in children),
                "its variants' deletes",
            )

        # Values Magento owns survive a forced full resync.
        double.set_value(parents[1], "tax_class_id", "9")
        resync = ("sync", "luma", "--full", "--force", "--poll-interval", "0.1")
        pimhub(env, tmp_path, "connectors", *resync)
        assert _custom(double.product(parents[1]), "tax_class_id") == "9"
    assert double.violations == []


def check_complete(hub: Any, double: MagentoDouble) -> None:
    """Every product with its price, stock, category links, options and configurable links."""
    products = {o.key: o for page in hub.connectors.catalog.pages("Product", 500) for o in page}
    assert len(products) == 1994
    assert sorted(double.skus) == sorted(products)
    by_uuid = {o.uuid: o for o in products.values()}
    families: dict[str, set[str]] = {}
    for child in products.values():
        if child.parent:
            families.setdefault(by_uuid[child.parent].key, set()).add(child.key)
    assert (len(families), sum(map(len, families.values()))) == (147, 1847)
    for sku, obj in products.items():
        product = double.product(sku)
        assert product is not None, sku
        assert product["price"] == pytest.approx(obj.values["price"]["amount"]), sku
        links = product.get("extension_attributes", {}).get("category_links", [])
        assert len(links) == len(set(obj.values.get("categories", []))), sku
        for axis in ("color", "size"):
            if obj.values.get(axis):
                option = double.option_id(axis, str(obj.values[axis]))
                assert option is not None, (sku, axis)
                assert _custom(product, axis) == str(option), (sku, axis)
        if "stock" in obj.values:
            assert double.stock(sku)["quantity"] == obj.values["stock"], sku  # type: ignore[index]
    for parent, children in families.items():
        assert set(double.children(parent)) == children, parent
        assert double.product(parent)["type_id"] == "configurable"  # type: ignore[index]
    status = hub.connectors.status("luma")
    assert status.counts == {"synced": 1994}


def _product(double: MagentoDouble, sku: str) -> dict[str, Any]:
    found = double.product(sku)
    assert found is not None, sku
    return found


def _pending(http: httpx.Client) -> int:
    listed = http.get(
        "/api/v1/webhooks/deliveries",
        params={"endpoint": "connector-luma", "status": "pending"},
    ).json()
    return len(listed["items"])


def _custom(product: Any, code: str) -> Any:
    return next(
        (a["value"] for a in product.get("custom_attributes", []) if a["attribute_code"] == code),
        None,
    )
