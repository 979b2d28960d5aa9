"""The pusher's images: sent with a product's other values, or per SKU after a bulk has
written the products (bulk operations carry no media). What is sent is MediaSync's (media.py);
this keeps the record of the hub's entries and each SKU's outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pimhub.catalog.objects import CatalogObject
from pimhub.connectors.magento.config import MagentoConfig
from pimhub.connectors.magento.mapping import GLOBAL
from pimhub.connectors.magento.media import MEDIA, MediaSync, recorded
from pimhub.connectors.magento.push_outcomes import Outcome, Target, attempt
from pimhub.connectors.state import ConnectorState, ItemState, SectionState

T = TypeVar("T")


class MediaPusher(Protocol):
    """What this module uses of push.Pusher; a protocol so that it does not import push.py,
    which calls it."""

    @property
    def config(self) -> MagentoConfig: ...
    @property
    def state(self) -> ConnectorState: ...
    @property
    def media(self) -> MediaSync: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...

    async def _db(self, call: Callable[..., T], *args: Any) -> T: ...

    async def _call(
        self, outcome: Outcome, method: str, path: str, store: str, body: Any, dry_run: bool
    ) -> Any: ...

    async def _record_failures(
        self,
        failed: Sequence[Outcome],
        targets: Sequence[Target],
        items: Mapping[str, ItemState],
    ) -> None: ...


async def push_media(pusher: MediaPusher, objs: Sequence[CatalogObject]) -> list[Outcome]:
    """The images of products a bulk has written, one SKU at a time; products Magento does
    not have (a failed operation) are left out."""
    if not pusher.media.enabled or not objs:
        return []
    name = pusher.config.name
    skus = [o.key for o in objs]
    items = await pusher._db(pusher.state.items, name, skus)
    sent = await pusher._db(pusher.state.sections, name, skus)
    gate = asyncio.Semaphore(pusher.config.concurrency)
    ready = [o for o in objs if o.key in items and items[o.key].state == "synced"]

    async def one(obj: CatalogObject) -> Outcome:
        async with gate:
            outcome = Outcome(obj.key)
            record = sent.get(obj.key, {}).get(MEDIA)
            await attempt(outcome, sync_media(pusher, obj.key, obj, record, outcome, False))
            return outcome

    outcomes = list(await asyncio.gather(*(one(o) for o in ready)))
    targets = [Target(o.key, o.uuid, o) for o in ready]
    await pusher._record_failures([o for o in outcomes if not o.ok], targets, items)
    return outcomes


async def sync_media(
    pusher: MediaPusher,
    sku: str,
    obj: CatalogObject,
    state: SectionState | None,
    outcome: Outcome,
    dry_run: bool,
) -> None:
    """The product's images as media gallery entries (see media.py). The record is saved
    even when a call fails, so an entry created before the failure stays the hub's."""
    before = recorded(state)
    record = recorded(state)

    async def call(method: str, path: str, body: Any) -> Any:
        logged = len(outcome.requests)
        try:
            return await pusher._call(outcome, method, path, GLOBAL, body, dry_run)
        finally:
            # The attempt's log names the call; megabytes of base64 need not wait in
            # memory for the rest of the batch. Only this call's entry is replaced: one
            # that failed before it was logged leaves the others (and its error) alone.
            if method == "POST" and not dry_run and len(outcome.requests) > logged:
                outcome.requests[logged] = (method, GLOBAL, path, None)

    try:
        await pusher.media.sync(sku, obj.values, record, call, dry_run)
    finally:
        added = {k: v for k, v in record.items() if before.get(k) != v}
        removed = [k for k in before if k not in record]
        if not dry_run and (added or removed):
            # A merge, not an overwrite: a concurrent push of the SKU (a full sync next
            # to the worker) keeps what it created, and the next push drops the surplus.
            await pusher._db(
                pusher.state.merge_record,
                pusher.config.name,
                sku,
                MEDIA,
                added,
                removed,
                pusher.clock(),
            )
