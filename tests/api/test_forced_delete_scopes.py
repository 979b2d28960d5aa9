"""A forced object delete changes the objects referring to it, so over REST and GraphQL it
needs `write` on each of their classes beside `delete` on its own: refused with a 403 (a
`forbidden` result in GraphQL) naming the missing scopes, before anything is changed. The
deleted object's own variants are deleted with it, which `delete` on the class covers."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import Forbidden
from tests.api.test_rest_contract import OBJECTS, problem
from tests.api.test_variants_api import PRODUCTS, make_family
from tests.conftest import bearer
from tests.storage.test_parallel_writers import errors_of, in_parallel

MEN_TOPS = f"{OBJECTS}/Category/men-tops"


def _state(hub: Hub) -> dict[str, Any]:
    """What a refused delete must leave as it was: the objects' versions and references."""
    c = hub.catalog
    tee = c.get_object("Product", "TS-1", include_drafts=True)
    tops = c.get_object("Category", "men-tops", include_drafts=True)
    men = c.get_object("Category", "men", include_drafts=True)
    return {
        "tee": (tee.version, tee.values.get("category")),
        "tops": (tops.version, tops.values.get("parent")),
        "men": men.version,
    }


def test_a_delete_only_key_may_not_force_a_delete_that_changes_products(
    client: TestClient, sample: Hub
) -> None:
    before = _state(sample)
    deleter = bearer(sample, "read", "delete:Category", name="deleter")
    body = problem(
        client.delete(MEN_TOPS, params={"force": "true"}, headers=deleter), 403, "forbidden"
    )
    assert "'write:Product'" in body["detail"] and "deleter" in body["detail"]
    assert "Category" not in body["detail"].split("objects of", 1)[1]
    assert _state(sample) == before
    # Objects of its own class refer to it too: 'men' is men-tops' parent category.
    body = problem(
        client.delete(f"{OBJECTS}/Category/men", params={"force": "true"}, headers=deleter),
        403,
        "forbidden",
    )
    assert "'write:Category'" in body["detail"] and "Product" not in body["detail"]
    assert _state(sample) == before


def test_write_on_the_referrers_classes_opens_the_forced_delete(
    client: TestClient, sample: Hub, admin: dict[str, str]
) -> None:
    key = bearer(sample, "read", "delete:Category", "write:Product", name="both")
    assert client.delete(MEN_TOPS, params={"force": "true"}, headers=key).status_code == 204
    tee = sample.catalog.get_object("Product", "TS-1", include_drafts=True)
    assert "category" not in tee.values and tee.version == 2
    assert client.get(MEN_TOPS, headers=admin).status_code == 404
    # Without force nothing is checked beyond delete: an unreferenced object just goes.
    assert client.delete(f"{OBJECTS}/Category/men", headers=key).status_code == 204


def test_an_admin_key_forces_any_delete(
    client: TestClient, sample: Hub, admin: dict[str, str]
) -> None:
    url = f"{OBJECTS}/Category/men"
    assert client.delete(url, params={"force": "true"}, headers=admin).status_code == 204
    tops = sample.catalog.get_object("Category", "men-tops", include_drafts=True)
    assert "parent" not in tops.values and tops.version == 2


def test_references_within_the_deleted_family_need_no_write(
    client: TestClient, hub: Hub, admin: dict[str, str]
) -> None:
    """A parent goes with its variants: their references to each other and to the parent
    go with them, so `delete:Product` suffices; a product outside the family does not."""
    make_family(client, admin)
    for sku, related in (("MH01-S", ["MH01"]), ("MH01-M", ["MH01-S", "MH01"])):
        patched = client.patch(
            f"{PRODUCTS}/{sku}", json={"fields": {"related": related}}, headers=admin
        )
        assert patched.status_code == 200, patched.text
    deleter = bearer(hub, "read", "delete:Product", name="deleter")
    outsider = {"sku": "OUT-1", "name": {"en": "Out"}, "price": {"amount": 1, "currency": "EUR"}}
    outsider["related"] = ["MH01-M"]
    assert client.post(PRODUCTS, json={"fields": outsider}, headers=admin).status_code == 201
    url = f"{PRODUCTS}/MH01"
    body = problem(client.delete(url, params={"force": "true"}, headers=deleter), 403, "forbidden")
    assert "'write:Product'" in body["detail"]
    assert hub.catalog.get_object("Product", "MH01-M", include_drafts=True).version == 2
    assert client.delete(f"{PRODUCTS}/OUT-1", headers=deleter).status_code == 204
    assert client.delete(url, params={"force": "true"}, headers=deleter).status_code == 204
    for sku in ("MH01", "MH01-S", "MH01-M"):
        assert client.get(f"{PRODUCTS}/{sku}", headers=admin).status_code == 404


