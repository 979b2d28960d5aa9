"""Hub objects as Magento product sections, and the smallest bodies that bring Magento there.

Pure functions. A product becomes flat *sections*, each a mapping of Magento attribute code to
the value Magento stores: `all` (global scope), one per store code (only the localized
attributes, so a store view never gets a copy of a global value), and `stock`. Comparing a
section with what was last sent for it gives the attributes that changed, and only those are
sent. Keys starting with `@` are not attributes: `@category_links`, `@website_ids` and the
configurable parent's `@options` / `@links` travel in `extension_attributes`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson

from pimhub.catalog.units import convert
from pimhub.connectors.magento.config import AttributeMapping, MagentoConfig, StockMode

GLOBAL = "all"
STOCK = "stock"
LINK_SECTION = "link"  # which configurable parent a variant is linked to
STATUS_ENABLED = 1
STATUS_DISABLED = 2
VISIBILITY_NOT_INDIVIDUALLY = 1
VISIBILITY_CATALOG_SEARCH = 4
# Sent only when the hub creates the product: afterwards they belong to the shop.
CREATE_ONLY = ("attribute_set_id", "@website_ids", "url_key")
PRODUCT_PROPERTIES = frozenset(
    {"status", "visibility", "type_id", "attribute_set_id", "name", "price", "weight"}
)


@dataclass(frozen=True, slots=True)
class Resolved:
    """Ids in Magento that the mapping needs, looked up (or created) before it runs."""

    options: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (code, hub value)
    categories: Mapping[str, int] = field(default_factory=dict)  # hub category uuid -> id
    attribute_ids: Mapping[str, int] = field(default_factory=dict)  # attribute code -> id
    children: Mapping[str, int] = field(default_factory=dict)  # child sku -> entity id


@dataclass(frozen=True, slots=True)
class Family:
    """A configurable parent's children as the hub has them: sku -> axis values."""

    axes: tuple[str, ...]  # hub field names
    children: Mapping[str, Mapping[str, Any]]


