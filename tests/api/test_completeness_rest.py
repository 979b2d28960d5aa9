"""Completeness over HTTP on both backends: in the object envelope and the product view,
filterable and sortable in listings, recomputed when the class changes through the class
API, and a 400 naming an unknown channel or language."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.assets.images import add_images
from tests.conftest import bearer

OBJECTS = "/api/v1/objects/Product"
LAMP = {
    "sku": "LAMP",
    "name": {"en": "Lamp", "de": "Lampe"},
    "description": {"en": "Bright", "de": "Hell"},
    "price": {"amount": 20, "currency": "EUR"},
    "image": "lamp.png",
}


@pytest.fixture
def hub(hub: Hub) -> Hub:
    """The commerce hub with the images these products name."""
    add_images(hub, "/lamp.png", "/box.png")
    return hub


def _create(client: TestClient, admin: dict[str, str], fields: dict[str, Any]) -> dict[str, Any]:
    response = client.post(OBJECTS, json={"fields": fields}, headers=admin)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _keys(client: TestClient, admin: dict[str, str], **params: str) -> list[str]:
    response = client.get(OBJECTS, params=params, headers=admin)
    assert response.status_code == 200, response.text
    return [item["key"] for item in response.json()["items"]]


def test_completeness_in_envelopes_listings_and_filters(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = _create(client, admin, {"sku": "BOX", "name": {"en": "Box"}})
    assert created["completeness"]["ecommerce"]["en"] == {
        "ratio": 25,
        "missing": ["description", "price", "image"],
    }
    _create(client, admin, LAMP)
    patched = client.patch(
        f"{OBJECTS}/BOX", json={"fields": {"image": "box.png"}}, headers=admin
    ).json()
    assert patched["completeness"]["ecommerce"]["en"]["ratio"] == 50
    got = client.get(f"{OBJECTS}/BOX", headers=admin).json()
    assert got["completeness"] == patched["completeness"]
    complete = '{"completeness.ecommerce.en": {"$gte": 100}}'
    assert _keys(client, admin, filter=complete) == ["LAMP"]
    assert _keys(client, admin, filter='{"completeness.ecommerce.de": {"$lt": 100}}') == ["BOX"]
    assert _keys(client, admin, sort="-completeness.ecommerce.de") == ["LAMP", "BOX"]
    listed = client.get(OBJECTS, params={"filter": complete}, headers=admin).json()
    assert listed["items"][0]["completeness"]["ecommerce"]["de"] == {"ratio": 100, "missing": []}
    view = client.get("/api/v1/products/BOX", params={"lang": "de"}, headers=admin).json()
    assert view["completeness"] == {
        "ecommerce": {"ratio": 25, "missing": ["name", "description", "price"]}
    }


def test_unknown_channel_or_language_is_a_400_naming_it(
    client: TestClient, admin: dict[str, str]
) -> None:
    for filter, named in [
        ('{"completeness.shop.en": 100}', "unknown channel 'shop'; channels: ecommerce"),
        ('{"completeness.ecommerce.fr": 100}', "unknown language 'fr'; ecommerce: en, de"),
    ]:
        response = client.get(OBJECTS, params={"filter": filter}, headers=admin)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["code"] == "invalid-query"
        assert body["errors"][0]["message"] == named
    response = client.get(OBJECTS, params={"sort": "completeness.shop.en"}, headers=admin)
    assert response.status_code == 400


def test_a_class_change_over_http_recomputes_stored_objects(
    client: TestClient, admin: dict[str, str]
) -> None:
    _create(client, admin, LAMP)
    product = client.get("/api/v1/classes/Product", headers=admin).json()
    product["completeness"]["channels"]["ecommerce"]["required"].append("ean")
    changed = client.put("/api/v1/classes/Product", json=product, headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json()["completeness"] == product["completeness"]
    got = client.get(f"{OBJECTS}/LAMP", headers=admin).json()
    assert got["completeness"]["ecommerce"]["en"] == {"ratio": 80, "missing": ["ean"]}
    complete = '{"completeness.ecommerce.en": {"$gte": 100}}'
    assert _keys(client, admin, filter=complete) == []
    bad = {**product, "completeness": {"channels": {"ecommerce": {"languages": ["en"]}}}}
    refused = client.put("/api/v1/classes/Product", json=bad, headers=admin)
    assert refused.status_code == 422, refused.text
    fields = [e["field"] for e in refused.json()["errors"]]
    assert fields == ["completeness.channels.ecommerce.required"]


def test_simple_rest_shows_and_filters_completeness(
    client: TestClient, admin: dict[str, str], hub: Hub
) -> None:
    _create(client, admin, LAMP)
    _create(client, admin, {"sku": "BOX", "name": {"en": "Box"}})
    hub.datahub.create({"name": "partner", "classes": {"Product": {"fields": ["sku"]}}}, author="t")
    key = bearer(hub, "datahub:partner", name="partner")
    response = client.get(
        "/simple-rest/partner/search",
        params={"class": "Product", "filter": '{"completeness.ecommerce.de": {"$lt": 100}}'},
        headers=key,
    )
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    assert item["key"] == "BOX"
    assert item["completeness"]["ecommerce"]["de"]["ratio"] == 0
