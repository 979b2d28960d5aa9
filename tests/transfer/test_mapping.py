"""Mappings: parsing with every problem by path, and each step applied to cells."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from pimhub.transfer.category_paths import PathOptions
from pimhub.transfer.cell_text import in_message
from pimhub.transfer.mapping import (
    InvalidMapping,
    parse_mapping,
    parse_template,
    shipped_mapping,
    shipped_mappings,
)

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


def problems(raw: Any) -> list[tuple[str, str, str]]:
    """The (path, message, code) of each problem parse_mapping finds in `raw`."""
    with pytest.raises(InvalidMapping) as caught:
        parse_mapping(raw)
    return [(e.field, e.message, e.code) for e in caught.value.errors]


def field_problems(spec: Any) -> list[tuple[str, str, str]]:
    return problems({"class": "Product", "fields": {"f": spec}})


def one(spec: dict[str, Any], cell: Any) -> tuple[Any, list[tuple[str, str, str]]]:
    """The value field `f` gets from column `c` holding `cell`, and the row's errors."""
    if not {"column", "value", "template"} & set(spec):
        spec = {"column": "c", **spec}
    values, errors = parse_mapping({"class": "Product", "fields": {"f": spec}}).apply({"c": cell})
    return values.get("f", MISSING), [(e.field, e.message, e.code) for e in errors]


MISSING = object()  # the field was left out


def test_a_mapping_that_is_not_an_object_is_refused_as_invalid_mapping() -> None:
    with pytest.raises(InvalidMapping) as caught:
        parse_mapping(["class", "Product"])
    assert caught.value.code == "invalid-mapping"
    assert caught.value.detail == "a mapping is an object with 'class' and 'fields'"
    assert [(e.field, e.message) for e in caught.value.errors] == [("", "expected an object")]


def test_class_and_fields_are_required_and_counted() -> None:
    with pytest.raises(InvalidMapping) as caught:
        parse_mapping({"class": 5, "fields": {}, "b": 1, "a": 2})
    assert caught.value.detail == "the mapping has 4 problem(s)"
    assert [(e.field, e.message, e.code) for e in caught.value.errors] == [
        ("a", "unknown attribute", "invalid"),
        ("b", "unknown attribute", "invalid"),
        ("class", "name the class the rows become", "required"),
        ("fields", "map at least one field to a column or value", "required"),
    ]
    assert problems({"fields": ["sku"]})[-1][0] == "fields"
    assert [p[0] for p in problems({"class": "", "fields": {"sku": "sku"}})] == ["class"]


@pytest.mark.parametrize(
    "target", ["sku", "name.en", "a_1.B_2", "x.9", "aB", "@parent", "@variants"]
)
def test_field_names_and_their_parts_are_targets(target: str) -> None:
    assert parse_mapping({"class": "P", "fields": {target: "c"}}).fields[0].target == target


@pytest.mark.parametrize(
    "target", ["Sku", "1x", "_x", "a.b.c", "a.", "a-b", "a b", "x\n", 7, "@other", "@parent.x"]
)
def test_other_targets_are_refused(target: Any) -> None:
    message = "a field name, field.part (name.en, price.amount), @parent, @variants or @published"
    assert problems({"class": "P", "fields": {target: "c"}}) == [
        (f"fields.{target}", message, "invalid")
    ]


def test_a_field_is_a_column_name_or_an_object_of_steps() -> None:
    message = "a column name, or an object of steps"
    assert field_problems(["c"]) == [("fields.f", message, "invalid")]
    assert field_problems({"column": "c", "reverse": 1, "each": 2}) == [
        (f"fields.f.{step}", UNKNOWN_STEP, "invalid") for step in ("each", "reverse")
    ]


UNKNOWN_STEP = (
    "unknown step; use asset, boolean, column, date, fallback, first, html, lowercase, map, "
    "number, optional, path, pick, replace, split, template, trim, unit, uppercase, value, "
    "variations"
)


