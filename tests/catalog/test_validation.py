"""validate_values against the shipped Product class: each rule's code and path, all bad
fields at once, and normalization of what is accepted."""

from __future__ import annotations

from typing import Any

import pytest

from pimhub.catalog.classes import ClassDefinition, parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.validation import changed_fields, validate_values

PRODUCT: ClassDefinition = next(
    parse_class_definition(c) for c in commerce_model() if c["name"] == "Product"
)
LANGUAGES = frozenset({"en", "de"})
VALID = {"sku": "P-1", "name": {"en": "Tee"}}


def errors_for(**values: Any) -> dict[str, str]:
    _, errors = validate_values(PRODUCT, {**VALID, **values}, languages=LANGUAGES)
    return {e.field: e.code for e in errors}


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        ({"colour": "red"}, "colour", "unknown-field"),
        ({"stock": "many"}, "stock", "type"),
        ({"stock": True}, "stock", "type"),
        ({"stock": -1}, "stock", "range"),
        ({"stock": 1.5}, "stock", "decimals"),
        ({"price": {"amount": 1.555, "currency": "EUR"}}, "price", "decimals"),
        ({"price": {"amount": 1, "currency": "euro"}}, "price", "currency"),
        ({"releasedOn": "2026-13-01"}, "releasedOn", "format"),
        ({"availableFrom": "2026-01-01T10:00:00"}, "availableFrom", "format"),
        ({"material": ["cotton", "cotton"]}, "material", "duplicate"),
        ({"name": {"en": "x" * 256}}, "name.en", "too-long"),
        ({"name": {"xx": "Tee"}}, "name.xx", "language"),
        ({"ean": "12"}, "ean", "pattern"),
        ({"color": "pink"}, "color", "option"),
        ({"material": ["cotton", "silk"]}, "material", "option"),
        ({"featured": "yes"}, "featured", "type"),
        ({"related": "P-2"}, "related", "type"),
    ],
)
def test_each_rule_has_its_code_and_path(values: dict[str, Any], field: str, code: str) -> None:
    assert errors_for(**values).get(field) == code


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"price": {"amount": 5}}, "price"),
        ({"price": {"amount": 5, "currency": "euro"}}, "price"),
        ({"price": {"amount": -5, "currency": "EUR"}}, "price"),
        ({"releasedOn": "2026-13-01"}, "releasedOn"),
        ({"availableFrom": "2026-01-01T10:00:00"}, "availableFrom"),
    ],
)
def test_structured_values_are_checked(values: dict[str, Any], field: str) -> None:
    assert field in errors_for(**values)


def test_required_fields() -> None:
    _, errors = validate_values(PRODUCT, {"sku": "P-1"})
    assert [(e.field, e.code) for e in errors] == [("name", "required")]
    _, errors = validate_values(PRODUCT, {"sku": "P-1", "name": {"en": ""}})
    assert [(e.field, e.code) for e in errors] == [("name", "required")]


def test_every_problem_is_reported_at_once() -> None:
    problems = errors_for(stock="x", ean="1", color="pink", nope=1, price="free")
    assert set(problems) == {"stock", "ean", "color", "nope", "price"}


def test_accepted_values_are_normalized() -> None:
    values, errors = validate_values(
        PRODUCT,
        {
            **VALID,
            "price": {"amount": "19.90", "currency": "EUR"},
            "availableFrom": "2026-01-01T12:00:00+02:00",
            "description": None,
            "stock": 3,
        },
        languages=LANGUAGES,
    )
    assert errors == []
    assert values["price"] == {"amount": 19.9, "currency": "EUR"}
    assert values["availableFrom"] == "2026-01-01T10:00:00Z"
    assert "description" not in values


def test_changed_fields_lists_only_real_changes() -> None:
    before = {"sku": "P-1", "stock": 1, "name": {"en": "Tee"}}
    after = {"sku": "P-1", "stock": 2, "name": {"en": "Tee"}, "ean": "12345678"}
    assert sorted(changed_fields(before, after)) == ["ean", "stock"]
    assert changed_fields(before, dict(before)) == []


def test_numbers_and_date_times_beyond_storage_are_refused() -> None:
    definition = parse_class_definition(
        {
            "name": "Thing",
            "businessKey": "code",
            "fields": [
                {"name": "code", "type": "text"},
                {"name": "count", "type": "number"},
                {"name": "at", "type": "datetime"},
            ],
        }
    )
    _, errors = validate_values(
        definition, {"code": "x", "count": 1e308, "at": "9999-12-31T23:59:59-14:00"}
    )
    assert sorted((e.field, e.code) for e in errors) == [("at", "range"), ("count", "range")]


@pytest.mark.parametrize(
    ("amount", "accepted"),
    [
        (19.99, True),
        (0.1, True),
        (1e22, True),
        (0.07, True),
        (0.1 + 0.2, False),  # 0.30000000000000004
        (1.005, False),
        (1e-7, False),
        (123456789.125, False),
    ],
)
def test_decimal_places_are_those_of_the_shortest_form(amount: float, accepted: bool) -> None:
    problems = errors_for(price={"amount": amount, "currency": "EUR"})
    assert (problems == {}) is accepted, problems


def test_values_and_problems_come_in_the_class_field_order_whatever_the_input_order() -> None:
    given = {"stock": 3, "weight": 1.5, "sku": "P-2", "name": {"en": "Tee"}, "zzz": 1, "ean": 5}
    values, errors = validate_values(PRODUCT, given, languages=LANGUAGES)
    order = PRODUCT.field_names
    assert list(values) == sorted(values, key=order.index)
    assert [e.field for e in errors] == ["zzz", "ean"]
    _, errors = validate_values(PRODUCT, {"ean": 5, "stock": "x", "weight": "y"})
    fields = [e.field for e in errors]
    assert fields == sorted(fields, key=lambda f: order.index(f)) and "sku" in fields


def test_unknown_fields_come_first_even_when_they_look_like_a_part_of_a_field() -> None:
    _, errors = validate_values(PRODUCT, {"stock": "x", "name.en": "Tee", "sku": "P-3"})
    assert [(e.field, e.code) for e in errors][:2] == [
        ("name.en", "unknown-field"),
        ("name", "required"),
    ]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"sku": "P\x00-1"}, "sku"),
        ({"name": {"en": "T\x00ee"}}, "name.en"),
        ({"name": {"e\x00n": "Tee"}}, "name.e\\u0000n"),
        ({"material": ["cotton", "\x00"]}, "material[1]"),
        ({"color": "red\x00"}, "color"),
        ({"category": "men\x00"}, "category"),
        ({"price": {"amount": 1, "currency": "EU\x00"}}, "price.currency"),
        ({"releasedOn": "2026-01-01\x00"}, "releasedOn"),
        ({"col\x00our": "red"}, "col\\u0000our"),
    ],
)
def test_a_nul_character_in_any_text_is_a_field_error(values: dict[str, Any], field: str) -> None:
    _, errors = validate_values(PRODUCT, {**VALID, **values}, languages=LANGUAGES)
    assert [(e.field, e.code) for e in errors] == [(field, "nul-character")]
    assert field in errors[0].message and "\x00" not in errors[0].message + errors[0].field
