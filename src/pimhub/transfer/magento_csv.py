"""Products in Magento 2's catalog product import CSV: what `magento-products` reads, written
back out, so a catalog kept here can be loaded into a Magento store (System > Import).

Categories become Magento paths under "Default Category" from the category tree (names in
the default language); colour and size go to `additional_attributes` as option labels.

Variants are written as Magento has them: each a `simple` product with its effective values,
not visible on its own, and its parent, after them, a `configurable` product whose
`configurable_variations` lists them with their axis values ("sku=MH01-XS-Black,color=Black,
size=XS|..."), which is what `magento-products` reads back into the same family. A parent
whose variants the export leaves out (a filter) is written as a simple product.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from typing import IO, Any

from pimhub.catalog import units
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.product_view import pick_language

ROOT = "Default Category"
COLUMNS = (
    "sku",
    "store_view_code",
    "attribute_set_code",
    "product_type",
    "categories",
    "product_websites",
    "name",
    "description",
    "short_description",
    "weight",
    "product_online",
    "visibility",
    "price",
    "base_image",
    "additional_attributes",
    "qty",
    "is_in_stock",
    "configurable_variations",
)
_ATTRIBUTES = ("color", "size")


def category_paths(categories: list[CatalogObject], language: str) -> dict[str, str]:
    """uuid -> "Default Category/Men/Tops" for every category, following `parent`."""
    by_uuid = {c.uuid: c for c in categories}
    paths: dict[str, str] = {}

    def path(uuid: str, seen: frozenset[str]) -> str:
        if uuid in paths:
            return paths[uuid]
        category = by_uuid[uuid]
        name = str(pick_language(category.values.get("name"), language, language) or category.key)
        parent = category.values.get("parent")
        if isinstance(parent, str) and parent in by_uuid and parent not in seen:
            result = f"{path(parent, seen | {uuid})}/{name}"
        else:
            result = f"{ROOT}/{name}"
        paths[uuid] = result
        return result

    for uuid in by_uuid:
        path(uuid, frozenset())
    return paths


class MagentoCsv:
    def __init__(
        self,
        out: IO[str],
        paths: Mapping[str, str],
        language: str,
        axes: Sequence[str] = (),
    ) -> None:
        self.writer = csv.writer(out)
        self.writer.writerow(COLUMNS)
        self.paths = paths
        self.language = language
        self.axes = tuple(axes)
        # The variations written so far, by parent uuid, until their parent is written.
        self.variations: dict[str, list[str]] = {}

    def write(self, obj: CatalogObject, keys: dict[str, str], language: str | None) -> None:
        values = obj.values
        lang = language or self.language

        def text(name: str) -> str:
            return str(pick_language(values.get(name), lang, self.language) or "")

        links = values.get("categories") or ([values["category"]] if values.get("category") else [])
        categories = ",".join(self.paths[u] for u in links if u in self.paths)
        attributes = ",".join(
            f"{a}={_label(values[a])}" for a in _ATTRIBUTES if values.get(a) is not None
        )
        stock = values.get("stock")
        price = _amount(values.get("price"))
        if obj.parent is not None:
            axes = "".join(
                f",{a}={_label(values[a])}" for a in self.axes if values.get(a) is not None
            )
            self.variations.setdefault(obj.parent, []).append(f"sku={obj.key}{axes}")
        variations = "|".join(self.variations.pop(obj.uuid, ()))
        self.writer.writerow(
            [
                obj.key,
                "",
                "Default",
                "configurable" if variations else "simple",
                categories,
                "base",
                text("name"),
                text("description"),
                text("shortDescription"),
                _number(_kilograms(values.get("weight"))),
                "1" if obj.published else "2",
                "Not Visible Individually" if obj.parent is not None else "Catalog, Search",
                _number(price),
                values.get("image") or "",
                attributes,
                _number(stock),
                "" if stock is None else ("1" if stock > 0 else "0"),
                variations,
            ]
        )

    def close(self) -> None:
        pass


def _label(value: Any) -> str:
    """Magento option labels are capitalized ("Gray", "XS"); values here are lower case."""
    text = str(value)
    if text.islower():
        return "Gray" if text == "grey" else text.capitalize()
    return text


def _amount(price: Any) -> Any:
    """A money value's amount; of a price list, its first currency's."""
    if not isinstance(price, dict):
        return None
    return price.get("amount") if "amount" in price else next(iter(price.values()), None)


def _kilograms(weight: Any) -> Any:
    """A weight as Magento's default weight unit (kgs) takes it: a number of kilograms."""
    if isinstance(weight, dict) and weight.get("unit") in units.unit_codes("mass"):
        return units.convert(weight["value"], "mass", weight["unit"], "kg")
    return weight if isinstance(weight, int | float) else None


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
