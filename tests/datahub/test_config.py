"""parse_datahub_config rule by rule (path and message of each problem, limits at both ends)
and what a parsed configuration answers and writes back."""

from __future__ import annotations

from typing import Any

import pytest

from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.errors import FieldError
from pimhub.datahub.config import (
    DatahubConfig,
    ExposedClass,
    InvalidDatahubConfig,
    Limits,
    Operation,
    parse_datahub_config,
)

DEFINITIONS = {c["name"]: parse_class_definition(c) for c in commerce_model()}
BRAND = DEFINITIONS["Brand"]
NAME_RULE = "must start with a lower-case letter, then a-z, 0-9, _ or - (at most 64)"
OPERATIONS = "read, create, update, delete"


def config(**overrides: Any) -> dict[str, Any]:
    return {"name": "shop", "classes": {"Brand": {}}, **overrides}


def problems_of(raw: Any, definitions: Any = DEFINITIONS) -> list[FieldError]:
    with pytest.raises(InvalidDatahubConfig) as caught:
        parse_datahub_config(raw, definitions)
    return caught.value.errors


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"surprise": 1}, FieldError("surprise", "unknown attribute")),
        ({"name": "Shop"}, FieldError("name", NAME_RULE)),
        ({"name": "1shop"}, FieldError("name", NAME_RULE)),
        ({"name": "shop\n"}, FieldError("name", NAME_RULE)),
        ({"name": "s" * 65}, FieldError("name", NAME_RULE)),
        ({"name": 5}, FieldError("name", NAME_RULE)),
        ({"drafts": "yes"}, FieldError("drafts", "must be true or false")),
        ({"introspection": "on"}, FieldError("introspection", "must be true, false or left out")),
        ({"description": 5}, FieldError("description", "must be a string")),
        (
            {"classes": {}},
            FieldError("classes", "must map at least one class name to its fields and operations"),
        ),
        (
            {"classes": ["Brand"]},
            FieldError("classes", "must map at least one class name to its fields and operations"),
        ),
        (
            {"classes": {"Nope": {}}},
            FieldError(
                "classes.Nope", "there is no class 'Nope' (classes: Brand, Category, Product)"
            ),
        ),
        (
            {"classes": {"Brand": "all"}},
            FieldError("classes.Brand", "must be an object with 'fields' and 'operations'"),
        ),
        (
            {"classes": {"Brand": {"extra": 1}}},
            FieldError("classes.Brand.extra", "unknown attribute"),
        ),
        (
            {"classes": {"Brand": {"fields": "name"}}},
            FieldError("classes.Brand.fields", "must be '*' or a list of field names"),
        ),
        (
            {"classes": {"Product": {"fields": "sku"}}},
            FieldError("classes.Product.fields", "must be '*' or a list of field names"),
        ),
        (
            {"classes": {"Brand": {"fields": ["name", 5]}}},
            FieldError("classes.Brand.fields", "must be '*' or a list of field names"),
        ),
        (
            {"classes": {"Brand": {"fields": ["name", "nope"]}}},
            FieldError(
                "classes.Brand.fields[1]",
                "Brand has no field 'nope' (fields: code, name, website, description, logo)",
            ),
        ),
        (
            {"classes": {"Brand": {"operations": "read"}}},
            FieldError("classes.Brand.operations", f"must be a list of: {OPERATIONS}"),
        ),
        (
            {"classes": {"Brand": {"operations": ["read", "patch"]}}},
            FieldError(
                "classes.Brand.operations[1]", f"unknown operation 'patch'; use {OPERATIONS}"
            ),
        ),
        (
            {"classes": {"Brand": {"operations": ["create"]}}},
            FieldError("classes.Brand.operations", "must include 'read'"),
        ),
        (
            {"classes": {"Product": {"fields": ["sku", "brand"]}, "Category": {}}},
            FieldError(
                "classes.Product.fields",
                "'brand' relates to Brand, which this configuration does not expose; "
                "expose Brand or leave 'brand' out",
            ),
        ),
        ({"limits": 5}, FieldError("limits", "must be an object")),
        (
            {"limits": {"maxWhatever": 3}},
            FieldError(
                "limits.maxWhatever",
                "unknown limit; use maxDepth, maxAliases, maxPageSize, maxTokens, maxCost",
            ),
        ),
    ],
)
def test_each_rule_names_its_path_and_says_what_is_wrong(
    change: dict[str, Any], problem: FieldError
) -> None:
    assert problems_of(config(**change)) == [problem]


