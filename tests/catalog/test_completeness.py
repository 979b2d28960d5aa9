"""Completeness channels in class definitions (parsing, problems by path, round trip) and the
pure computation of an object's completeness."""

from __future__ import annotations

from typing import Any

import pytest

from pimhub.catalog.classes import ClassDefinition, parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.completeness import (
    class_changed,
    completeness_of,
    completeness_shape,
    only_channels_differ,
    recompute_class,
)
from pimhub.catalog.errors import InvalidClassDefinition, InvalidQuery
from pimhub.catalog.query import FieldResolver, FilterParser, parse_sort

FIELDS = [
    {"name": "code", "type": "text"},
    {"name": "name", "type": "text", "localized": True},
    {"name": "description", "type": "rich_text", "localized": True},
    {"name": "price", "type": "money"},
    {"name": "image", "type": "asset"},
    {"name": "gallery", "type": "asset", "multiple": True},
    {"name": "tags", "type": "multiselect", "options": ["a", "b"]},
    {"name": "featured", "type": "boolean"},
    {"name": "stock", "type": "number"},
]


def thing(channels: Any) -> ClassDefinition:
    return parse_class_definition(
        {
            "name": "Thing",
            "businessKey": "code",
            "fields": FIELDS,
            "completeness": {"channels": channels},
        }
    )


SHOP = thing(
    {
        "shop": {"languages": ["en", "de"], "required": ["name", "description", "price", "image"]},
        "print": {"title": "Catalog", "languages": ["de"], "required": ["name", "gallery"]},
    }
)


def problems(raw_completeness: Any) -> dict[str, str]:
    with pytest.raises(InvalidClassDefinition) as caught:
        parse_class_definition(
            {"name": "Thing", "businessKey": "code", "fields": FIELDS, **raw_completeness}
        )
    return {e.field: e.message for e in caught.value.errors}


def test_channels_round_trip_through_to_dict() -> None:
    again = parse_class_definition(SHOP.to_dict())
    assert again == SHOP
    assert again.to_dict()["completeness"] == {
        "channels": {
            "shop": {
                "languages": ["en", "de"],
                "required": ["name", "description", "price", "image"],
            },
            "print": {"title": "Catalog", "languages": ["de"], "required": ["name", "gallery"]},
        }
    }
    assert SHOP.with_version(3).completeness == SHOP.completeness
    assert (
        "completeness"
        not in parse_class_definition(
            {"name": "Thing", "businessKey": "code", "fields": FIELDS}
        ).to_dict()
    )


def test_the_shipped_product_has_an_ecommerce_channel() -> None:
    product = next(parse_class_definition(c) for c in commerce_model() if c["name"] == "Product")
    (channel,) = product.completeness
    assert (channel.name, channel.languages) == ("ecommerce", ("en", "de"))
    assert channel.required == ("name", "description", "price", "image")


def test_every_problem_is_named_by_its_path() -> None:
    found = problems(
        {
            "completeness": {
                "channels": {
                    "shop": {
                        "languages": ["en", "EN", "deutsch"],
                        "required": ["name", "nope"],
                        "weight": 2,
                    },
                    "Bad-Name": {"languages": ["en"], "required": ["name"]},
                    "empty": {"languages": [], "required": "name"},
                    "twice": {"languages": ["en", "en"], "required": ["name"], "title": 5},
                },
                "rules": {},
            }
        }
    )
    assert found == {
        "completeness.rules": "unknown completeness attribute; use 'channels'",
        "completeness.channels.shop.weight": (
            "unknown channel attribute; use title, languages, required"
        ),
        "completeness.channels.shop.languages[1]": "'EN' is not a language code like en or pt_BR",
        "completeness.channels.shop.languages[2]": (
            "'deutsch' is not a language code like en or pt_BR"
        ),
        "completeness.channels.shop.required[1]": "names no field of this class: 'nope'",
        "completeness.channels.Bad-Name": (
            "a channel name starts with a lower-case letter, then letters, digits or _"
        ),
        "completeness.channels.empty.languages": "must be a non-empty list",
        "completeness.channels.empty.required": "must be a non-empty list",
        "completeness.channels.twice.languages": "must not repeat a value",
        "completeness.channels.twice.title": "must be a string",
    }


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        ([], "completeness", "must be an object with 'channels'"),
        ({}, "completeness.channels", "must be an object of channel name to"),
        ({"channels": {}}, "completeness.channels", "must be an object of channel name to"),
        ({"channels": {"shop": "all"}}, "completeness.channels.shop", "must be an object"),
        (
            {"channels": {"shop": {"languages": ["en"], "required": [1]}}},
            "completeness.channels.shop.required",
            "must be a list of non-empty strings",
        ),
    ],
)
def test_malformed_blocks_are_refused(raw: Any, path: str, message: str) -> None:
    assert problems({"completeness": raw})[path].startswith(message)


def test_a_localized_field_counts_per_language_the_others_in_every_language() -> None:
    values = {
        "code": "T-1",
        "name": {"en": "Lamp", "de": "Lampe"},
        "description": {"en": "Bright"},
        "price": {"amount": 0, "currency": "EUR"},  # a zero price is a price
    }
    assert completeness_of(SHOP, values) == {
        "shop": {
            "en": {"ratio": 75, "missing": ["image"]},
            "de": {"ratio": 50, "missing": ["description", "image"]},
        },
        "print": {"de": {"ratio": 50, "missing": ["gallery"]}},
    }


