"""The normalized product payload served at /api/v1/products/{sku}."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pimhub.catalog.objects import CatalogObject, RelatedObject, iso


def pick_language(value: Any, language: str, default_language: str) -> Any:
    """A localized value in `language`, else the default language, else any language."""
    if not isinstance(value, Mapping):
        return value
    for lang in (language, default_language):
        if value.get(lang) is not None:
            return value[lang]
    return next(iter(value.values()), None)


def product_view(
    product: CatalogObject,
    related: Mapping[str, RelatedObject],
    *,
    language: str,
    default_language: str,
) -> dict[str, Any]:
    values = product.values
    price = values.get("price") or {}
    if price and "amount" not in price:
        # A price list ({"EUR": 19.9, "USD": 21.5}): its first currency is the price.
        currency, amount = next(iter(price.items()))
        price = {"amount": amount, "currency": currency, "prices": price}

    def text(value: Any) -> Any:
        return pick_language(value, language, default_language)

    def name_of(field: str) -> Any:
        target = related.get(field)
        return text(target.values.get("name")) if target else None

    return {
        "sku": product.key,
        "uuid": product.uuid,
        "name": text(values.get("name")),
        "price": price.get("amount"),
        "currency": price.get("currency"),
        **({"prices": price["prices"]} if "prices" in price else {}),
        "category": name_of("category"),
        "brand": name_of("brand"),
        "description": text(values.get("description")),
        "stock": values.get("stock"),
        "weight": values.get("weight"),  # {"value": 0.5, "unit": "kg"}: the unit as sent
        "published": product.published,
        "updatedAt": iso(product.modified_at),
        "version": product.version,
        "language": language,
        "completeness": {
            channel: per_language[language]
            for channel, per_language in (product.completeness or {}).items()
            if language in per_language
        },
    }
