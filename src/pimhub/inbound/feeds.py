"""Inbound feeds into the catalog: a source's events of the types its `apply` names are written
to objects by business key with the import mapping language, authored by `inbound:<source>`;
refused items are kept with their reasons and can be applied again after a fix.

The writing happens in a pipeline destination (kind catalog-feed), so it gets per-key order,
retries (a deadlock, a database away), dead letters and replay like any destination.

A delivery's outcome:
- its items written (or refused one by one: a bad value, an unknown key without `create`):
  a 200 attempt whose excerpt says "applied 498 (120 changed), refused 2"; refused items go
  to the refusal store by (event, item index), so a retried delivery replaces them rather
  than listing them twice, and re-applying values already written changes nothing;
- no items found (the `items` expression finds nothing, or a text or number): the whole
  message is one refusal, item index -1, its item the payload (replay looks again);
- the database failing (away, or a lost race still lost after the catalog's own retries):
  a failed attempt, retried by the pipeline;
- not an inbound event at all, or a transform problem: a failed attempt that is not the
  receiver's fault (retried, then a dead letter an operator sees).
Work not done by the deadline is handed back (not started) or failed (running). The first
delivery of a batch is always applied, however little time is left: handing everything back
would make it due again at once, and with a lease too short for MIN_SECONDS (a 2 s lease
leaves 1 s) the feed would stall for ever with no attempt recorded. One message's write is
bounded, and applying it again changes nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson

from pimhub.catalog.errors import FieldError
from pimhub.catalog.service import CatalogService
from pimhub.events.deliveries import AttemptResult, Delivery
from pimhub.events.endpoints import WebhookEndpoint, type_matches
from pimhub.events.ports import Destination
from pimhub.inbound.errors import InvalidSource, RefusalNotFound, SourceNotFound
from pimhub.inbound.feed_items import (
    WHOLE_MESSAGE,
    Applied,
    Feed,
    apply_items,
    build_feed,
    extract_items,
)
from pimhub.inbound.ports import Refusal, RefusalStore, SourceRepository
from pimhub.inbound.sources import StoredSource, feed_endpoint_id

MIN_SECONDS = 1.0  # the least time the first delivery of a batch is given (see above)
PAGE = 500  # refusals replayed per round
MAX_PAGE = 1000


class FeedService:
    def __init__(
        self,
        sources: SourceRepository,
        refusals: RefusalStore,
        catalog: CatalogService,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.sources = sources
        self.refusals = refusals
        self.catalog = catalog
        self.clock = clock

    def destination(self, endpoint: WebhookEndpoint, secret: str) -> Destination | None:
        """The pipeline destination of a source's feed row (the dispatcher's factory). Raises
        when the source is gone, applies nothing, or its mapping cannot be used: the
        dispatcher then fails this row's deliveries with the reason."""
        name = _source_of(endpoint)
        stored = self.feed_source(name)
        return FeedDestination(self, stored)

    def feed_source(self, name: str) -> StoredSource:
        stored = self.sources.get(name)
        if stored is None:
            raise SourceNotFound(f"there is no inbound source '{name}'")
        if stored.spec.apply is None:
            raise InvalidSource(f"the inbound source '{name}' applies no events to the catalog")
        return stored

    def feed(self, stored: StoredSource) -> Feed:
        assert stored.spec.apply is not None
        return build_feed(stored.spec.name, stored.spec.apply)

    def refused(
        self,
        source: str | None = None,
        *,
        open_only: bool = True,
        limit: int = 100,
        after_id: int | None = None,
        message: int | None = None,
    ) -> list[Refusal]:
        limit = max(1, min(limit, MAX_PAGE))
        return self.refusals.page(
            source, open_only=open_only, limit=limit, after_id=after_id, message=message
        )

    def refused_of_message(self, message: int) -> tuple[int, int]:
        """How many of an audited message's items the catalog refused, and how many of
        those are still open (a message's fate past the feed)."""
        return self.refusals.count_of_message(message)

    def prune(self, retention: timedelta) -> int:
        """Deletes refused items resolved longer than `retention` ago; open ones are kept
        whatever their age (they wait for an operator to fix and replay them)."""
        return self.refusals.prune(self.clock() - retention)

    def replay(self, source: str, ids: Sequence[int] | None = None) -> Replayed:
        """Applies open refused items again (all of the source's, or `ids`); returns how many
        were applied, how many are still refused and how many were superseded. Each is
        applied with the source's mapping as it is NOW and to the catalog as it is now (the
        SKU created meanwhile, the mapping fixed); those still refused get their new
        reasons. Raises RefusalNotFound for an id that is not a refusal of this source;
        resolved ones are left alone.

        An item is written as the sender sent it then: if the source has written its object
        since it was refused (a later message set the stock to 7 where the refused item said
        5), replaying it would bring the stale value back. Such an item is not applied but
        resolved as superseded, with a reason saying so (code "superseded"). Writes of this
        replay itself do not count (it goes oldest first, and an item written here is no
        newer than the next one)."""
        began = self.clock()
        feed = self.feed(self.feed_source(source))
        total = Replayed(0, 0, 0)
        if ids is not None:
            wanted = [self._refusal_of(source, i) for i in dict.fromkeys(ids)]
            rounds: Iterable[list[Refusal]] = [[r for r in wanted if r.resolved_at is None]]
        else:
            rounds = self._open_rounds(source, began)
        for todo in rounds:
            todo, superseded = self._superseded(feed, todo, began)
            done, still = self._replay_round(feed, todo)
            total = Replayed(
                total.applied + done, total.refused + still, total.superseded + superseded
            )
        return total

    def _superseded(
        self, feed: Feed, todo: list[Refusal], began: datetime
    ) -> tuple[list[Refusal], int]:
        """The refusals still to apply, and how many were resolved as superseded: their
        object written by the source after they were refused (and before this replay)."""
        keyed = [r for r in todo if r.key is not None and r.item_index != WHOLE_MESSAGE]
        if not keyed:
            return todo, 0
        written = self.refusals.last_written(
            feed.mapping.class_name,
            f"inbound:{feed.source}",
            {r.key for r in keyed if r.key is not None},
            began,
        )
        stale = {
            r.id: written[r.key]
            for r in keyed
            if r.key is not None and r.key in written and written[r.key] > r.created_at
        }
        if not stale:
            return todo, 0
        noted = [
            _with(r, r.key, (*r.errors, _superseded_note(feed.source, stale[r.id])))
            for r in todo
            if r.id in stale
        ]
        done = self.refusals.supersede(noted, self.clock())
        return [r for r in todo if r.id not in stale], done

    def _refusal_of(self, source: str, refusal_id: int) -> Refusal:
        found = self.refusals.get(refusal_id) if 0 < refusal_id < 2**63 else None
        if found is None or found.source != source:
            raise RefusalNotFound(f"source '{source}' has no refused item {refusal_id}")
        return found

    def _open_rounds(self, source: str, began: datetime) -> Iterator[list[Refusal]]:
        """The source's open refusals, a page at a time, oldest first. Each page is read
        after the previous one was replayed: those still refused keep their ids, so the
        next page starts after the last id seen. Refusals made since the replay began (the
        items of a message found only now, a delivery meanwhile) are not replayed again."""
        after: int | None = None
        while page := self.refusals.page(source, open_only=True, limit=PAGE, after_id=after):
            yield [r for r in page if r.created_at < began]
            after = page[-1].id

    def _replay_round(self, feed: Feed, todo: list[Refusal]) -> tuple[int, int]:
        now = self.clock()
        applied = refused = 0
        resolved: list[int] = []
        again: list[Refusal] = []
        items = [r for r in todo if r.item_index != WHOLE_MESSAGE]
        if items:
            outcome = apply_items(self.catalog, feed, [r.item for r in items])
            for n, refusal in enumerate(items):
                if n in outcome.refused:
                    key, errors = outcome.refused[n]
                    again.append(_with(refusal, key, errors))
                else:
                    resolved.append(refusal.id)
            applied += len(items) - len(outcome.refused)
            refused += len(outcome.refused)
        for whole in (r for r in todo if r.item_index == WHOLE_MESSAGE):
            found = extract_items(feed, whole.item)
            if not isinstance(found, list):
                again.append(_with(whole, whole.key, [found]))
                refused += 1
                continue
            # Its items are found now: the message's refusal is resolved, and those of its
            # items that the catalog still refuses are refused one by one.
            outcome = apply_items(self.catalog, feed, found)
            after = self.clock()
            again += _refusals(feed.source, whole.message, whole.event_id, found, outcome, after)
            resolved.append(whole.id)
            applied += outcome.applied
            refused += len(outcome.refused)
        self.refusals.record(again)
        self.refusals.resolve(resolved, now)
        return applied, refused