@pytest.mark.parametrize("spec", [{}, {"trim": True}, {"column": "c", "value": 1}])
def test_a_field_has_exactly_one_source(spec: dict[str, Any]) -> None:
    message = "give exactly one of column, value or template"
    assert field_problems(spec) == [("fields.f", message, "invalid")]


@pytest.mark.parametrize(
    ("spec", "at", "message"),
    [
        ({"column": ""}, "column", "a column name"),
        ({"column": 5}, "column", "a column name"),
        ({"template": ["{a}"]}, "template", "a text with {column} placeholders"),
        ({"column": "c", "pick": 1}, "pick", "the key to pick from key=value pairs"),
        ({"column": "c", "split": ""}, "split", "the separator, e.g. ',' or '|'"),
        ({"column": "c", "split": 1}, "split", "the separator, e.g. ',' or '|'"),
        ({"column": "c", "map": ["a"]}, "map", "an object of source value to field value"),
        ({"column": "c", "number": "yes"}, "number", "true, or {decimal: ',', thousands: '.'}"),
        ({"column": "c", "boolean": 1}, "boolean", "true, or {true: [...], false: [...]}"),
        ({"column": "c", "date": "%Y"}, "date", "true (ISO 8601), or {format: '%d.%m.%Y'}"),
        (
            {"column": "c", "date": {"format": 1}},
            "date.format",
            "a strptime format such as '%d.%m.%Y'",
        ),
        ({"column": "c", "optional": "yes"}, "optional", "true or false"),
    ],
)
def test_a_bad_step_is_named_with_what_it_takes(
    spec: dict[str, Any], at: str, message: str
) -> None:
    assert field_problems(spec) == [(f"fields.f.{at}", message, "invalid")]


@pytest.mark.parametrize(
    ("step", "options", "known"),
    [
        ("number", {"decimals": ","}, "decimal, thousands"),
        ("boolean", {"yes": ["ja"]}, "true, false"),
        ("date", {"fmt": "%Y"}, "format"),
    ],
)
def test_a_misspelt_step_option_is_a_problem(step: str, options: Any, known: str) -> None:
    found = field_problems({"column": "c", step: options})
    assert found[0] == (
        f"fields.f.{step}.{next(iter(options))}",
        f"unknown option; use {known}",
        "invalid",
    )


def test_the_columns_read_are_known_before_any_row() -> None:
    mapping = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": "SKU",
                "name.en": {"template": "{Name} {Name} {Size}"},
                "price.currency": {"value": "EUR"},
                "color": {"column": "Color", "optional": True},
            },
        }
    )
    assert mapping.class_name == "Product"
    assert [f.reads for f in mapping.fields] == [("SKU",), ("Name", "Size"), (), ("Color",)]
    assert [f.column for f in mapping.fields] == ["SKU", None, None, "Color"]
    assert mapping.columns == {"SKU", "Name", "Size", "Color"}
    assert [(e.field, e.message, e.code) for e in mapping.missing_columns(["SKU", "Size"])] == [
        (
            "fields.name.en",
            "reads the column 'Name', which the file does not have "
            "(mark the field optional: true if some files lack it)",
            "missing-column",
        )
    ]
    assert mapping.missing_columns(["Name", "SKU", "Size"]) == []


def test_a_value_source_gives_its_value_whatever_the_row() -> None:
    assert one({"value": "EUR"}, "x") == ("EUR", [])
    assert one({"value": 0}, None) == (0, [])


def test_cells_are_trimmed_unless_trim_is_off() -> None:
    assert one({}, "  Tee  ") == ("Tee", [])
    assert one({"trim": True}, "  Tee  ") == ("Tee", [])
    assert one({"trim": False}, "  Tee  ") == ("  Tee  ", [])
    assert one({}, [" a ", 2, "b "]) == (["a", 2, "b"], [])
    assert one({}, 12) == (12, [])
    assert one({}, "   ") == (MISSING, [])


