"""Mapping proposals (`--infer`) for pimhub's own export and other PIMs' conventions, and the
rows they import, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from pimhub.bootstrap import Hub
from pimhub.catalog.classes import ClassDefinition, parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.errors import FieldError
from pimhub.catalog.service import ListQuery
from pimhub.transfer.importer import ImportOptions, ImportSummary, run_import
from pimhub.transfer.inference import CannotPropose, Unmapped, propose_mapping
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


# -- each reading on its own, with the reasons compared whole ---------------------------------

ITEM = parse_class_definition(
    {
        "name": "Item",
        "businessKey": "code",
        "fields": [
            {"name": "code", "type": "text"},
            {"name": "q", "type": "text", "localized": True},  # a one-letter name
            {"name": "cost", "type": "money", "currencies": ["USD", "GBP"]},  # no price list
        ],
    }
)


def test_a_whole_localized_column_is_in_the_default_language() -> None:
    proposal, unmapped = propose_mapping(product(), {"sku": "", "name": ""}, "de", LANGUAGES)
    assert (proposal["fields"], unmapped) == ({"sku": "sku", "name.de": "name"}, [])


def test_a_whole_money_column_is_its_amount_in_the_first_currency_else_a_guess() -> None:
    fields, _ = propose(["sku", "price"])
    assert fields == {
        "sku": "sku",
        "price.amount": {"column": "price", "number": True},
        "price.currency": {"value": "EUR"},  # the field names none: a guess to check
    }
    fields, _ = propose(["code", "cost"], definition=ITEM)
    assert fields == {
        "code": "code",
        "cost.amount": {"column": "cost", "number": True},
        "cost.currency": {"value": "USD"},
    }
    fields, _ = propose(["sku", "price"], definition=product(price_list=True))
    assert fields == {"sku": "sku", "price.EUR": {"column": "price", "number": True}}


def test_samples_choose_the_separator_else_the_header_record_does() -> None:
    header = {"sku": "A", "material": "cotton"}
    later = {"sku": "B", "material": "cotton|wool"}
    proposal, _ = propose_mapping(product(), header, "en", LANGUAGES, [header, later])
    assert proposal["fields"]["material"] == {"column": "material", "split": "|"}
    proposal, _ = propose_mapping(product(), later, "en", LANGUAGES)
    assert proposal["fields"]["material"] == {"column": "material", "split": "|"}
    # A comma in a pimhub export's cell wins over the export's own bar.
    fields, _ = propose(["sku", "name.en", "material"], [["A", "Tee", "cotton,wool"]])
    assert fields["material"] == {"column": "material", "split": ","}


def test_a_file_is_pimhub_style_by_its_first_dotted_part() -> None:
    fields, _ = propose(["sku", "name.en.x", "material"], [["A", "Tee", "cotton"]])
    assert fields["material"] == {"column": "material", "split": "|"}


def test_magentos_three_columns_alone_are_enough() -> None:
    _, unmapped = propose([" SKU", "product_type", "attribute_set_code"])
    assert unmapped[0] == ("(file)", "this is Magento's product import CSV: -m magento-products")


def test_a_column_feeding_a_part_already_fed_names_the_first_column() -> None:
    already = "{} already reads the column '{}'"
    cases = [
        (["sku", "weight", "weight-unit", "weight.value"], "weight.value", "weight"),
        (["sku", "weight.unit", "weight-unit"], "weight.unit", "weight.unit"),
        (["sku", "price.amount", "price-amount"], "price.amount", "price.amount"),
        (["sku", "price-EUR", "price.amount"], "price.amount", "price-EUR"),
    ]
    for header, target, first in cases:
        _, unmapped = propose(header)
        assert unmapped == [(header[-1], already.format(target, first))], header


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (["sku", "sku.value"], "sku is a text field, with no part 'value'"),
        (["sku", "stock.unit"], "stock is a number field, with no part 'unit'"),
        (["sku", "name.1"], "name is localized, and '1' is not a language"),
        (["sku", "name."], "Product has no field named or titled so"),  # no part after it
        (["sku", "price-euros"], "price is money, and 'euros' is not a currency"),
        (["sku", "price.unit"], "price is money, and 'unit' is not a currency"),
        (
            ["sku", "name-ja_JP"],
            "'ja' is not one of this hub's languages (en, de, fr); add it to PIMHUB_LANGUAGES "
            "to import this column",
        ),
        (
            ["sku", "price-EUR", "price-USD"],
            "price holds one amount in one currency, read from 'price-EUR'; make it a price "
            "list (docs/classes.md) to keep one amount per currency",
        ),
        (["code", "costUSD"], "Item has no field named or titled so"),  # not a price list
    ],
)
def test_each_column_left_out_says_why(header: list[str], reason: str) -> None:
    definition = ITEM if header[0] == "code" else None
    _, unmapped = propose(header, definition=definition)
    assert unmapped == [(header[-1], reason)]


def test_a_unit_part_of_another_field_leaves_its_plain_column_whole() -> None:
    fields, _ = propose(["sku", "price", "price.unit", "stock", "stock-unit"])
    assert fields["price.amount"] == {"column": "price", "number": True}
    assert fields["stock"] == {"column": "stock", "number": True}


def test_a_column_name_of_the_longest_length_is_still_read_in_parts() -> None:
    column = "name-en_US-" + "c" * 189
    assert len(column) == 200
    fields, _ = propose(["sku", column])
    assert fields == {"sku": "sku", "name.en": column}


def test_a_one_letter_field_is_read_in_parts_too() -> None:
    fields, unmapped = propose(["code", "q.de"], definition=ITEM)
    assert (fields, unmapped) == ({"code": "code", "q.de": "q.de"}, [])


def test_family_columns_of_pimhub_and_magento() -> None:
    fields, _ = propose(["sku", "@parent", "configurable_variations"])
    assert fields == {
        "sku": "sku",
        "@parent": "@parent",
        "@variants": {"column": "configurable_variations", "variations": "sku"},
    }


def test_names_match_ignoring_case_spaces_dashes_and_underscores() -> None:
    fields, unmapped = propose(["SKU", "short_description", "Release-Date"])
    assert fields == {
        "shortDescription.en": "short_description",
        "releasedOn": "Release-Date",
        "sku": "SKU",
    }
    assert unmapped == []


def test_a_nested_json_lines_export_gets_no_proposal() -> None:
    nested = {"uuid": "u", "class": "Product", "fields": {"sku": "A"}}
    with pytest.raises(CannotPropose) as caught:
        propose_mapping(product(), nested, "en", LANGUAGES)
    assert caught.value.detail == (
        "this is pimhub's JSON Lines export, which nests each object's values under 'fields'; "
        "a mapping reads top-level keys only, so none can import it: export with --format csv "
        "--drafts (or --format xml --drafts) to import an export back"
    )
    assert caught.value.errors == [
        FieldError("fields", "values nested here cannot be mapped", "nested")
    ]
    # A record with the business key at the top, or a fields column of text, is read as usual.
    for header in ({**nested, "sku": "A"}, {"sku": "A", "fields": "x"}):
        proposal, _ = propose_mapping(product(), header, "en", LANGUAGES)
        assert proposal["fields"]["sku"] == "sku"
