"""Datahub formats: a money field as Pimcore's plain number, a quantity as Pimcore's
QuantityValue; every misuse is refused with its path, and formats round-trip."""

from __future__ import annotations

from typing import Any

import pytest

from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.errors import FieldError
from pimhub.datahub.config import (
    FieldFormat,
    InvalidDatahubConfig,
    Shape,
    format_problems,
    parse_datahub_config,
)

DEFINITIONS = {c["name"]: parse_class_definition(c) for c in commerce_model()}
PRICED = parse_class_definition(
    {
        "name": "Offer",
        "businessKey": "code",
        "fields": [
            {"name": "code", "type": "text"},
            {"name": "price", "type": "money", "priceList": True, "currencies": ["EUR", "USD"]},
        ],
    }
)


OWN = ["sku", "name", "price", "stock", "weight"]  # no relations: no other class needed


def product(formats: Any, fields: Any = OWN) -> dict[str, Any]:
    return {"name": "shop", "classes": {"Product": {"fields": fields, "formats": formats}}}


def problems(raw: Any, definitions: Any = DEFINITIONS) -> list[FieldError]:
    with pytest.raises(InvalidDatahubConfig) as caught:
        parse_datahub_config(raw, definitions)
    return caught.value.errors


def test_formats_parse_and_round_trip() -> None:
    raw = product({"price": {"as": "number", "currency": "EUR"}, "weight": {"as": "quantityValue",
                   "unit": "g"}})  # fmt: skip
    parsed = parse_datahub_config(raw, DEFINITIONS)
    assert parsed.classes[0].formats == (
        FieldFormat("price", Shape.NUMBER, currency="EUR"),
        FieldFormat("weight", Shape.QUANTITY_VALUE, unit="g"),
    )
    written = parsed.to_dict(with_version=False)
    assert written["classes"]["Product"]["formats"] == raw["classes"]["Product"]["formats"]
    # Stored configurations are read back without the classes at hand.
    assert parse_datahub_config(written, None).classes == parsed.classes


@pytest.mark.parametrize(
    ("formats", "fields", "expected"),
    [
        (
            {"colour": {"as": "number"}},
            OWN,
            [FieldError("classes.Product.formats.colour", "Product has no field 'colour'")],
        ),
        (
            {"price": {"as": "number"}},
            ["sku", "name"],
            [FieldError("classes.Product.formats.price",
                        "'price' is not among this class's fields")],
        ),
        (
            {"stock": {"as": "number"}},
            OWN,
            [FieldError("classes.Product.formats.stock.as",
                        "as: number applies to money fields; 'stock' is a number field")],
        ),
        (
            {"price": {"as": "quantityValue"}},
            OWN,
            [FieldError("classes.Product.formats.price.as",
                        "as: quantityValue applies to quantity fields; 'price' is a money field")],
        ),
        (
            {"price": {"as": "text"}},
            OWN,
            [FieldError("classes.Product.formats.price.as",
                        "must be one of: number, quantityValue")],
        ),
        (
            {"price": "number"},
            OWN,
            [FieldError("classes.Product.formats.price.as",
                        "must be one of: number, quantityValue")],
        ),
        (
            {"price": {"as": ["number"]}},
            OWN,
            [FieldError("classes.Product.formats.price.as",
                        "must be one of: number, quantityValue")],
        ),
        (
            {"price": {"as": "number", "unit": "kg"}},
            OWN,
            [FieldError("classes.Product.formats.price.unit",
                        "unknown attribute for as: number")],
        ),
        (
            {"weight": {"as": "quantityValue", "currency": "EUR"}},
            OWN,
            [FieldError("classes.Product.formats.weight.currency",
                        "unknown attribute for as: quantityValue")],
        ),
        (
            {"weight": {"as": "quantityValue", "unit": "parsec"}},
            OWN,
            [FieldError("classes.Product.formats.weight.unit",
                        "unknown unit 'parsec' for a mass; use one of: mg, g, kg, t, oz, lb")],
        ),
        (
            {"price": {"as": "number", "currency": 5}},
            OWN,
            [FieldError("classes.Product.formats.price.currency", "must be a short string")],
        ),
        (
            ["price"],
            OWN,
            [FieldError("classes.Product.formats", "must map field names to {as: ...}")],
        ),
    ],
)  # fmt: skip
def test_misused_formats_are_refused_with_their_path(
    formats: Any, fields: Any, expected: list[FieldError]
) -> None:
    # Compared whole: the message is what a user reads to fix the configuration.
    assert problems(product(formats, fields)) == expected