def test_a_missing_or_empty_cell_leaves_the_field_out_and_runs_no_step() -> None:
    values, errors = parse_mapping(
        {"class": "P", "fields": {"f": {"column": "c", "number": True}, "g": "d"}}
    ).apply({"d": "x"})
    assert (values, errors) == ({"g": "x"}, [])
    assert one({"number": True}, "") == (MISSING, [])
    assert one({"split": ","}, ",, ,") == (MISSING, [])
    assert one({"first": True}, []) == (MISSING, [])


def test_pick_takes_one_key_of_key_value_pairs() -> None:
    spec = {"pick": "color"}
    assert one(spec, "size=XS, color = Black ,b=2") == ("Black", [])
    assert one(spec, "colors=Red,color=Blue,color=Green") == ("Blue", [])
    assert one(spec, "color,x=1,note=color=red") == (MISSING, [])
    assert one(spec, "color,color=Red") == ("Red", [])
    assert one({"pick": "note"}, "note=a=b") == ("a=b", [])
    assert one(spec, "size=XS") == (MISSING, [])
    assert one({"pick": "color", "trim": False}, " color= Black ") == ("Black", [])


def test_variations_take_one_key_of_each_magento_variation() -> None:
    spec = {"variations": "sku"}
    cell = "sku=MH01-XS-Black,size=XS,color=Black| sku = MH01-S-Gray ,size=S,color=Gray|"
    assert one(spec, cell) == (["MH01-XS-Black", "MH01-S-Gray"], [])
    assert one(spec, "") == (MISSING, [])
    assert one({"variations": "size"}, cell) == (["XS", "S"], [])
    problem = "variation 2 ('size=S,color=Gray') has no sku"
    assert one(spec, "sku=A,size=XS|size=S,color=Gray") == (MISSING, [("c", problem, "transform")])
    assert one(spec, "sku=A||sku=B=2,flag") == (["A", "B=2"], [])
    long = "color=" + "x" * 100
    problem = f"variation 1 ({long[:80]!r}) has no sku"
    assert one(spec, long) == (MISSING, [("c", problem, "transform")])
    assert one(spec, "sku=,size=S")[1][0][1] == "variation 1 ('sku=,size=S') has no sku"
    assert field_problems({"column": "c", "variations": True}) == [
        ("fields.f.variations", "the key of each variation to take, e.g. sku", "invalid")
    ]


