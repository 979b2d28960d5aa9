"""Hub objects as Magento sections and bodies (pure functions); every body validates against
Adobe's published schema."""

from __future__ import annotations

from typing import Any

import pytest

from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.connectors.magento.config import InvalidConnector, parse_config
from pimhub.connectors.magento.mapping import (
    GLOBAL,
    STOCK,
    Family,
    Resolved,
    category_uuids,
    changed,
    disable_body,
    legacy_stock_body,
    option_values,
    product_body,
    product_sections,
    section_hash,
    stock_body,
    url_key,
)

from .schema import validate_body

PRODUCT = parse_class_definition(next(c for c in commerce_model() if c["name"] == "Product"))


def config(**changes: Any) -> Any:
    body = {"name": "shop", "baseUrl": "https://shop.example.com", "stores": {"de": "de"}}
    return parse_config({**body, **changes}, PRODUCT)


def envelope(**fields: Any) -> dict[str, Any]:
    return {"key": "SKU-1", "published": True, "fields": fields}


RESOLVED = Resolved(
    options={
        ("color", "black"): 49,
        ("size", "S"): 60,
        ("size", "M"): 61,
        ("material", "wool"): 7,
        ("material", "cotton"): 5,
    },
    categories={"cat-a": 12, "cat-b": 3},
    attribute_ids={"color": 93, "size": 144},
    children={"C-S": 501, "C-M": 502},
)


def test_every_value_type_becomes_what_magento_stores() -> None:
    sections = product_sections(
        config(),
        envelope(
            name={"en": "Tee", "de": "T-Shirt"},
            description={"en": "<p>Soft</p>"},
            price={"amount": 19.9, "currency": "EUR"},
            weight={"value": 500, "unit": "g"},
            stock=3,
            ean="4006381333931",
            color="black",
            material=["wool", "cotton"],
            featured=True,
            releasedOn="2026-01-31",
            availableFrom="2026-02-01T10:30:00Z",
            categories=["cat-a", "cat-b", "cat-zz"],
        ),
        RESOLVED,
    )
    glob = sections[GLOBAL]
    assert glob["name"] == "Tee" and glob["price"] == 19.9 and glob["weight"] == 0.5
    assert glob["description"] == "<p>Soft</p>" and glob["ean"] == "4006381333931"
    assert glob["color"] == "49" and glob["material"] == "7,5"
    assert (glob["status"], glob["visibility"], glob["type_id"]) == (1, 4, "simple")
    assert glob["attribute_set_id"] == 4 and glob["@website_ids"] == [1]
    assert glob["url_key"] == "tee-sku-1"
    assert glob["@category_links"] == [
        {"category_id": "3", "position": 0},
        {"category_id": "12", "position": 0},
    ]
    assert sections["de"] == {"name": "T-Shirt"}
    assert sections[STOCK] == {"source": "default", "quantity": 3, "status": 1}
    assert "featured" not in glob  # not mapped by default


def test_a_price_in_another_currency_or_a_missing_value_is_not_sent() -> None:
    glob = product_sections(
        config(), envelope(name={"en": "x"}, price={"amount": 5, "currency": "USD"}), RESOLVED
    )[GLOBAL]
    assert "price" not in glob and "color" not in glob
    listed = product_sections(
        config(currency="USD", attributes={"name": "name", "price": "price"}),
        envelope(name={"en": "x"}, price={"amount": 5, "currency": "USD"}),
        RESOLVED,
    )[GLOBAL]
    assert listed["price"] == 5


def test_options_and_categories_the_mapping_needs() -> None:
    values = {
        "color": "black",
        "size": "S",
        "material": ["wool"],
        "category": "c1",
        "categories": ["c2", "c1"],
    }
    assert option_values(config(), values) == [
        ("color", "black"),
        ("size", "S"),
        ("material", "wool"),
    ]
    assert category_uuids(config(), values) == ["c2", "c1"]


