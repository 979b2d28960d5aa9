"""Exports of families of variants, on both databases: Magento's CSV writes variants as simple
products and their parent as a configurable product listing them, the generic formats name a
variant's parent; each export imports back unchanged into the same hub and into an empty
one, where it rebuilds the same families."""

from __future__ import annotations

import csv
import io
from typing import Any
from xml.etree import ElementTree

import orjson
import yaml

from pimhub.bootstrap import Hub
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.service import ListQuery
from pimhub.catalog.variants import FamilyRole
from pimhub.transfer.exporter import ExportFormat, ExportOptions, export
from pimhub.transfer.importer import ImportOptions, ImportSummary, run_import
from pimhub.transfer.mapping import ImportMapping, parse_mapping, shipped_mapping
from pimhub.transfer.sources import Format, from_text
from tests.conftest import empty_database

LANGUAGES = ["en"]
HEADER = (
    "sku,product_type,name,description,price,qty,additional_attributes,configurable_variations\n"
)
LUMA_LIKE = (
    HEADER + 'MH01-S-Red,simple,Hoodie S red,,52,10,"size=S,color=Red",\n'
    'MH01-M-Gray,simple,Hoodie M gray,<p>Own.</p>,54,0,"size=M,color=Gray",\n'
    'MB01,simple,Bag,<p>A bag.</p>,30,5,"color=Black",\n'
    "MH01,configurable,Hoodie,<p>Warm.</p>,52,0,,"
    '"sku=MH01-S-Red,size=S,color=Red|sku=MH01-M-Gray,size=M,color=Gray"\n'
)


def magento_mapping() -> ImportMapping:
    text = shipped_mapping("magento-products")
    assert text is not None
    return parse_mapping(yaml.safe_load(text))


def load(hub: Hub, text: str, mapping: ImportMapping) -> ImportSummary:
    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="t")

    summary = run_import(writer, from_text(text, Format.CSV), mapping, ImportOptions())
    assert summary.failed == 0, summary.errors
    return summary


def exported(hub: Hub, fmt: ExportFormat, **options: Any) -> str:
    out = io.StringIO()
    export(
        hub.catalog,
        hub.graph_reads,
        hub.classes.get("Product"),
        ExportOptions(format=fmt, **options),
        out,
        languages=LANGUAGES,
    )
    return out.getvalue()


def families(hub: Hub) -> dict[str, dict[str, Any]]:
    """Each parent's variants with their effective values."""
    out: dict[str, dict[str, Any]] = {}
    parents = hub.catalog.list_objects("Product", ListQuery(family=FamilyRole.PARENTS, first=100))
    for parent in parents.items:
        page = hub.catalog.list_objects("Product", ListQuery(parent=parent.key, first=100))
        out[parent.key] = {o.key: o.values for o in page.items}
    return out


def emptied(hub: Hub) -> Hub:
    empty_database(hub.engine)
    hub.classes.apply(commerce_model(), author="t")
    return hub


def test_magento_csv_writes_configurable_products_after_their_variants(hub: Hub) -> None:
    mapping = magento_mapping()
    assert load(hub, LUMA_LIKE, mapping).parents == 1
    before = families(hub)
    assert before["MH01"]["MH01-S-Red"]["description"] == {"en": "<p>Warm.</p>"}  # inherited
    text = exported(hub, ExportFormat.MAGENTO)
    rows = list(csv.DictReader(io.StringIO(text)))
    shape = [
        (r["sku"], r["product_type"], r["visibility"], r["configurable_variations"]) for r in rows
    ]
    assert shape == [
        ("MB01", "simple", "Catalog, Search", ""),
        ("MH01-S-Red", "simple", "Not Visible Individually", ""),
        ("MH01-M-Gray", "simple", "Not Visible Individually", ""),
        (
            "MH01",
            "configurable",
            "Catalog, Search",
            "sku=MH01-S-Red,color=Red,size=S|sku=MH01-M-Gray,color=Gray,size=M",
        ),
    ]
    assert rows[1]["description"] == "<p>Warm.</p>"  # a variant's effective values
    again = load(hub, text, mapping)
    assert (again.unchanged, again.parents, again.variants) == (4, 1, 2)
    fresh = load(emptied(hub), text, mapping)
    assert (fresh.created, fresh.parents, fresh.variants) == (4, 1, 2)
    assert families(hub) == before
    assert exported(hub, ExportFormat.MAGENTO) == text


def test_generic_exports_name_the_parent_and_list_parents_first(hub: Hub) -> None:
    load(hub, LUMA_LIKE, magento_mapping())
    before = families(hub)
    text = exported(hub, ExportFormat.CSV, fields=("sku", "name", "color", "size", "parent"))
    assert text.splitlines() == [
        "sku,name.en,color,size,parent",
        "MH01,Hoodie,,,",
        "MB01,Bag,black,,",
        "MH01-S-Red,Hoodie S red,red,S,MH01",
        "MH01-M-Gray,Hoodie M gray,grey,M,MH01",
    ]
    lines = [orjson.loads(line) for line in exported(hub, ExportFormat.JSONL).splitlines()]
    assert [(line["key"], line["parent"]) for line in lines][2:] == [
        ("MH01-S-Red", "MH01"),
        ("MH01-M-Gray", "MH01"),
    ]
    root = ElementTree.fromstring(exported(hub, ExportFormat.XML, fields=("sku", "parent")))
    assert [p.get("parent") for p in root] == [None, None, "MH01", "MH01"]
    everything = exported(hub, ExportFormat.CSV)
    mapping = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": "sku",
                "name.en": "name.en",
                "description.en": "description.en",
                "price.amount": {"column": "price.amount", "number": True},
                "price.currency": "price.currency",
                "stock": {"column": "stock", "number": True},
                "color": "color",
                "size": "size",
                "@parent": "parent",
            },
        }
    )
    assert load(hub, everything, mapping).unchanged == 4
    fresh = load(emptied(hub), everything, mapping)
    assert (fresh.created, fresh.parents, fresh.variants) == (4, 1, 2)
    assert families(hub) == before
