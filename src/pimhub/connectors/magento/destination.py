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

from pimhub.connectors.ledger import BulkLedger
from pimhub.connectors.magento.bulk import BULK_PATH, BulkSync
from pimhub.connectors.magento.client import MagentoClient
from pimhub.connectors.magento.push import Outcome, Pusher, Target
from pimhub.events.deliveries import AttemptResult, Delivery

EXCERPT_CALLS = 8
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
        if started > deadline:
            return [_skipped(d, started) for d in deliveries]
        clock = time.perf_counter()
        wanted: dict[str, tuple[str | None, str]] = {}  # sku -> (uuid, class)
        results: list[AttemptResult] = []
        by_delivery: dict[int, str] = {}
        for delivery in deliveries:
            subject = _subject(delivery.body)
            if subject is None or subject[2] != self.pusher.config.class_name:
                # Not about a product of the synced class (a class change, say): nothing to do.
                results.append(AttemptResult(delivery, started, 0.0, 200, "ignored", None))
                continue
            uuid, sku, class_name = subject
            wanted[sku] = (uuid, class_name)
            by_delivery[delivery.id] = sku
        outcomes = await self._push(wanted)
        elapsed = (time.perf_counter() - clock) * 1000
        for delivery in deliveries:
            if delivery.id in by_delivery:
                outcome = outcomes[by_delivery[delivery.id]]
                results.append(_result(delivery, started, elapsed, outcome))
        return results

    async def _push(self, wanted: dict[str, tuple[str | None, str]]) -> dict[str, Outcome]:
        if not wanted:
            return {}
        uuids = [u for u, _ in wanted.values() if u]
        current = await self.pusher._db(self.pusher.catalog.by_uuids, uuids)
        targets = []
        for sku, (uuid, _) in wanted.items():
            obj = current.get(uuid) if uuid else None
            # A renamed business key: the old SKU is pushed as gone, the new one as current.
            if obj is not None and obj.key != sku:
                targets.append(Target(sku, uuid, None))
                targets.append(Target(obj.key, uuid, obj))
            else:
                targets.append(Target(sku, uuid, obj))
        outcomes = await self._send(_unique(targets))
        by_sku = {o.sku: o for o in outcomes}
        result: dict[str, Outcome] = {}
        for sku, (uuid, _) in wanted.items():
            obj = current.get(uuid) if uuid else None
            mine = [by_sku[sku]]
            if obj is not None and obj.key != sku and obj.key in by_sku:
                mine.append(by_sku[obj.key])
            failed = next((o for o in mine if not o.ok), None)
            result[sku] = failed or mine[-1]
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
        self._settle(sync, variants)
        return outcomes + (await self.pusher.push(rest) if rest else [])

    def _settle(self, sync: BulkSync, variants: list[Target]) -> None:
        """Follows the submitted operations in the background: the worker goes on delivering
        meanwhile (a later change of one of these SKUs waits for its operation)."""

        previous = self._settling

        async def run() -> None:
            if previous is not None and not previous.done():
                await previous
            await sync.settle()
            if variants:
                await self.pusher.push(variants)  # links each to its configurable parent

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


def _unique(targets: list[Target]) -> list[Target]:
    seen: dict[str, Target] = {}
    for target in targets:
        if target.obj is not None or target.sku not in seen:
            seen[target.sku] = target
    return list(seen.values())


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


def _result(delivery: Delivery, at: datetime, elapsed: float, outcome: Outcome) -> AttemptResult:
    calls = "; ".join(f"{m} {s} {p}" for m, s, p, _ in outcome.requests[:EXCERPT_CALLS])
    summary = f"{outcome.calls} calls" + (f": {calls}" if calls else " (nothing changed)")
    if outcome.ok:
        return AttemptResult(delivery, at, elapsed, 200, summary, None)
    retry_after = timedelta(seconds=outcome.retry_after) if outcome.retry_after else None
    return AttemptResult(delivery, at, elapsed, outcome.status, summary, outcome.error, retry_after)


def _skipped(delivery: Delivery, at: datetime) -> AttemptResult:
    return AttemptResult(delivery, at, 0.0, None, None, None, skipped=True)