def family(spec: Any, record: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    mapping = parse_mapping({"class": "Product", "fields": {"sku": "sku", **spec}})
    values, errors = mapping.apply(record)
    return values, [(e.field, e.message) for e in errors]


def test_variants_are_a_list_of_keys_and_parent_one_key() -> None:
    variants = {"@variants": {"column": "v", "split": "|"}}
    assert family(variants, {"sku": "P", "v": "A| B"}) == (
        {"sku": "P", "@variants": ["A", "B"]},
        [],
    )
    assert family({"@variants": "v"}, {"sku": "P", "v": "AB"}) == (
        {"sku": "P", "@variants": ["AB"]},
        [],
    )
    assert family(variants, {"sku": "P", "v": ""}) == ({"sku": "P"}, [])
    parent = {"@parent": "parent"}
    assert family(parent, {"sku": "C", "parent": " P "}) == ({"sku": "C", "@parent": "P"}, [])
    # An empty cell: standalone; a record without the column: the parent stays as it is.
    assert family(parent, {"sku": "C", "parent": ""}) == ({"sku": "C", "@parent": None}, [])
    assert family(parent, {"sku": "C"}) == ({"sku": "C"}, [])
    split = {"@parent": {"column": "parent", "split": ","}}
    assert family(split, {"sku": "C", "parent": "P,Q"}) == (
        {"sku": "C"},
        [("parent", "['P', 'Q'] names 2 parents; a variant has one")],
    )


def test_html_decodes_entities_of_text_and_of_each_item() -> None:
    assert one({"html": True}, "Chaz &amp; Co &lt;3") == ("Chaz & Co <3", [])
    assert one({"html": True, "split": "|"}, "a&amp;b|c&#39;d") == (["a&b", "c'd"], [])
    assert one({"html": True}, 5) == (5, [])
    assert one({"html": False}, "a&amp;b") == ("a&amp;b", [])


def test_split_gives_the_trimmed_nonempty_parts() -> None:
    assert one({"split": "|"}, "Wool| Cotton ||") == (["Wool", "Cotton"], [])
    assert one({"split": ", "}, "a, b,c") == (["a", "b,c"], [])
    assert one({"split": ","}, 5) == (["5"], [])


def test_lowercase_applies_to_text_and_each_item() -> None:
    assert one({"lowercase": True}, "ÄBC") == ("äbc", [])
    assert one({"lowercase": True, "split": ","}, "A,B") == (["a", "b"], [])
    assert one({"lowercase": True}, 7) == (7, [])
    assert one({"lowercase": False}, "ABC") == ("ABC", [])


def test_map_replaces_known_values_and_keeps_the_others() -> None:
    spec = {"map": {"gray": "grey", 1: "one", "x": None}}
    assert one(spec, "gray") == ("grey", [])
    assert one(spec, "blue") == ("blue", [])
    assert one(spec, 1) == ("one", [])
    assert one(spec, "1") == ("one", [])
    assert one({**spec, "split": ","}, "gray,blue") == (["grey", "blue"], [])
    assert one(spec, "x") == (MISSING, [])


def test_a_map_with_a_yaml_boolean_key_is_refused() -> None:
    # Regression: `map: {no: Norway}` is {False: "Norway"} to YAML and never matched a cell.
    raw = yaml.safe_load("class: P\nfields: {f: {column: c, map: {no: Norway, de: Germany}}}")
    assert problems(raw) == [
        (
            "fields.f.map",
            "quote yes, no, on, off, true and false: YAML reads them as booleans",
            "invalid",
        )
    ]


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("12", 12),
        (" -7 ", -7),
        ("12.5", 12.5),
        ("12.0", 12),
        ("1e3", 1000),
        ("0", 0),
        ("-0.0", 0),
        ("1e300", 1e300),
        ("-1e300", -1e300),
        ("1e-300", 1e-300),
        (str(2**63 - 1), 2**63 - 1),
        (str(-(2**63) + 1), -(2**63) + 1),
        (7, 7),
        (2.5, 2.5),
        (2.0, 2),
        (-3e-5, -3e-5),
    ],
)
def test_number_reads_integers_as_int_and_the_rest_as_float(cell: Any, value: Any) -> None:
    found, errors = one({"number": True}, cell)
    assert errors == [] and found == value and type(found) is type(value)


@pytest.mark.parametrize("cell", [str(2**63), str(-(2**63)), "1e19"])
def test_integers_too_large_for_64_bits_become_floats(cell: str) -> None:
    found, _ = one({"number": True}, cell)
    assert type(found) is float and found == float(cell)


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("12,3", "is not a number"),
        ("abc", "is not a number"),
        (True, "is not a number"),
        ("NaN", "is not a number this catalog can hold"),
        ("-Infinity", "is not a number this catalog can hold"),
        ("1.1e300", "is not a number this catalog can hold"),
        ("-1e301", "is not a number this catalog can hold"),
        ("9e-301", "is too close to zero for this catalog to hold"),
        ("-1e-301", "is too close to zero for this catalog to hold"),
        (1e301, "is not a number this catalog can hold"),  # as JSON records give numbers
        (float("inf"), "is not a number this catalog can hold"),
        (1e-310, "is too close to zero for this catalog to hold"),
    ],
)
def test_number_refuses_what_the_catalog_cannot_hold(cell: Any, problem: str) -> None:
    # The cell as written: a true/false cell is "true", not Python's True.
    shown = in_message(cell)
    assert one({"number": True}, cell) == (MISSING, [("c", f"{shown} {problem}", "transform")])


def test_number_takes_decimal_and_thousands_separators() -> None:
    spec = {"number": {"decimal": ",", "thousands": "."}}
    assert one(spec, "1.234.567,5") == (1234567.5, [])
    assert one(spec, "1.234") == (1234, [])
    assert one({"number": {"decimal": ","}}, "3,25") == (3.25, [])
    assert one({"number": {"thousands": " "}}, "1 000.5") == (1000.5, [])
    assert one({"number": True, "split": "|"}, "1|2.5") == ([1, 2.5], [])