def option_values(config: MagentoConfig, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every (attribute code, hub option) the object's select fields use."""
    out: list[tuple[str, str]] = []
    for mapping in config.owned():
        if not mapping.has_options:
            continue
        value = values.get(mapping.field)
        items = value if isinstance(value, list) else [value] if value is not None else []
        out += [(mapping.code, str(item)) for item in items]
    return out


def category_uuids(config: MagentoConfig, values: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for name in config.categories.fields:
        value = values.get(name)
        items = value if isinstance(value, list) else [value] if value else []
        found += [str(v) for v in items if str(v) not in found]
    return found


def product_sections(
    config: MagentoConfig,
    obj: Mapping[str, Any],
    resolved: Resolved,
    family: Family | None = None,
) -> dict[str, dict[str, Any]]:
    """The sections the shop should hold for `obj` (the hub's object envelope)."""
    values: Mapping[str, Any] = obj.get("fields") or {}
    is_variant = obj.get("parent") is not None
    is_parent = family is not None and bool(family.children)
    base: dict[str, Any] = {
        "status": STATUS_ENABLED,
        "visibility": VISIBILITY_NOT_INDIVIDUALLY if is_variant else VISIBILITY_CATALOG_SEARCH,
        "type_id": "configurable" if is_parent else "simple",
        "attribute_set_id": config.attribute_set.resolve(values),
        "@website_ids": list(config.websites),
    }
    # Magento derives a URL key from the name and refuses a second product with the same
    # one ("URL key for specified store already exists"): the SKU makes it unique. Sent only
    # on create, so that a URL edited for SEO in Magento stays.
    base["url_key"] = url_key(_default_text(values.get("name"), config), str(obj.get("key")))
    stores: dict[str, dict[str, Any]] = {code: {} for code in config.stores.values()}
    for mapping in config.owned():
        raw = values.get(mapping.field)
        if mapping.localized:
            by_language = raw if isinstance(raw, Mapping) else {}
            base[mapping.code] = _value(mapping, by_language.get(config.default_language), config)
            for language, code in config.stores.items():
                if language in by_language and by_language[language] not in (None, ""):
                    stores[code][mapping.code] = _value(mapping, by_language[language], config)
        else:
            base[mapping.code] = _value(mapping, raw, config, resolved)
    if config.categories.own:
        ids = sorted(
            {
                resolved.categories[u]
                for u in category_uuids(config, values)
                if u in resolved.categories
            }
        )
        base["@category_links"] = [{"category_id": str(i), "position": 0} for i in ids]
    if is_parent and family is not None:
        base |= _configurable(config, family, resolved)
    sections = {GLOBAL: {k: v for k, v in base.items() if v is not None}}
    sections |= {code: section for code, section in stores.items() if section}
    stock = _stock(config, values)
    if stock is not None:
        sections[STOCK] = stock
    return sections


def url_key(name: str, sku: str) -> str:
    text = f"{name}-{sku}" if name else sku
    # Accents go (NFKD splits them off as combining marks, which ASCII drops), as Magento's
    # own URL keys do.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower())
    return slug.strip("-")[:200] or hashlib.sha256(sku.encode()).hexdigest()[:16]


def _default_text(value: Any, config: MagentoConfig) -> str:
    if isinstance(value, Mapping):
        return str(value.get(config.default_language) or "")
    return str(value or "")


def _value(
    mapping: AttributeMapping,
    raw: Any,
    config: MagentoConfig,
    resolved: Resolved | None = None,
) -> Any:
    """The value Magento stores for a hub value, or None when there is nothing to send."""
    if raw is None or raw == "" or raw == []:
        return None
    kind = mapping.kind
    if kind == "money":
        amount = (
            raw.get(config.currency)
            if "amount" not in raw
            else (raw["amount"] if raw.get("currency") == config.currency else None)
        )
        return _number(amount, mapping)
    if kind == "quantity":
        number = raw.get("value")
        unit = raw.get("unit")
        if mapping.family and mapping.unit and unit and unit != mapping.unit and number is not None:
            number = convert(float(number), mapping.family, unit, mapping.unit)
        return _number(number, mapping)
    if kind == "number":
        return _number(raw, mapping)
    if kind == "boolean":
        return "1" if raw else "0"
    if kind == "date":
        return raw if isinstance(raw, str) else date.isoformat(raw)
    if kind == "datetime":
        return _datetime(raw)
    if mapping.has_options:
        ids = resolved.options if resolved else {}
        items = raw if isinstance(raw, list) else [raw]
        found = [str(ids[(mapping.code, str(i))]) for i in items if (mapping.code, str(i)) in ids]
        return ",".join(found) if found else None
    return str(raw)


def _number(value: Any, mapping: AttributeMapping) -> Any:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    if mapping.top_level:
        return int(number) if number.is_integer() else round(number, 6)
    return str(int(number)) if number.is_integer() else repr(round(number, 6))


def _datetime(raw: Any) -> str:
    text = raw.isoformat() if isinstance(raw, datetime) else str(raw)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _stock(config: MagentoConfig, values: Mapping[str, Any]) -> dict[str, Any] | None:
    rule = config.stock
    if rule.mode == StockMode.OFF or rule.field is None:
        return None
    raw = values.get(rule.field)
    if raw is None or isinstance(raw, bool):
        return None
    quantity = float(raw)
    return {
        "source": rule.source,
        "quantity": int(quantity) if quantity.is_integer() else quantity,
        "status": 1 if quantity > 0 else 0,
    }


def _configurable(config: MagentoConfig, family: Family, resolved: Resolved) -> dict[str, Any]:
    options = []
    for position, axis in enumerate(family.axes):
        mapping = next((a for a in config.attributes if a.field == axis), None)
        if mapping is None or mapping.code not in resolved.attribute_ids:
            continue
        used = sorted(
            {
                resolved.options[(mapping.code, str(child[axis]))]
                for child in family.children.values()
                if child.get(axis) is not None
                and (mapping.code, str(child[axis])) in resolved.options
            }
        )
        options.append(
            {
                "attribute_id": str(resolved.attribute_ids[mapping.code]),
                "label": mapping.code,
                "position": position,
                "values": [{"value_index": i} for i in used],
            }
        )
    links = sorted(resolved.children[sku] for sku in family.children if sku in resolved.children)
    return {"@options": options, "@links": links}


def changed(section: Mapping[str, Any], sent: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entries of `section` that differ from what was last sent; an attribute sent before
    and gone now is cleared with an empty value (only custom attributes can be)."""
    if sent is None:
        return dict(section)
    out = {k: v for k, v in section.items() if sent.get(k) != v}
    for key in sent:
        if key not in section and not key.startswith("@") and key not in ("status", "visibility"):
            out[key] = ""
    return out


def product_body(sku: str, entries: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """A `PUT /V1/products/{sku}` body for the given section entries."""
    product: dict[str, Any] = {"sku": sku}
    custom: list[dict[str, Any]] = []
    extension: dict[str, Any] = {}
    for key, value in entries.items():
        if not creating and key in CREATE_ONLY:
            continue
        if key == "@category_links":
            extension["category_links"] = value
        elif key == "@website_ids":
            extension["website_ids"] = value
        elif key == "@options":
            extension["configurable_product_options"] = value
        elif key == "@links":
            extension["configurable_product_links"] = value
        elif key in (
            "status",
            "visibility",
            "type_id",
            "attribute_set_id",
            "name",
            "price",
            "weight",
        ):
            if value != "":
                product[key] = value
        else:
            custom.append({"attribute_code": key, "value": value})
    if custom:
        product["custom_attributes"] = custom
    if extension:
        product["extension_attributes"] = extension
    return {"product": product}


def stock_body(sku: str, stock: Mapping[str, Any]) -> dict[str, Any]:
    """A `POST /V1/inventory/source-items` item."""
    return {
        "sku": sku,
        "source_code": stock["source"],
        "quantity": stock["quantity"],
        "status": stock["status"],
    }


def legacy_stock_body(stock: Mapping[str, Any]) -> dict[str, Any]:
    """A `PUT /V1/products/{sku}/stockItems/1` body. The schema marks every stock item field
    required, so the rest carry Magento's defaults ("use the configuration")."""
    quantity = stock["quantity"]
    return {
        "stockItem": {
            "qty": quantity,
            "is_in_stock": stock["status"] == 1,
            "is_qty_decimal": not float(quantity).is_integer(),
            "show_default_notification_message": False,
            "use_config_min_qty": True,
            "min_qty": 0,
            "use_config_min_sale_qty": 1,
            "min_sale_qty": 1,
            "use_config_max_sale_qty": True,
            "max_sale_qty": 10000,
            "use_config_backorders": True,
            "backorders": 0,
            "use_config_notify_stock_qty": True,
            "notify_stock_qty": 1,
            "use_config_qty_increments": True,
            "qty_increments": 0,
            "use_config_enable_qty_inc": True,
            "enable_qty_increments": False,
            "use_config_manage_stock": True,
            "manage_stock": True,
            "low_stock_date": "",
            "is_decimal_divided": False,
            "stock_status_changed_auto": 0,
        }
    }


def section_hash(section: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(section, option=orjson.OPT_SORT_KEYS)).hexdigest()


def disable_body(sku: str) -> dict[str, Any]:
    return {"product": {"sku": sku, "status": STATUS_DISABLED}}