def test_ratio_rounds_down_so_100_means_nothing_is_missing() -> None:
    three = thing({"c": {"languages": ["en"], "required": ["image", "stock", "featured"]}})
    assert completeness_of(three, {"image": "a.png"})["c"]["en"]["ratio"] == 33
    assert completeness_of(three, {"image": "a.png", "stock": 0})["c"]["en"]["ratio"] == 66
    full = completeness_of(three, {"image": "a.png", "stock": 0, "featured": False})
    assert full["c"]["en"] == {"ratio": 100, "missing": []}


@pytest.mark.parametrize(
    ("value", "filled"),
    [
        (None, False),
        ("", False),
        ([], False),
        ({}, False),
        (["x.png"], True),
        ({"amount": 0, "currency": "EUR"}, True),
        ({"value": 1.5, "unit": "kg"}, True),
        (0, True),
        (False, True),
    ],
)
def test_filled_agrees_with_validations_empty(value: Any, filled: bool) -> None:
    for field in ("gallery", "price", "stock"):
        one = thing({"c": {"languages": ["en"], "required": [field]}})
        assert completeness_of(one, {field: value})["c"]["en"]["ratio"] == (100 if filled else 0)


def test_a_localized_value_empty_in_the_language_is_missing() -> None:
    one = thing({"c": {"languages": ["en", "de"], "required": ["name"]}})
    result = completeness_of(one, {"name": {"en": "", "de": "Lampe"}})
    assert result["c"]["en"] == {"ratio": 0, "missing": ["name"]}
    assert result["c"]["de"] == {"ratio": 100, "missing": []}
    assert completeness_of(one, {"name": "not localized data"})["c"]["de"]["ratio"] == 0


def test_a_class_without_channels_has_empty_completeness() -> None:
    plain = parse_class_definition({"name": "Thing", "businessKey": "code", "fields": FIELDS})
    assert completeness_of(plain, {"code": "x"}) == {}


def test_the_shape_changes_only_with_what_decides_completeness() -> None:
    retitled = thing(
        {
            "shop": {
                "title": "Web",
                "languages": ["en", "de"],
                "required": ["name", "description", "price", "image"],
            },
            "print": {"title": "Catalog", "languages": ["de"], "required": ["name", "gallery"]},
        }
    )
    assert completeness_shape(retitled) == completeness_shape(SHOP)
    more = thing(
        {"shop": {"languages": ["en", "de"], "required": ["name", "description", "price"]}}
    )
    assert completeness_shape(more) != completeness_shape(SHOP)


class FakeStore:
    def __init__(self, values: dict[int, dict[str, Any]]) -> None:
        self.values = values
        self.stored: dict[int, Any] = {}
        self.batches = 0

    def values_batches(self, class_name: str, size: int) -> Any:
        ids = sorted(self.values)
        for start in range(0, len(ids), size):
            self.batches += 1
            yield [(i, self.values[i]) for i in ids[start : start + size]]

    def set_completeness_many(self, rows: Any) -> None:
        self.stored.update(rows)


def test_recompute_class_stores_every_object_in_batches() -> None:
    store = FakeStore({i: {"image": "a.png"} if i % 2 else {} for i in range(1, 4002)})
    assert recompute_class(store, SHOP) == 4001
    assert store.batches == 3
    assert store.stored[1]["shop"]["en"] == {
        "ratio": 25,
        "missing": ["name", "description", "price"],
    }
    assert store.stored[2]["shop"]["en"]["ratio"] == 0
    assert class_changed(store, SHOP, SHOP) == 0  # nothing that decides it changed


def test_filters_and_sorts_name_channel_and_language() -> None:
    resolver = FieldResolver(SHOP, default_language="en")
    node = FilterParser(resolver).parse('{"completeness.shop.de": {"$gte": 100}}')
    assert node is not None
    assert node.ref.completeness and node.ref.path == ("shop", "de", "ratio")  # type: ignore[union-attr]
    assert node.value == 100  # type: ignore[union-attr]
    (key,) = parse_sort(resolver, ["-completeness.print.de"])
    assert key.descending and key.ref.label == "completeness.print.de"
    for name, says in [
        ("completeness.web.en", "unknown channel 'web'; channels: shop, print"),
        ("completeness.print.en", "unknown language 'en'; print: de"),
        ("completeness.shop", "use completeness.<channel>.<language>; channels: shop, print"),
    ]:
        with pytest.raises(InvalidQuery) as caught:
            FilterParser(resolver).parse(f'{{"{name}": 100}}')
        assert caught.value.errors[0].message == says
    with pytest.raises(InvalidQuery):
        FilterParser(resolver).parse('{"completeness.shop.en": "full"}')


def test_only_channels_differ() -> None:
    plain = parse_class_definition({"name": "Thing", "businessKey": "code", "fields": FIELDS})
    assert only_channels_differ(plain, SHOP) and only_channels_differ(SHOP, SHOP)
    other = parse_class_definition({"name": "Thing", "businessKey": "code", "fields": FIELDS[:-1]})
    assert not only_channels_differ(other, plain)


def test_channel_and_language_counts_are_bounded() -> None:
    many = {f"c{i}": {"languages": ["en"], "required": ["name"]} for i in range(33)}
    assert problems({"completeness": {"channels": many}})["completeness.channels"] == (
        "at most 32 channels are supported"
    )
    codes = [f"{a}{b}" for a in "abcdefghi" for b in "abcdefgh"]  # 72 codes
    wide = {"shop": {"languages": codes, "required": ["name"]}}
    found = problems({"completeness": {"channels": wide}})
    assert found["completeness.channels.shop.languages"] == "at most 64 languages per channel"