@pytest.mark.parametrize(
    "options",
    [
        {"decimal": ""},
        {"thousands": ""},
        {"decimal": 1},
        {"decimal": ",", "thousands": ","},
        {"thousands": "."},  # the default decimal point
    ],
)
def test_number_separators_must_be_usable(options: dict[str, Any]) -> None:
    message = "separators are non-empty texts, and decimal is not thousands"
    assert field_problems({"column": "c", "number": options}) == [
        ("fields.f.number", message, "invalid")
    ]


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        *[("1", True), (" YES ", True), ("y", True), ("On", True), ("x", True), ("true", True)],
        *[("0", False), ("No", False), ("n", False), ("off", False), ("FALSE", False)],
        *[(True, True), (False, False), (1, True), (0, False)],
    ],
)
def test_boolean_reads_the_usual_words(cell: Any, value: bool) -> None:
    assert one({"boolean": True}, cell) == (value, [])


def test_boolean_refuses_other_text_listing_what_is_true() -> None:
    assert one({"boolean": True}, "perhaps") == (
        MISSING,
        [("c", "'perhaps' is neither true (1, on, true, x, y, yes) nor false", "transform")],
    )


def test_boolean_takes_its_own_words_written_as_yaml() -> None:
    # Regression: YAML reads the keys true: and false: (and yes, no in the lists) as booleans,
    # so the words given were ignored and the defaults used.
    raw = yaml.safe_load(
        "class: P\nfields: {f: {column: c, boolean: {true: [Ja, yes], false: [Nein, no, 0]}}}"
    )
    mapping = parse_mapping(raw)
    cells = ("ja", "YES", "on", "true", "nein", "no", "off", "false", "0")
    got = [mapping.apply({"c": cell})[0].get("f") for cell in cells]
    assert got == [True] * 4 + [False] * 5
    values, errors = mapping.apply({"c": "1"})
    assert values == {}
    assert [e.message for e in errors] == ["'1' is neither true (ja, on, true, yes) nor false"]


def test_a_boolean_cell_stays_what_it_is_whatever_the_words() -> None:
    spec = {"boolean": {"true": ["ja"], "false": ["nein"]}}
    assert one(spec, True) == (True, [])
    assert one(spec, False) == (False, [])


def test_boolean_words_are_lists() -> None:
    assert field_problems({"column": "c", "boolean": {"true": "ja"}}) == [
        ("fields.f.boolean", "true and false are lists of texts", "invalid")
    ]
    assert field_problems({"column": "c", "boolean": {"false": "nein"}}) == [
        ("fields.f.boolean", "true and false are lists of texts", "invalid")
    ]


def test_date_reads_iso_8601_or_the_given_format() -> None:
    assert one({"date": True}, " 2026-11-24 ") == ("2026-11-24", [])
    assert one({"date": True}, "2026-11-24T23:30:00+05:00") == ("2026-11-24", [])
    assert one({"date": {"format": "%d.%m.%Y"}}, "24.11.2026") == ("2026-11-24", [])
    assert one({"date": {}}, "2026-11-24") == ("2026-11-24", [])
    assert one({"date": True}, "24.11.2026") == (
        MISSING,
        [("c", "'24.11.2026' is not a date (ISO 8601)", "transform")],
    )
    assert one({"date": {"format": "%d.%m.%Y"}}, "31.02.2026") == (
        MISSING,
        [("c", "'31.02.2026' is not a date (%d.%m.%Y)", "transform")],
    )


def test_first_takes_the_first_item_of_a_list_only() -> None:
    assert one({"split": ",", "first": True}, "b,a") == ("b", [])
    assert one({"first": True}, "b,a") == ("b,a", [])
    assert one({"split": ",", "first": False}, "b,a") == (["b", "a"], [])


