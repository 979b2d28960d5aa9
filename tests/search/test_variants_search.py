"""Variants in search, on both databases: a variant is found by the text it inherits from
its parent (and by the parent's new text once the parent changes, never by the old), and
facets on the axes count the variants per value."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.conftest import bearer
from tests.search.test_index import keys, search

SHOP: dict[str, Any] = {
    "name": "shop",
    "classes": {"Product": {"fields": ["sku", "name", "description", "color", "size"]}},
}
VARIANTS = [("black", "S"), ("black", "M"), ("white", "M"), ("red", "L")]


def hoodie_family(hub: Hub) -> None:
    hub.catalog.create(
        "Product",
        {
            "sku": "MH01",
            "name": {"en": "Chaz Kangeroo Hoodie"},
            "description": {"en": "<p>Fleece lined, for zephyrous evenings</p>"},
        },
        author="t",
    )
    for color, size in VARIANTS:
        hub.catalog.create(
            "Product",
            {"sku": f"MH01-{size}-{color}", "color": color, "size": size},
            parent="MH01",
            author="t",
        )


def test_a_variant_is_found_by_its_parents_text_old_and_new(hub: Hub) -> None:
    hoodie_family(hub)
    everyone = ["MH01", *sorted(f"MH01-{s}-{c}" for c, s in VARIANTS)]
    assert sorted(keys(search(hub, "kangeroo"))) == everyone
    assert sorted(keys(search(hub, "zephyrous"))) == everyone  # the inherited description
    hub.catalog.patch("Product", "MH01", {"name": {"en": "Marco Lightweight Jacket"}}, author="t")
    assert keys(search(hub, "kangeroo")) == []
    assert sorted(keys(search(hub, "marco jacket"))) == everyone
    # A variant's own value hides its parent's.
    hub.catalog.patch("Product", "MH01-S-black", {"name": {"en": "Onyx Smock"}}, author="t")
    assert "MH01-S-black" not in keys(search(hub, "jacket"))
    assert keys(search(hub, "onyx")) == ["MH01-S-black"]
    hub.catalog.patch("Product", "MH01", {"name": {"en": "Orion Parka"}}, author="t")
    assert keys(search(hub, "onyx")) == ["MH01-S-black"]
    assert "MH01-S-black" not in keys(search(hub, "orion"))


def test_facets_count_variants_per_axis_value(hub: Hub, client: TestClient) -> None:
    hoodie_family(hub)
    hub.datahub.create(SHOP, author="t")
    headers = bearer(hub, "datahub:shop", name="shop")
    response = client.get(
        "/simple-rest/shop/search?q=kangeroo&class=Product&facets=color,size", headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 5  # the parent and its four variants
    assert body["facets"]["color"] == [
        {"value": "black", "count": 2},
        {"value": "red", "count": 1},
        {"value": "white", "count": 1},
    ]
    assert body["facets"]["size"] == [
        {"value": "M", "count": 2},
        {"value": "L", "count": 1},
        {"value": "S", "count": 1},
    ]
    # Narrowed by an axis, the other axis counts what is left.
    black = client.get(
        '/simple-rest/shop/search?q=kangeroo&class=Product&facets=size&filter={"color": "black"}',
        headers=headers,
    ).json()
    assert black["facets"]["size"] == [{"value": "M", "count": 1}, {"value": "S", "count": 1}]
    # After the parent's text changes, the counts follow the new text.
    hub.catalog.patch("Product", "MH01", {"name": {"en": "Marco Jacket"}}, author="t")
    marco = client.get(
        "/simple-rest/shop/search?q=marco&class=Product&facets=color", headers=headers
    ).json()
    assert sum(f["count"] for f in marco["facets"]["color"]) == 4