class Replayed(NamedTuple):
    """What a replay came to: items applied, still refused, and superseded (not applied:
    the source wrote their object since)."""

    applied: int
    refused: int
    superseded: int


def _superseded_note(source: str, written_at: datetime) -> FieldError:
    message = (
        f"superseded: {source} wrote this object at {written_at.isoformat()}, after this "
        "item was refused; not applied, so the newer value stays"
    )
    return FieldError("", message, "superseded")


def _source_of(endpoint: WebhookEndpoint) -> str:
    if endpoint.spec.sources:
        return endpoint.spec.sources[0]
    return endpoint.endpoint_id.removeprefix(feed_endpoint_id(""))


def _with(refusal: Refusal, key: str | None, errors: Sequence[Any]) -> Refusal:
    return Refusal(
        id=refusal.id,
        source=refusal.source,
        message=refusal.message,
        event_id=refusal.event_id,
        item_index=refusal.item_index,
        key=key if key is not None else refusal.key,
        errors=tuple(errors),
        item=refusal.item,
        created_at=refusal.created_at,
        resolved_at=None,
    )


def _refusals(
    source: str, message: int, event_id: str, items: Sequence[Any], outcome: Applied, now: datetime
) -> list[Refusal]:
    return [
        Refusal(0, source, message, event_id, n, key, tuple(errors), items[n], now, None)
        for n, (key, errors) in sorted(outcome.refused.items())
    ]