def test_a_relation_to_an_exposed_class_is_taken() -> None:
    raw = config(classes={"Category": {"fields": ["code", "parent"]}})
    assert parse_datahub_config(raw, DEFINITIONS).classes[0].fields == ("code", "parent")


def test_the_problem_count_and_the_name_make_the_detail() -> None:
    with pytest.raises(InvalidDatahubConfig) as caught:
        parse_datahub_config(config(drafts=1, description=2), DEFINITIONS)
    assert caught.value.detail == "datahub configuration shop has 2 problem(s)"
    with pytest.raises(InvalidDatahubConfig) as caught:
        parse_datahub_config(config(name=7), DEFINITIONS)
    assert caught.value.detail == "datahub configuration has 1 problem(s)"


def test_a_configuration_that_is_no_object_is_refused_as_a_whole() -> None:
    with pytest.raises(InvalidDatahubConfig) as caught:
        parse_datahub_config(["shop"], DEFINITIONS)
    assert caught.value.detail == "a datahub configuration must be an object"
    assert caught.value.errors == [FieldError("", "expected an object")]


def test_unknown_attributes_are_listed_in_name_order() -> None:
    raw = config(zeta=1, alpha=2, classes={"Brand": {"z": 1, "a": 2}})
    assert [e.field for e in problems_of(raw)] == [
        "alpha",
        "zeta",
        "classes.Brand.a",
        "classes.Brand.z",
    ]


@pytest.mark.parametrize("name", ["s", "s" * 64, "a-b_c9"])
def test_names_of_one_to_64_characters_are_taken(name: str) -> None:
    assert parse_datahub_config(config(name=name), DEFINITIONS).scope == f"datahub:{name}"


def test_a_class_left_empty_is_read_with_all_its_fields() -> None:
    parsed = parse_datahub_config(config(classes={"Brand": None}), DEFINITIONS)
    assert parsed.classes == (ExposedClass("Brand", None, frozenset({Operation.READ})),)


def test_every_class_is_checked_after_a_bad_one() -> None:
    raw = config(classes={"Nope": {}, "Brand": 5, "Category": {"x": 1}})
    assert [e.field for e in problems_of(raw)] == [
        "classes.Nope",
        "classes.Brand",
        "classes.Category.x",
    ]


def test_without_classes_defined_yet_every_class_is_unknown() -> None:
    assert problems_of(config(), {}) == [
        FieldError("classes.Brand", "there is no class 'Brand' (classes: none yet)")
    ]


def test_stored_configurations_are_taken_without_the_class_definitions() -> None:
    raw = config(classes={"Gone": {"fields": ["old"], "operations": ["read", "delete"]}})
    parsed = parse_datahub_config(raw, None)
    assert parsed.exposed("Gone") == ExposedClass(
        "Gone", ("old",), frozenset({Operation.READ, Operation.DELETE})
    )


def test_every_relation_to_an_unexposed_class_is_named() -> None:
    errors = problems_of(config(classes={"Product": {}}))
    assert [e.message.split(" relates")[0] for e in errors] == [
        "'category'",
        "'brand'",
        "'categories'",
    ]
    assert {e.field for e in errors} == {"classes.Product.fields"}


def test_a_class_whose_listing_is_another_class_collides() -> None:
    errors = problems_of({"name": "x", "classes": {"Thing": {}, "ThingListing": {}}}, None)
    assert errors == [
        FieldError(
            "classes.ThingListing",
            "getThingListing would name both Thing's listing and this class; "
            "expose one of them in another configuration",
        )
    ]


def test_a_class_named_money_collides_with_the_money_type() -> None:
    errors = problems_of({"name": "x", "classes": {"Money": {}}}, None)
    assert errors == [FieldError("classes.Money", "'Money' collides with the built-in Money type")]


LIMITS = [
    ("maxDepth", "max_depth", 1, 50),
    ("maxAliases", "max_aliases", 0, 1000),
    ("maxPageSize", "max_page_size", 1, 1000),
    ("maxTokens", "max_tokens", 50, 100_000),
    ("maxCost", "max_cost", 1, 10_000_000),
]


@pytest.mark.parametrize(("key", "attr", "low", "high"), LIMITS)
def test_each_limit_takes_its_range_and_refuses_beyond_it(
    key: str, attr: str, low: int, high: int
) -> None:
    for value in (low, high):
        limits = parse_datahub_config(config(limits={key: value}), DEFINITIONS).limits
        assert getattr(limits, attr) == value
        assert limits == Limits(**{attr: value})
    message = f"must be a whole number {low}..{high}"
    for bad in (low - 1, high + 1, float(low), True, str(low)):
        errors = problems_of(config(limits={key: bad}))
        assert errors == [FieldError(f"limits.{key}", message)], bad