def test_steps_run_in_the_documented_order_whatever_the_order_written() -> None:
    # pick, trim, html, split, lowercase, map, number, boolean, date, first, path
    spec = {
        "first": True,
        "map": {"ten": "10", "a&b": "9"},
        "number": True,
        "lowercase": True,
        "split": ";",
        "html": True,
        "pick": "k",
        "column": "c",
    }
    assert one(spec, "x=1, k = TEN;A&amp;B ") == (10, [])
    assert one({"column": "c", "map": {"Ja": "1"}, "boolean": True}, " Ja ") == (True, [])
    paths, _ = one({"column": "c", "split": ",", "path": True}, "a/b,c")  # a path of each
    assert [p.code for p in paths] == ["a-b", "c"]
    path, errors = one({"path": {"skip": 1}}, " Default/Men/Tops ")
    assert errors == [] and path.code == "men-tops"


def test_a_cell_error_names_the_column_or_else_the_field_and_spares_the_others() -> None:
    mapping = parse_mapping(
        {
            "class": "P",
            "fields": {
                "stock": {"column": "Qty", "number": True},
                "weight": {"template": "{W}kg", "number": True},
                "sku": "SKU",
            },
        }
    )
    values, errors = mapping.apply({"Qty": "many", "W": "2", "SKU": "A"})
    assert values == {"sku": "A"}
    assert [(e.field, e.message, e.code) for e in errors] == [
        ("Qty", "'many' is not a number", "transform"),
        ("weight", "'2kg' is not a number", "transform"),
    ]


def test_parts_of_one_field_are_gathered() -> None:
    values, _ = parse_mapping(
        {"class": "P", "fields": {"price.amount": "p", "price.currency": {"value": "EUR"}}}
    ).apply({"p": "5"})
    assert values == {"price": {"amount": "5", "currency": "EUR"}}


def test_a_template_renders_cells_as_text_and_missing_ones_as_nothing() -> None:
    assert one({"template": "{c}/{d}:{c}"}, 5) == ("5/:5", [])
    assert one({"template": "{c}"}, None) == (MISSING, [])
    assert one({"template": "}}{c}{{", "trim": False}, " x ") == ("} x {", [])


def test_the_shipped_mappings_are_listed_and_parse() -> None:
    assert shipped_mappings() == ["magento-products"]
    text = shipped_mapping("magento-products")
    assert text is not None
    mapping = parse_mapping(yaml.safe_load(text))
    assert mapping.class_name == "Product"
    assert mapping.missing_columns(["sku", "name"]) == []
    assert shipped_mapping("magento") is None and shipped_mapping("../mapping") is None


def test_parse_template_gives_literals_and_columns_in_order() -> None:
    assert parse_template("Size {c}") == [(False, "Size "), (True, "c")]
    assert parse_template("{a}{b}") == [(True, "a"), (True, "b")]
    assert parse_template("{{x}}: {a} cm") == [
        (False, "{"),
        (False, "x"),
        (False, "}"),
        (False, ": "),
        (True, "a"),
        (False, " cm"),
    ]
    assert parse_template("plain") == [(False, "plain")]
    assert parse_template("") == []


def test_a_template_may_start_with_text() -> None:
    assert one({"template": "Size {c}"}, "XS") == ("Size XS", [])
    assert one({"template": "EUR"}, None) == ("EUR", [])


@pytest.mark.parametrize("step", ["trim", "html", "lowercase", "first"])
@pytest.mark.parametrize("arg", ["false", None, 0, 1])
def test_a_step_that_is_on_or_off_takes_only_true_or_false(step: str, arg: Any) -> None:
    assert field_problems({"column": "c", step: arg}) == [
        (f"fields.f.{step}", "true or false", "invalid")
    ]


def test_path_options_are_kept_for_the_import_and_checked_by_path() -> None:
    mapping = parse_mapping(
        {"class": "P", "fields": {"category": {"column": "c", "path": {"skip": 1, "create": True}}}}
    )
    assert mapping.fields[0].path == PathOptions(skip=1, create=True)
    assert field_problems({"column": "c", "path": {"skip": -1}}) == [
        ("fields.f.path", "skip is a whole number, separator not empty", "invalid")
    ]
