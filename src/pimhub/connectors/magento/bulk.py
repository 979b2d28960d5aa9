"""Full sync through Magento's asynchronous bulk API, with a ledger of every operation.

Each product's changed sections go out as operations of `PUT /async/bulk/V1/products/bySku`
(per store code, in chunks). Every operation is written to the ledger before its request is
sent, and polled afterwards through `GET /V1/bulk/{uuid}/detailed-status`: status 1 records
the section as sent, 2 (a lock or connection error) is resubmitted with backoff, 3 and 5 are
failures with Magento's message, and 4 past a time limit is resubmitted. The bulk-level status
is never trusted (it can say failed while operations are still open). A sync that is run again
after a crash skips what the ledger shows as open or done with the same payload, so nothing is
sent twice. Configurable parents go last, once their children's entity ids are known.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pimhub.catalog.objects import CatalogObject
from pimhub.connectors.ledger import BulkLedger, NewOperation
from pimhub.connectors.magento.bulk_poll import BULK_PATH as BULK_PATH
from pimhub.connectors.magento.bulk_poll import BulkRounds, Failed, resend_operation
from pimhub.connectors.magento.bulk_poll import SyncReport as SyncReport
from pimhub.connectors.magento.client import MagentoError, sku_path
from pimhub.connectors.magento.config import StockMode
from pimhub.connectors.magento.mapping import (
    GLOBAL,
    LINK_SECTION,
    STOCK,
    Family,
    changed,
    legacy_stock_body,
    product_body,
    product_sections,
    section_hash,
    stock_body,
)
from pimhub.connectors.magento.push import Pusher, Target
from pimhub.connectors.state import ItemState, SectionState

PAGE = 500


@dataclass
class _Planned:
    """What one product contributes to a sync."""

    obj: CatalogObject
    creating: bool
    created_by_hub: bool
    remote_id: int | None
    operations: list[NewOperation]
    stock: dict[str, Any] | None
    known: bool  # the connector has a record of the SKU already


class BulkSync(BulkRounds):
    """A full sync, and the backlog a worker hands over, through the bulk API."""

    def __init__(
        self,
        pusher: Pusher,
        ledger: BulkLedger,
        *,
        poll_interval: float = 1.0,
        open_limit: timedelta = timedelta(minutes=30),
        max_attempts: int = 4,
        progress: Callable[[str, int], None] | None = None,
    ) -> None:
        super().__init__(
            pusher,
            ledger,
            poll_interval=poll_interval,
            open_limit=open_limit,
            max_attempts=max_attempts,
            progress=progress,
        )
        # Store-view operations wait until the global ones are processed: a store-scoped save
        # of a SKU Magento does not have yet would try to create it without its attribute set.
        self._deferred: list[NewOperation] = []
        self._deferred_stock: list[_Planned] = []

    # -- the whole run ---------------------------------------------------------------------

    async def full(self, *, force: bool = False) -> SyncReport:
        """Every product the connector wants, as bulk operations, waiting until Magento has
        processed them; `force` sends every section even when its hash matches."""
        await self._resume_unsent()
        parents: list[CatalogObject] = []
        catalog = self.pusher.catalog
        for page in catalog.pages(self.config.class_name, PAGE):
            families = await self._db(catalog.children_of, [o.uuid for o in page if not o.parent])
            wanted = [o for o in page if self.pusher._wanted(o)]
            unwanted = [o for o in page if not self.pusher._wanted(o)]
            await self._tombstones(unwanted)
            singles = []
            for obj in wanted:
                if any(self.pusher._wanted(c) for c in families.get(obj.uuid, [])):
                    parents.append(obj)
                else:
                    singles.append(obj)
            self.report.considered += len(wanted)
            await self._submit(await self._plan(singles, {}, force))
            self.progress("planned", len(wanted))
        await self._wait_and_flush()
        if parents:
            for start in range(0, len(parents), PAGE):
                chunk = parents[start : start + PAGE]
                families = await self._db(catalog.children_of, [p.uuid for p in chunk])
                await self._child_ids(families)
                await self._submit(await self._plan(chunk, families, force))
            await self._wait_and_flush()
            await self._verify_links(parents)
        await self._media()
        return self.report

    async def _media(self) -> None:
        """Images go per SKU once the bulk has written the products (an async bulk operation
        is a product save, which would replace the whole gallery, people's entries too)."""
        if not self.pusher.media.enabled:
            return
        for page in self.pusher.catalog.pages(self.config.class_name, PAGE):
            wanted = [o for o in page if self.pusher._wanted(o) and o.key not in self._failed_skus]
            for outcome in await self.pusher.push_media(wanted):
                if outcome.ok:
                    self.report.media_calls += outcome.calls
                else:
                    self.report.failed += 1
                    self.report.note(f"{outcome.sku}: images: {outcome.error}")

    async def backlog(self, objs: Sequence[CatalogObject]) -> dict[str, str | None]:
        """A large batch of incremental changes (live simple products and variants) as bulk
        operations: submitted now, sku -> None when Magento accepted it (the ledger follows it
        from here) or the reason it was refused. `settle()` finishes the job later."""
        planned = await self._plan(objs, {}, force=False)
        await self._submit(planned)
        failed = await self._db(self.ledger.failed_skus, self.name, [o.key for o in objs])
        return {o.key: failed.get(o.key) for o in objs}

    async def settle(self) -> None:
        """Waits for the open operations, then sends what waited for them (store views,
        stock), and links the variants among them to their parents through the incremental
        path (which sends only what is still missing)."""
        await self._wait_and_flush()

    async def _wait_and_flush(self) -> None:
        await self._wait_and_send_deferred()
        await self._catch_up()

    async def _catch_up(self) -> None:
        """A product changed or deleted in the hub while its bulk operation waited in
        Magento's queue: the operation wrote older values (or brought a deleted product
        back), so the product is pushed again as it is now."""
        sent, self._sent_versions = self._sent_versions, {}
        if not sent:
            return
        class_name = self.config.class_name
        current = await self._db(self.pusher.catalog.by_keys, class_name, list(sent))
        stale = [
            Target(sku, current[sku].uuid if sku in current else None, current.get(sku))
            for sku, version in sent.items()
            if sku not in current or current[sku].version != version
        ]
        if stale:
            await self.pusher.push(stale)
            self.report.note(f"{len(stale)} products changed during the sync; pushed again")

    async def _wait_and_send_deferred(self) -> None:
        await self.wait()
        # Stock too: MSI refuses source items of a SKU that does not exist yet.
        stock, self._deferred_stock = self._deferred_stock, []
        await self._stock([p for p in stock if p.obj.key not in self._failed_skus])
        if self._deferred:
            deferred = [op for op in self._deferred if op.sku not in self._failed_skus]
            self._deferred = []
            await self._send_by_store(deferred)
            await self.wait()

    async def _tombstones(self, unwanted: Sequence[CatalogObject]) -> None:
        if not unwanted:
            return
        items = await self._db(self.pusher.state.items, self.name, [o.key for o in unwanted])
        live = [o for o in unwanted if o.key in items and items[o.key].state == "synced"]
        if live:
            await self.pusher.push([Target(o.key, o.uuid, o) for o in live])
            self.report.tombstones += len(live)

    # -- planning --------------------------------------------------------------------------

    async def _plan(
        self,
        objs: Sequence[CatalogObject],
        families: Mapping[str, list[CatalogObject]],
        force: bool,
    ) -> list[_Planned]:
        if not objs:
            return []
        skus = [o.key for o in objs]
        items = await self._db(self.pusher.state.items, self.name, skus)
        sent = await self._db(self.pusher.state.sections, self.name, skus)
        pending = await self._db(self.ledger.pending_hashes, self.name, skus)
        existing = await self._existing([s for s in skus if s not in items])
        planned = []
        for obj in objs:
            children = [c for c in families.get(obj.uuid, []) if self.pusher._wanted(c)]
            family = Family(self.pusher.axes, {c.key: c.values for c in children})
            resolved = await self.pusher._resolve(obj, children, dry_run=False)
            sections = product_sections(
                self.config, obj.to_dict(), resolved, family if children else None
            )
            item = items.get(obj.key)
            remote_id = item.remote_id if item else existing.get(obj.key)
            # Created by an earlier bulk (synced, its entity id never read) is not a create.
            synced = item is not None and item.state == "synced"
            creating = (remote_id is None and not synced) or (
                item is not None and item.state == "deleted"
            )
            by_hub = creating or bool(item and item.created_by_hub)
            previous = {} if force else sent.get(obj.key, {})
            if creating and self.config.attribute("price") and "price" not in sections[GLOBAL]:
                await self._failed(
                    [(Failed(obj.key, GLOBAL), _no_price(obj.key, self.config.currency))]
                )
                continue
            operations = []
            for store, section in sections.items():
                if store == STOCK:
                    continue
                digest = section_hash(section)
                if not force and pending.get((obj.key, store)) == digest:
                    continue  # open or done in the ledger: a resumed sync sends it no more
                base = None if creating and store == GLOBAL else _sent(previous.get(store))
                entries = changed(section, base)
                if not entries:
                    continue
                body = product_body(obj.key, entries, creating=creating and store == GLOBAL)
                payload = {"body": body, "section": section, "version": obj.version}
                operations.append(NewOperation(obj.key, store, digest, payload))
            stock = sections.get(STOCK)
            if stock is not None and not changed(stock, _sent(previous.get(STOCK))):
                stock = None
            if not operations and stock is None:
                self.report.unchanged += 1
            planned.append(
                _Planned(obj, creating, by_hub, remote_id, operations, stock, item is not None)
            )
        return planned

    async def _existing(self, skus: Sequence[str]) -> dict[str, int]:
        """Entity ids of SKUs Magento already has although the connector never sent them:
        they are Magento's products, updated but never created, disabled or deleted."""
        return await self.pusher.entity_ids(skus)

    async def _child_ids(self, families: Mapping[str, list[CatalogObject]]) -> None:
        """Children sent in this sync have entity ids only in Magento: read them so that the
        parents can name their configurable links."""
        skus = [c.key for children in families.values() for c in children]
        items = await self._db(self.pusher.state.items, self.name, skus)
        unknown = [s for s in skus if s not in items or items[s].remote_id is None]
        ids = await self._existing(unknown)
        now = self.pusher.clock()
        states = [_with_remote(items.get(sku), sku, remote) for sku, remote in ids.items()]
        await self._db(self.pusher.state.save_items, self.name, states, now)

    # -- sending ---------------------------------------------------------------------------

    async def _submit(self, planned: Sequence[_Planned]) -> None:
        await self._items(planned)
        now_ops = [op for plan in planned for op in plan.operations if op.store == GLOBAL]
        self._deferred += [op for plan in planned for op in plan.operations if op.store != GLOBAL]
        await self._send_by_store(now_ops)
        self._deferred_stock += [p for p in planned if p.stock is not None]

    async def _send_by_store(self, operations: Sequence[NewOperation]) -> None:
        by_store: dict[str, list[NewOperation]] = {}
        for op in operations:
            by_store.setdefault(op.store, []).append(op)
        gate = asyncio.Semaphore(self.config.concurrency)
        chunk = self.config.bulk.chunk

        async def send(store: str, operations: list[NewOperation]) -> None:
            async with gate:
                await self._send_bulk(store, operations)

        tasks = [
            send(store, ops[i : i + chunk])
            for store, ops in by_store.items()
            for i in range(0, len(ops), chunk)
        ]
        await asyncio.gather(*tasks)

    async def _items(self, planned: Sequence[_Planned]) -> None:
        """The connector's record of each product before its operations go out: whether the
        hub creates it decides later whether the hub may delete it."""
        now = self.pusher.clock()
        states = [
            ItemState(
                sku=p.obj.key,
                object_uuid=p.obj.uuid,
                remote_id=p.remote_id,
                created_by_hub=p.created_by_hub,
                state="pending",
            )
            for p in planned
            if p.operations and not p.known
        ]
        await self._db(self.pusher.state.save_items, self.name, states, now)

    async def _stock(self, planned: Sequence[_Planned]) -> None:
        """Stock goes through MSI source items, many SKUs per request (synchronous), or one
        legacy stock item per product."""
        if self.config.stock.mode == StockMode.LEGACY:
            await self._legacy_stock(planned)
            return
        chunk = self.config.bulk.chunk
        for start in range(0, len(planned), chunk):
            part = planned[start : start + chunk]
            body = {"sourceItems": [stock_body(p.obj.key, p.stock or {}) for p in part]}
            try:
                await self.pusher.client.request("POST", "/V1/inventory/source-items", json=body)
            except MagentoError as exc:
                self.report.note(f"stock for {len(part)} products refused: {exc.message}")
                continue
            now = self.pusher.clock()
            sent = {
                p.obj.key: {STOCK: SectionState(section_hash(p.stock or {}), p.stock or {})}
                for p in part
            }
            await self._db(self.pusher.state.save_sections, self.name, sent, now)
            self.report.stock_items += len(part)

    async def _legacy_stock(self, planned: Sequence[_Planned]) -> None:
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(plan: _Planned) -> None:
            stock = plan.stock or {}
            path = f"/V1/products/{sku_path(plan.obj.key)}/stockItems/1"
            async with gate:
                try:
                    await self.pusher.client.request("PUT", path, json=legacy_stock_body(stock))
                except MagentoError as exc:
                    self.report.note(f"{plan.obj.key}: stock refused: {exc.message}")
                    return
            sent = {plan.obj.key: {STOCK: SectionState(section_hash(stock), stock)}}
            await self._db(self.pusher.state.save_sections, self.name, sent, self.pusher.clock())
            self.report.stock_items += 1

        await asyncio.gather(*(one(p) for p in planned))

    async def _resume_unsent(self) -> None:
        """Operations written down before a crash but never answered for: Magento may or may
        not have them; sending them again is safe (the same values, by SKU)."""
        unsent = await self._db(self.ledger.unsent, self.name)
        if not unsent:
            return
        now = self.pusher.clock()
        await self._db(
            self.ledger.settle, [(e.id, "resubmitted", "never answered") for e in unsent], now
        )
        by_store: dict[str, list[NewOperation]] = {}
        for entry in unsent:
            by_store.setdefault(entry.store, []).append(resend_operation(entry))
        for store, operations in by_store.items():
            for i in range(0, len(operations), self.config.bulk.chunk):
                await self._send_bulk(store, operations[i : i + self.config.bulk.chunk])
        self.report.resubmitted += len(unsent)

    async def _verify_links(self, parents: Sequence[CatalogObject]) -> None:
        """Reads every configurable's children back after the sync: a child Magento does not
        list is reported and the parent marked failed, never silently lost."""
        families = await self._db(self.pusher.catalog.children_of, [p.uuid for p in parents])
        now = self.pusher.clock()
        links: dict[str, dict[str, SectionState]] = {}
        for parent in parents:
            expected = {c.key for c in families.get(parent.uuid, []) if self.pusher._wanted(c)}
            path = f"/V1/configurable-products/{sku_path(parent.key)}/children"
            try:
                reply = await self.pusher.client.request("GET", path)
            except MagentoError as exc:
                self.report.note(f"{parent.key}: children not readable: {exc.message}")
                continue
            listed = {c.get("sku") for c in reply.data or [] if isinstance(c, Mapping)}
            missing = sorted(expected - listed)
            if missing:
                message = f"Magento does not list {len(missing)} children: {', '.join(missing[:5])}"
                await self._failed([(Failed(parent.key, GLOBAL), message)])
            for child in expected & listed:
                link = {"parent": parent.key}
                links[child] = {LINK_SECTION: SectionState(section_hash(link), link)}
        await self._db(self.pusher.state.save_sections, self.name, links, now)


def _no_price(sku: str, currency: str) -> str:
    return (
        f"{sku} has no price in {currency}, which Magento needs to create it (the "
        "connector's `currency` setting names the price to send)"
    )


def _sent(state: SectionState | None) -> Mapping[str, Any] | None:
    return state.sent if state is not None else None


def _with_remote(item: ItemState | None, sku: str, remote: int) -> ItemState:
    if item is None:
        return ItemState(sku, None, remote, created_by_hub=False, state="pending")
    return ItemState(
        sku,
        item.object_uuid,
        remote,
        item.created_by_hub,
        item.state,
        item.synced_version,
        item.synced_at,
        item.last_error,
    )