def test_every_bad_limit_is_reported() -> None:
    errors = problems_of(config(limits={"maxDepth": 0, "nope": 1, "maxCost": 0}))
    assert [e.field for e in errors] == ["limits.maxDepth", "limits.nope", "limits.maxCost"]


def test_defaults() -> None:
    parsed = parse_datahub_config(config(), DEFINITIONS)
    assert parsed == DatahubConfig(
        name="shop",
        classes=(ExposedClass("Brand", None, frozenset({Operation.READ})),),
        limits=Limits(max_depth=10, max_aliases=30, max_page_size=100, max_tokens=2000),
    )
    assert parsed.limits.max_cost == 5000
    assert parsed.description is None and parsed.drafts is False
    assert parsed.introspection is None and parsed.version == 0


def test_what_is_given_is_kept() -> None:
    raw = config(
        description="Shop front",
        drafts=True,
        introspection=False,
        classes={
            "Brand": {"fields": ["name", "code", "name"], "operations": ["update", "read"]},
            "Category": {"fields": "*", "operations": ["read", "create", "delete"]},
        },
    )
    parsed = parse_datahub_config(raw, DEFINITIONS)
    assert parsed.description == "Shop front" and parsed.drafts is True
    assert parsed.introspection is False
    brand = parsed.exposed("Brand")
    assert brand == ExposedClass(
        "Brand", ("name", "code"), frozenset({Operation.READ, Operation.UPDATE})
    )
    assert brand.allows(Operation.UPDATE) and not brand.allows(Operation.CREATE)
    assert parsed.exposed("Product") is None
    assert parse_datahub_config(config(introspection=True), DEFINITIONS).introspection is True


def test_exposed_fields_follow_the_class_order_and_always_hold_the_business_key() -> None:
    assert ExposedClass("Brand", ("logo", "name"), frozenset()).field_names(BRAND) == [
        "code",
        "name",
        "logo",
    ]
    assert ExposedClass("Brand", ("gone", "name"), frozenset()).field_names(BRAND) == [
        "code",
        "name",
    ]
    assert ExposedClass("Brand", None, frozenset()).field_names(BRAND) == BRAND.field_names


def test_to_dict_writes_what_parses_back() -> None:
    parsed = parse_datahub_config(
        config(
            description="Shop front",
            introspection=False,
            classes={
                "Brand": {"fields": ["name"], "operations": ["delete", "read", "create"]},
                "Category": {},
            },
            limits={"maxDepth": 3},
        ),
        DEFINITIONS,
    ).with_version(7)
    written = parsed.to_dict()
    assert written == {
        "name": "shop",
        "description": "Shop front",
        "drafts": False,
        "introspection": False,
        "classes": {
            "Brand": {"fields": ["name"], "operations": ["read", "create", "delete"]},
            "Category": {"fields": "*", "operations": ["read"]},
        },
        "limits": {
            "maxDepth": 3,
            "maxAliases": 30,
            "maxPageSize": 100,
            "maxTokens": 2000,
            "maxCost": 5000,
        },
        "version": 7,
    }
    assert parsed.to_dict(with_version=False) == {
        k: v for k, v in written.items() if k != "version"
    }
    assert parse_datahub_config(written, DEFINITIONS).with_version(7) == parsed


def test_to_dict_leaves_out_an_empty_description_and_unset_introspection() -> None:
    written = parse_datahub_config(config(description=""), DEFINITIONS).to_dict()
    assert list(written) == ["name", "drafts", "classes", "limits", "version"]


def test_the_cors_section_is_parsed_checked_and_written_back() -> None:
    """A configuration's cors section reaches the parsed configuration and its document;
    its problems are the configuration's, by path."""
    cors = {"origins": ["https://shop.example"], "allowCredentials": True, "maxAge": 120}
    parsed = parse_datahub_config(config(cors=cors), DEFINITIONS)
    assert parsed.cors is not None and parsed.cors.allows("https://shop.example")
    assert not parsed.cors.allows("https://other.example")
    assert parsed.to_dict()["cors"] == cors
    assert parse_datahub_config(parsed.to_dict(), DEFINITIONS).cors == parsed.cors
    without = parse_datahub_config(config(), DEFINITIONS)
    assert without.cors is None and "cors" not in without.to_dict()
    refused = problems_of(config(cors={"origins": ["*"], "allowCredentials": True}))
    assert [p.field for p in refused] == ["cors.allowCredentials"], refused
    assert [p.field for p in problems_of(config(cors=[]))] == ["cors"]
