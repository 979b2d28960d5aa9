"""`pimhub connectors sync|ledger|poll|dry-run|push|reconcile|pull` against the contract double
served over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke
from tests.connectors.magento.double import DEFAULT_CREDENTIALS, MagentoDouble
from tests.connectors.magento.server import DoubleServer


@pytest.fixture
def served() -> Iterator[tuple[MagentoDouble, DoubleServer]]:
    double = MagentoDouble(bulk_delay=0.01)
    with DoubleServer(double) as server:
        yield double, server
    assert double.violations == []


@pytest.fixture
def shop(
    runner: CliRunner,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    served: tuple[MagentoDouble, DoubleServer],
) -> MagentoDouble:
    monkeypatch.setenv("PIMHUB_SECRET_KEY", "cli-test")
    monkeypatch.setenv("PIMHUB_WEBHOOKS_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("PIMHUB_MAGENTO_CONSUMER_KEY", DEFAULT_CREDENTIALS.consumer_key)
    monkeypatch.setenv("PIMHUB_MAGENTO_CONSUMER_SECRET", DEFAULT_CREDENTIALS.consumer_secret)
    monkeypatch.setenv("PIMHUB_MAGENTO_ACCESS_TOKEN", DEFAULT_CREDENTIALS.access_token)
    monkeypatch.setenv(
        "PIMHUB_MAGENTO_ACCESS_TOKEN_SECRET", DEFAULT_CREDENTIALS.access_token_secret
    )
    double, server = served
    init(runner)
    config = tmp_path / "shop.yaml"
    config.write_text(yaml.safe_dump({"name": "shop", "baseUrl": server.base_url}))
    code, _, err = invoke(runner, "connectors", "add", "magento", "--config", str(config))
    assert code == 0, err
    hub = bootstrap(Settings(database_url=db_url, secret_key="cli-test"))
    try:
        for i in range(3):
            hub.catalog.create(
                "Product",
                {
                    "sku": f"CLI-{i}",
                    "name": {"en": f"Shirt {i}"},
                    "price": {"amount": 10 + i, "currency": "EUR"},
                    "stock": i,
                },
                author="t",
            )
    finally:
        hub.close()
    return double


def test_full_sync_then_ledger_poll_and_nothing_twice(
    runner: CliRunner, shop: MagentoDouble
) -> None:
    code, out, err = invoke(runner, "connectors", "sync", "shop")
    assert code != 0 and "--full" in err
    code, out, err = invoke(
        runner, "connectors", "sync", "shop", "--full", "--poll-interval", "0.05", "--json"
    )
    assert code == 0, out + err
    report = orjson.loads(out)
    assert (report["considered"], report["submitted"], report["failed"]) == (3, 3, 0)
    assert sorted(shop.skus) == ["CLI-0", "CLI-1", "CLI-2"]
    code, out, _ = invoke(runner, "connectors", "ledger", "shop")
    assert code == 0 and "complete 3" in out and "CLI-1" in out
    code, out, _ = invoke(runner, "connectors", "poll", "shop")
    assert code == 0 and "0 operations still open" in out
    code, out, _ = invoke(runner, "connectors", "sync", "shop", "--full", "--json")
    assert code == 0 and orjson.loads(out)["submitted"] == 0


def test_dry_run_push_reconcile_and_fix(runner: CliRunner, shop: MagentoDouble) -> None:
    code, out, err = invoke(runner, "connectors", "dry-run", "shop", "CLI-1")
    assert code == 0, err
    assert "PUT [all] /V1/products/CLI-1" in out and '"price": 11' in out
    assert shop.product("CLI-1") is None
    code, out, err = invoke(runner, "connectors", "push", "shop", "CLI-0", "CLI-1", "CLI-2")
    assert code == 0, out + err
    assert "CLI-1: ok" in out
    code, out, _ = invoke(runner, "connectors", "reconcile", "shop")
    assert code == 0, out
    shop.set_value("CLI-2", "price", 99)
    code, out, _ = invoke(runner, "connectors", "reconcile", "shop")
    assert code == 1 and "CLI-2" in out and "different" in out and "price" in out
    code, out, _ = invoke(runner, "connectors", "reconcile", "shop", "--fix")
    assert code == 0, out
    assert shop.product("CLI-2")["price"] == 12  # type: ignore[index]


def test_pull_reads_magentos_changes_into_the_hub(
    runner: CliRunner, shop: MagentoDouble, db_url: str
) -> None:
    invoke(runner, "connectors", "push", "shop", "CLI-0")
    shop.set_value("CLI-0", "name", "Renamed in Magento")
    code, out, err = invoke(runner, "connectors", "pull", "shop", "--json")
    assert code == 0, out + err
    assert orjson.loads(out)["updated"] >= 1
    hub = bootstrap(Settings(database_url=db_url, secret_key="cli-test"))
    try:
        found = hub.catalog.get_object("Product", "CLI-0", include_drafts=True)
    finally:
        hub.close()
    assert found.values["name"]["en"] == "Renamed in Magento"
