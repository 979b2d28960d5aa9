"""The pull's record in the connector's state: each pulled product as Magento's, and what the
push would send for it as sent wherever Magento already holds that value, so that a pull
does not make the push echo every product back."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from pimhub.connectors.magento.config import MagentoConfig
from pimhub.connectors.magento.mapping import (
    GLOBAL,
    LINK_SECTION,
    STOCK,
    product_sections,
    section_hash,
)
from pimhub.connectors.magento.pull_values import extension, number, whole
from pimhub.connectors.magento.push import Pusher
from pimhub.connectors.magento.reconcile import flatten, same_value
from pimhub.connectors.state import ItemState, SectionState

# Section keys the comparison with Magento decides on; the others (status, visibility,
# type, attribute set, URL key, websites) are recorded as the push computes them: a pull
# must not make the hub re-enable, move or rename what the shop set.
COMPARED_EXTENSIONS = ("@category_links", "@links", "@options")


async def record_pulled(
    pusher: Pusher,
    linked: Mapping[str, str],
    products: Sequence[Mapping[str, Any]],
    views: Mapping[str, Mapping[str, Mapping[str, Any]]],
) -> None:
    """Each pulled product as Magento's in the connector's state, and what the push would
    send for it as sent wherever Magento holds that value already. `linked` maps a child's
    sku to the configurable parent's sku the pull linked it to."""
    if not products:
        return
    config = pusher.config
    by_sku = {str(p["sku"]): p for p in products}
    objects = await asyncio.to_thread(pusher.catalog.by_keys, config.class_name, list(by_sku))
    now = pusher.clock()
    items = [
        ItemState(
            sku=sku,
            object_uuid=objects[sku].uuid,
            remote_id=product["id"] if isinstance(product.get("id"), int) else None,
            created_by_hub=False,  # the store keeps True for a product the hub created
            state="synced",
            synced_version=objects[sku].version,
            synced_at=now,
        )
        for sku, product in by_sku.items()
        if sku in objects
    ]
    # Items first: a configurable's links are computed from its children's remote ids.
    await asyncio.to_thread(pusher.state.save_items, config.name, items, now)
    # The push's own steps, so that what is recorded is exactly what it would compute.
    families = await pusher._families(list(objects.values()))
    parents = await asyncio.to_thread(
        pusher.catalog.by_uuids, sorted({o.parent for o in objects.values() if o.parent})
    )
    sent: dict[str, dict[str, SectionState]] = {}
    for sku, obj in objects.items():
        children = [c for c in families.get(obj.uuid, []) if pusher._wanted(c)]
        family = pusher._family(children) if children else None
        resolved = await pusher._resolve(obj, children, True)  # dry run: creates nothing
        sections = product_sections(config, obj.to_dict(), resolved, family)
        shop = by_sku[sku]
        sent[sku] = _matching(config, sections, shop, views.get(sku, {}))
        parent = parents.get(obj.parent or "")
        if parent is not None and linked.get(sku) == parent.key:
            link = {"parent": parent.key}
            sent[sku][LINK_SECTION] = SectionState(section_hash(link), link)
    await asyncio.to_thread(pusher.state.save_sections, config.name, sent, now)


def _matching(
    config: MagentoConfig,
    sections: Mapping[str, Mapping[str, Any]],
    shop: Mapping[str, Any],
    views: Mapping[str, Mapping[str, Any]],
) -> dict[str, SectionState]:
    out: dict[str, SectionState] = {}
    flat = flatten(shop)
    compared = {a.code: a for a in config.owned()}
    glob = {
        key: value
        for key, value in sections[GLOBAL].items()
        if (key not in compared or same_value(compared[key], value, flat.get(key)))
        and (key not in COMPARED_EXTENSIONS or _same_extension(key, value, shop))
    }
    out[GLOBAL] = SectionState(section_hash(glob), glob)
    for store, shown in views.items():
        section = sections.get(store)
        if not section:
            continue
        kept = {
            k: v
            for k, v in section.items()
            if k in compared and same_value(compared[k], v, shown.get(k))
        }
        if kept:
            out[store] = SectionState(section_hash(kept), kept)
    stock = sections.get(STOCK)
    held = extension(shop).get("stock_item")
    if (
        stock is not None
        and isinstance(held, Mapping)
        and number(held.get("qty")) == number(stock.get("quantity"))
    ):
        out[STOCK] = SectionState(section_hash(stock), stock)
    return out


def _same_extension(key: str, value: Any, shop: Mapping[str, Any]) -> bool:
    held_extension = extension(shop)
    if key == "@category_links":
        held = held_extension.get("category_links") or []
        return {str(link.get("category_id")) for link in value} == {
            str(link.get("category_id")) for link in held if isinstance(link, Mapping)
        }
    if key == "@links":
        return sorted(value) == sorted(held_extension.get("configurable_product_links") or [])
    held = held_extension.get("configurable_product_options") or []
    return _option_sets(value) == _option_sets(held)


def _option_sets(options: Any) -> set[tuple[str, frozenset[int]]]:
    out: set[tuple[str, frozenset[int]]] = set()
    for option in options if isinstance(options, list) else []:
        if isinstance(option, Mapping):
            values = frozenset(
                int(v["value_index"])
                for v in option.get("values") or []
                if isinstance(v, Mapping) and whole(v.get("value_index")) is not None
            )
            out.add((str(option.get("attribute_id")), values))
    return out