CATEGORIES: dict[str, Any] = {
    "name": "categories",
    "classes": {
        "Category": {"fields": "*", "operations": ["read", "delete"]},
        "Product": {"fields": ["sku", "name"], "operations": ["read"]},
    },
}
DELETE_TOPS = 'mutation { deleteCategory(code: "men-tops", force: true) { success code message } }'


def _graphql(client: TestClient, config: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(f"/graphql/{config}", json={"query": DELETE_TOPS}, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["data"]["deleteCategory"]
    return result


def test_graphql_force_delete_needs_update_on_the_referrers_classes(
    client: TestClient, sample: Hub, admin: dict[str, str]
) -> None:
    sample.datahub.create(CATEGORIES, author="test")
    before = _state(sample)
    refused = _graphql(client, "categories", bearer(sample, "datahub:categories"))
    assert (refused["success"], refused["code"]) == (False, "forbidden")
    assert "'write:Product'" in refused["message"]
    assert _state(sample) == before
    # A configuration that lets its keys update products lets them remove the reference.
    with_update: dict[str, Any] = {**CATEGORIES, "name": "categories-and-products"}
    with_update["classes"] = {
        **CATEGORIES["classes"],
        "Product": {"fields": ["sku", "name"], "operations": ["read", "update"]},
    }
    sample.datahub.create(with_update, author="test")
    key = bearer(sample, "datahub:categories-and-products")
    assert _graphql(client, "categories-and-products", key)["success"] is True
    assert (
        "category" not in sample.catalog.get_object("Product", "TS-1", include_drafts=True).values
    )


def test_graphql_force_delete_by_an_admin_key(
    client: TestClient, sample: Hub, admin: dict[str, str]
) -> None:
    sample.datahub.create(CATEGORIES, author="test")
    assert _graphql(client, "categories", admin)["success"] is True
    assert sample.catalog.get_object("Product", "TS-1", include_drafts=True).version == 2


def test_checked_forced_deletes_racing_referrer_writes(sample: Hub) -> None:
    """Parallel writers (truly at once on PostgreSQL): forced deletes whose check passes or
    refuses, racing writes to the products that refer to the deleted categories. Nothing
    but the refusal and a lost race's 404/422 comes out, and a refused delete kept all."""
    c = sample.catalog
    for n in range(4):
        c.create("Category", {"code": f"c{n}", "name": {"en": f"C{n}"}}, author="t")
        tee = {"sku": f"R-{n}", "name": {"en": "R"}, "price": {"amount": 1, "currency": "EUR"}}
        c.create("Product", {**tee, "category": f"c{n}"}, author="t")
    seen: list[set[str]] = []

    def allow(classes: set[str]) -> None:
        seen.append(classes)

    def refuse(classes: set[str]) -> None:
        raise Forbidden(f"no write on {sorted(classes)}")

    def work(n: int) -> Any:
        if n < 4:  # c0 and c2 are refused; c1 and c3 go
            check = refuse if n % 2 == 0 else allow
            return c.delete("Category", f"c{n}", force=True, author="w", may_unlink=check)
        return c.patch("Product", f"R-{n % 4}", {"stock": n}, author="w")

    outcomes = in_parallel(12, work)
    assert {type(e).__name__ for e in errors_of(outcomes)} == {"Forbidden"}
    assert seen and all(s == {"Product"} for s in seen)
    for n in range(4):
        product = c.get_object("Product", f"R-{n}", include_drafts=True)
        assert ("category" in product.values) == (n % 2 == 0), n
    assert c.get_object("Category", "c0", include_drafts=True).version == 1


def test_an_object_referring_to_itself_is_force_deleted_by_delete_alone(
    client: TestClient, hub: Hub, admin: dict[str, str]
) -> None:
    me = {"sku": "ME", "name": {"en": "Me"}, "price": {"amount": 1, "currency": "EUR"}}
    assert client.post(PRODUCTS, json={"fields": me}, headers=admin).status_code == 201
    patch = {"fields": {"related": ["ME"]}}
    assert client.patch(f"{PRODUCTS}/ME", json=patch, headers=admin).status_code == 200
    deleter = bearer(hub, "read", "delete:Product", name="deleter")
    gone = client.delete(f"{PRODUCTS}/ME", params={"force": "true"}, headers=deleter)
    assert gone.status_code == 204, gone.text
