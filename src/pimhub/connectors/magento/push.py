"""Incremental push: the current state of some products, as the fewest Magento calls.

The event that triggers a push only says *which* product changed: the pusher always sends the
product's current state, so a replayed or duplicated delivery sends nothing (every section's
hash matches what was sent) and an old event can never take the shop back to old values.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from pimhub.catalog.objects import CatalogObject
from pimhub.connectors.magento.client import (
    MagentoClient,
    MagentoError,
    search_criteria,
    sku_path,
)
from pimhub.connectors.magento.config import DeletePolicy, MagentoConfig, StockMode
from pimhub.connectors.magento.mapping import (
    GLOBAL,
    LINK_SECTION,
    STOCK,
    Family,
    Resolved,
    category_uuids,
    changed,
    disable_body,
    legacy_stock_body,
    option_values,
    product_body,
    product_sections,
    section_hash,
    stock_body,
)
from pimhub.connectors.magento.media import MEDIA, MediaSync
from pimhub.connectors.magento.push_media import push_media, sync_media
from pimhub.connectors.magento.push_outcomes import DryRun as DryRun
from pimhub.connectors.magento.push_outcomes import Outcome as Outcome
from pimhub.connectors.magento.push_outcomes import PushRefused as PushRefused
from pimhub.connectors.magento.push_outcomes import Target as Target
from pimhub.connectors.magento.push_outcomes import attempt
from pimhub.connectors.magento.remote_ids import RemoteIds
from pimhub.connectors.ports import AssetReader, CatalogReader
from pimhub.connectors.state import ConnectorState, ItemState, SectionState

T = TypeVar("T")
SKU_LOOKUP = 200


class Pusher:
    def __init__(
        self,
        config: MagentoConfig,
        client: MagentoClient,
        state: ConnectorState,
        catalog: CatalogReader,
        *,
        axes: Sequence[str] = (),
        clock: Callable[[], datetime],
        db: Callable[..., Awaitable[Any]] | None = None,
        open_skus: Callable[[str, Sequence[str]], set[str]] | None = None,
        assets: AssetReader | None = None,
    ) -> None:
        # SKUs with a bulk operation Magento has not finished (the ledger's): a write now could
        # be overtaken by that older operation, so it waits and is retried.
        self.open_skus = open_skus
        self.config = config
        self.client = client
        self.state = state
        self.catalog = catalog
        self.axes = tuple(axes)  # the class's variant axes: a configurable's options
        self.clock = clock
        self._dbcall = db
        self._executor: ThreadPoolExecutor | None = None
        self.ids = RemoteIds(config, client, state, catalog, self._db)
        self.media = MediaSync(config, assets)  # off without a `media` mapping or assets

    async def _db(self, call: Callable[..., T], *args: Any) -> T:
        """A storage call on the pusher's one database thread: concurrent pushes would
        otherwise queue on SQLite's write lock, whose busy handler sleeps in milliseconds
        (measured: a full sync spent most of its time there), and hold several pooled
        connections at once."""
        if self._dbcall is not None:
            result: T = await self._dbcall(call, *args)
            return result
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="pimhub-connector-db")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(call, *args))

    def close_db(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    # -- entry points ----------------------------------------------------------------------

    async def push(self, targets: Sequence[Target], *, dry_run: bool = False) -> list[Outcome]:
        """Brings each target's SKU up to date in Magento, concurrently up to the configured
        concurrency; one SKU's failure does not stop the others."""
        skus = [t.sku for t in targets]
        items = await self._db(self.state.items, self.config.name, skus)
        sent = await self._db(self.state.sections, self.config.name, skus)
        busy = await self._db(self.open_skus, self.config.name, skus) if self.open_skus else set()
        live = [t for t in targets if t.obj is not None and self._wanted(t.obj)]
        families = await self._families([t.obj for t in live if t.obj is not None])
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(target: Target) -> Outcome:
            async with gate:
                outcome = Outcome(target.sku)
                if target.sku in busy:
                    outcome.error = "a bulk operation for this SKU is still open in Magento"
                    outcome.status = 409
                    outcome.retry_after = 10.0
                    return outcome
                if target in live:
                    work = self._push_one(target, items, sent, families, outcome, dry_run)
                else:
                    work = self._tombstone(target, items.get(target.sku), outcome, dry_run)
                await attempt(outcome, work)
                return outcome

        outcomes = await asyncio.gather(*(one(t) for t in targets))
        if not dry_run:
            await self._record_failures([o for o in outcomes if not o.ok], targets, items)
        return list(outcomes)

    async def push_media(self, objs: Sequence[CatalogObject]) -> list[Outcome]:
        """The images of products a bulk has written, one SKU at a time (see push_media.py)."""
        return await push_media(self, objs)

    def _wanted(self, obj: CatalogObject) -> bool:
        return obj.class_name == self.config.class_name and self.config.sync.matches(obj.to_dict())

    async def _families(self, objs: Sequence[CatalogObject]) -> dict[str, list[CatalogObject]]:
        # A parent is whatever has variants now; a product without any is a simple product.
        candidates = [o.uuid for o in objs if o.parent is None]
        if not candidates:
            return {}
        return await self._db(self.catalog.children_of, candidates)

    # -- one product -----------------------------------------------------------------------

    async def _push_one(
        self,
        target: Target,
        items: Mapping[str, ItemState],
        sent: Mapping[str, Mapping[str, SectionState]],
        families: Mapping[str, list[CatalogObject]],
        outcome: Outcome,
        dry_run: bool,
    ) -> None:
        obj = target.obj
        assert obj is not None
        envelope = obj.to_dict()
        children = [c for c in families.get(obj.uuid, []) if self._wanted(c)]
        family = self._family(children) if children else None
        resolved = await self._resolve(obj, children, dry_run)
        sections = product_sections(self.config, envelope, resolved, family)
        previous = sent.get(target.sku, {})
        item = items.get(target.sku)
        if item is None:
            item = await self._existing(target.sku, outcome, dry_run)
        creating = (
            item is None
            or item.state == "deleted"
            or (item.remote_id is None and item.state != "synced")
        )
        done: dict[str, SectionState] = {}
        remote_id = item.remote_id if item else None

        path = f"/V1/products/{sku_path(target.sku)}"
        glob = sections[GLOBAL]
        if creating and self.config.attribute("price") and glob.get("price") is None:
            # Magento refuses to create a product without a price; say why in hub terms.
            raise PushRefused(
                f"{target.sku} has no price in {self.config.currency}, which Magento needs to "
                "create it (the connector's `currency` setting names the price to send)"
            )
        before = None if creating else _sent(previous.get(GLOBAL))
        entries = changed(glob, before)
        links_changed = "@links" in entries or "@options" in entries
        body = product_body(target.sku, entries, creating=creating)
        if entries and _says_something(body):
            reply = await self._call(outcome, "PUT", path, GLOBAL, body, dry_run)
            if isinstance(reply, Mapping) and isinstance(reply.get("id"), int):
                remote_id = reply["id"]
        if entries:
            done[GLOBAL] = SectionState(section_hash(glob), glob)
        for store in self.config.stores.values():
            section = sections.get(store)
            if section is None:
                continue
            entries = changed(section, _sent(previous.get(store)))
            if entries:
                body = product_body(target.sku, entries, creating=False)
                await self._call(outcome, "PUT", path, store, body, dry_run)
                done[store] = SectionState(section_hash(section), section)
        stock = sections.get(STOCK)
        if stock is not None and changed(stock, _sent(previous.get(STOCK))):
            await self._send_stock(target.sku, stock, outcome, dry_run)
            done[STOCK] = SectionState(section_hash(stock), stock)
        if self.media.enabled:
            await sync_media(self, target.sku, obj, previous.get(MEDIA), outcome, dry_run)
        if links_changed:
            await self._check_children(target.sku, family, resolved, outcome, dry_run)
        if obj.parent is not None:
            link = await self._link_to_parent(
                target.sku, obj, previous.get(LINK_SECTION), outcome, dry_run
            )
            if link is not None:
                done[LINK_SECTION] = link
        if dry_run:
            return
        now = self.clock()
        await self._db(self.state.save_sections, self.config.name, {target.sku: done}, now)
        state = ItemState(
            sku=target.sku,
            object_uuid=obj.uuid,
            remote_id=remote_id,
            created_by_hub=creating or bool(item and item.created_by_hub),
            state="synced",
            synced_version=obj.version,
            synced_at=now,
        )
        await self._db(self.state.save_items, self.config.name, [state], now)

    async def _existing(self, sku: str, outcome: Outcome, dry_run: bool) -> ItemState | None:
        """A SKU the connector has never dealt with may exist in Magento already: then it is
        Magento's product (never deleted or disabled by the hub), and is updated, not
        created."""
        try:
            found = await self._call(
                outcome, "GET", f"/V1/products/{sku_path(sku)}", GLOBAL, None, dry_run
            )
        except MagentoError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(found, Mapping) or not isinstance(found.get("id"), int):
            return None
        return ItemState(sku, None, found["id"], created_by_hub=False, state="pending")

    def _family(self, children: Sequence[CatalogObject]) -> Family:
        return Family(self.axes, {c.key: c.values for c in children})

    async def _resolve(
        self, obj: CatalogObject, children: Sequence[CatalogObject], dry_run: bool
    ) -> Resolved:
        wanted = option_values(self.config, obj.values)
        for child in children:
            wanted += option_values(self.config, child.values)
        options = await self.ids.options(sorted(set(wanted)), create=not dry_run)
        categories = await self.ids.categories(
            category_uuids(self.config, obj.values), create=not dry_run
        )
        attribute_ids: dict[str, int] = {}
        child_ids: dict[str, int] = {}
        if children:
            attribute_ids = await self.ids.attribute_ids(self._axis_codes())
            known = await self._db(self.state.items, self.config.name, [c.key for c in children])
            child_ids = {sku: i.remote_id for sku, i in known.items() if i.remote_id}
            # Children created through a bulk have no entity id yet: read the ids once.
            unknown = [s for s, i in known.items() if not i.remote_id and i.state == "synced"]
            if unknown and not dry_run:
                found = await self.entity_ids(unknown)
                child_ids |= found
                await self._remember_entity_ids(found, known)
        return Resolved(options, categories, attribute_ids, child_ids)

    async def entity_ids(self, skus: Sequence[str]) -> dict[str, int]:
        """Magento's entity ids of these SKUs (those it has), 200 per request, only ids and
        SKUs in the answer."""
        found: dict[str, int] = {}
        for start in range(0, len(skus), SKU_LOOKUP):
            chunk = list(skus[start : start + SKU_LOOKUP])
            params = search_criteria([("sku", ",".join(chunk), "in")], page_size=len(chunk))
            params["fields"] = "items[id,sku],total_count"
            reply = await self.client.request("GET", "/V1/products", params=params)
            for product in (reply.data or {}).get("items") or []:
                if isinstance(product, Mapping) and isinstance(product.get("id"), int):
                    found[str(product.get("sku"))] = product["id"]
        return found

    async def _remember_entity_ids(
        self, found: Mapping[str, int], items: Mapping[str, ItemState]
    ) -> None:
        states = [
            replace(items[sku], remote_id=ident) for sku, ident in found.items() if sku in items
        ]
        await self._db(self.state.save_items, self.config.name, states, self.clock())

    def _axis_codes(self) -> list[str]:
        axes = set(self.axes)
        return [a.code for a in self.config.attributes if a.field in axes]

    async def _send_stock(
        self, sku: str, stock: Mapping[str, Any], outcome: Outcome, dry_run: bool
    ) -> None:
        if self.config.stock.mode == StockMode.LEGACY:
            path = f"/V1/products/{sku_path(sku)}/stockItems/1"
            await self._call(outcome, "PUT", path, GLOBAL, legacy_stock_body(stock), dry_run)
            return
        body = {"sourceItems": [stock_body(sku, stock)]}
        await self._call(outcome, "POST", "/V1/inventory/source-items", GLOBAL, body, dry_run)

    async def _check_children(
        self,
        sku: str,
        family: Family | None,
        resolved: Resolved,
        outcome: Outcome,
        dry_run: bool,
    ) -> None:
        """Reads a parent's children back: a child the hub linked that Magento does not list
        is a failure, so the delivery is retried instead of the child being silently lost."""
        if family is None or dry_run:
            return
        expected = {s for s in family.children if s in resolved.children}
        if not expected:
            return
        path = f"/V1/configurable-products/{sku_path(sku)}/children"
        reply = await self._call(outcome, "GET", path, GLOBAL, None, dry_run)
        linked = {c.get("sku") for c in reply or [] if isinstance(c, Mapping)}
        missing = sorted(expected - linked)
        if missing:
            raise PushRefused(
                f"configurable {sku}: Magento does not list {len(missing)} linked children "
                f"({', '.join(missing[:5])})"
            )

    async def _link_to_parent(
        self,
        sku: str,
        obj: CatalogObject,
        previous: SectionState | None,
        outcome: Outcome,
        dry_run: bool,
    ) -> SectionState | None:
        """A variant is linked to its configurable parent once the parent is in Magento; until
        then its delivery fails and is retried, so no child ends up unlinked."""
        parents = await self._db(self.catalog.by_uuids, [obj.parent])
        parent = parents.get(obj.parent or "")
        if parent is None:
            return None
        link = {"parent": parent.key}
        if previous is not None and previous.sent == link:
            return None
        known = await self._db(self.state.items, self.config.name, [parent.key])
        parent_item = known.get(parent.key)
        if parent_item is None or (parent_item.remote_id is None and parent_item.state != "synced"):
            raise PushRefused(f"waiting for the configurable parent {parent.key} to reach Magento")
        path = f"/V1/configurable-products/{sku_path(parent.key)}/child"
        try:
            await self._call(outcome, "POST", path, GLOBAL, {"childSku": sku}, dry_run)
        except MagentoError as exc:
            if "already attached" not in exc.message:
                raise
        return SectionState(section_hash(link), link)

    # -- deletes ---------------------------------------------------------------------------

    async def _tombstone(
        self, target: Target, item: ItemState | None, outcome: Outcome, dry_run: bool
    ) -> None:
        """A product that is gone from the hub, or no longer wanted by the shop: the delete
        policy applies, and only to products the hub created."""
        if item is None or not item.created_by_hub or item.state in ("disabled", "deleted"):
            return
        policy = self.config.deletes
        path = f"/V1/products/{sku_path(target.sku)}"
        state = item.state
        if policy == DeletePolicy.DISABLE:
            await self._call(outcome, "PUT", path, GLOBAL, disable_body(target.sku), dry_run)
            state = "disabled"
        elif policy == DeletePolicy.DELETE:
            try:
                await self._call(outcome, "DELETE", path, GLOBAL, None, dry_run)
            except MagentoError as exc:
                if exc.status != 404:
                    raise
            state = "deleted"
        if dry_run or state == item.state:
            return
        now = self.clock()
        # A disabled product keeps its images in Magento, so the record of them stays; a
        # deleted one took them along.
        keep = () if state == "deleted" else (MEDIA,)
        await self._db(self.state.forget_sections, self.config.name, [target.sku], keep)
        gone = ItemState(
            sku=target.sku,
            object_uuid=item.object_uuid,
            remote_id=None if state == "deleted" else item.remote_id,
            created_by_hub=True,
            state=state,
            synced_version=target.obj.version if target.obj else item.synced_version,
            synced_at=now,
        )
        await self._db(self.state.save_items, self.config.name, [gone], now)

    async def _record_failures(
        self,
        failed: Sequence[Outcome],
        targets: Sequence[Target],
        items: Mapping[str, ItemState],
    ) -> None:
        if not failed:
            return
        by_sku = {t.sku: t for t in targets}
        now = self.clock()
        states = []
        for outcome in failed:
            item = items.get(outcome.sku)
            target = by_sku[outcome.sku]
            states.append(
                ItemState(
                    sku=outcome.sku,
                    object_uuid=target.uuid,
                    remote_id=item.remote_id if item else None,
                    created_by_hub=bool(item and item.created_by_hub),
                    state="failed",
                    synced_version=item.synced_version if item else None,
                    synced_at=item.synced_at if item else None,
                    last_error=(outcome.error or "")[:2000],
                )
            )
        await self._db(self.state.save_items, self.config.name, states, now)

    # -- calls -----------------------------------------------------------------------------

    async def _call(
        self,
        outcome: Outcome,
        method: str,
        path: str,
        store: str,
        body: Any,
        dry_run: bool,
    ) -> Any:
        outcome.requests.append((method, store, path, body))
        if dry_run:
            if method == "GET":
                return None
            return {}
        outcome.calls += 1
        reply = await self.client.request(method, path, store=store, json=body)
        return reply.data


def _says_something(body: Mapping[str, Any]) -> bool:
    """False for a body that names only the SKU (every change was to a create-only value)."""
    return set(body["product"]) != {"sku"}


def _sent(state: SectionState | None) -> Mapping[str, Any] | None:
    return state.sent if state is not None else None
