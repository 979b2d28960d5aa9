"""`pimhub completeness`: counts per completeness band and the least complete objects."""

from __future__ import annotations

from typer.testing import CliRunner

from pimhub.bootstrap import bootstrap
from pimhub.settings import Settings
from tests.assets.images import add_images
from tests.cli.test_cli import init, invoke, one_line_error


def test_counts_per_band_and_least_complete(runner: CliRunner, db_url: str) -> None:
    init(runner)
    hub = bootstrap(Settings(database_url=db_url))
    add_images(hub, "/lamp.png", "/b.png")
    full = {
        "name": {"en": "Lamp", "de": "Lampe"},
        "description": {"en": "Bright"},
        "price": {"amount": 20, "currency": "EUR"},
        "image": "lamp.png",
    }
    hub.catalog.create("Product", {"sku": "FULL", **full}, author="t")
    hub.catalog.create(
        "Product", {"sku": "HALF", "name": {"en": "Box"}, "image": "b.png"}, author="t"
    )
    hub.catalog.create(
        "Product", {"sku": "DRAFT", "name": {"en": "X"}}, published=False, author="t"
    )

    code, out, err = invoke(runner, "completeness", "Product", "--language", "en", "--show", "2")
    assert code == 0, err
    (row,) = [line for line in out.splitlines() if line.startswith("│ ecommerce")]
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells == ["ecommerce", "en", "1", "0", "1", "1", "0"]  # 100, 75-99, 50, 25, 0-24
    assert "DRAFT: 25% (missing: description, price, image)" in out
    assert "HALF: 50% (missing: description, price)" in out
    assert "FULL" not in out.split("least complete")[1]

    code, out, _ = invoke(runner, "completeness", "Product", "--channel", "ecommerce")
    assert code == 0 and " de " in out.replace("│", " ")
    code, _, err = invoke(runner, "completeness", "Product", "--channel", "print")
    assert "no channel 'print' (channels: ecommerce)" in one_line_error(code, err)
    code, _, err = invoke(runner, "completeness", "Brand")
    assert "declares no completeness channels" in one_line_error(code, err)
