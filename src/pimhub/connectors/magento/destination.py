"""The Magento connector as a destination of the delivery pipeline.

The dispatcher hands it the deliveries claimed for it; each names a changed object, and the
pusher brings that product's SKU up to date. Its outcome becomes the delivery's attempt, so a
failure is retried on the pipeline's schedule, dead-lettered when the schedule runs out, and
replayable like any webhook delivery.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog

from pimhub.catalog.objects import CatalogObject
from pimhub.connectors.ledger import BulkLedger
from pimhub.connectors.magento.bulk import BULK_PATH, BulkSync
from pimhub.connectors.magento.client import MagentoClient
from pimhub.connectors.magento.push import Outcome, Pusher, Target
from pimhub.events.deliveries import AttemptResult, Delivery

EXCERPT_CALLS = 8
PRODUCT_FAULTS = frozenset({400, 409, 422})
MIN_SECONDS = 5.0  # less time than this left on the leases: the batch is handed back unsent
log = structlog.get_logger("pimhub.connectors")


class MagentoDestination:
    def __init__(
        self,
        pusher: Pusher,
        client: MagentoClient,
        clock: Callable[[], datetime],
        ledger: BulkLedger | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.pusher = pusher
        self.client = client
        self.clock = clock
        self.ledger = ledger
        self.poll_interval = poll_interval
        self._settling: asyncio.Task[None] | None = None

    async def deliver(
        self, deliveries: Sequence[Delivery], deadline: datetime
    ) -> list[AttemptResult]:
        started = self.clock()
        if (deadline - started).total_seconds() < MIN_SECONDS:
            return [_skipped(d, started) for d in deliveries]
        clock = time.perf_counter()
        wanted: dict[str, tuple[str | None, str]] = {}  # sku -> (uuid, class)
        results: list[AttemptResult] = []
        by_delivery: dict[int, list[str]] = {}
        changed_assets: dict[int, str] = {}  # delivery id -> asset uuid
        for delivery in deliveries:
            asset = _changed_asset(delivery.body) if self.pusher.media.enabled else None
            if asset is not None:
                changed_assets[delivery.id] = asset
                continue
            subject = _subject(delivery.body)
            if subject is None or subject[2] != self.pusher.config.class_name:
                # Not about a product of the synced class (a class change, say): nothing to do.
                results.append(AttemptResult(delivery, started, 0.0, 200, "ignored", None))
                continue
            uuid, sku, class_name = subject
            wanted[sku] = (uuid, class_name)
            by_delivery[delivery.id] = [sku]
        if changed_assets:
            # A changed image reaches Magento through the products that show it.
            class_name = self.pusher.config.class_name
            users = await self.pusher._db(
                self.pusher.catalog.using_assets, class_name, sorted(set(changed_assets.values()))
            )
            for delivery in deliveries:
                pairs = users.get(changed_assets.get(delivery.id, ""), [])
                if delivery.id in changed_assets and not pairs:
                    results.append(AttemptResult(delivery, started, 0.0, 200, "ignored", None))
                elif pairs:
                    wanted |= {key: (uuid, class_name) for uuid, key in pairs}
                    by_delivery[delivery.id] = [key for _, key in pairs]
        remaining = (deadline - self.clock()).total_seconds()
        try:
            # One shop that does not answer (or a batch too large for the lease) must not hold
            # the worker: what is not done by the deadline fails and is retried.
            outcomes = await asyncio.wait_for(self._push(wanted), timeout=max(remaining, 0.1))
        except TimeoutError:
            elapsed = (time.perf_counter() - clock) * 1000
            error = f"not finished within the delivery's lease ({elapsed / 1000:.1f} s)"
            for delivery in deliveries:
                if delivery.id in by_delivery:
                    results.append(AttemptResult(delivery, started, elapsed, None, None, error))
            return results
        elapsed = (time.perf_counter() - clock) * 1000
        for delivery in deliveries:
            if delivery.id in by_delivery:
                mine = [outcomes[sku] for sku in by_delivery[delivery.id]]
                outcome = next((o for o in mine if not o.ok), mine[0])
                results.append(_result(delivery, started, elapsed, outcome))
        return results

    async def _push(self, wanted: dict[str, tuple[str | None, str]]) -> dict[str, Outcome]:
        """Pushes every SKU the events touch, each as the hub holds it NOW: Magento knows
        products by SKU while the pipeline orders events per object, so a SKU is resolved to
        whatever object holds it when the push runs (a stale event of a deleted object must
        not disable the new object of the same SKU), and a SKU an object held before a rename
        is pushed as gone unless another object holds it now."""
        if not wanted:
            return {}
        db = self.pusher._db
        name = self.pusher.config.name
        class_name = self.pusher.config.class_name
        uuids = [u for u, _ in wanted.values() if u]
        current = await db(self.pusher.catalog.by_uuids, uuids)
        earlier = await db(self.pusher.state.skus_of_uuids, name, uuids)
        skus: dict[str, list[str]] = {}  # event's SKU -> every SKU its push covers
        for sku, (uuid, _) in wanted.items():
            obj = current.get(uuid) if uuid else None
            covered = [sku] + ([obj.key] if obj is not None else [])
            covered += earlier.get(uuid or "", [])
            skus[sku] = list(dict.fromkeys(covered))
        every = sorted({s for covered in skus.values() for s in covered})
        holders = await db(self.pusher.catalog.by_keys, class_name, every)
        targets = [
            Target(s, holders[s].uuid if s in holders else None, holders.get(s)) for s in every
        ]
        outcomes = {o.sku: o for o in await self._send(targets)}
        result: dict[str, Outcome] = {}
        for sku, covered in skus.items():
            mine = [outcomes[s] for s in covered if s in outcomes]
            failed = next((o for o in mine if not o.ok), None)
            result[sku] = failed or mine[0]
        return result

    async def _send(self, targets: list[Target]) -> list[Outcome]:
        """A backlog at least `bulk.threshold` long goes through Magento's async bulk API
        (live simple products and variants; parents and deletes stay per product), the rest
        as one call per change."""
        await self._settle_leftovers()
        threshold = self.pusher.config.bulk.threshold
        if self.ledger is None or len(targets) < threshold:
            return await self.pusher.push(targets)
        live = [t for t in targets if t.obj is not None and self.pusher._wanted(t.obj)]
        families = await self.pusher._families([t.obj for t in live if t.obj is not None])
        bulk = [t for t in live if not families.get(t.uuid or "")]
        if len(bulk) < threshold:
            return await self.pusher.push(targets)
        rest = [t for t in targets if t not in bulk]
        sync = BulkSync(self.pusher, self.ledger, poll_interval=self.poll_interval)
        refused = await sync.backlog([t.obj for t in bulk if t.obj is not None])
        outcomes = [_bulk_outcome(t.sku, refused.get(t.sku)) for t in bulk]
        variants = [t for t in bulk if t.obj is not None and t.obj.parent is not None]
        self._settle(sync, variants, [t.obj for t in bulk if t.obj is not None])
        return outcomes + (await self.pusher.push(rest) if rest else [])

    def _settle(
        self, sync: BulkSync, variants: list[Target], written: Sequence[CatalogObject] = ()
    ) -> None:
        """Follows the submitted operations in the background: the worker goes on delivering
        meanwhile (a later change of one of these SKUs waits for its operation)."""

        previous = self._settling

        async def run() -> None:
            if previous is not None and not previous.done():
                await previous
            await sync.settle()
            if variants:
                await self.pusher.push(variants)  # links each to its configurable parent
            # Bulk operations carry no images: they follow per SKU once the products exist
            # (a failure marks the SKU failed, as a failed operation does).
            await self.pusher.push_media(written)

        self._settling = asyncio.ensure_future(run())
        self._settling.add_done_callback(_log_failure)

    async def _settle_leftovers(self) -> None:
        """Operations left open by a worker that stopped are followed up by the next."""
        if self.ledger is None or (self._settling is not None and not self._settling.done()):
            return
        name = self.pusher.config.name
        if await self.pusher._db(self.ledger.open_bulks, name):
            self._settle(BulkSync(self.pusher, self.ledger, poll_interval=self.poll_interval), [])

    async def aclose(self) -> None:
        if self._settling is not None and not self._settling.done():
            self._settling.cancel()
        await self.client.aclose()
        self.pusher.close_db()


def _bulk_outcome(sku: str, refused: str | None) -> Outcome:
    outcome = Outcome(sku, calls=1)
    outcome.requests.append(("PUT", "bulk", BULK_PATH, None))
    if refused is not None:
        outcome.error = f"bulk operation refused: {refused}"
        outcome.status = 400
    return outcome


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("connector.settle_failed", error=str(task.exception()))


def _subject(body: bytes) -> tuple[str | None, str, str] | None:
    """(uuid, business key, class) of the object an event is about; None for other events."""
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or not str(payload.get("type", "")).startswith("object."):
        return None
    key = data.get("businessKey")
    if not isinstance(key, str) or not key:
        return None
    uuid = data.get("uuid")
    return (uuid if isinstance(uuid, str) else None, key, str(data.get("objectType")))


def _changed_asset(body: bytes) -> str | None:
    """The uuid of the asset an `asset.updated` event is about (new bytes or alt text)."""
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or payload.get("type") != "asset.updated":
        return None
    data = payload.get("data")
    uuid = data.get("uuid") if isinstance(data, dict) else None
    return uuid if isinstance(uuid, str) and uuid else None


def _result(delivery: Delivery, at: datetime, elapsed: float, outcome: Outcome) -> AttemptResult:
    calls = "; ".join(f"{m} {s} {p}" for m, s, p, _ in outcome.requests[:EXCERPT_CALLS])
    summary = f"{outcome.calls} calls" + (f": {calls}" if calls else " (nothing changed)")
    if outcome.ok:
        return AttemptResult(delivery, at, elapsed, 200, summary, None)
    retry_after = timedelta(seconds=outcome.retry_after) if outcome.retry_after else None
    return AttemptResult(
        delivery,
        at,
        elapsed,
        outcome.status,
        summary,
        outcome.error,
        retry_after,
        # Magento refusing one product's data (400, 422) or the connector refusing it (409)
        # says nothing about the shop's health; 401, 404, 429, 5xx and no answer do.
        receiver_fault=outcome.status not in PRODUCT_FAULTS,
    )


def _skipped(delivery: Delivery, at: datetime) -> AttemptResult:
    return AttemptResult(delivery, at, 0.0, None, None, None, skipped=True)