def test_every_misused_format_is_named_in_one_pass() -> None:
    formats = {
        "price": {"as": "text"},  # refused as written
        "colour": {"as": "number"},  # refused against the class
        "stock": {"as": "number"},
        "weight": {"as": "quantityValue"},  # fine
    }
    assert [e.field for e in problems(product(formats))] == [
        "classes.Product.formats.price.as",
        "classes.Product.formats.colour",
        "classes.Product.formats.stock.as",
    ]


@pytest.mark.parametrize(("currency", "fine"), [("", False), ("X" * 20, True), ("X" * 21, False)])
def test_a_currency_or_unit_is_1_to_20_characters(currency: str, fine: bool) -> None:
    # Without the classes at hand (a stored configuration) only the text itself is checked.
    for shape, option in (("number", "currency"), ("quantityValue", "unit")):
        raw = product({"price": {"as": shape, option: currency}})
        if fine:
            formats = parse_datahub_config(raw, None).classes[0].formats
            assert [getattr(f, option) for f in formats] == [currency]
        else:
            assert problems(raw, None) == [
                FieldError(f"classes.Product.formats.price.{option}", "must be a short string")
            ]


def test_a_price_lists_currency_must_be_one_it_holds() -> None:
    raw = {"name": "offers", "classes": {"Offer": {"formats": {"price": {"as": "number",
           "currency": "GBP"}}}}}  # fmt: skip
    assert problems(raw, {"Offer": PRICED}) == [
        FieldError("classes.Offer.formats.price.currency", "'price' holds EUR, USD, not GBP")
    ]
    raw["classes"]["Offer"]["formats"]["price"]["currency"] = "USD"
    assert parse_datahub_config(raw, {"Offer": PRICED}).classes[0].formats[0].currency == "USD"


def test_a_saved_format_fits_a_field_of_its_type_currency_and_unit_family() -> None:
    product = DEFINITIONS["Product"]
    price, weight, stock = (product.field(n) for n in ("price", "weight", "stock"))
    offer_price = PRICED.field("price")
    assert price is not None and weight is not None and stock is not None
    assert offer_price is not None
    number, quantity = Shape.NUMBER, Shape.QUANTITY_VALUE
    assert FieldFormat("price", number).fits(price)
    assert FieldFormat("price", number, currency="EUR").fits(price)  # the field names none
    assert not FieldFormat("stock", number).fits(stock)
    assert FieldFormat("price", number).fits(offer_price)
    assert FieldFormat("price", number, currency="USD").fits(offer_price)
    assert not FieldFormat("price", number, currency="GBP").fits(offer_price)
    assert FieldFormat("weight", quantity).fits(weight)
    assert FieldFormat("weight", quantity, unit="g").fits(weight)
    assert not FieldFormat("weight", quantity, unit="m").fits(weight)
    assert not FieldFormat("price", quantity).fits(price)


def test_format_problems_of_a_stored_configuration_name_it() -> None:
    raw = {
        "name": "shop",
        "classes": {
            "Brand": {},
            "Product": {"fields": ["sku"], "formats": {"price": {"as": "number"}}},
        },
    }
    config = parse_datahub_config(raw, None)  # stored: not checked against the classes
    assert format_problems(config, DEFINITIONS["Product"]) == [
        FieldError(
            "datahub.shop.classes.Product.formats.price",
            "datahub configuration 'shop': 'price' is not among this class's fields",
            "invalid",
        )
    ]
    assert format_problems(config, DEFINITIONS["Brand"]) == []
