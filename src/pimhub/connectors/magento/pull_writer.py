"""One page of a pull written into the catalog: Magento's values mapped back to the hub's
fields (option ids to option codes, category ids to category keys, configurable children
to their parent), saved with the catalog's batch upsert, then recorded in the connector's
state (pull_record)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pimhub.catalog.batch import Outcome as WriteOutcome
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.fields import FieldDefinition
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.service import CatalogService
from pimhub.catalog.variants import PARENT_ITEM_KEY
from pimhub.connectors.magento.client import sku_path
from pimhub.connectors.magento.config import AttributeMapping
from pimhub.connectors.magento.mapping import GLOBAL
from pimhub.connectors.magento.pull_paging import list_products
from pimhub.connectors.magento.pull_record import record_pulled
from pimhub.connectors.magento.pull_report import PullReport
from pimhub.connectors.magento.pull_values import MAGENTO_TIME, extension, iso, number, whole
from pimhub.connectors.magento.push import Pusher
from pimhub.connectors.magento.reconcile import flatten
from pimhub.connectors.magento.remote_ids import CATEGORY, option_kind


class PageWriter:
    """Writes a pull's pages; keeps what it learns across them (ids, parents, labels)."""

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
            links = extension(product).get("configurable_product_links")
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
        await record_pulled(self.pusher, self.parents, written, views)

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
            links = extension(product).get("configurable_product_links")
            if product.get("type_id") == "configurable" and isinstance(links, list):
                wanted += [i for i in links if isinstance(i, int) and i not in have]
        if not wanted:
            return list(page)
        wanted = sorted(set(wanted))
        children: list[Mapping[str, Any]] = []
        for start in range(0, len(wanted), 100):
            chunk = [str(i) for i in wanted[start : start + 100]]
            children += await list_products(self.pusher, GLOBAL, "entity_id", chunk)
        return [*children, *page]

    async def _store_views(self, skus: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """sku -> store code -> the product's values in that store view (one call per store),
        when some localized attribute is mapped."""
        config = self.config
        if not config.stores or not any(a.localized for a in config.attributes) or not skus:
            return {}
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for store in sorted(set(config.stores.values())):
            for product in await list_products(self.pusher, store, "sku", skus):
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
            return iso(moment.replace(tzinfo=UTC))  # Magento stores UTC
        parsed = number(raw)
        if parsed is None:
            self.report.warn(f"{sku}: {mapping.code} is not a number ({str(raw)[:40]!r})")
            return None
        if kind == "money":
            if target.price_list:
                return {self.config.currency: parsed}
            return {"amount": parsed, "currency": self.config.currency}
        if kind == "quantity":
            return {"value": parsed, "unit": mapping.unit or target.unit}
        return parsed

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
            ident = whole(text)
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
                found = whole(option.get("value")) if isinstance(option, Mapping) else None
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
        links = extension(product).get("category_links")
        if isinstance(links, list):
            ids = [whole(link.get("category_id")) for link in links if isinstance(link, Mapping)]
        else:
            raw = flatten(product).get("category_ids")
            ids = [whole(i) for i in (raw if isinstance(raw, list) else [])]
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
