"""The delivery queue's state machine on both backends: fencing by lease, released claims,
deliveries of deleted endpoints, unreadable secrets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from pimhub.bootstrap import Hub
from pimhub.events.deliveries import (
    RESPONSE_EXCERPT_BYTES,
    AttemptResult,
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
)
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from pimhub.storage.tables import webhook_attempts, webhook_endpoints
from tests.events.receiver import Receiver
from tests.events.test_dispatch import drain, endpoint, product, run

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def ok(delivery: Delivery, at: datetime) -> AttemptResult:
    return AttemptResult(delivery, at, 1.0, 200, "ok", None)


def one_pending(hub: Hub, sku: str = "Q-1") -> None:
    hub.webhooks.create({"url": "https://hooks.example.com/q"})
    hub.catalog.create("Product", product(sku), author="t")
    hub.webhooks.queue.fan_out(T0, 100)


def test_an_outcome_recorded_after_its_lease_ran_out_changes_nothing(hub: Hub) -> None:
    one_pending(hub)
    queue = hub.webhooks.queue
    [first] = queue.claim(T0, 10, T0 + LEASE)
    later = T0 + LEASE + timedelta(seconds=1)
    [second] = queue.claim(later, 10, later + LEASE)  # the lease ran out: claimed again
    assert second.id == first.id
    failed = AttemptResult(first, later, 1.0, 500, "late", None)
    queue.record([failed], RetryPolicy(), CircuitPolicy(), later)  # the stale holder
    [record] = hub.webhooks.deliveries(DeliveryFilter())
    assert record.status == DeliveryStatus.DELIVERING and record.attempts == 0
    queue.record([ok(second, later)], RetryPolicy(), CircuitPolicy(), later)
    [record] = hub.webhooks.deliveries(DeliveryFilter())
    assert record.status == DeliveryStatus.DELIVERED and record.attempts == 1
    _, attempts = hub.webhooks.delivery(record.id)
    assert [a.status_code for a in attempts] == [500, 200]  # both attempts happened


def test_a_released_claim_is_due_again_with_nothing_counted(hub: Hub) -> None:
    one_pending(hub)
    queue = hub.webhooks.queue
    [claimed] = queue.claim(T0, 10, T0 + LEASE)
    skipped = AttemptResult(claimed, T0, 0.0, None, None, None, skipped=True)
    queue.record([skipped], RetryPolicy(), CircuitPolicy(), T0)
    [record] = hub.webhooks.deliveries(DeliveryFilter())
    assert record.status == DeliveryStatus.PENDING and record.attempts == 0
    assert hub.webhooks.delivery(record.id)[1] == []
    assert [d.id for d in queue.claim(T0, 10, T0 + LEASE)] == [claimed.id]


def test_deleting_an_endpoint_mid_flight_does_not_fail_the_others(hub: Hub) -> None:
    kept = hub.webhooks.create({"url": "https://hooks.example.com/kept"}).endpoint
    gone = hub.webhooks.create({"url": "https://hooks.example.com/gone"}).endpoint
    hub.catalog.create("Product", product("Q-2"), author="t")
    queue = hub.webhooks.queue
    queue.fan_out(T0, 100)
    claimed = queue.claim(T0, 10, T0 + LEASE)
    assert len(claimed) == 2
    hub.webhooks.delete(gone.endpoint_id)
    queue.record([ok(d, T0) for d in claimed], RetryPolicy(), CircuitPolicy(), T0)
    [record] = hub.webhooks.deliveries(DeliveryFilter())
    assert record.endpoint_id == kept.endpoint_id and record.status == DeliveryStatus.DELIVERED
    with hub.engine.connect() as conn:
        assert len(conn.execute(select(webhook_attempts.c.id)).all()) == 1


def test_an_unreadable_secret_stops_only_its_endpoint(hub: Hub) -> None:
    good, bad = Receiver(), Receiver()

    async def body(dispatcher: object) -> str:
        await bad.start()
        endpoint(hub, good)
        bad_id, _ = endpoint(hub, bad)
        with hub.engine.begin() as conn:
            conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.endpoint_id == bad_id)
                .values(secret="sealed with another key")
            )
        hub.catalog.create("Product", product("Q-3"), author="t")
        await drain(dispatcher)  # type: ignore[arg-type]
        await bad.stop()
        return bad_id

    bad_id = run(hub, good, body)
    assert len(good.delivered) == 1 and bad.requests == []
    [failed] = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=bad_id))
    assert failed.last_error == "the endpoint's secret cannot be decrypted with PIMHUB_SECRET_KEY"


def test_stopping_sends_what_was_already_claimed(hub: Hub) -> None:
    stop = asyncio.Event()
    receiver = Receiver(answer=lambda r: (stop.set(), 200)[1])

    async def body(dispatcher: object) -> None:
        endpoint(hub, receiver)
        for i in range(6):
            hub.catalog.create("Product", product(f"Q-S{i}"), author="t")
        await dispatcher.run(stop)  # type: ignore[attr-defined]

    run(hub, receiver, body, batch_size=2)
    states = {d.status for d in hub.webhooks.deliveries(DeliveryFilter())}
    assert DeliveryStatus.DELIVERING not in states  # nothing left leased to a stopped worker


class DownQueue:
    """A queue whose database is away for the first `failures` claims."""

    def __init__(self, real: object, failures: int) -> None:
        self.real = real
        self.failures = failures

    def fan_out_and_claim(self, *args: object) -> object:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database is away")
        return self.real.fan_out_and_claim(*args)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


def test_a_database_outage_backs_off_then_recovers(hub: Hub) -> None:
    receiver = Receiver()

    async def body(dispatcher: object) -> list[float]:
        endpoint(hub, receiver)
        hub.catalog.create("Product", product("Q-DB"), author="t")
        dispatcher.queue = DownQueue(dispatcher.queue, failures=4)  # type: ignore[attr-defined]
        dispatcher.config.idle_wait = 0.001  # type: ignore[attr-defined]
        waits = []
        for _ in range(4):
            await dispatcher.run_once()  # type: ignore[attr-defined]
            waits.append(dispatcher.claim_backoff())  # type: ignore[attr-defined]
        await drain(dispatcher)  # type: ignore[arg-type]
        return waits

    waits = run(hub, receiver, body)
    assert waits == [0.001, 0.002, 0.004, 0.008]
    assert len(receiver.delivered) == 1


GARBLED = b"<h1>oops\x00\xff\xfe here</h1>"  # a NUL and bytes that are not UTF-8


def test_text_from_the_network_is_made_storable_where_an_outcome_is_made() -> None:
    claimed = Delivery(1, 1, "evt_1", b"{}", 0, T0 + LEASE)
    result = AttemptResult(claimed, T0, 1.0, 500, "a\x00b\udcff" + "x" * 5000, "no\x00pe")
    assert result.response_excerpt == "a\ufffdb\ufffd" + "x" * (RESPONSE_EXCERPT_BYTES - 4)
    assert result.error == "no\ufffdpe"
    long_error = AttemptResult(claimed, T0, 1.0, None, None, "e" * 100_000).error
    assert long_error is not None and len(long_error) <= 4096


def unstorable(result: AttemptResult) -> AttemptResult:
    """The outcome as a destination that skipped the cleaning could hand it over: a NUL, which
    PostgreSQL text cannot hold, and a lone surrogate, which neither backend can encode."""
    object.__setattr__(result, "response_excerpt", "bad\x00answer\udcff")
    object.__setattr__(result, "error", "bad\x00error\udcff")
    return result


def test_one_unstorable_outcome_does_not_lose_the_others_of_its_batch(hub: Hub) -> None:
    healthy = hub.webhooks.create({"url": "https://hooks.example.com/healthy"}).endpoint
    broken = hub.webhooks.create({"url": "https://hooks.example.com/broken"}).endpoint
    hub.catalog.create("Product", product("Q-NUL"), author="t")
    queue = hub.webhooks.queue
    queue.fan_out(T0, 100)
    claimed = {d.endpoint: d for d in queue.claim(T0, 10, T0 + LEASE)}
    good = ok(claimed[healthy.id], T0)
    bad = unstorable(AttemptResult(claimed[broken.id], T0, 1.0, 500, "x", None))
    queue.record([bad, good], RetryPolicy(), CircuitPolicy(), T0)

    [delivered] = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=healthy.endpoint_id))
    assert delivered.status == DeliveryStatus.DELIVERED and delivered.attempts == 1
    [failed] = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=broken.endpoint_id))
    assert failed.status == DeliveryStatus.PENDING and failed.attempts == 1
    [attempt] = hub.webhooks.delivery(failed.id)[1]
    assert attempt.status_code == 500
    assert attempt.response_excerpt is not None and "answer" in attempt.response_excerpt
    assert queue.claim(T0, 10, T0 + LEASE) == []  # nothing left leased, nothing sent again


def test_a_receiver_answering_nul_and_broken_utf8_fails_alone(hub: Hub) -> None:
    """Through the real dispatcher: both deliveries of one event go out in one batch; the
    healthy receiver's is recorded delivered once, the garbled one's failed, readably."""
    healthy = Receiver()
    garbled = Receiver(answer=lambda r: (500, {}, GARBLED))

    async def body(dispatcher: object) -> tuple[str, str]:
        await garbled.start()
        good_id, _ = endpoint(hub, healthy)
        bad_id, _ = endpoint(hub, garbled)
        hub.catalog.create("Product", product("Q-GARBLED"), author="t")
        await dispatcher.run_once()  # type: ignore[attr-defined]
        await dispatcher.run_once()  # type: ignore[attr-defined]  # nothing is sent again
        await garbled.stop()
        return good_id, bad_id

    good_id, bad_id = run(hub, healthy, body)
    assert len(healthy.requests) == 1 and len(garbled.requests) == 1
    [delivered] = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=good_id))
    assert delivered.status == DeliveryStatus.DELIVERED and delivered.attempts == 1
    [failed] = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=bad_id))
    assert failed.status == DeliveryStatus.PENDING and failed.attempts == 1
    assert failed.last_error == "HTTP 500"
    [attempt] = hub.webhooks.delivery(failed.id)[1]
    assert attempt.response_excerpt == "<h1>oops\ufffd\ufffd\ufffd here</h1>"
