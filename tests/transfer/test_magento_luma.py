"""The shipped magento-products mapping imports Magento's Luma sample catalog (1,994 rows with
embedded newlines, category paths, additional_attributes): every SKU arrives with its price,
its category links and its attributes, each configurable product as the parent of the simple
products its configurable_variations lists, and a second import changes nothing.

The dataset lives outside the repository (../shared/datasets); without it the test skips and
says where it looked. CI sets PIMHUB_TEST_LUMA_CSV."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from pimhub.bootstrap import Hub
from pimhub.storage.repositories import row_to_object
from pimhub.storage.tables import objects
from pimhub.transfer.category_paths import path_code
from pimhub.transfer.exporter import ExportFormat, ExportOptions, export
from pimhub.transfer.importer import ImportOptions, run_import
from pimhub.transfer.mapping import parse_mapping, shipped_mapping
from pimhub.transfer.sources import Format, from_text, read

RELATIVE = "datasets/magento2-sample-data/ConfigurableSampleData/fixtures/products.csv"
DEFAULT = Path(__file__).resolve().parents[3] / "shared" / RELATIVE


def luma_csv() -> Path:
    path = Path(os.environ.get("PIMHUB_TEST_LUMA_CSV") or DEFAULT)
    if not path.exists():
        pytest.skip(f"Magento's Luma sample CSV is not at {path} (set PIMHUB_TEST_LUMA_CSV)")
    return path


def label(color: str | None) -> str | None:
    """A colour as the mapping stores it (lowercase, gray as grey)."""
    return color.lower().replace("gray", "grey") if color else color


def expected(path: Path) -> dict[str, dict[str, Any]]:
    """What each SKU should become, read from the file with the csv module alone; a
    configurable product's `variants` are its variations' sku -> (color, size)."""
    out: dict[str, dict[str, Any]] = {}
    with path.open(newline="", encoding="utf-8-sig") as source:
        for row in csv.DictReader(source):
            attributes = dict(
                pair.split("=", 1)
                for pair in row["additional_attributes"].split(",")
                if "=" in pair
            )
            paths = [p.split("/")[1:] for p in row["categories"].split(",")]
            codes = [path_code(p) for p in paths if p]
            out[row["sku"]] = {
                "price": float(row["price"]),
                "codes": codes,
                "color": attributes.get("color"),
                "size": attributes.get("size"),
                "name": row["name"].strip(),  # the mapping trims cells
                "variants": {
                    v["sku"]: (label(v.get("color")), v.get("size"))
                    for v in (
                        dict(pair.split("=", 1) for pair in variation.split(","))
                        for variation in row["configurable_variations"].split("|")
                        if variation
                    )
                },
            }
    return out


def test_the_luma_catalog_arrives_complete(hub: Hub) -> None:
    path = luma_csv()
    text = shipped_mapping("magento-products")
    assert text is not None
    mapping = parse_mapping(yaml.safe_load(text))

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="luma")

    summary = run_import(writer, read(path), mapping, ImportOptions(language="en"))
    assert (summary.rows, summary.created, summary.failed) == (1994, 1994, 0), summary.errors[:3]
    assert (summary.parents, summary.variants) == (147, 1847)
    want = expected(path)
    with hub.engine.connect() as conn:
        rows = conn.execute(select(objects)).all()
    stored = [row_to_object(r) for r in rows]
    categories = {o.uuid: o.key for o in stored if o.class_name == "Category"}
    products = {o.key: o for o in stored if o.class_name == "Product"}
    assert set(products) == set(want)
    for sku, item in want.items():
        values = products[sku].values
        assert values["price"]["amount"] == pytest.approx(item["price"]), sku
        assert values["name"]["en"] == item["name"], sku
        assert [categories[u] for u in values.get("categories", [])] == item["codes"], sku
        assert categories.get(values.get("category", "")) == next(iter(item["codes"]), None), sku
        if item["color"]:
            assert values["color"] == label(item["color"]), sku
        if item["size"]:
            assert values["size"] == item["size"], sku
    assert "men-tops-hoodies-sweatshirts" in categories.values()
    by_uuid = {o.uuid: o for o in products.values()}
    children: dict[str, set[str]] = {}
    for child in products.values():
        if child.parent is not None:
            children.setdefault(by_uuid[child.parent].key, set()).add(child.key)
    parents = {sku: item["variants"] for sku, item in want.items() if item["variants"]}
    assert (len(parents), sum(map(len, children.values()))) == (147, 1847)
    assert set(children) == set(parents)
    for sku, variants in parents.items():
        assert children[sku] == set(variants), sku
        assert products[sku].parent is None, sku
        for child_sku, axes in variants.items():
            child = products[child_sku]
            assert (child.values.get("color"), child.values.get("size")) == axes, child_sku
    again = run_import(writer, read(path), mapping, ImportOptions(language="en"))
    assert (again.unchanged, again.failed) == (1994, 0)
    assert (again.parents, again.variants) == (147, 1847)
    # Magento's form written back out reads back as the same catalog, families included.
    out = io.StringIO()
    options = ExportOptions(format=ExportFormat.MAGENTO)
    export(hub.catalog, hub.graph_reads, hub.classes.get("Product"), options, out, languages=["en"])
    back = run_import(writer, from_text(out.getvalue(), Format.CSV), mapping, ImportOptions())
    assert (back.rows, back.unchanged, back.failed) == (1994, 1994, 0), back.errors[:3]
    assert (back.parents, back.variants) == (147, 1847)
