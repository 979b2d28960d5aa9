"""Variants over REST on both backends: a parent in the body, the envelope naming the parent
and the inherited fields, /variants, listings by family role, 422s that name the problem,
409 for a parent delete without force."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.api.test_rest_contract import OBJECTS, problem
from tests.conftest import bearer

PRODUCTS = f"{OBJECTS}/Product"
HOODIE = {
    "sku": "MH01",
    "name": {"en": "Chaz Hoodie"},
    "price": {"amount": 52, "currency": "USD"},
}


def variant(sku: str, color: str, size: str) -> dict[str, Any]:
    return {"sku": sku, "color": color, "size": size}


def make_family(client: TestClient, admin: dict[str, str]) -> None:
    assert client.post(PRODUCTS, json={"fields": HOODIE}, headers=admin).status_code == 201
    for sku, size in (("MH01-S", "S"), ("MH01-M", "M")):
        body = {"fields": variant(sku, "black", size), "parent": "MH01"}
        assert client.post(PRODUCTS, json=body, headers=admin).status_code == 201


def test_a_variant_answers_with_effective_values_and_names_its_parent(
    client: TestClient, admin: dict[str, str]
) -> None:
    make_family(client, admin)
    parent = client.get(f"{PRODUCTS}/MH01", headers=admin).json()
    shown = client.get(f"{PRODUCTS}/MH01-S", headers=admin).json()
    assert shown["parent"] == {"uuid": parent["uuid"], "key": "MH01"}
    assert shown["inherited"] == ["name", "price"]
    assert shown["fields"]["name"] == {"en": "Chaz Hoodie"}
    assert "parent" not in parent and "inherited" not in parent


def test_a_parent_change_shows_on_its_variants_with_a_new_etag(
    client: TestClient, admin: dict[str, str]
) -> None:
    make_family(client, admin)
    before = client.get(f"{PRODUCTS}/MH01-S", headers=admin)
    patch = {"fields": {"price": {"amount": 60, "currency": "USD"}}}
    assert client.patch(f"{PRODUCTS}/MH01", json=patch, headers=admin).status_code == 200
    after = client.get(f"{PRODUCTS}/MH01-S", headers=admin)
    assert after.json()["fields"]["price"]["amount"] == 60
    assert after.headers["etag"] != before.headers["etag"]
    # A client holding the old ETag sees that the variant changed under it.
    stale = {**admin, "If-Match": before.headers["etag"]}
    change = {"fields": {"stock": 1}}
    problem(
        client.patch(f"{PRODUCTS}/MH01-S", json=change, headers=stale), 412, "precondition-failed"
    )


def test_variants_and_family_listings(client: TestClient, admin: dict[str, str]) -> None:
    make_family(client, admin)
    solo = {**HOODIE, "sku": "SOLO"}
    assert client.post(PRODUCTS, json={"fields": solo}, headers=admin).status_code == 201

    def keys(url: str) -> list[str]:
        response = client.get(url, headers=admin)
        assert response.status_code == 200, response.text
        return sorted(item["key"] for item in response.json()["items"])

    assert keys(f"{PRODUCTS}/MH01/variants") == ["MH01-M", "MH01-S"]
    assert keys(f"{PRODUCTS}/MH01/variants?sort=-size&first=1") == ["MH01-S"]
    assert keys(f"{PRODUCTS}?family=parents") == ["MH01"]
    assert keys(f"{PRODUCTS}?family=variants") == ["MH01-M", "MH01-S"]
    assert keys(f"{PRODUCTS}?family=standalone") == ["SOLO"]
    assert keys(f"{PRODUCTS}?parent=MH01") == ["MH01-M", "MH01-S"]
    listed = client.get(f"{PRODUCTS}?family=variants", headers=admin).json()["items"]
    assert {item["parent"]["key"] for item in listed} == {"MH01"}
    problem(client.get(f"{PRODUCTS}/NOPE/variants", headers=admin), 404, "object-not-found")
    cousins = client.get(f"{PRODUCTS}?family=cousins", headers=admin)
    assert "family" in problem(cousins, 400, "invalid-parameter")["errors"][0]["field"]


def test_family_rules_are_422s_naming_the_problem(
    client: TestClient, admin: dict[str, str]
) -> None:
    make_family(client, admin)
    taken = {"fields": variant("DUP", "black", "S"), "parent": "MH01"}
    body = problem(client.post(PRODUCTS, json=taken, headers=admin), 422, "validation-failed")
    assert body["errors"][0]["code"] == "axes-taken"
    assert "MH01-S" in body["errors"][0]["message"]
    deep = {"fields": variant("X", "red", "S"), "parent": "MH01-S"}
    body = problem(client.post(PRODUCTS, json=deep, headers=admin), 422, "validation-failed")
    assert body["errors"][0] == {
        "field": "parent",
        "code": "variant-level",
        "message": "Product 'MH01-S' is itself a variant; a family has one level, so name "
        "its parent instead",
    }
    nul = {"fields": variant("Y", "red", "S"), "parent": "MH\u000001"}
    response = client.post(PRODUCTS, json=nul, headers=admin)
    assert response.status_code in (400, 422), response.text


def test_a_parent_is_deleted_with_its_variants_only_with_force(
    client: TestClient, admin: dict[str, str]
) -> None:
    make_family(client, admin)
    body = problem(client.delete(f"{PRODUCTS}/MH01", headers=admin), 409, "has-variants")
    assert [e["field"] for e in body["errors"]] == ["Product/MH01-S", "Product/MH01-M"]
    assert client.delete(f"{PRODUCTS}/MH01?force=true", headers=admin).status_code == 204
    assert client.get(f"{PRODUCTS}/MH01-S", headers=admin).status_code == 404


def test_put_keeps_the_parent_it_does_not_mention_and_null_detaches(
    client: TestClient, admin: dict[str, str], hub: Hub
) -> None:
    make_family(client, admin)
    own = variant("MH01-S", "black", "S")
    kept = client.put(f"{PRODUCTS}/MH01-S", json={"fields": own}, headers=admin)
    assert kept.status_code == 200 and kept.json()["parent"]["key"] == "MH01"
    alone = {"fields": {**own, "name": {"en": "Solo S"}}, "parent": None}
    detached = client.put(f"{PRODUCTS}/MH01-S", json=alone, headers=admin)
    assert detached.status_code == 200 and "parent" not in detached.json()
    reader = bearer(hub, "read:Product", name="reader")
    assert client.get(f"{PRODUCTS}/MH01/variants", headers=reader).json()["total"] == 1
