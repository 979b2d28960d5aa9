"""Mapping proposals (`--infer`) for pimhub's own export and other PIMs' conventions, and the
rows they import, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from pimhub.bootstrap import Hub
from pimhub.catalog.classes import ClassDefinition, parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.service import ListQuery
from pimhub.transfer.importer import ImportOptions, ImportSummary, run_import
from pimhub.transfer.inference import Unmapped, propose_mapping
from pimhub.transfer.mapping import InvalidMapping, parse_mapping
from pimhub.transfer.sources import Format, from_text
from pimhub.transfer.steps import STEPS

LANGUAGES = ["en", "de", "fr"]
PRICE_LIST = {"name": "price", "type": "money", "priceList": True, "currencies": ["EUR", "USD"],
              "min": 0, "decimals": 2}  # fmt: skip


def product(price_list: bool = False) -> ClassDefinition:
    raw = next(c for c in commerce_model() if c["name"] == "Product")
    if price_list:
        raw = {**raw, "fields": [PRICE_LIST if f["name"] == "price" else f for f in raw["fields"]]}
    return parse_class_definition(raw)


def propose(
    header: list[str],
    rows: list[list[str]] | None = None,
    definition: ClassDefinition | None = None,
) -> tuple[dict[str, Any], list[Unmapped]]:
    samples = [dict(zip(header, row, strict=True)) for row in rows or [[""] * len(header)]]
    proposal, unmapped = propose_mapping(
        definition or product(), samples[0], "en", LANGUAGES, samples
    )
    return proposal["fields"], unmapped


def test_pimhub_export_columns_map_to_their_parts_and_lists_split_on_the_bar() -> None:
    header = ["sku", "name.en", "name.de", "price.amount", "price.currency", "weight.value",
              "weight.unit", "material", "categories", "parent"]  # fmt: skip
    fields, unmapped = propose(
        header, [["A", "Tee", "T", "1.5", "EUR", "500", "g", "cotton|wool", "a,b|c", ""]]
    )
    assert fields == {
        "sku": "sku",
        "name.en": "name.en",
        "name.de": "name.de",
        "price.amount": {"column": "price.amount", "number": True},
        "price.currency": "price.currency",
        "weight.value": {"column": "weight.value", "number": True},
        "weight.unit": {"column": "weight.unit", "unit": "mass"},
        "material": {"column": "material", "split": "|"},
        "categories": {"column": "categories", "split": "|"},
        "@parent": "parent",
    }
    assert unmapped == []


def test_list_separator_follows_the_cells_then_the_kind_of_file() -> None:
    fields, _ = propose(["sku", "material"], [["A", "cotton,wool"]])
    assert fields["material"] == {"column": "material", "split": ","}
    fields, _ = propose(["sku", "name.en", "material"], [["A", "Tee", "cotton"]])
    assert fields["material"]["split"] == "|"  # a pimhub export joins with |
    fields, _ = propose(["sku", "material"], [["A", "cotton"]])
    assert fields["material"]["split"] == ","


def test_akeneo_locales_channels_and_titles() -> None:
    header = ["sku", "name-en_US", "name-de_DE", "name-ja_JP", "description-en_US-ecommerce",
              "description-en_US-print", "Short description (fr)", "label-fr_FR",
              "family"]  # fmt: skip
    fields, unmapped = propose(header)
    assert fields == {
        "sku": "sku",
        "name.en": "name-en_US",
        "name.de": "name-de_DE",
        "description.en": "description-en_US-ecommerce",
        "shortDescription.fr": "Short description (fr)",
        "name.fr": "label-fr_FR",  # Akeneo's label is the commerce model's name
    }
    reasons = dict(unmapped)
    assert set(reasons) == {"name-ja_JP", "description-en_US-print", "family"}
    assert "'ja' is not one of this hub's languages (en, de, fr)" in reasons["name-ja_JP"]
    assert (
        "already reads the column 'description-en_US-ecommerce'"
        in reasons["description-en_US-print"]
    )
    assert reasons["family"] == "Product has no field named or titled so"


def test_price_columns_per_currency() -> None:
    header = ["sku", "price-EUR", "price-USD", "price-GBP", "priceUSD"]
    fields, unmapped = propose(header, definition=product(price_list=True))
    assert fields == {
        "sku": "sku",
        "price.EUR": {"column": "price-EUR", "number": True},
        "price.USD": {"column": "price-USD", "number": True},
    }
    reasons = dict(unmapped)
    assert reasons["price-GBP"] == "price takes EUR, USD, not GBP"
    assert "already reads the column 'price-USD'" in reasons["priceUSD"]
    # One price: the first currency column is its amount, the others are explained.
    fields, unmapped = propose(["sku", "price-EUR", "price-USD"])
    assert fields["price.amount"] == {"column": "price-EUR", "number": True}
    assert fields["price.currency"] == {"value": "EUR"}
    assert "make it a price list" in dict(unmapped)["price-USD"]


def test_a_unit_column_makes_its_quantity_a_number() -> None:
    fields, unmapped = propose(["sku", "weight", "weight-unit"])
    assert fields["weight.value"] == {"column": "weight", "number": True}
    assert fields["weight.unit"] == {"column": "weight-unit", "unit": "mass"}
    assert "weight" not in fields and unmapped == []
    fields, _ = propose(["sku", "weight"])
    assert fields["weight"] == "weight"  # "500 GRAM" reads as it is


def test_magento_files_are_pointed_at_the_shipped_mapping() -> None:
    _, unmapped = propose(["sku", "product_type", "attribute_set_code", "name"])
    assert unmapped[0] == ("(file)", "this is Magento's product import CSV: -m magento-products")


def test_the_unit_step_checks_its_family() -> None:
    assert "unit" in dict(STEPS)
    with pytest.raises(InvalidMapping) as caught:
        parse_mapping({"class": "P", "fields": {"weight.unit": {"column": "u", "unit": "mas"}}})
    [error] = caught.value.errors
    assert error.field == "fields.weight.unit.unit"
    assert error.message.startswith("a family of units: mass, length")


def _import(hub: Hub, text: str, class_name: str = "Product") -> ImportSummary:
    rows = text.splitlines()
    header = rows[0].split(",")
    samples = [dict(zip(header, r.split(","), strict=True)) for r in rows[1:]]
    proposal, _ = propose_mapping(hub.classes.get(class_name), samples[0], "en", LANGUAGES, samples)

    def writer() -> Any:
        return hub.catalog.batch_writer(class_name, author="t")

    return run_import(writer, from_text(text, Format.CSV), parse_mapping(proposal), ImportOptions())


def _weights(hub: Hub) -> dict[str, Any]:
    items = hub.catalog.list_objects("Product", ListQuery(first=50)).items
    return {o.key: o.values.get("weight") for o in items}


def test_akeneo_units_import_in_the_unit_given(hub: Hub) -> None:
    summary = _import(
        hub,
        "sku,name-en_US,weight,weight-unit\nA,a,500,GRAM\nB,b,2,FOO\nC,c,1.5,POUND\nD,d,,\n",
    )
    assert (summary.created, summary.failed) == (3, 1)
    # The row error names the unit's column and cell, not the number's.
    assert [(e.row, e.column, e.value) for e in summary.errors] == [(2, "weight-unit", "FOO")]
    assert "unknown unit 'FOO' for a mass" in summary.errors[0].message
    assert _weights(hub) == {
        "A": {"value": 500, "unit": "g"},
        "C": {"value": 1.5, "unit": "lb"},
        "D": None,
    }


def test_a_weight_with_its_unit_in_the_cell(hub: Hub) -> None:
    summary = _import(hub, "sku,name-en_US,weight\nA,a,500 GRAM\nB,b,12 lb\nC,c,3\n")
    assert (summary.created, summary.failed) == (3, 0)
    assert _weights(hub) == {
        "A": {"value": 500, "unit": "g"},
        "B": {"value": 12, "unit": "lb"},
        "C": {"value": 3, "unit": "kg"},  # a bare number is in the field's unit
    }


def test_an_akeneo_price_list_file_imports(hub: Hub) -> None:
    raw = hub.classes.get("Product").to_dict(with_version=False)
    raw["fields"] = [PRICE_LIST if f["name"] == "price" else f for f in raw["fields"]]
    hub.classes.apply([raw], author="t")
    summary = _import(
        hub, "sku,name-en_US,name-de_DE,price-EUR,price-USD\nA,Tee,T-Shirt,10.50,12\nB,Mug,,,3\n"
    )
    assert (summary.created, summary.failed) == (2, 0), summary.errors
    got = {
        o.key: (o.values["name"], o.values.get("price"))
        for o in hub.catalog.list_objects("Product", ListQuery(first=5)).items
    }
    assert got == {
        "A": ({"en": "Tee", "de": "T-Shirt"}, {"EUR": 10.5, "USD": 12}),
        "B": ({"en": "Mug"}, {"USD": 3}),
    }


def test_the_metadata_of_pimhubs_xml_and_jsonl_exports_is_explained() -> None:
    fields, unmapped = propose(["uuid", "published", "sku", "name.en", "fields"])
    # The published flag is no field, but the import takes it (an export with drafts).
    assert fields == {"@published": "published", "sku": "sku", "name.en": "name.en"}
    reasons = dict(unmapped)
    assert reasons["uuid"] == "pimhub's object id; an import matches objects by business key"
    assert "export --format csv" in reasons["fields"]


def test_a_huge_column_name_is_matched_whole_only() -> None:
    # 100,000 readings of 100,000 characters each would take hours.
    column = "a-" * 50_000
    fields, unmapped = propose(["sku", column])
    assert fields == {"sku": "sku"}
    assert unmapped == [(column, "Product has no field named or titled so")]
