"""Reconcile: what the shop holds compared with what the hub would send, SKU by SKU.

The push only sends what changed since it last sent, so an edit made in Magento behind the
hub's back (or a product deleted there) stays until the hub's value changes again; and
`updated_at` is not touched by every Magento change (magento2#37980), so no incremental feed
finds them. A reconcile reads both sides in full and reports the drift; with `fix` it sends
the hub's state again for the drifted SKUs.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pimhub.catalog.objects import CatalogObject
from pimhub.connectors.magento.client import MagentoError, search_criteria, sku_path
from pimhub.connectors.magento.config import AttributeMapping, DeletePolicy
from pimhub.connectors.magento.mapping import (
    GLOBAL,
    STATUS_DISABLED,
    Resolved,
    category_uuids,
    option_values,
    product_sections,
)
from pimhub.connectors.magento.media import MEDIA
from pimhub.connectors.magento.media_drift import MEDIA_DRIFT, forget_missing_entries, media_drift
from pimhub.connectors.magento.push import Pusher, Target
from pimhub.connectors.state import ItemState

MISSING = "missing"
EXTRA = "extra"
DIFFERENT = "different"
CATEGORIES = "category_ids"  # the name category links are reported under


@dataclass(frozen=True, slots=True)
class Drift:
    """One SKU that differs: `attributes` maps an attribute code (`code@store` for a store
    view's value) to (hub value, Magento value), both in Magento's flat shape."""

    sku: str
    kind: str  # missing | extra | different
    attributes: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "kind": self.kind,
            "attributes": {
                code: {"hub": hub, "magento": magento}
                for code, (hub, magento) in self.attributes.items()
            },
        }


@dataclass(slots=True)
class DriftReport:
    checked: int = 0
    items: list[Drift] = field(default_factory=list)
    fixed: int = 0
    errors: list[str] = field(default_factory=list)  # fixes that failed, readable

    def counts(self) -> dict[str, int]:
        out = {MISSING: 0, EXTRA: 0, DIFFERENT: 0}
        for item in self.items:
            out[item.kind] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "counts": self.counts(),
            "fixed": self.fixed,
            "errors": list(self.errors),
            "items": [item.to_dict() for item in self.items],
        }


async def reconcile(
    pusher: Pusher,
    *,
    fix: bool = False,
    page_size: int = 200,
    skus: Sequence[str] | None = None,
) -> DriftReport:
    """Compares Magento's products with the hub's objects the connector's sync rule wants
    (all of them, or only `skus`), reporting missing, extra and different SKUs; `fix` pushes
    the hub's state again for them (and applies the delete policy to the extra ones)."""
    if page_size < 1:
        raise ValueError("page_size must be positive")
    wanted = await _wanted(pusher, skus, page_size)
    report = DriftReport()
    seen: set[str] = set()
    async for page in _magento_pages(pusher, page_size, skus):
        page = [p for p in page if isinstance(p.get("sku"), str) and p["sku"] not in seen]
        seen.update(p["sku"] for p in page)
        report.items += await _compare_page(pusher, page, wanted)
    report.items += [Drift(sku, MISSING) for sku in sorted(set(wanted) - seen)]
    report.checked = len(seen | set(wanted))
    if fix and report.items:
        await _fix(pusher, report, wanted)
    return report


# -- the hub's side ------------------------------------------------------------------------


async def _wanted(pusher: Pusher, skus: Sequence[str] | None, size: int) -> dict[str, str]:
    """sku -> uuid of the objects the shop should hold. Only keys are kept: objects are read
    again page by page when compared, so a large catalog is not held in memory."""
    config = pusher.config

    def collect() -> dict[str, str]:
        found: dict[str, str] = {}
        batches: Iterable[list[CatalogObject]]
        if skus is not None:
            batches = [list(pusher.catalog.by_keys(config.class_name, list(skus)).values())]
        else:
            batches = pusher.catalog.pages(config.class_name, size)
        for batch in batches:
            for obj in batch:
                if obj.class_name == config.class_name and config.sync.matches(obj.to_dict()):
                    found[obj.key] = obj.uuid
        return found

    return await asyncio.to_thread(collect)


# -- Magento's side ------------------------------------------------------------------------


async def _magento_pages(
    pusher: Pusher, page_size: int, skus: Sequence[str] | None
) -> AsyncIterator[list[Mapping[str, Any]]]:
    """Magento's products, a page at a time, in entity id order. Paged by total_count:
    Magento answers a page past the end with the last page again, never an empty one."""
    if skus is not None:
        # Only the SKUs asked about: looked up by an `in` filter, a page's worth at a time.
        chosen = sorted(set(skus))
        for start in range(0, len(chosen), page_size):
            chunk = chosen[start : start + page_size]
            params = search_criteria(
                [("sku", ",".join(chunk), "in")],
                page_size=page_size,
                sort=[("entity_id", "ASC")],
            )
            yield await _list(pusher, params)
        return
    page, last = 1, 1
    while page <= last:
        params = search_criteria(
            page_size=page_size, current_page=page, sort=[("entity_id", "ASC")]
        )
        reply = await pusher.client.request("GET", "/V1/products", params=params)
        data = reply.data if isinstance(reply.data, Mapping) else {}
        total = data.get("total_count")
        last = math.ceil(total / page_size) if isinstance(total, int) else page
        yield [p for p in data.get("items") or [] if isinstance(p, Mapping)]
        page += 1


async def _list(pusher: Pusher, params: Mapping[str, str]) -> list[Mapping[str, Any]]:
    reply = await pusher.client.request("GET", "/V1/products", params=params)
    data = reply.data if isinstance(reply.data, Mapping) else {}
    return [p for p in data.get("items") or [] if isinstance(p, Mapping)]


# -- comparing -----------------------------------------------------------------------------


async def _compare_page(
    pusher: Pusher, page: Sequence[Mapping[str, Any]], wanted: Mapping[str, str]
) -> list[Drift]:
    config = pusher.config
    skus = [str(p["sku"]) for p in page]
    ours = [s for s in skus if s in wanted]
    objects = await asyncio.to_thread(pusher.catalog.by_keys, config.class_name, ours)
    others = [s for s in skus if s not in wanted]
    items = await asyncio.to_thread(pusher.state.items, config.name, others) if others else {}
    drift: list[Drift] = []
    same: list[tuple[str, dict[str, dict[str, Any]]]] = []
    images = await media_drift(pusher, objects, page)
    for product in page:
        sku = str(product["sku"])
        if sku not in wanted:
            if _extra(items.get(sku), product):
                drift.append(Drift(sku, EXTRA))
            continue
        obj = objects.get(sku)
        if obj is None:  # deleted in the hub since it was listed: the next run sees it
            continue
        sections = product_sections(config, obj.to_dict(), await _resolve(pusher, obj))
        differences = _differences(config.owned(), sections[GLOBAL], flatten(product))
        if config.categories.own:
            hub_links = _category_ids(sections[GLOBAL].get("@category_links"))
            shop_links = _category_ids(_extension(product).get("category_links"))
            if hub_links != shop_links:
                differences[CATEGORIES] = (sorted(hub_links), sorted(shop_links))
        if sku in images:
            differences[MEDIA_DRIFT] = images[sku]
        if differences:
            drift.append(Drift(sku, DIFFERENT, differences))
        else:
            same.append((sku, sections))
    drift += await _store_views(pusher, same)
    return drift


def _extra(item: ItemState | None, product: Mapping[str, Any]) -> bool:
    """A product the hub does not want is drift only when the hub created it (products
    Magento owns are the shop's business) and the delete policy has not dealt with it."""
    if item is None or not item.created_by_hub or item.state == "deleted":
        return False
    return not (item.state == "disabled" and _number(product.get("status")) == STATUS_DISABLED)


async def _resolve(pusher: Pusher, obj: CatalogObject) -> Resolved:
    """Ids already known (remembered, configured or found in Magento): nothing is created by
    a comparison, so a value whose option or category does not exist yet shows as drift."""
    config = pusher.config
    options = await pusher.ids.options(sorted(set(option_values(config, obj.values))), create=False)
    categories = await pusher.ids.categories(category_uuids(config, obj.values), create=False)
    return Resolved(options, categories)


async def _store_views(
    pusher: Pusher, same: Sequence[tuple[str, dict[str, dict[str, Any]]]]
) -> list[Drift]:
    """Store-view values of the localized attributes, for SKUs whose global values match
    (one GET per SKU and store: only worth it once the global scope is right)."""
    config = pusher.config
    localized = tuple(a for a in config.owned() if a.localized)
    if not config.stores or not localized or not same:
        return []
    gate = asyncio.Semaphore(config.concurrency)

    async def one(sku: str, sections: Mapping[str, Mapping[str, Any]]) -> Drift | None:
        differences: dict[str, tuple[Any, Any]] = {}
        for store in sorted(set(config.stores.values())):
            expected = sections.get(store)
            if not expected:
                continue  # no translation in the hub: the store view shows the global value
            async with gate:
                try:
                    reply = await pusher.client.request(
                        "GET", f"/V1/products/{sku_path(sku)}", store=store
                    )
                except MagentoError as exc:
                    if exc.status == 404:
                        return None  # deleted meanwhile: the next run reports it missing
                    raise
            shown = flatten(reply.data if isinstance(reply.data, Mapping) else {})
            # Only the attributes the hub has a translation for are compared.
            mappings = [a for a in localized if a.code in expected]
            for code, pair in _differences(mappings, expected, shown).items():
                differences[f"{code}@{store}"] = pair
        return Drift(sku, DIFFERENT, differences) if differences else None

    found = await asyncio.gather(*(one(sku, sections) for sku, sections in same))
    return [d for d in found if d is not None]


def flatten(product: Mapping[str, Any]) -> dict[str, Any]:
    """A Magento product as one flat mapping: the top-level values and the custom
    attributes, keyed by attribute code (the shape of a mapping section)."""
    flat = {
        k: v for k, v in product.items() if k not in ("custom_attributes", "extension_attributes")
    }
    for entry in product.get("custom_attributes") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("attribute_code"), str):
            flat[entry["attribute_code"]] = entry.get("value")
    return flat


