"""The variant rules without storage: the class's `variants` block, effective values, and
the checks a child's own values and its siblings must pass."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pimhub.catalog.classes import ClassDefinition, VariantRules, parse_class_definition
from pimhub.catalog.errors import InvalidClassDefinition
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.variants import (
    KEEP,
    effective,
    inherited_values,
    own_value_errors,
    patch_target,
    sibling_errors,
    structure_errors,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FIELDS = [
    {"name": "sku", "type": "text"},
    {"name": "name", "type": "text", "required": True},
    {"name": "ean", "type": "text", "unique": True},
    {"name": "color", "type": "select", "options": ["red", "blue"]},
    {"name": "size", "type": "text"},
    {"name": "material", "type": "text"},
    {"name": "stock", "type": "number"},
    {"name": "tags", "type": "multiselect", "options": ["a"]},
    {"name": "title", "type": "text", "localized": True},
]


def shirt(variants: Any = None) -> ClassDefinition:
    raw: dict[str, Any] = {"name": "Shirt", "businessKey": "sku", "fields": FIELDS}
    if variants is not None:
        raw["variants"] = variants
    return parse_class_definition(raw)


SHIRT = shirt({"axes": ["color", "size"], "parentOnly": ["material"]})


def obj(key: str, values: dict[str, Any], parent: str | None = None) -> CatalogObject:
    return CatalogObject("Shirt", key, f"uuid-{key}", values, True, 1, T0, T0, parent=parent)


PARENT = obj("P", {"sku": "P", "name": "Shirt", "ean": "1", "material": "cotton", "stock": 9})


def test_the_variants_block_round_trips() -> None:
    assert SHIRT.variants == VariantRules(("color", "size"), ("material",))
    assert SHIRT.to_dict()["variants"] == {"axes": ["color", "size"], "parentOnly": ["material"]}
    assert shirt({"axes": ["color"]}).to_dict()["variants"] == {"axes": ["color"]}
    assert "variants" not in shirt().to_dict()
    assert parse_class_definition(SHIRT.to_dict()) == SHIRT
    assert SHIRT.with_version(3).variants == SHIRT.variants


@pytest.mark.parametrize(
    ("variants", "problems"),
    [
        ([], [("variants", "must be an object with 'axes' (and optionally 'parentOnly')")]),
        ({}, [("variants.axes", "a class with variants names at least one axis field")]),
        ({"axes": ["nope"]}, [("variants.axes[0]", "names no field of this class: 'nope'")]),
        (
            {"axes": ["sku"]},
            [("variants.axes[0]", "the business key and unique fields cannot be axes")],
        ),
        (
            {"axes": ["ean"]},
            [("variants.axes[0]", "the business key and unique fields cannot be axes")],
        ),
        (
            {"axes": ["tags"]},
            [
                (
                    "variants.axes[0]",
                    "an axis is a non-localized field of type boolean, number, select, text",
                )
            ],
        ),
        (
            {"axes": ["title"]},
            [
                (
                    "variants.axes[0]",
                    "an axis is a non-localized field of type boolean, number, select, text",
                )
            ],
        ),
        (
            {"axes": ["color"], "parentOnly": ["color"]},
            [
                (
                    "variants.parentOnly[0]",
                    "the business key, unique fields and axes belong to each variant",
                )
            ],
        ),
        (
            {"axes": ["color"], "parentOnly": ["sku", "x"]},
            [
                (
                    "variants.parentOnly[0]",
                    "the business key, unique fields and axes belong to each variant",
                ),
                ("variants.parentOnly[1]", "names no field of this class: 'x'"),
            ],
        ),
        ({"axes": ["color"], "extra": 1}, [("variants.extra", "unknown variants attribute")]),
        (
            {"axes": ["color", "color"]},
            [("variants.axes", "must not repeat a value")],
        ),
    ],
)
def test_a_bad_variants_block_names_every_problem(
    variants: Any, problems: list[tuple[str, str]]
) -> None:
    with pytest.raises(InvalidClassDefinition) as caught:
        shirt(variants)
    assert [(e.field, e.message) for e in caught.value.errors] == problems


def test_only_plain_fields_are_inherited() -> None:
    assert [f.name for f in SHIRT.fields if SHIRT.inheritable(f.name)] == [
        "name", "material", "stock", "tags", "title",
    ]  # fmt: skip
    assert not SHIRT.inheritable("nope")
    assert not shirt().inheritable("name")  # no variants, nothing inherited


def test_effective_values_merge_own_over_the_parents_in_field_order() -> None:
    own = {"sku": "C", "size": "M", "color": "red", "stock": 1}
    values, inherited = effective(SHIRT, PARENT, own)
    assert list(values) == ["sku", "name", "color", "size", "material", "stock"]
    assert values["stock"] == 1 and values["name"] == "Shirt"
    assert inherited == ("name", "material")
    assert inherited_values(SHIRT, PARENT) == {"name": "Shirt", "material": "cotton", "stock": 9}
    assert effective(SHIRT, None, own) == (own, ())
    everything = {"sku": "C", "name": "n", "material": "m", "stock": 2}
    assert effective(SHIRT, PARENT, everything) == (everything, ())


def test_structure_errors() -> None:
    def found(
        definition: ClassDefinition, uuid: str | None, parent: CatalogObject, kids: bool
    ) -> list[tuple[str, str, str]]:
        errors = structure_errors(definition, uuid, parent, kids)
        return [(e.field, e.code, e.message) for e in errors]

    assert found(SHIRT, None, PARENT, False) == []
    assert found(shirt(), None, PARENT, False) == [
        (
            "parent",
            "no-variants",
            "Shirt has no variants; declare 'variants: {axes: [...]}' in its class definition "
            "first",
        )
    ]
    assert found(SHIRT, "uuid-P", PARENT, False) == [
        ("parent", "variant-level", "an object cannot be its own parent")
    ]
    assert found(SHIRT, None, obj("C", {}, parent="uuid-P"), False) == [
        (
            "parent",
            "variant-level",
            "Shirt 'C' is itself a variant; a family has one level, so name its parent instead",
        )
    ]
    assert found(SHIRT, "uuid-X", PARENT, True) == [
        (
            "parent",
            "variant-level",
            "this object has variants of its own, so it cannot become a variant",
        )
    ]
    assert repr(KEEP) == "KEEP"


def test_own_value_errors_want_every_axis_and_no_parent_only_field() -> None:
    def found(own: dict[str, Any]) -> list[tuple[str, str]]:
        return [(e.field, e.code) for e in own_value_errors(SHIRT, own, PARENT)]

    assert found({"color": "red", "size": "M"}) == []
    assert found({"color": "red"}) == [("size", "axis-required")]
    errors = own_value_errors(SHIRT, {"size": "M", "material": "x"}, PARENT)
    assert [(e.field, e.code, e.message) for e in errors] == [
        ("color", "axis-required", "is an axis of Shirt: each variant of 'P' sets it"),
        ("material", "parent-only", "is set on the parent 'P' only"),
    ]
    assert found({"color": "red", "size": False}) == []  # a set value, if falsy


def test_sibling_errors_name_the_sibling_with_the_same_axes() -> None:
    siblings = [
        obj("C1", {"color": "red", "size": "S"}),
        obj("C2", {"color": "red", "size": "M"}),
    ]
    assert sibling_errors(SHIRT, {"color": "blue", "size": "S"}, None, siblings) == []
    [error] = sibling_errors(SHIRT, {"color": "red", "size": "M"}, None, siblings)
    assert (error.field, error.code) == ("color,size", "axes-taken")
    assert error.message == "sibling 'C2' already has color=red, size=M"
    # An object is not its own sibling.
    assert sibling_errors(SHIRT, {"color": "red", "size": "M"}, "uuid-C2", siblings) == []


def test_an_unpublished_sibling_is_not_named() -> None:
    hidden = CatalogObject(
        "Shirt", "H", "uuid-H", {"color": "red", "size": "S"}, False, 1, T0, T0, parent="p"
    )
    [error] = sibling_errors(SHIRT, {"color": "red", "size": "S"}, None, [hidden])
    assert error.message == "an unpublished sibling already has color=red, size=S"


def test_a_patch_target_takes_inherited_values_only_where_the_patch_goes_inside() -> None:
    variant = CatalogObject(
        "Shirt", "C", "uuid-C",
        {"sku": "C", "title": {"en": "T"}, "stock": 9, "color": "red"},
        True, 1, T0, T0, parent="uuid-P", inherited=("title", "stock"),
    )  # fmt: skip
    assert patch_target(variant, {"title": {"de": "D"}, "stock": 3}) == {
        "sku": "C", "color": "red", "title": {"en": "T"},
    }  # fmt: skip
    assert patch_target(variant, {"stock": 3}) == {"sku": "C", "color": "red"}
    standalone = obj("S", {"sku": "S", "stock": 1})
    assert patch_target(standalone, {"stock": {"x": 1}}) is standalone.values
