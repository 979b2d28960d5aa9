"""The datahub configuration `pimhub demo` ships, so that GraphQL works against the demo
without a setup step: `/graphql/demo`, opened by the demo's key (it holds `admin`).

It answers as Pimcore datahub clients expect: `price` is a plain number (the EUR amount) and
`weight` Pimcore's QuantityValue, next to our own shapes for everything else.
"""

from __future__ import annotations

from typing import Any

from pimhub.catalog.errors import Conflict
from pimhub.datahub.config import DatahubConfig
from pimhub.datahub.service import DatahubService

DEMO_CONFIG_NAME = "demo"
DEMO_DATAHUB: dict[str, Any] = {
    "name": DEMO_CONFIG_NAME,
    "description": "The demo catalog, read as Pimcore datahub clients read theirs",
    "classes": {
        "Product": {
            "fields": [
                "sku",
                "name",
                "price",
                "stock",
                "weight",
                "color",
                "size",
                "category",
                "brand",
                # Pimcore's asset type: `image { fullpath(thumbnail: "product_list") }`
                "image",
                "gallery",
            ],
            "formats": {
                "price": {"as": "number", "currency": "EUR"},
                "weight": {"as": "quantityValue"},
            },
        },
        "Category": {"fields": ["code", "name", "parent"]},
        "Brand": {"fields": ["code", "name", "logo"]},
    },
}


def ensure_demo_datahub(datahub: DatahubService) -> DatahubConfig:
    """The demo's configuration, created on the first start only: a restart keeps whatever
    a user changed in it since."""
    existing = datahub.find(DEMO_CONFIG_NAME)
    if existing is not None:
        return existing
    try:
        return datahub.create(DEMO_DATAHUB, author="demo")
    except Conflict:  # another demo process on the same data made it first
        return datahub.get(DEMO_CONFIG_NAME)
