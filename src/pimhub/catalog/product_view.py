"""The normalized product payload served at /api/v1/products/{sku}."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pimhub.assets.model import Asset, asset_urls
from pimhub.catalog.objects import CatalogObject, RelatedObject, iso

if TYPE_CHECKING:
    from pimhub.assets.presets import ThumbnailPreset

# The product's asset fields: the view holds their uuids until the API, which knows the base
# URL, shows them as assets (attach_assets).
PRODUCT_ASSETS = ("image", "gallery")


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
        "image": values.get("image"),  # uuids here; attach_assets shows the assets
        "gallery": list(values.get("gallery") or []),
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


def asset_view(
    asset: Asset,
    base_url: str,
    presets: Mapping[str, ThumbnailPreset],
    *,
    thumbnail_types: Collection[str],
    language: str,
    default_language: str,
) -> dict[str, Any]:
    """An asset as Simple REST and the product view show it: where it is, its URL and its
    thumbnails' URLs (only for `thumbnail_types`: not SVG, PDF), size and alt text in
    `language`."""
    alt = asset.metadata.get("alt")
    url, thumbnails = asset_urls(
        base_url, asset, presets if asset.mimetype in thumbnail_types else {}
    )
    return {
        "uuid": asset.uuid,
        "path": asset.path,
        "url": url,
        "mimetype": asset.mimetype,
        "width": asset.width,
        "height": asset.height,
        "alt": pick_language(alt, language, default_language) if alt else None,
        "thumbnails": thumbnails,
    }


def asset_uuids(values: Sequence[Any]) -> list[str]:
    """The uuids in asset field values (a uuid, a list of them, or nothing)."""
    out: list[str] = []
    for value in values:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(v for v in value if isinstance(v, str))
    return out


def shown_assets(value: Any, assets: Mapping[str, dict[str, Any]]) -> Any:
    """An asset field's value with its uuids replaced by the assets' views; assets that are
    gone are left out (a single one reads as None)."""
    if isinstance(value, list):
        return [assets[u] for u in value if u in assets]
    if isinstance(value, str):
        return assets.get(value)
    return value
