"""Mappings: parsing with every problem by path, and each step applied to cells."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from pimhub.transfer.mapping import InvalidMapping, parse_mapping

MAPPING = yaml.safe_load(
    """
class: Product
fields:
  sku: sku
  name.en: {column: name, html: true}
  price.amount: {column: price, number: {decimal: ",", thousands: "."}}
  price.currency: {value: EUR}
  color: {column: additional_attributes, pick: color, lowercase: true, map: {gray: grey}}
  material: {column: material, split: "|", lowercase: true}
  featured: {column: featured, boolean: true}
  releasedOn: {column: released, date: {format: "%m/%d/%Y"}}
  shortDescription.en: {template: "{name} ({sku})"}
  category: {column: categories, split: ",", first: true}
"""
)


def apply(record: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    values, errors = parse_mapping(MAPPING).apply(record)
    return values, [(e.field, e.message) for e in errors]


def test_a_row_becomes_field_values() -> None:
    values, errors = apply(
        {
            "sku": " MH01-XS ",
            "name": "Chaz &amp; Co",
            "price": "1.234,50",
            "additional_attributes": "has_options=0,color=Gray,size=XS",
            "material": "Wool| Cotton |",
            "featured": "Yes",
            "released": "11/24/2026",
            "categories": "men-tops,sale",
        }
    )
    assert errors == []
    assert values == {
        "sku": "MH01-XS",
        "name": {"en": "Chaz & Co"},
        "price": {"amount": 1234.5, "currency": "EUR"},
        "color": "grey",
        "material": ["wool", "cotton"],
        "featured": True,
        "releasedOn": "2026-11-24",
        "shortDescription": {"en": "Chaz &amp; Co ( MH01-XS )"},
        "category": "men-tops",
    }


def test_empty_cells_leave_fields_out() -> None:
    values, errors = apply({"sku": "A", "name": "", "price": "  ", "additional_attributes": "x=1"})
    assert errors == []
    assert values == {
        "sku": "A",
        "price": {"currency": "EUR"},
        "shortDescription": {"en": "(A)"},
    }


def test_bad_cells_are_errors_naming_the_column() -> None:
    _, errors = apply({"sku": "A", "price": "12,3,4", "featured": "perhaps", "released": "soon"})
    assert errors == [
        ("price", "'12,3,4' is not a number"),
        ("featured", "'perhaps' is neither true (1, on, true, x, y, yes) nor false"),
        ("released", "'soon' is not a date (%m/%d/%Y)"),
    ]


def test_every_problem_of_a_mapping_is_named_by_path() -> None:
    with pytest.raises(InvalidMapping) as caught:
        parse_mapping(
            {
                "class": "",
                "extra": 1,
                "fields": {
                    "Bad Name": "x",
                    "sku": {"column": "sku", "value": 1},
                    "name.en": {"column": "name", "reverse": True},
                    "tags": {"column": "tags", "split": ""},
                },
            }
        )
    assert [e.field for e in caught.value.errors] == [
        "extra",
        "class",
        "fields.Bad Name",
        "fields.sku",
        "fields.name.en.reverse",
        "fields.tags.split",
    ]


def test_step_options_are_checked_before_any_row() -> None:
    with pytest.raises(InvalidMapping) as caught:
        parse_mapping(
            {
                "class": "Product",
                "fields": {
                    "releasedOn": {"column": "d", "date": {"format": 5}},
                    "availableFrom": {"column": "d", "date": "%Y"},
                    "featured": {"column": "f", "boolean": "yes"},
                },
            }
        )
    assert [e.field for e in caught.value.errors] == [
        "fields.releasedOn.date.format",
        "fields.availableFrom.date",
        "fields.featured.boolean",
    ]


def test_templates_read_any_column_name_and_escape_braces() -> None:
    mapping = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": {"template": "{Base SKU}-{name.en}"},
                "shortDescription.en": {"template": "{{new}} {name.en}: {missing}{{"},
            },
        }
    )
    values, errors = mapping.apply({"Base SKU": "MH01", "name.en": "Tee", "missing": None})
    assert errors == []
    assert values == {"sku": "MH01-Tee", "shortDescription": {"en": "{new} Tee: {"}}
    # The columns it reads, for the header check: braces escaped with {{ }} are text.
    assert mapping.columns == {"Base SKU", "name.en", "missing"}
    assert mapping.missing_columns(["Base SKU", "name.en", "missing"]) == []


def test_a_malformed_template_is_a_mapping_problem() -> None:
    for template, message in [
        ("{name", "a lone '{' at character 1; write {{ for a brace"),
        ("name}", "a lone '}' at character 5; write }} for a brace"),
        ("{} x", "an empty {} at character 1"),
    ]:
        with pytest.raises(InvalidMapping) as caught:
            parse_mapping({"class": "Product", "fields": {"sku": {"template": template}}})
        assert [(e.field, e.message) for e in caught.value.errors] == [
            ("fields.sku.template", message)
        ]
