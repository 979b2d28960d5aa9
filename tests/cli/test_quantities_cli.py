"""An existing catalog upgrades in place: `pimhub classes apply` of the shipped model turns
the number weights of a hub made before issue 14 into quantities in kg."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.service import ListQuery
from pimhub.settings import Settings
from tests.cli.test_cli import init, invoke


def test_classes_apply_upgrades_number_weights_to_quantities(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    hub = bootstrap(Settings(database_url=db_url))
    # The Product of before: weight a number of kg.
    product = next(c for c in commerce_model() if c["name"] == "Product")
    product["fields"] = [
        {"name": "weight", "type": "number", "title": "Weight (kg)", "min": 0, "decimals": 3}
        if f["name"] == "weight"
        else f
        for f in product["fields"]
    ]
    hub.classes.apply([product], author="t")
    for sku, weight in (("A", 1.25), ("B", 0.5), ("C", None)):
        values = {"sku": sku, "name": {"en": sku}, **({"weight": weight} if weight else {})}
        hub.catalog.create("Product", values, author="t")

    model = resources.files("pimhub.catalog").joinpath("commerce_model.yaml")
    code, out, err = invoke(runner, "classes", "apply", str(model))
    assert code == 0, err
    assert "Product" in out and "updated" in out

    page = hub.catalog.list_objects("Product", ListQuery(sort=["-weight"]))
    assert [(o.key, o.values.get("weight"), o.version) for o in page.items] == [
        ("A", {"value": 1.25, "unit": "kg"}, 1),
        ("B", {"value": 0.5, "unit": "kg"}, 1),
        ("C", None, 1),
    ]
    code, _, _ = invoke(runner, "classes", "apply", str(model))  # again: nothing to change
    assert code == 0