def _differences(
    mappings: Sequence[AttributeMapping], expected: Mapping[str, Any], shown: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    out: dict[str, tuple[Any, Any]] = {}
    for mapping in mappings:
        hub, magento = expected.get(mapping.code), shown.get(mapping.code)
        if not same_value(mapping, hub, magento):
            out[mapping.code] = (hub, magento)
    return out


def same_value(mapping: AttributeMapping, hub: Any, magento: Any) -> bool:
    """Whether the value the hub would send and the one Magento holds are the same."""
    return bool(_normal(mapping, hub) == _normal(mapping, magento))


def _normal(mapping: AttributeMapping, value: Any) -> Any:
    """One spelling per value: Magento answers numbers as strings or numbers ("19.99" and
    19.99), multiselects as comma lists in any order, booleans as "1", 1 or true."""
    if value is None or value == "" or value == []:
        return None
    if mapping.kind == "multiselect":
        items = value if isinstance(value, list) else str(value).split(",")
        return frozenset(str(i).strip() for i in items if str(i).strip())
    if mapping.kind == "boolean":
        if isinstance(value, str):
            return value.strip().lower() not in ("0", "false", "")
        return bool(value)
    if mapping.kind == "date":
        return str(value)[:10]  # Magento answers dates with a midnight time
    if mapping.kind == "datetime":
        return str(value).replace("T", " ").removesuffix("Z").removesuffix("+00:00")[:19]
    number = _number(value)
    if number is not None and (mapping.kind in ("number", "money", "quantity", "select")):
        return round(number, 6)
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _extension(product: Mapping[str, Any]) -> Mapping[str, Any]:
    found = product.get("extension_attributes")
    return found if isinstance(found, Mapping) else {}


def _category_ids(links: Any) -> set[str]:
    if not isinstance(links, list):
        return set()
    return {str(link.get("category_id")) for link in links if isinstance(link, Mapping)}


# -- fixing --------------------------------------------------------------------------------


async def _fix(pusher: Pusher, report: DriftReport, wanted: Mapping[str, str]) -> None:
    """Sends the hub's state again: the drifted SKUs' sections are forgotten, so the push
    sends every value (an edit in Magento is invisible to the only-what-changed diff). A
    missing product is created again, so the connector stops believing it has an id."""
    config = pusher.config
    resend = [d.sku for d in report.items if d.kind in (MISSING, DIFFERENT)]
    missing = [d.sku for d in report.items if d.kind == MISSING]
    extra = [d.sku for d in report.items if d.kind == EXTRA]
    targets: list[Target] = []
    if resend:
        # The media record stays (it says which entries in Magento are the hub's), less the
        # entries Magento lost, which the push then uploads again.
        await asyncio.to_thread(pusher.state.forget_sections, config.name, resend, (MEDIA,))
        if pusher.media.enabled:
            await forget_missing_entries(pusher, resend)
        objects = await asyncio.to_thread(pusher.catalog.by_keys, config.class_name, resend)
        targets += [Target(s, wanted[s], objects[s]) for s in resend if s in objects]
    if missing:
        known = await asyncio.to_thread(pusher.state.items, config.name, missing)
        now = pusher.clock()
        gone = [
            ItemState(
                sku=item.sku,
                object_uuid=item.object_uuid,
                remote_id=None,
                created_by_hub=item.created_by_hub,
                state="pending",
                synced_version=None,
                synced_at=item.synced_at,
            )
            for item in known.values()
        ]
        await asyncio.to_thread(pusher.state.save_items, config.name, gone, now)
    if extra and config.deletes != DeletePolicy.LEAVE:
        known = await asyncio.to_thread(pusher.state.items, config.name, extra)
        targets += [Target(s, known[s].object_uuid, None) for s in extra if s in known]
    # Parents before their variants: a variant's push waits for its parent to be in Magento.
    parents = [t for t in targets if not (t.obj is not None and t.obj.parent is not None)]
    variants = [t for t in targets if t.obj is not None and t.obj.parent is not None]
    for batch in (parents, variants):
        if not batch:
            continue
        for outcome in await pusher.push(batch):
            if outcome.ok:
                report.fixed += 1
            else:
                report.errors.append(f"{outcome.sku}: {outcome.error}")