def test_a_variant_is_not_visible_alone_and_a_parent_is_configurable() -> None:
    child = product_sections(
        config(), {**envelope(name={"en": "x"}), "parent": {"uuid": "p"}}, RESOLVED
    )
    assert child[GLOBAL]["visibility"] == 1
    family = Family(("color", "size"), {"C-S": {"size": "S"}, "C-M": {"size": "M"}, "C-X": {}})
    parent = product_sections(config(), envelope(name={"en": "x"}), RESOLVED, family)[GLOBAL]
    assert parent["type_id"] == "configurable"
    assert parent["@links"] == [501, 502]
    assert parent["@options"] == [
        {"attribute_id": "93", "label": "color", "position": 0, "values": []},
        {
            "attribute_id": "144",
            "label": "size",
            "position": 1,
            "values": [{"value_index": 60}, {"value_index": 61}],
        },
    ]


def test_only_changed_entries_and_cleared_custom_attributes() -> None:
    before = {"name": "a", "ean": "1", "price": 2, "status": 1}
    now = {"name": "b", "price": 2, "status": 1}
    assert changed(now, before) == {"name": "b", "ean": ""}
    assert changed(now, None) == now
    assert changed(before, before) == {}


def test_bodies_validate_against_adobes_schema() -> None:
    sections = product_sections(
        config(),
        envelope(
            name={"en": "Tee", "de": "T"},
            price={"amount": 1, "currency": "EUR"},
            color="black",
            material=["wool"],
            categories=["cat-a"],
            stock=2.5,
        ),
        RESOLVED,
        Family(("color", "size"), {"C-S": {"size": "S"}}),
    )
    create = product_body("A/B 1", sections[GLOBAL], creating=True)
    assert validate_body("PUT", "/V1/products/{sku}", create) == []
    ext = create["product"]["extension_attributes"]
    assert set(ext) == {
        "website_ids",
        "category_links",
        "configurable_product_options",
        "configurable_product_links",
    }
    update = product_body(
        "A/B 1", {"price": 3, "url_key": "x", "@website_ids": [1]}, creating=False
    )
    assert update == {"product": {"sku": "A/B 1", "price": 3}}
    store = product_body("A/B 1", sections["de"], creating=False)
    assert store == {"product": {"sku": "A/B 1", "name": "T"}}
    items = {"sourceItems": [stock_body("A/B 1", sections[STOCK])]}
    assert validate_body("POST", "/V1/inventory/source-items", items) == []
    legacy = legacy_stock_body(sections[STOCK])
    assert validate_body("PUT", "/V1/products/{productSku}/stockItems/{itemId}", legacy) == []
    assert legacy["stockItem"]["qty"] == 2.5 and legacy["stockItem"]["is_qty_decimal"] is True
    assert validate_body("PUT", "/V1/products/{sku}", disable_body("x")) == []


def test_url_keys_and_hashes() -> None:
    assert url_key("Ärmel Shirt!", "SKU/1") == "armel-shirt-sku-1"
    assert url_key("", "---") != ""
    assert section_hash({"a": 1, "b": 2}) == section_hash({"b": 2, "a": 1})
    assert section_hash({"a": 1}) != section_hash({"a": 2})


def test_a_configuration_reports_every_problem_by_path() -> None:
    with pytest.raises(InvalidConnector) as caught:
        parse_config(
            {
                "name": "Bad Name",
                "baseUrl": "ftp://x",
                "attributes": {"colour": "color", "price": {"code": "Price"}},
                "stock": {"mode": "sometimes"},
                "bulk": {"chunk": 0},
                "sync": {"published": "yes"},
                "extra": 1,
            },
            PRODUCT,
        )
    fields = {e.field for e in caught.value.errors}
    assert fields >= {
        "name",
        "baseUrl",
        "attributes.colour",
        "attributes.price.code",
        "stock.mode",
        "bulk.chunk",
        "sync.published",
        "extra",
    }


def test_the_sync_rule() -> None:
    rule = config(sync={"published": True, "complete": "ecommerce"}).sync
    complete = {"ecommerce": {"en": {"ratio": 1, "missing": []}}}
    assert rule.matches({"published": True, "completeness": complete})
    assert not rule.matches({"published": False, "completeness": complete})
    missing = {"ecommerce": {"en": {"ratio": 0.5, "missing": ["image"]}}}
    assert not rule.matches({"published": True, "completeness": missing})
    assert not rule.matches({"published": True})
    assert config(sync={"published": False}).sync.matches({"published": False})
