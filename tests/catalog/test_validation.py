"""validate_values against the shipped Product class: each rule's code and path, all bad
fields at once, and normalization of what is accepted."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest

from pimhub.catalog.classes import ClassDefinition, parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.errors import FieldError, InvalidClassDefinition
from pimhub.catalog.linear_regex import cached_fullmatch
from pimhub.catalog.validation import (
    changed_fields,
    find_nul,
    nul_message,
    spell_nul,
    validate_values,
    without_nul,
)

PRODUCT: ClassDefinition = next(
    parse_class_definition(c) for c in commerce_model() if c["name"] == "Product"
)
LANGUAGES = frozenset({"en", "de"})
VALID = {"sku": "P-1", "name": {"en": "Tee"}}

THING: ClassDefinition = parse_class_definition(
    {
        "name": "Thing",
        "businessKey": "code",
        "fields": [
            {"name": "code", "type": "text"},
            {"name": "label", "type": "text", "minLength": 3, "maxLength": 5, "pattern": "[a-z]+"},
            {"name": "plain", "type": "text"},
            {"name": "note", "type": "textarea", "localized": True, "maxLength": 4},
            {"name": "count", "type": "number", "min": -5, "max": 10},
            {"name": "big", "type": "number"},
            {"name": "ratio", "type": "number", "decimals": 3, "min": 0.5, "max": 2.0},
            {"name": "exact", "type": "number", "decimals": 2},
            {"name": "price", "type": "money", "min": 0, "max": 1000, "currencies": ["EUR", "USD"]},
            {"name": "cost", "type": "money", "decimals": 4},
            {"name": "flag", "type": "boolean"},
            {"name": "day", "type": "date"},
            {"name": "at", "type": "datetime"},
            {"name": "color", "type": "select", "options": ["red", "blue"]},
            {"name": "tags", "type": "multiselect", "options": ["a", "b", "c"]},
            {"name": "parent", "type": "relation", "target": "Thing"},
            {"name": "parents", "type": "relation", "target": "Thing", "multiple": True},
            {"name": "file", "type": "asset"},
            {"name": "files", "type": "asset", "multiple": True},
        ],
    }
)


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


def problems(
    languages: frozenset[str] | None = LANGUAGES, **values: Any
) -> list[tuple[str, str, str]]:
    _, errors = validate_values(THING, {"code": "t-1", **values}, languages=languages)
    return [(e.field, e.code, e.message) for e in errors]


def accepted(**values: Any) -> dict[str, Any]:
    found, errors = validate_values(THING, {"code": "t-1", **values}, languages=LANGUAGES)
    assert errors == []
    return found


MONEY_SHAPE = 'expected {"amount": <number>, "currency": "<ISO 4217 code>"}'
ISO_4217 = "currency must be a three-letter ISO 4217 code such as EUR"
INT64 = "whole numbers must fit in 64 bits"
NOT_FINITE = "expected a finite number"
LOCALIZED_SHAPE = (
    'a localized field takes an object of language to text, e.g. {"en": "Shirt", "de": "Hemd"}'
)


def eur(amount: Any) -> dict[str, Any]:
    return {"amount": amount, "currency": "EUR"}


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        # text: type, then length at both ends, then pattern (matched in full)
        ({"label": 5}, ("label", "type", "expected a string, got a number")),
        ({"label": "abcdef"}, ("label", "too-long", "is 6 characters long; at most 5 are allowed")),
        ({"label": "ab"}, ("label", "too-short", "must be at least 3 characters long")),
        ({"label": "ab1"}, ("label", "pattern", "does not match the pattern [a-z]+")),
        ({"label": "abc1"}, ("label", "pattern", "does not match the pattern [a-z]+")),
        (
            {"plain": "x" * 256},
            ("plain", "too-long", "is 256 characters long; at most 255 are allowed"),
        ),
        # localized text
        ({"note": "x"}, ("note", "type", LOCALIZED_SHAPE)),
        (
            {"note": {"xx": "a"}},
            ("note.xx", "language", "unknown language code; configured: de, en"),
        ),
        ({"note": {"en": 5}}, ("note.en", "type", "expected a string, got a number")),
        (
            {"note": {"en": "abcde"}},
            ("note.en", "too-long", "is 5 characters long; at most 4 are allowed"),
        ),
        # whole numbers: type, finiteness, decimals, 64 bits, min and max
        ({"count": "many"}, ("count", "type", "expected a number, got a string")),
        ({"count": True}, ("count", "type", "expected a number, got a boolean")),
        ({"count": [1]}, ("count", "type", "expected a number, got a list")),
        ({"count": {"n": 1}}, ("count", "type", "expected a number, got an object")),
        ({"count": (1,)}, ("count", "type", "expected a number, got tuple")),
        ({"count": float("nan")}, ("count", "type", NOT_FINITE)),
        ({"count": float("inf")}, ("count", "type", NOT_FINITE)),
        ({"count": float("-inf")}, ("count", "type", NOT_FINITE)),
        ({"count": 1.5}, ("count", "decimals", "expected a whole number")),
        ({"count": -6}, ("count", "range", "must be at least -5")),
        ({"count": 11}, ("count", "range", "must be at most 10")),
        ({"count": 10.5}, ("count", "decimals", "expected a whole number")),
        ({"big": 2**63}, ("big", "range", INT64)),
        ({"big": -(2**63) - 1}, ("big", "range", INT64)),
        ({"big": 9.3e18}, ("big", "range", INT64)),
        ({"big": 1e308}, ("big", "range", INT64)),
        # numbers with decimals
        ({"ratio": 1.2345}, ("ratio", "decimals", "at most 3 decimal places are allowed")),
        ({"ratio": 0.499}, ("ratio", "range", "must be at least 0.5")),
        ({"ratio": 2.001}, ("ratio", "range", "must be at most 2")),
        ({"ratio": float("nan")}, ("ratio", "type", NOT_FINITE)),
        ({"exact": 2**63}, ("exact", "range", INT64)),
        ({"exact": -(2**63) - 1}, ("exact", "range", INT64)),
        ({"exact": 0.125}, ("exact", "decimals", "at most 2 decimal places are allowed")),
        # money: shape, amount, currency
        ({"price": 5}, ("price", "type", MONEY_SHAPE)),
        ({"price": {"amount": 5}}, ("price", "type", MONEY_SHAPE)),
        ({"price": {**eur(5), "tax": 1}}, ("price", "type", MONEY_SHAPE)),
        ({"price": eur("abc")}, ("price", "type", "amount 'abc' is not a number")),
        ({"price": eur(True)}, ("price", "type", "expected a number, got a boolean")),
        ({"price": eur(-1)}, ("price", "range", "must be at least 0")),
        ({"price": eur(1000.01)}, ("price", "range", "must be at most 1000")),
        ({"price": eur("1000.01")}, ("price", "range", "must be at most 1000")),
        # a money field without `decimals` takes 2
        ({"price": eur(0.001)}, ("price", "decimals", "at most 2 decimal places are allowed")),
        ({"price": eur("0.001")}, ("price", "decimals", "at most 2 decimal places are allowed")),
        ({"price": eur("1.5e-400")}, ("price", "decimals", "at most 2 decimal places are allowed")),
        ({"cost": eur(0.00001)}, ("cost", "decimals", "at most 4 decimal places are allowed")),
        ({"cost": eur("0.00001")}, ("cost", "decimals", "at most 4 decimal places are allowed")),
        ({"cost": eur("Infinity")}, ("cost", "type", NOT_FINITE)),
        ({"cost": eur("-Infinity")}, ("cost", "type", NOT_FINITE)),
        ({"cost": eur("NaN")}, ("cost", "type", NOT_FINITE)),
        ({"cost": eur("sNaN")}, ("cost", "type", NOT_FINITE)),
        ({"cost": eur(str(2**63))}, ("cost", "range", INT64)),
        ({"cost": eur(str(-(2**63) - 1))}, ("cost", "range", INT64)),
        ({"cost": eur("1e999999")}, ("cost", "range", INT64)),
        ({"cost": eur(2**63)}, ("cost", "range", INT64)),
        ({"price": {"amount": 1, "currency": 5}}, ("price", "currency", ISO_4217)),
        ({"price": {"amount": 1, "currency": "eur"}}, ("price", "currency", ISO_4217)),
        ({"price": {"amount": 1, "currency": "EURO"}}, ("price", "currency", ISO_4217)),
        ({"price": {"amount": 1, "currency": "EUR\n"}}, ("price", "currency", ISO_4217)),
        (
            {"price": {"amount": 1, "currency": "GBP"}},
            ("price", "currency", "currency must be one of: EUR, USD"),
        ),
        # boolean, date, date-time
        ({"flag": "yes"}, ("flag", "type", "expected true or false, got a string")),
        ({"flag": 1}, ("flag", "type", "expected true or false, got a number")),
        ({"flag": 0.5}, ("flag", "type", "expected true or false, got a number")),
        ({"day": 5}, ("day", "type", "expected a date as YYYY-MM-DD, got a number")),
        (
            {"day": "2026-02-30"},
            ("day", "format", "'2026-02-30' is not a date in the form YYYY-MM-DD"),
        ),
        ({"at": 5}, ("at", "type", "expected an ISO 8601 date-time, got a number")),
        ({"at": "nope"}, ("at", "format", "'nope' is not an ISO 8601 date-time")),
        (
            {"at": "2026-01-31T12:00:00"},
            ("at", "format", "a date-time needs a time zone offset, e.g. 2026-01-31T12:00:00Z"),
        ),
        (
            {"at": "9999-12-31T23:59:59-14:00"},
            ("at", "range", "'9999-12-31T23:59:59-14:00' is outside the supported range in UTC"),
        ),
        # select and multiselect
        ({"color": 5}, ("color", "type", "expected one of the options as a string, got a number")),
        ({"color": "pink"}, ("color", "option", "'pink' is not an option; use one of: red, blue")),
        ({"tags": "a"}, ("tags", "type", "expected a list of options, got a string")),
        ({"tags": ["a", "z", 5]}, ("tags", "option", "not options: z, 5; use any of: a, b, c")),
        ({"tags": ["a", "b", "a"]}, ("tags", "duplicate", "lists an option twice")),
        # relations and assets, alone and in lists
        (
            {"parent": 5},
            ("parent", "invalid", "expected a uuid or business key of a Thing, got a number"),
        ),
        (
            {"parent": "x" * 256},
            ("parent", "invalid", "a reference is at most 255 characters long"),
        ),
        ({"parents": "t-2"}, ("parents", "type", "expected a list, got a string")),
        (
            {"parents": ["t-2", ""]},
            ("parents[1]", "invalid", "expected a uuid or business key of a Thing, got a string"),
        ),
        (
            {"parents": [None]},
            ("parents[0]", "invalid", "expected a uuid or business key of a Thing, got null"),
        ),
        ({"parents": ["t-2", "t-2"]}, ("parents", "invalid", "lists the same item twice")),
        (
            {"parents": [f"t-{i}" for i in range(1001)]},
            ("parents", "invalid", "at most 1000 items are allowed"),
        ),
        ({"file": 5}, ("file", "invalid", "expected an asset path or uuid, got a number")),
        (
            {"file": "x" * 2049},
            ("file", "too-long", "is 2049 characters long; at most 2048 are allowed"),
        ),
        (
            {"files": ["x" * 2049]},
            ("files[0]", "too-long", "is 2049 characters long; at most 2048 are allowed"),
        ),
        (
            {"files": ["a.png", ""]},
            ("files[1]", "invalid", "expected an asset path or uuid, got a string"),
        ),
        # fields the class does not have
        (
            {"nope": 1},
            ("nope", "unknown-field", f"unknown field; Thing has: {', '.join(THING.field_names)}"),
        ),
    ],
)
def test_each_rule_refuses_with_its_path_code_and_message(
    values: dict[str, Any], problem: tuple[str, str, str]
) -> None:
    assert problems(**values) == [problem]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"label": "abc"}, {"label": "abc"}),
        ({"label": "abcde"}, {"label": "abcde"}),
        ({"plain": "x" * 255}, {"plain": "x" * 255}),
        ({"note": {"en": "abcd", "de": ""}}, {"note": {"en": "abcd"}}),
        ({"note": {"de": None, "en": "a"}}, {"note": {"en": "a"}}),
        ({"count": -5}, {"count": -5}),
        ({"count": 10}, {"count": 10}),
        ({"count": 2.0}, {"count": 2}),
        ({"big": 2**63 - 1}, {"big": 2**63 - 1}),
        ({"big": -(2**63)}, {"big": -(2**63)}),
        ({"ratio": 0.5}, {"ratio": 0.5}),
        ({"ratio": 2}, {"ratio": 2}),
        ({"ratio": 1.234}, {"ratio": 1.234}),
        ({"exact": 2**63 - 1}, {"exact": 2**63 - 1}),
        ({"exact": -(2**63)}, {"exact": -(2**63)}),
        ({"exact": 1e300}, {"exact": 1e300}),
        ({"price": eur(0)}, {"price": eur(0)}),
        ({"price": eur(1000)}, {"price": eur(1000)}),
        ({"price": eur(0.01)}, {"price": eur(0.01)}),
        ({"price": eur("19.90")}, {"price": eur(19.9)}),
        ({"price": eur("1.55")}, {"price": eur(1.55)}),
        ({"price": eur("20.00")}, {"price": eur(20)}),
        ({"price": {"amount": 5, "currency": "USD"}}, {"price": {"amount": 5, "currency": "USD"}}),
        ({"cost": {"amount": 1, "currency": "GBP"}}, {"cost": {"amount": 1, "currency": "GBP"}}),
        ({"cost": eur(0.0001)}, {"cost": eur(0.0001)}),
        ({"cost": eur(str(2**63 - 1))}, {"cost": eur(2**63 - 1)}),
        ({"cost": eur(str(-(2**63)))}, {"cost": eur(-(2**63))}),
        ({"flag": False}, {"flag": False}),
        ({"day": "20260131"}, {"day": "2026-01-31"}),
        ({"at": "2026-01-31T14:00:00+02:00"}, {"at": "2026-01-31T12:00:00Z"}),
        ({"at": "2026-01-31T12:00:00+00:00"}, {"at": "2026-01-31T12:00:00Z"}),
        ({"color": "blue"}, {"color": "blue"}),
        ({"tags": ["c", "a"]}, {"tags": ["c", "a"]}),
        ({"parent": "x" * 255}, {"parent": "x" * 255}),
        ({"parents": ["t-2", "t-3"]}, {"parents": ["t-2", "t-3"]}),
        ({"file": "x" * 2048}, {"file": "x" * 2048}),
        ({"files": ["a.png"]}, {"files": ["a.png"]}),
    ],
)
def test_values_at_the_edge_of_each_rule_are_accepted_and_normalized(
    values: dict[str, Any], expected: dict[str, Any]
) -> None:
    found = accepted(**values)
    assert found == {"code": "t-1", **expected}
    assert [type(v) for v in found.values()] == [type(v) for v in {"code": "", **expected}.values()]


def test_a_list_takes_a_thousand_items() -> None:
    many = [f"t-{i}" for i in range(1000)]
    assert accepted(parents=many) == {"code": "t-1", "parents": many}


def test_a_string_amount_is_refused_at_once_however_large_its_exponent() -> None:
    assert problems(cost=eur("-1e999999999")) == [("cost", "range", INT64)]


@pytest.mark.parametrize(
    ("languages", "note", "problem"),
    [
        (None, {"EN": "a"}, ("note.EN", "language", "unknown language code")),
        (None, {"en_us": "a"}, ("note.en_us", "language", "unknown language code")),
        (None, {"e": "a"}, ("note.e", "language", "unknown language code")),
        (None, {"engl": "a"}, ("note.engl", "language", "unknown language code")),
        (None, {"en\n": "a"}, ("note.en\n", "language", "unknown language code")),
        (frozenset(), {"en": "a"}, ("note.en", "language", "unknown language code")),
    ],
)
def test_language_codes_are_checked_by_form_and_against_the_configured_ones(
    languages: frozenset[str] | None, note: dict[str, str], problem: tuple[str, str, str]
) -> None:
    assert problems(languages, note=note) == [problem]


def test_without_configured_languages_any_well_formed_code_is_taken() -> None:
    note = {"en": "a", "de_CH": "b", "gsw": "c"}
    found, errors = validate_values(THING, {"code": "t-1", "note": note})
    assert errors == [] and found["note"] == note


@pytest.mark.parametrize("empty", [None, "", [], {}, {"en": ""}, {"en": None}], ids=repr)
def test_empty_values_are_dropped_without_a_problem(empty: Any) -> None:
    field = "note" if isinstance(empty, dict) else "parents" if empty == [] else "label"
    assert accepted(**{field: empty}) == {"code": "t-1"}


def test_required_problems_say_whether_a_language_is_missing() -> None:
    _, errors = validate_values(PRODUCT, {"sku": "P-1"})
    assert errors == [FieldError("name", "is required", "required")]
    _, errors = validate_values(PRODUCT, {"sku": "P-1", "name": {"en": "", "de": None}})
    assert errors == [FieldError("name", "is required (in at least one language)", "required")]


def test_a_localized_value_present_but_invalid_is_not_also_missing() -> None:
    _, errors = validate_values(PRODUCT, {"sku": "P-1", "name": {"en": "x" * 300}})
    assert [(e.field, e.code) for e in errors] == [("name.en", "too-long")]
    _, errors = validate_values(PRODUCT, {"sku": "P-1", "name": {"en": 5, "de": ""}})
    assert [(e.field, e.code) for e in errors] == [("name.en", "type")]
    _, errors = validate_values(PRODUCT, {"sku": "P-1", "name": "Tee"})  # not per language
    assert [(e.field, e.code) for e in errors] == [("name", "type")]


def test_each_bad_item_of_a_list_is_a_problem_of_its_own() -> None:
    assert problems(files=[5, "a.png", ""]) == [
        ("files[0]", "invalid", "expected an asset path or uuid, got a number"),
        ("files[2]", "invalid", "expected an asset path or uuid, got a string"),
    ]


def test_problems_come_in_field_order_with_unknown_fields_and_keys_first() -> None:
    given: dict[str, Any] = {
        "files": [5],
        "count": "x",
        "label": 5,
        "nope": 1,
        "note": {"xx": "a"},
        "zz\x00": 1,
        "plain.x": 1,
    }
    assert [(field, code) for field, code, _ in problems(**given)] == [
        ("nope", "unknown-field"),
        ("zz\\u0000", "nul-character"),
        ("plain.x", "unknown-field"),
        ("label", "type"),
        ("note.xx", "language"),
        ("count", "type"),
        ("files[0]", "invalid"),
    ]


def test_every_value_is_checked_after_a_nul_and_every_language_after_an_unknown_one() -> None:
    assert [field for field, _, _ in problems(label="\x00", note={"xx": "a", "en": 5})] == [
        "label",
        "note.xx",
        "note.en",
    ]


def test_date_times_come_back_in_utc_whatever_the_server_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert accepted(at="2026-01-31T14:00:00+02:00")["at"] == "2026-01-31T12:00:00Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_two_values_come_back_in_the_class_field_order() -> None:
    found, _ = validate_values(THING, {"count": 1, "code": "t-1"})
    assert list(found) == ["code", "count"]


def test_changed_fields_are_sorted_by_name() -> None:
    assert changed_fields({"b": 1, "a": 1, "c": 1}, {"c": 2, "b": 2}) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("ok", None),
        ({"a": ["x", {"b": "y"}], "c": 1, "d": None}, None),
        ("a\x00", ""),
        ({"a": "x", "b": ["y", "z\x00"]}, "b[1]"),
        ({"a": {"b\x00": 1}}, "a.b\\u0000"),
        ({"a": ("x", "\x00")}, "a[1]"),
        (MappingProxyType({"a": "\x00"}), "a"),
        ([{"a": 1}, {"b": "\x00"}], "[1].b"),
        ({1: "\x00"}, "1"),
    ],
)
def test_find_nul_names_the_path_of_the_first_nul(value: Any, path: str | None) -> None:
    assert find_nul(value) == path


def test_find_nul_starts_paths_at_the_given_prefix() -> None:
    assert find_nul({"a": "\x00"}, "body") == "body.a"
    assert find_nul(["\x00"], "tags") == "tags[0]"
    assert find_nul("\x00", "operation\x00Name") == "operation\\u0000Name"


def test_nul_messages_and_shown_values_spell_the_nul_out() -> None:
    assert spell_nul("a\x00b\x00") == "a\\u0000b\\u0000"
    assert nul_message("name.de") == (
        "name.de holds a NUL character (U+0000), which no text may hold"
    )
    assert nul_message("").startswith("the value holds a NUL character")
    shown = without_nul({"k\x00": ["a\x00", ("b\x00",), 1, None], "n": {"x": "\x00"}})
    assert shown == {"k\\u0000": ["a\\u0000", ["b\\u0000"], 1, None], "n": {"x": "\\u0000"}}
    assert without_nul(MappingProxyType({1: "\x00"})) == {"1": "\\u0000"}


def pattern_class(pattern: str) -> ClassDefinition:
    return parse_class_definition(
        {
            "name": "Patterned",
            "businessKey": "code",
            "fields": [
                {"name": "code", "type": "text"},
                {"name": "label", "type": "text", "pattern": pattern},
            ],
        }
    )


def test_a_backtracking_field_pattern_runs_in_linear_time() -> None:
    # Python's `re` needs ~10 s for 28 a's, doubling per character, and holds the GIL: one
    # write of a 255-character text would stall the process. A child process is killed after
    # 5 s if it regresses; RE2 answers at once.
    code = (
        "from tests.catalog.test_validation import pattern_class, LANGUAGES\n"
        "from pimhub.catalog.validation import validate_values\n"
        "thing = pattern_class('(a+)+')\n"
        "for text in ('a' * 254 + '!', 'a' * 255):\n"
        "    values = {'code': 'c', 'label': text}\n"
        "    _, errors = validate_values(thing, values, languages=LANGUAGES)\n"
        "    print([e.code for e in errors])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=5, check=True
    )
    assert done.stdout == "['pattern']\n[]\n"


UNSUPPORTED = "uses a feature that is not supported (linear-time matching)"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(a)\1", rf"{UNSUPPORTED}: invalid escape sequence: \1"),
        ("(?=a)a", f"{UNSUPPORTED}: invalid perl operator: (?="),
        ("x{99999999999}", f"{UNSUPPORTED}: a repetition count above 1000"),
        ("[", "not a regular expression: missing ]: ["),
    ],
)
def test_a_field_pattern_re2_cannot_run_is_refused_in_the_class(pattern: str, message: str) -> None:
    with pytest.raises(InvalidClassDefinition) as refused:
        pattern_class(pattern)
    assert [(e.field, e.message) for e in refused.value.errors] == [("fields[1].pattern", message)]


@pytest.mark.parametrize(
    ("pattern", "text", "ok"),
    [
        # Python's Unicode \w, \d and \s are kept, though RE2's own are ASCII.
        (r"\w+", "Größe", True),
        (r"[\w-]+", "Grö-ße", True),
        (r"\d+", "١٢", True),
        (r"\S+", "a\u00a0b", False),
        (r"\pL+", "Größe", True),  # RE2's Unicode classes
        (r"[a-z]+", "abc", True),
        (r"[a-z]+", "abc\n", False),  # matched in full, a final newline too
    ],
)
def test_field_patterns_read_as_python_users_expect(pattern: str, text: str, ok: bool) -> None:
    values = {"code": "c", "label": text}
    _, errors = validate_values(pattern_class(pattern), values, languages=LANGUAGES)
    assert [e.code for e in errors] == ([] if ok else ["pattern"])


def test_python_and_rewritten_whitespace_agree_on_every_bmp_character() -> None:
    space = cached_fullmatch(r"\s")
    differ = [c for c in range(0x10000) if space(chr(c)) != chr(c).isspace()]
    assert differ == []


def test_a_lone_surrogate_is_matched_as_a_replacement_character() -> None:
    # RE2 reads UTF-8, which cannot hold one; a JSON "\ud800" makes one.
    assert cached_fullmatch(r"a.b")("a\ud800b") is True
    assert cached_fullmatch(r"a\x{fffd}b")("a\ud800b") is True
    assert cached_fullmatch(r"[a-z]+")("a\udfffb") is False


def test_a_stored_pattern_re2_refuses_refuses_the_write_not_the_server() -> None:
    # A class saved while patterns were Python's may hold a lookahead: writes are refused
    # (code pattern) until an admin fixes it, and it is never run by a backtracking engine.
    good = pattern_class("[a-z]+")
    label = replace(good.fields[1], pattern="(?=a)a+")
    stored = ClassDefinition(good.name, good.business_key, (good.fields[0], label))
    _, errors = validate_values(stored, {"code": "c", "label": "aa"}, languages=LANGUAGES)
    assert [(e.field, e.code, e.message) for e in errors] == [
        (
            "label",
            "pattern",
            "cannot be checked: the class's pattern uses a feature that is not supported"
            " (linear-time matching): invalid perl operator: (?=",
        )
    ]
