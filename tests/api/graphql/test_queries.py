"""Reads through /graphql/{config}: get, listing, filters, paging, relations, languages."""

from __future__ import annotations

from tests.api.graphql.conftest import Gql


def test_get_product_by_sku_with_nested_relations(gql: Gql) -> None:
    body = gql(
        """{ getProduct(sku: "TS-1") {
              sku name(language: "de") price { amount currency } stock
              category { code name parent { code name } }
              brand { name }
           } }"""
    )
    assert "errors" not in body, body
    assert body["data"]["getProduct"] == {
        "sku": "TS-1",
        "name": "T-Shirt",
        "price": {"amount": 19.99, "currency": "EUR"},
        "stock": 7.0,
        "category": {"code": "men-tops", "name": "Tops", "parent": {"code": "men", "name": "Men"}},
        "brand": {"name": "Acme"},
    }
    assert body["extensions"]["cost"]["requested"] >= 1
