"""The dispatcher: fans outbox events out to endpoints, sends due deliveries, records results.

Every step is a short transaction, so a worker can be killed at any point: an event not yet
fanned out is still undispatched in the outbox, and a delivery claimed but not recorded is sent
again once its lease runs out (at least once; receivers de-duplicate by webhook-id).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog

from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import SecretUnreadable
from pimhub.events.deliveries import AttemptResult, Delivery
from pimhub.events.destinations import blocked_address
from pimhub.events.endpoints import WebhookEndpoint
from pimhub.events.policy import CircuitPolicy, RetryPolicy, parse_retry_after
from pimhub.events.ports import (
    DeliveryQueue,
    Destination,
    DestinationFactory,
    EndpointRepository,
    Sealer,
    WebhookSender,
)
from pimhub.events.signing import signed_headers

log = structlog.get_logger("pimhub.webhooks")
T = TypeVar("T")
ENDPOINT_REFRESH_SECONDS = 5.0
DESTINATION_CHECK_SECONDS = 60.0
MAX_CLAIM_BACKOFF = 5.0
# Destinations inside the hub itself (a source's catalog feed: hub:catalog-feed/<source>):
# nothing goes over the network, so there is no address to check.
INTERNAL_URL_PREFIX = "hub:"
# A destination hands a delivery back unsent when too little lease is left; the release makes
# it due again at once. Once in a while that is a long batch's tail, taken next round; the same
# delivery handed back this many rounds in a row is a lease too short for the destination:
# its next hand-back is recorded as a failed attempt (in the delivery log, on the retry
# schedule, a dead letter in the end) instead of a silent busy loop that never tries.
HANDBACK_LIMIT = 3


@dataclass
class _Target:
    """What sending to one endpoint needs, decrypted once per refresh."""

    url: str
    keys: list[bytes]
    rate_limit: float | None
    next_slot: float = 0.0
    destination: Destination | None = None  # a connector; None for a signed POST
    built_from: datetime | None = None  # the endpoint's updated_at the destination was built at

    async def wait_turn(self) -> None:
        """Spaces sends out to `rate_limit` per second (per worker)."""
        if not self.rate_limit:
            return
        now = time.monotonic()
        slot = max(now, self.next_slot)
        self.next_slot = slot + 1.0 / self.rate_limit
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class DispatcherConfig:
    batch_size: int = 500
    per_endpoint: int = 16  # requests in flight per endpoint; the sender's pool size
    fan_out_batch: int = 1000
    lease: timedelta = timedelta(seconds=60)
    # The longest one attempt can take (connect + total timeout): no attempt starts with less
    # lease than this left, so a lease never runs out while its delivery is on the wire.
    attempt_budget: timedelta = timedelta(seconds=20)
    idle_wait: float = 0.2
    allow_private: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    circuit: CircuitPolicy = field(default_factory=CircuitPolicy)


class Dispatcher:
    def __init__(
        self,
        endpoints: EndpointRepository,
        queue: DeliveryQueue,
        sealer: Sealer,
        sender: WebhookSender,
        config: DispatcherConfig | None = None,
        clock: Callable[[], datetime] = utc_now,
        destinations: DestinationFactory | None = None,
    ) -> None:
        self.destinations = destinations
        self.endpoints = endpoints
        self.queue = queue
        self.sealer = sealer
        self.sender = sender
        self.config = config or DispatcherConfig()
        self.clock = clock
        self._targets: dict[int, _Target] = {}
        self._unreadable: set[int] = set()
        self._broken: dict[int, str] = {}  # connectors that cannot be built, and why
        self._claim_failures = 0
        self._refreshed = float("-inf")
        self._blocked: dict[str, tuple[float, str | None]] = {}
        self._handed_back: dict[int, int] = {}  # delivery id -> hand-backs in a row
        self.wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def _db(self, call: Callable[..., T], *args: Any) -> T:
        """Runs a storage call on the dispatcher's one database thread. One thread, so that
        the pipelined claim and record never wait on each other's SQLite write lock (whose
        busy handler sleeps in milliseconds) and never need two pooled connections."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="pimhub-dispatch-db")
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def notify(self) -> None:
        """Something was committed: look for work now. Safe to call from any thread."""
        loop = self._loop
        if loop is None:
            return
        # A closed loop means the worker is gone; the event waits in the outbox for the next.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self.wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, as a pipeline: while one batch is being sent, the next
        is claimed and the previous one's outcomes are recorded on the database thread, so the
        database work overlaps the network waits. Claimed rows stay `delivering`
        until recorded, so a later event of the same object cannot overtake an earlier one.
        On stop, what was claimed is still sent and recorded."""
        self._loop = asyncio.get_running_loop()
        recording: asyncio.Future[None] | None = None
        claiming = asyncio.ensure_future(self._claim())
        while True:
            fanned, batch = await claiming
            # A claim already under way when `stop` is set is still awaited, sent and recorded
            # here, so nothing is left leased to a worker that has gone.
            prefetched = bool(batch) and not stop.is_set()
            if prefetched:
                claiming = asyncio.ensure_future(self._claim())
            if batch:
                results = await self._send(batch)
                if recording is not None:
                    await recording
                recording = asyncio.ensure_future(self._record(results))
                if prefetched:
                    continue
            if recording is not None:
                await recording
                recording = None
            if stop.is_set():
                if self._executor is not None:
                    self._executor.shutdown(wait=False)
                    self._executor = None
                return
            if not fanned:
                await self._idle(stop)
            claiming = asyncio.ensure_future(self._claim())

    async def _idle(self, stop: asyncio.Event) -> None:
        self.wake.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        await asyncio.wait(
            waiters, timeout=self.config.idle_wait, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()

    async def run_once(self) -> int:
        """One round without overlap: fan out, claim, send, record. Returns how many events
        and deliveries it handled (0 when there was nothing to do)."""
        fanned, batch = await self._claim()
        if batch:
            await self._record(await self._send(batch))
        return fanned + len(batch)

    async def _claim(self) -> tuple[int, list[Delivery]]:
        cfg = self.config
        try:
            now = self.clock()
            fanned, batch = await self._db(
                self.queue.fan_out_and_claim,
                now,
                cfg.fan_out_batch,
                cfg.batch_size,
                now + cfg.lease,
            )
        except Exception:
            # A database hiccup must not end the worker; the next round tries again, a little
            # later each time while the database stays away (not 50 log lines a second).
            self._claim_failures += 1
            log.exception("webhooks.claim_failed", failures=self._claim_failures)
            await asyncio.sleep(self.claim_backoff())
            return 0, []
        self._claim_failures = 0
        return fanned, batch

    def claim_backoff(self) -> float:
        """Seconds to wait after the current run of failed claims: doubling, at most 5 s."""
        doublings = min(self._claim_failures - 1, 16)
        return float(min(self.config.idle_wait * (1 << max(doublings, 0)), MAX_CLAIM_BACKOFF))

    async def _send(self, batch: list[Delivery]) -> list[AttemptResult]:
        """Sends a batch with up to `per_endpoint` requests in flight per endpoint: that many
        coroutines per endpoint each take the next delivery when their last one is answered
        (cheaper than a task per delivery queueing on a semaphore)."""
        await self._refresh_targets(force=any(d.endpoint not in self._targets for d in batch))
        by_endpoint: dict[int, list[Delivery]] = {}
        for delivery in batch:
            by_endpoint.setdefault(delivery.endpoint, []).append(delivery)
        results: list[AttemptResult] = []

        budget = self.config.attempt_budget

        async def drain(queue: Iterator[Delivery]) -> None:
            for delivery in queue:
                if self.clock() + budget > delivery.lease_until:
                    # Too little lease left to finish an attempt (a slow receiver held up the
                    # batch): hand it back rather than risk another worker sending it too.
                    results.append(
                        AttemptResult(delivery, self.clock(), 0.0, None, None, None, skipped=True)
                    )
                    continue
                results.append(await self._attempt(delivery))

        lanes = []
        for endpoint, deliveries in by_endpoint.items():
            target = self._targets.get(endpoint)
            if target is not None and target.destination is not None:
                lanes.append(self._to_destination(target, deliveries, results))
                continue
            queue = iter(deliveries)
            lanes += [drain(queue) for _ in range(min(self.config.per_endpoint, len(deliveries)))]
        await asyncio.gather(*lanes)
        return results

    async def _to_destination(
        self, target: _Target, deliveries: list[Delivery], results: list[AttemptResult]
    ) -> None:
        """Hands a connector all of its deliveries in this batch at once (those its transform
        failed on excepted: they fail here, unsent)."""
        assert target.destination is not None
        unsendable = [d for d in deliveries if d.problem is not None]
        if unsendable:
            results.extend(self._unsendable(d) for d in unsendable)
            deliveries = [d for d in deliveries if d.problem is None]
            if not deliveries:
                return
        if not self.config.allow_private and (reason := await self._blocked_reason(target.url)):
            error = f"destination refused: {reason}"
            results.extend(self._failed(d, self.clock(), 0.0, error) for d in deliveries)
            return
        # The whole batch must be recorded before the first lease runs out; a second is kept
        # for recording.
        deadline = min(d.lease_until for d in deliveries) - timedelta(seconds=1)
        try:
            outcomes = await target.destination.deliver(deliveries, deadline)
            results.extend(self._handbacks_counted(target, outcomes, deadline))
        except Exception as exc:
            # As for a webhook: a bug in one connector fails its attempts, never the worker.
            log.exception("connector.deliver_failed", url=target.url)
            error = f"internal error: {type(exc).__name__}: {exc}"
            results.extend(self._failed(d, self.clock(), 0.0, error) for d in deliveries)

    def _handbacks_counted(
        self, target: _Target, outcomes: list[AttemptResult], deadline: datetime
    ) -> list[AttemptResult]:
        """A destination's outcomes, with a delivery handed back HANDBACK_LIMIT times in a
        row turned into a failed attempt that says why (not the receiver's fault: it was
        never asked). Every hand-back is logged, so a stall shows before that too."""
        counts = self._handed_back
        if len(counts) > 100_000:
            counts.clear()  # deliveries another worker took meanwhile: start afresh
        handed = [r for r in outcomes if r.skipped]
        for result in outcomes:
            if not result.skipped:
                counts.pop(result.delivery.id, None)
        if not handed:
            return outcomes
        left = (deadline - self.clock()).total_seconds() + 1
        lease = self.config.lease.total_seconds()
        log.warning(
            "connector.handed_back",
            url=target.url,
            deliveries=len(handed),
            of=len(outcomes),
            lease_left_seconds=round(left, 3),
            lease_seconds=lease,
        )
        out: list[AttemptResult] = []
        for result in outcomes:
            if result.skipped:
                seen = counts[result.delivery.id] = counts.get(result.delivery.id, 0) + 1
                if seen >= HANDBACK_LIMIT:
                    del counts[result.delivery.id]
                    error = (
                        f"handed back unsent by the destination {seen} times in a row: too "
                        f"little lease left for it ({left:.1f} s of a {lease:g} s lease); "
                        "raise PIMHUB_WEBHOOK_LEASE_SECONDS"
                    )
                    result = AttemptResult(
                        result.delivery,
                        result.attempted_at,
                        0.0,
                        None,
                        None,
                        error,
                        receiver_fault=False,
                    )
            out.append(result)
        return out

    async def _record(self, results: list[AttemptResult]) -> None:
        cfg = self.config
        try:
            disabled = await self._db(
                self.queue.record, results, cfg.retry, cfg.circuit, self.clock()
            )
        except Exception:
            # Unrecorded deliveries stay leased and are sent again when the lease runs out.
            log.exception("webhooks.record_failed", deliveries=len(results))
            return
        for endpoint_id in disabled:
            log.warning("webhook.endpoint_disabled", endpoint=endpoint_id)

    async def _refresh_targets(self, force: bool) -> None:
        if not force and time.monotonic() - self._refreshed < ENDPOINT_REFRESH_SECONDS:
            return
        try:
            endpoints = await self._db(self.endpoints.all)
            secrets = await self._db(self.endpoints.all_secrets)
        except Exception:
            # Keep sending with what is known; the next batch tries again.
            log.exception("webhooks.refresh_failed")
            return
        now = self.clock()
        targets: dict[int, _Target] = {}
        for endpoint in endpoints:
            stored = secrets.get(endpoint.id)
            if stored is None:
                continue
            if endpoint.kind != "webhook":
                try:
                    targets[endpoint.id] = self._destination_target(endpoint, stored.sealed)
                    self._broken.pop(endpoint.id, None)
                except Exception as exc:
                    # A connector that cannot be built (its settings no longer valid, its
                    # class gone, its credentials unreadable) stops only its own deliveries.
                    why = _described(exc)
                    log.error("connector.unusable", endpoint=endpoint.endpoint_id, error=why)
                    self._broken[endpoint.id] = f"the connector cannot be used: {why}"
                continue
            try:
                keys = stored.signing_keys(self.sealer.decrypt, now)
            except (SecretUnreadable, ValueError) as exc:
                # One unreadable secret (PIMHUB_SECRET_KEY changed) stops only its endpoint.
                log.error(
                    "webhooks.secret_unreadable", endpoint=endpoint.endpoint_id, error=str(exc)
                )
                self._unreadable.add(endpoint.id)
                continue
            self._unreadable.discard(endpoint.id)
            old = self._targets.get(endpoint.id)
            targets[endpoint.id] = _Target(
                endpoint.spec.url,
                keys,
                endpoint.spec.rate_limit,
                old.next_slot if old else 0.0,
            )
        for endpoint_id, old in self._targets.items():
            stale = targets.get(endpoint_id)
            if old.destination is not None and (
                stale is None or stale.destination is not old.destination
            ):
                await old.destination.aclose()
        self._targets = targets
        self._refreshed = time.monotonic()

    def _destination_target(self, endpoint: WebhookEndpoint, sealed: str) -> _Target:
        """A connector's target; its destination is kept until the endpoint row changes (a
        connector's settings or credentials saved touch its updated_at)."""
        old = self._targets.get(endpoint.id)
        if old is not None and old.built_from == endpoint.updated_at and old.destination:
            return old
        if self.destinations is None:
            raise ValueError(f"this worker cannot deliver to '{endpoint.kind}' destinations")
        destination = self.destinations(endpoint, self.sealer.decrypt(sealed))
        if destination is None:
            raise ValueError(f"the {endpoint.kind} destination could not be built")
        return _Target(
            endpoint.spec.url,
            [],
            None,
            destination=destination,
            built_from=endpoint.updated_at,
        )

    async def _attempt(self, delivery: Delivery) -> AttemptResult:
        if delivery.problem is not None:
            return self._unsendable(delivery)
        target = self._targets.get(delivery.endpoint)
        if target is None:
            reason = self._broken.get(delivery.endpoint) or (
                "the endpoint's secret cannot be decrypted with PIMHUB_SECRET_KEY"
                if delivery.endpoint in self._unreadable
                else "endpoint was deleted"
            )
            return self._failed(delivery, self.clock(), 0.0, reason)
        # Both checks are skipped without an await when they cannot apply: this runs once per
        # delivery, thousands of times a second.
        if not self.config.allow_private:
            blocked = await self._blocked_reason(target.url)
            if blocked:
                error = f"destination refused: {blocked}"
                return self._failed(delivery, self.clock(), 0.0, error)
        if target.rate_limit:
            await target.wait_turn()
        started = self.clock()
        body = delivery.body
        timestamp = int(started.timestamp())
        headers = signed_headers(target.keys, delivery.event_id, timestamp, body)
        clock = time.perf_counter()
        try:
            reply = await self.sender.post(target.url, body, headers)
        except (OSError, TimeoutError) as exc:
            error = str(exc) or type(exc).__name__
            return self._failed(delivery, started, (time.perf_counter() - clock) * 1000, error)
        except Exception as exc:
            # A bug in sending one delivery must not stop the worker: it counts as a failed
            # attempt (and is retried on schedule) and the traceback goes to the log.
            log.exception("webhooks.send_failed", delivery=delivery.id)
            error = f"internal error: {type(exc).__name__}: {exc}"
            return self._failed(delivery, started, (time.perf_counter() - clock) * 1000, error)
        return AttemptResult(
            delivery,
            started,
            (time.perf_counter() - clock) * 1000,
            reply.status,
            reply.body_excerpt,
            None,
            parse_retry_after(reply.retry_after),
        )

    def _failed(
        self, delivery: Delivery, at: datetime, duration_ms: float, error: str
    ) -> AttemptResult:
        return AttemptResult(delivery, at, duration_ms, None, None, error)

    def _unsendable(self, delivery: Delivery) -> AttemptResult:
        """A failed attempt without sending (the destination's transform failed on this
        event): retried and dead-lettered like any failure, but the receiver's health is not
        touched, since it was never asked."""
        assert delivery.problem is not None
        return AttemptResult(
            delivery, self.clock(), 0.0, None, None, delivery.problem, receiver_fault=False
        )

    async def _blocked_reason(self, url: str) -> str | None:
        """Checked again at delivery time: a name that resolved to a public address when the
        endpoint was saved may point inside the network now (DNS rebinding)."""
        if url.startswith(INTERNAL_URL_PREFIX):
            return None
        cached = self._blocked.get(url)
        if cached and time.monotonic() - cached[0] < DESTINATION_CHECK_SECONDS:
            return cached[1]
        reason = await asyncio.to_thread(blocked_address, url)
        self._blocked[url] = (time.monotonic(), reason)
        return reason


def _described(exc: Exception) -> str:
    """An error with the field problems it carries (a domain error lists them apart)."""
    problems = getattr(exc, "errors", None) or []
    details = "; ".join(f"{p.field}: {p.message}" for p in problems if hasattr(p, "field"))
    return f"{exc} ({details})" if details else str(exc)
