"""Export on both databases: CSV, JSON Lines and XML, filters and fields, relations as keys,
and an export that imports back without changing anything."""

from __future__ import annotations

import csv
import io
from typing import Any
from xml.etree import ElementTree

import orjson
import pytest
import yaml

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import InvalidQuery
from pimhub.transfer.exporter import ExportFormat, ExportOptions, export
from pimhub.transfer.importer import ImportOptions, run_import
from pimhub.transfer.mapping import parse_mapping, shipped_mapping
from pimhub.transfer.sources import Format, from_text

LANGUAGES = ["en", "de", "fr"]


def exported(hub: Hub, **options: Any) -> str:
    out = io.StringIO()
    definition = hub.classes.get("Product")
    export(
        hub.catalog, hub.graph_reads, definition, ExportOptions(**options), out, languages=LANGUAGES
    )
    return out.getvalue()


@pytest.fixture
def shop(sample: Hub) -> Hub:
    for i in range(3):
        sample.catalog.create(
            "Product",
            {
                "sku": f"E-{i}",
                "name": {"en": f"Export {i}", "de": f"Ausfuhr {i}"},
                "price": {"amount": 10 + i, "currency": "EUR"},
                "brand": "acme",
                "material": ["cotton", "wool"],
                "featured": i == 1,
            },
            author="t",
        )
    return sample


def test_csv_with_filter_fields_and_language(shop: Hub) -> None:
    text = exported(
        shop,
        filter='{"price.amount": {"$gte": 11}}',
        fields=("sku", "name", "price", "brand", "material", "featured"),
        language="de",
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["sku"] for r in rows] == ["TS-1", "E-1", "E-2"]  # in creation order
    assert rows[0] == {
        "sku": "TS-1",
        "name": "T-Shirt",
        "price.amount": "19.99",
        "price.currency": "EUR",
        "brand": "acme",
        "material": "",
        "featured": "",
    }
    assert rows[1] == {
        "sku": "E-1",
        "name": "Ausfuhr 1",
        "price.amount": "11",
        "price.currency": "EUR",
        "brand": "acme",
        "material": "cotton|wool",
        "featured": "1",
    }
    assert rows[2]["featured"] == "0"


def test_jsonl_and_xml_and_drafts(shop: Hub) -> None:
    lines = [orjson.loads(line) for line in exported(shop, format=ExportFormat.JSONL).splitlines()]
    assert [line["key"] for line in lines] == ["TS-1", "E-0", "E-1", "E-2"]
    assert lines[1]["fields"]["brand"] == "acme" and lines[1]["fields"]["name"]["de"] == "Ausfuhr 0"
    with_drafts = exported(shop, format=ExportFormat.JSONL, drafts=True)
    assert len(with_drafts.splitlines()) == 5
    root = ElementTree.fromstring(exported(shop, format=ExportFormat.XML, fields=("sku", "name")))
    assert [p.findtext("sku") for p in root] == ["TS-1", "E-0", "E-1", "E-2"]
    assert root[1].findtext("name.de") == "Ausfuhr 0"


def test_unknown_fields_are_named(shop: Hub) -> None:
    with pytest.raises(InvalidQuery, match="no field"):
        exported(shop, fields=("sku", "colour"))


def test_an_export_imports_back_unchanged(shop: Hub) -> None:
    text = exported(shop, fields=("sku", "name", "price", "brand", "material", "featured"))
    mapping = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": "sku",
                **{f"name.{lang}": f"name.{lang}" for lang in LANGUAGES},
                "price.amount": {"column": "price.amount", "number": True},
                "price.currency": "price.currency",
                "brand": "brand",
                "material": {"column": "material", "split": "|"},
                "featured": {"column": "featured", "boolean": True},
            },
        }
    )

    def writer() -> Any:
        return shop.catalog.batch_writer("Product", author="t")

    summary = run_import(writer, from_text(text, Format.CSV), mapping, ImportOptions())
    assert (summary.unchanged, summary.created, summary.updated, summary.failed) == (4, 0, 0, 0)


MAGENTO_CSV = (
    "sku,name,description,price,qty,weight,categories,additional_attributes,base_image\n"
    'MH01-XS,Chaz Hoodie,"<p>Warm.\n\nSoft.</p>",52,100,1,'
    '"Default Category/Men/Tops/Hoodies & Sweatshirts,Default Category/Collections/Eco",'
    '"has_options=0,size=XS,color=Gray",/m/h/mh01.jpg\n'
    'MP01-32,Caesar Pant,,48.5,0,2.5,Default Category/Men/Bottoms,"size=32,color=Lavender",\n'
)


def test_magento_csv_reads_back_through_the_shipped_mapping_unchanged(hub: Hub) -> None:
    text = shipped_mapping("magento-products")
    assert text is not None
    mapping = parse_mapping(yaml.safe_load(text))

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="t")

    first = run_import(writer, from_text(MAGENTO_CSV, Format.CSV), mapping, ImportOptions())
    assert (first.created, first.failed) == (2, 0), first.errors
    out = io.StringIO()
    definition = hub.classes.get("Product")
    export(
        hub.catalog,
        hub.graph_reads,
        definition,
        ExportOptions(format=ExportFormat.MAGENTO),
        out,
        languages=LANGUAGES,
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["categories"] == (
        "Default Category/Men/Tops/Hoodies & Sweatshirts,Default Category/Collections/Eco"
    )
    assert rows[0]["additional_attributes"] == "color=Gray,size=XS"
    assert (rows[1]["price"], rows[1]["qty"], rows[1]["is_in_stock"]) == ("48.5", "0", "0")
    again = run_import(writer, from_text(out.getvalue(), Format.CSV), mapping, ImportOptions())
    assert (again.unchanged, again.failed) == (2, 0), again.errors