class NotInbound(ValueError):
    """A delivered body that is no inbound event ({type, data: {source, payload}})."""


class _Run:
    """The deliveries of one deliver() call as its worker thread goes through them; stop()
    tells which one is being written when the deadline came, and keeps any other from
    starting."""

    def __init__(self) -> None:
        self.results: dict[int, AttemptResult] = {}
        self._lock = threading.Lock()
        self._running: int | None = None
        self._stopped = False

    def start(self, delivery_id: int) -> bool:
        with self._lock:
            if self._stopped:
                return False
            self._running = delivery_id
            return True

    def finish(self, delivery_id: int, result: AttemptResult) -> None:
        with self._lock:
            self.results[delivery_id] = result
            self._running = None

    def stop(self) -> tuple[dict[int, AttemptResult], int | None]:
        with self._lock:
            self._stopped = True
            return dict(self.results), self._running


class FeedDestination:
    """Applies a source's delivered events to the catalog (see the module's docstring)."""

    def __init__(self, service: FeedService, stored: StoredSource) -> None:
        self.service = service
        self.source = stored.spec.name
        self.version = stored.version
        self.feed = service.feed(stored)

    async def deliver(
        self, deliveries: Sequence[Delivery], deadline: datetime
    ) -> list[AttemptResult]:
        started = self.service.clock()
        remaining = max((deadline - started).total_seconds(), MIN_SECONDS)
        run = _Run()
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._apply_all, deliveries, deadline, run), timeout=remaining
            )
        except TimeoutError:
            # The thread cannot be interrupted: it finishes the delivery it is writing (a
            # retry of it changes nothing more) and starts no other.
            done, running = run.stop()
            error = f"not finished within the delivery's lease ({remaining:.1f} s)"
            now = self.service.clock()
            return [
                done.get(d.id)
                or (_failed(d, started, error) if d.id == running else _skipped(d, now))
                for d in deliveries
            ]
        now = self.service.clock()
        return [run.results.get(d.id) or _skipped(d, now) for d in deliveries]

    def _apply_all(self, deliveries: Sequence[Delivery], deadline: datetime, run: _Run) -> None:
        """In a worker thread: each delivery in turn until the deadline (those not started
        are handed back), the first one whatever the time."""
        try:
            self._refresh()
        except Exception as exc:
            now = self.service.clock()
            error = f"the feed cannot be used: {_described(exc)}"
            for d in deliveries:
                run.results[d.id] = _failed(d, now, error)
            return
        for n, delivery in enumerate(deliveries):
            if (n and self.service.clock() >= deadline) or not run.start(delivery.id):
                return
            run.finish(delivery.id, self._apply_one(delivery))

    def _refresh(self) -> None:
        """The source's current `apply` (its mapping may have been saved since this
        destination was built)."""
        stored = self.service.feed_source(self.source)
        if stored.version != self.version:
            self.feed, self.version = self.service.feed(stored), stored.version

    def _apply_one(self, delivery: Delivery) -> AttemptResult:
        started = self.service.clock()
        clock = time.perf_counter()

        def elapsed() -> float:
            return (time.perf_counter() - clock) * 1000

        if delivery.problem is not None:
            return _failed(delivery, started, delivery.problem, receiver_fault=False)
        try:
            event_type, payload = _inbound_event(delivery.body)
        except NotInbound as exc:
            return _failed(delivery, started, str(exc), receiver_fault=False)
        wanted = self.feed.spec.event_types
        if wanted and not any(type_matches(p, event_type) for p in wanted):
            excerpt = f"ignored: the feed of {self.source} does not apply {event_type} events"
            return AttemptResult(delivery, started, elapsed(), 200, excerpt, None)
        try:
            summary = self._apply_payload(delivery.event_id, payload, started)
        except Exception as exc:
            # The database away, or a race lost even after the catalog's retries: the
            # pipeline tries the delivery again later (a retry changes nothing twice).
            error = f"{type(exc).__name__}: {_described(exc)}"
            return _failed(delivery, started, error, elapsed())
        return AttemptResult(delivery, started, elapsed(), 200, summary, None)

    def _apply_payload(self, event_id: str, payload: Any, now: datetime) -> str:
        found = extract_items(self.feed, payload)
        if not isinstance(found, list):
            whole = Refusal(
                0, self.source, 0, event_id, WHOLE_MESSAGE, None, (found,), payload, now, None
            )
            self.service.refusals.record([whole])
            self.service.refusals.settle(event_id, [WHOLE_MESSAGE], now)
            return f"refused the message: {found.message}"
        outcome = apply_items(self.service.catalog, self.feed, found)
        # Refused as of after the write: what this message itself wrote is older than its
        # refusals, so a replay's superseded test sees only later writes.
        now = self.service.clock()
        self.service.refusals.record(_refusals(self.source, 0, event_id, found, outcome, now))
        # Applied again (retried, or replayed by an operator after a fix): what the catalog
        # takes now is no longer listed as refused.
        self.service.refusals.settle(event_id, outcome.refused.keys(), now)
        return outcome.summary()

    async def aclose(self) -> None:
        return None


def _inbound_event(body: bytes) -> tuple[str, Any]:
    """The event type and the sender's payload of an inbound event's body."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise NotInbound(f"not an inbound event: the body is not JSON ({exc})") from None
    data = event.get("data") if isinstance(event, dict) else None
    if (
        not isinstance(data, dict)
        or "payload" not in data
        or not isinstance(event.get("type"), str)
    ):
        raise NotInbound("not an inbound event: expected {type, data: {source, payload}}")
    return event["type"], data["payload"]


def _described(exc: Exception) -> str:
    problems = getattr(exc, "errors", None) or []
    details = "; ".join(f"{p.field}: {p.message}" for p in problems if hasattr(p, "field"))
    return f"{exc} ({details})" if details else str(exc) or type(exc).__name__


def _failed(
    delivery: Delivery,
    at: datetime,
    error: str,
    duration_ms: float = 0.0,
    *,
    receiver_fault: bool = True,
) -> AttemptResult:
    return AttemptResult(
        delivery, at, duration_ms, None, None, error, receiver_fault=receiver_fault
    )


def _skipped(delivery: Delivery, at: datetime) -> AttemptResult:
    return AttemptResult(delivery, at, 0.0, None, None, None, skipped=True)
