"""Pull: Magento's catalog into the hub, for a shop whose data lives in Magento (onboarding).

Incremental by `updated_at`, with an overlap window because Magento does not touch it for
every change (magento2#37980, #37670): a periodic `full` pull or a reconcile covers the rest.
Each page is written with the catalog's batch upsert (only the mapped values; the hub's other
values stay), recorded in the connector's state as Magento's products, and then checkpointed,
so a pull that stops resumes after the last finished page.

What the push would now send for a pulled product is recorded as sent where Magento already
holds that value, so a pull does not make the push echo every product back; a value only the
hub has (or holds differently) is still sent by the next push.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pimhub.catalog.batch import Outcome as WriteOutcome
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.fields import FieldDefinition
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.service import CatalogService
from pimhub.catalog.variants import PARENT_ITEM_KEY
from pimhub.connectors.magento.client import search_criteria, sku_path
from pimhub.connectors.magento.config import AttributeMapping
from pimhub.connectors.magento.mapping import (
    GLOBAL,
    LINK_SECTION,
    STOCK,
    product_sections,
    section_hash,
)
from pimhub.connectors.magento.push import Pusher
from pimhub.connectors.magento.reconcile import flatten, same_value
from pimhub.connectors.magento.remote_ids import CATEGORY, option_kind
from pimhub.connectors.state import ItemState, SectionState

CHECKPOINT = "pull"
MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"  # Magento's updated_at, in UTC
MAX_WARNINGS = 50
# Section keys the comparison with Magento decides on; the others (status, visibility,
# type, attribute set, URL key, websites) are recorded as the push computes them: a pull
# must not make the hub re-enable, move or rename what the shop set.
COMPARED_EXTENSIONS = ("@category_links", "@links", "@options")


@dataclass(slots=True)
class PullReport:
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)  # the first MAX_WARNINGS
    warning_count: int = 0
    checkpoint: str | None = None  # the highest updated_at pulled, Magento's format

    def warn(self, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "warnings": list(self.warnings),
            "warningCount": self.warning_count,
            "checkpoint": self.checkpoint,
        }


async def pull(
    pusher: Pusher,
    catalog: CatalogService,
    *,
    full: bool = False,
    page_size: int = 200,
    overlap: timedelta = timedelta(minutes=10),
    author: str = "magento-pull",
) -> PullReport:
    """Imports the products Magento changed since the last pull (all of them with `full`)
    into the connector's class, page by page; raises MagentoError / MagentoUnavailable when
    Magento fails, after checkpointing the pages written."""
    if page_size < 1:
        raise ValueError("page_size must be positive")
    config = pusher.config
    definition = await asyncio.to_thread(_definition, catalog, config.class_name)
    stored = await asyncio.to_thread(pusher.state.checkpoint, config.name, CHECKPOINT)
    previous = stored.get("updatedAt") if isinstance(stored, Mapping) else None
    report = PullReport(checkpoint=previous if isinstance(previous, str) else None)
    since = None
    if not full and report.checkpoint is not None:
        moment = datetime.strptime(report.checkpoint, MAGENTO_TIME) - overlap
        since = moment.strftime(MAGENTO_TIME)
    puller = _Puller(pusher, catalog, definition, author, report)
    await puller.load_ids()
    async for page in _pages(pusher, since, page_size):
        await puller.write(page)
        stamps = [str(p["updated_at"]) for p in page if p.get("updated_at")]
        if stamps and (report.checkpoint is None or max(stamps) > report.checkpoint):
            report.checkpoint = max(stamps)
        if report.checkpoint is not None:
            value = {"updatedAt": report.checkpoint, "pulledAt": _iso(pusher.clock())}
            await asyncio.to_thread(
                pusher.state.save_checkpoint, config.name, CHECKPOINT, value, pusher.clock()
            )
    return report


def _definition(catalog: CatalogService, class_name: str) -> ClassDefinition:
    with catalog.uow() as uow:
        return catalog.class_definition(uow, class_name)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- paging --------------------------------------------------------------------------------


async def _pages(
    pusher: Pusher, since: str | None, page_size: int
) -> AsyncIterator[list[Mapping[str, Any]]]:
    """Products by (updated_at, entity_id). After each page the filter moves up to the page's
    highest updated_at and paging starts again at page 1 (skipping the products already
    seen at exactly that time): page numbers over a moving catalog would skip a product
    whenever one before it is saved meanwhile and moves to the end. Paged by total_count:
    Magento answers a page past the end with the last page again."""
    cursor, number = since, 1
    seen_at_cursor: set[int] = set()
    while True:
        filters = [("updated_at", cursor, "gteq")] if cursor else []
        params = search_criteria(
            filters,
            page_size=page_size,
            current_page=number,
            sort=[("updated_at", "ASC"), ("entity_id", "ASC")],
        )
        reply = await pusher.client.request("GET", "/V1/products", params=params)
        data = reply.data if isinstance(reply.data, Mapping) else {}
        total = data.get("total_count")
        total = total if isinstance(total, int) else 0
        if (number - 1) * page_size >= total:
            return
        items = [p for p in data.get("items") or [] if isinstance(p, Mapping) and p.get("sku")]
        fresh = [p for p in items if p.get("id") not in seen_at_cursor]
        if fresh:
            yield fresh
        if number >= math.ceil(total / page_size) or not items:
            return
        top = max(str(p.get("updated_at") or "") for p in items)
        at_top = {p["id"] for p in items if str(p.get("updated_at") or "") == top}
        if top and top != cursor:
            cursor, number, seen_at_cursor = top, 1, at_top
        else:
            # A whole page at one time: the filter cannot move, the page number does.
            number += 1
            seen_at_cursor |= at_top


async def _list(pusher: Pusher, store: str, name: str, values: Sequence[str]) -> list[Any]:
    """Products whose `name` is one of `values` (one call), in the given store view."""
    params = search_criteria([(name, ",".join(values), "in")], page_size=len(values))
    reply = await pusher.client.request("GET", "/V1/products", store=store, params=params)
    data = reply.data if isinstance(reply.data, Mapping) else {}
    return [p for p in data.get("items") or [] if isinstance(p, Mapping)]


# -- one page ------------------------------------------------------------------------------


class _Puller:
    def __init__(
        self,
        pusher: Pusher,
        catalog: CatalogService,
        definition: ClassDefinition,
        author: str,
        report: PullReport,
    ) -> None:
        self.pusher = pusher
        self.config = pusher.config
        self.catalog = catalog
        self.definition = definition
        self.fields: dict[str, FieldDefinition] = {f.name: f for f in definition.fields}
        self.author = author
        self.report = report
        self.options: dict[str, dict[int, str]] = {}  # attribute code -> option id -> hub code
        self.labels: dict[str, dict[int, str]] = {}  # attribute code -> option id -> label
        self.categories: dict[int, str] = {}  # Magento category id -> hub category key
        self.parents: dict[str, str] = {}  # child sku -> configurable parent sku (this run)
        self.skus_by_id: dict[int, str] = {}
        self.done: dict[str, Any] = {}  # sku -> the updated_at pulled in this run

    async def load_ids(self) -> None:
        """The ids the connector knows, reversed: configured first, then remembered."""
        config, state = self.config, self.pusher.state
        for mapping in config.attributes:
            if not mapping.has_options:
                continue
            known = await asyncio.to_thread(state.all_ids, config.name, option_kind(mapping.code))
            reverse = {i: code for code, i in known.items()}
            reverse |= {i: code for code, i in mapping.options.items()}
            self.options[mapping.code] = reverse
        remembered = await asyncio.to_thread(state.all_ids, config.name, CATEGORY)
        self.categories = {i: key for key, i in remembered.items()}
        self.categories |= {i: key for key, i in config.categories.ids.items()}

    async def write(self, page: Sequence[Mapping[str, Any]]) -> None:
        page = await self._with_children(page)
        self.skus_by_id |= {p["id"]: str(p["sku"]) for p in page if isinstance(p.get("id"), int)}
        for product in page:
            links = _extension(product).get("configurable_product_links")
            if product.get("type_id") == "configurable" and isinstance(links, list):
                for child in links:
                    if child in self.skus_by_id:
                        self.parents[self.skus_by_id[child]] = str(product["sku"])
        # A product read twice in a run (a child comes with its parent and on its own page)
        # is written again only when something about it is new.
        page = [p for p in page if self.done.get(str(p["sku"])) != self._mark(p)]
        self.report.seen += len({str(p["sku"]) for p in page} - set(self.done))
        self.done |= {str(p["sku"]): self._mark(p) for p in page}
        if not page:
            return
        skus = [str(p["sku"]) for p in page]
        existing = await asyncio.to_thread(self.pusher.catalog.by_keys, self.definition.name, skus)
        views = await self._store_views(skus)
        items: list[dict[str, Any]] = []
        pulled: list[Mapping[str, Any]] = []
        for product in page:
            item = await self._item(product, existing.get(str(product["sku"])), views)
            if item is None:
                self.report.skipped += 1
            else:
                items.append(item)
                pulled.append(product)
        results = await asyncio.to_thread(self._save, items)
        written: list[Mapping[str, Any]] = []
        for product, result in zip(pulled, results, strict=True):
            if result.outcome == WriteOutcome.FAILED:
                self.report.skipped += 1
                problems = "; ".join(f"{e.field}: {e.message}" for e in result.errors)
                self.report.warn(f"{product['sku']}: not written ({problems})")
                continue
            written.append(product)
            if result.outcome == WriteOutcome.CREATED:
                self.report.created += 1
            elif result.outcome == WriteOutcome.UPDATED:
                self.report.updated += 1
            else:
                self.report.unchanged += 1
        await self._record(written, views)

    def _mark(self, product: Mapping[str, Any]) -> tuple[Any, str | None]:
        return product.get("updated_at"), self.parents.get(str(product["sku"]))

    def _save(self, items: list[dict[str, Any]]) -> list[Any]:
        if not items:
            return []
        with self.catalog.batch_writer(self.definition.name, author=self.author) as writer:
            results = writer.save(items)
            writer.commit()
        return list(results)

    async def _with_children(self, page: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The page, with the children of its configurables that are not on it placed before
        them: a page then links its families itself, and a pull that stops later loses no
        link (the parent may not be read again)."""
        have = {p.get("id") for p in page}
        wanted: list[int] = []
        for product in page:
            links = _extension(product).get("configurable_product_links")
            if product.get("type_id") == "configurable" and isinstance(links, list):
                wanted += [i for i in links if isinstance(i, int) and i not in have]
        if not wanted:
            return list(page)
        wanted = sorted(set(wanted))
        children: list[Mapping[str, Any]] = []
        for start in range(0, len(wanted), 100):
            chunk = [str(i) for i in wanted[start : start + 100]]
            children += await _list(self.pusher, GLOBAL, "entity_id", chunk)
        return [*children, *page]

    async def _store_views(self, skus: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """sku -> store code -> the product's values in that store view (one call per store),
        when some localized attribute is mapped."""
        config = self.config
        if not config.stores or not any(a.localized for a in config.attributes) or not skus:
            return {}
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for store in sorted(set(config.stores.values())):
            for product in await _list(self.pusher, store, "sku", skus):
                out.setdefault(str(product.get("sku")), {})[store] = flatten(product)
        return out

    # -- Magento's values as the hub's ------------------------------------------------------

    async def _item(
        self,
        product: Mapping[str, Any],
        before: CatalogObject | None,
        views: Mapping[str, Mapping[str, Mapping[str, Any]]],
    ) -> dict[str, Any] | None:
        sku = str(product["sku"])
        flat = flatten(product)
        values: dict[str, Any] = {self.definition.business_key: sku}
        for mapping in self.config.attributes:
            target = self.fields.get(mapping.field)
            raw = flat.get(mapping.code)
            if target is None or raw is None or raw == "" or raw == []:
                continue  # nothing in Magento: the hub's value stays
            value = await self._value(sku, mapping, target, raw)
            if value is None:
                continue
            if mapping.localized:
                value = {self.config.default_language: value}
                for language, store in self.config.stores.items():
                    shown = views.get(sku, {}).get(store, {}).get(mapping.code)
                    # A store view showing the global value has no translation of its own.
                    if shown not in (None, "") and shown != raw:
                        value[language] = await self._value(sku, mapping, target, shown)
            values[mapping.field] = value
        values |= await self._categories(sku, product, before)
        parent = self.parents.get(sku)
        if parent is not None and parent != sku:
            values[PARENT_ITEM_KEY] = parent
            rules = self.definition.variants
            for name in rules.parent_only if rules else ():
                values.pop(name, None)
        return values

    async def _value(
        self, sku: str, mapping: AttributeMapping, target: FieldDefinition, raw: Any
    ) -> Any:
        kind = mapping.kind
        if kind in ("text", "textarea", "rich_text"):
            return str(raw)
        if mapping.has_options:
            return await self._options(sku, mapping, target, raw)
        if kind == "boolean":
            return str(raw).strip().lower() not in ("0", "false", "")
        if kind == "date":
            return str(raw)[:10]
        if kind == "datetime":
            text = str(raw)
            try:
                moment = datetime.strptime(text[:19], MAGENTO_TIME)
            except ValueError:
                return text
            return _iso(moment.replace(tzinfo=UTC))  # Magento stores UTC
        number = _number(raw)
        if number is None:
            self.report.warn(f"{sku}: {mapping.code} is not a number ({str(raw)[:40]!r})")
            return None
        if kind == "money":
            if target.price_list:
                return {self.config.currency: number}
            return {"amount": number, "currency": self.config.currency}
        if kind == "quantity":
            return {"value": number, "unit": mapping.unit or target.unit}
        return number

    async def _options(
        self, sku: str, mapping: AttributeMapping, target: FieldDefinition, raw: Any
    ) -> Any:
        """Option ids back to the hub's option codes: the ids the connector knows, else the
        option's admin label when it names one of the field's options (ignoring case, as
        Magento's own lookup does); an option neither finds leaves the field out."""
        ids = raw if isinstance(raw, list) else str(raw).split(",")
        codes: list[str] = []
        known = self.options.setdefault(mapping.code, {})
        for text in ids:
            ident = _whole(text)
            if ident is None:
                continue
            if ident not in known:
                await self._by_label(mapping, target, ident)
            if ident not in known:
                label = self.labels.get(mapping.code, {}).get(ident, "?")
                self.report.warn(
                    f"{sku}: {mapping.code} option {ident} ({label!r}) is not an option of "
                    f"{mapping.field}"
                )
                return None
            codes.append(known[ident])
        if not codes:
            return None
        return codes if mapping.kind == "multiselect" else codes[0]

    async def _by_label(
        self, mapping: AttributeMapping, target: FieldDefinition, ident: int
    ) -> None:
        if mapping.code not in self.labels:
            path = f"/V1/products/attributes/{sku_path(mapping.code)}/options"
            reply = await self.pusher.client.request("GET", path)
            labels: dict[int, str] = {}
            for option in reply.data or []:
                found = _whole(option.get("value")) if isinstance(option, Mapping) else None
                if found is not None and isinstance(option.get("label"), str):
                    labels[found] = option["label"]
            self.labels[mapping.code] = labels
        label = self.labels[mapping.code].get(ident)
        if label is None:
            return
        match = [o for o in target.options if o.casefold() == label.strip().casefold()]
        if not match:
            return
        code = match[0]
        self.options[mapping.code][ident] = code
        # Remembered so that the push sends this id for the code; an id the connector
        # already keeps for the code (another Magento option with the same label) stays.
        kind = option_kind(mapping.code)
        state = self.pusher.state
        if not await asyncio.to_thread(state.remote_ids, self.config.name, kind, [code]):
            await asyncio.to_thread(state.remember_ids, self.config.name, kind, {code: ident})

    async def _categories(
        self, sku: str, product: Mapping[str, Any], before: CatalogObject | None
    ) -> dict[str, Any]:
        """Category links back to hub category keys; left alone when the hub's categories
        already name the same ones."""
        names = [n for n in self.config.categories.fields if n in self.fields]
        if not names:
            return {}
        links = _extension(product).get("category_links")
        if isinstance(links, list):
            ids = [_whole(link.get("category_id")) for link in links if isinstance(link, Mapping)]
        else:
            raw = flatten(product).get("category_ids")
            ids = [_whole(i) for i in (raw if isinstance(raw, list) else [])]
        keys: list[str] = []
        for ident in ids:
            if ident is None:
                continue
            key = self.categories.get(ident)
            if key is None:
                self.report.warn(f"{sku}: category {ident} is not mapped to a hub category")
            elif key not in keys:
                keys.append(key)
        if not keys:
            return {}
        if before is not None and await self._has_categories(before, names, keys):
            return {}
        multiple = [n for n in names if self.fields[n].multiple]
        if multiple:
            return {multiple[0]: keys}
        if len(keys) > 1:
            self.report.warn(f"{sku}: {len(keys)} categories for the single field {names[0]}")
        return {names[0]: keys[0]}

    async def _has_categories(
        self, obj: CatalogObject, names: Sequence[str], keys: list[str]
    ) -> bool:
        uuids = set()
        for name in names:
            value = obj.values.get(name)
            uuids |= set(value if isinstance(value, list) else [value] if value else [])
        if len(uuids) != len(keys):
            return False
        found = await asyncio.to_thread(self.pusher.catalog.by_uuids, sorted(uuids))
        return {o.key for o in found.values()} == set(keys)

    # -- the connector's state -------------------------------------------------------------

    async def _record(
        self,
        products: Sequence[Mapping[str, Any]],
        views: Mapping[str, Mapping[str, Mapping[str, Any]]],
    ) -> None:
        """Each pulled product as Magento's in the connector's state, and what the push would
        send for it as sent wherever Magento holds that value already."""
        if not products:
            return
        pusher, config = self.pusher, self.config
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
            sent[sku] = self._matching(sections, shop, views.get(sku, {}))
            parent = parents.get(obj.parent or "")
            if parent is not None and self.parents.get(sku) == parent.key:
                link = {"parent": parent.key}
                sent[sku][LINK_SECTION] = SectionState(section_hash(link), link)
        await asyncio.to_thread(pusher.state.save_sections, config.name, sent, now)

    def _matching(
        self,
        sections: Mapping[str, Mapping[str, Any]],
        shop: Mapping[str, Any],
        views: Mapping[str, Mapping[str, Any]],
    ) -> dict[str, SectionState]:
        out: dict[str, SectionState] = {}
        flat = flatten(shop)
        compared = {a.code: a for a in self.config.owned()}
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
        held = _extension(shop).get("stock_item")
        if (
            stock is not None
            and isinstance(held, Mapping)
            and _number(held.get("qty")) == _number(stock.get("quantity"))
        ):
            out[STOCK] = SectionState(section_hash(stock), stock)
        return out


def _same_extension(key: str, value: Any, shop: Mapping[str, Any]) -> bool:
    extension = _extension(shop)
    if key == "@category_links":
        held = extension.get("category_links") or []
        return {str(link.get("category_id")) for link in value} == {
            str(link.get("category_id")) for link in held if isinstance(link, Mapping)
        }
    if key == "@links":
        return sorted(value) == sorted(extension.get("configurable_product_links") or [])
    held = extension.get("configurable_product_options") or []
    return _option_sets(value) == _option_sets(held)


def _option_sets(options: Any) -> set[tuple[str, frozenset[int]]]:
    out: set[tuple[str, frozenset[int]]] = set()
    for option in options if isinstance(options, list) else []:
        if isinstance(option, Mapping):
            values = frozenset(
                int(v["value_index"])
                for v in option.get("values") or []
                if isinstance(v, Mapping) and _whole(v.get("value_index")) is not None
            )
            out.add((str(option.get("attribute_id")), values))
    return out


def _extension(product: Mapping[str, Any]) -> Mapping[str, Any]:
    found = product.get("extension_attributes")
    return found if isinstance(found, Mapping) else {}


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


def _whole(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
