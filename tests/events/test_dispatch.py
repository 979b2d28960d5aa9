"""The dispatcher against a real HTTP receiver, on both backends: signing, payloads, filters,
per-object order, retries, Retry-After, 410, circuit breaker, dead letters and replay."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from pimhub.bootstrap import Hub, dispatcher_config
from pimhub.events.deliveries import DeliveryFilter, DeliveryStatus
from pimhub.events.dispatcher import Dispatcher
from pimhub.events.http1 import Http1Sender
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from tests.events.fakes import FakeClock
from tests.events.receiver import Received, Receiver

T = TypeVar("T")


def product(sku: str, price: float = 10) -> dict[str, Any]:
    return {"sku": sku, "name": {"en": sku}, "price": {"amount": price, "currency": "EUR"}}


def run(hub: Hub, receiver: Receiver, body: Callable[[Dispatcher], Awaitable[T]], **cfg: Any) -> T:
    """Starts `receiver`, builds a dispatcher on the hub with a fake clock, runs `body`."""

    async def main() -> T:
        await receiver.start()
        sender = Http1Sender(connect_timeout=2, total_timeout=5)
        config = dispatcher_config(hub.settings)
        for name, value in cfg.items():
            setattr(config, name, value)
        service = hub.webhooks
        dispatcher = Dispatcher(
            service.endpoints, service.queue, service.sealer, sender, config, clock=service.clock
        )
        try:
            return await body(dispatcher)
        finally:
            await sender.close()
            await receiver.stop()

    return asyncio.run(main())


@pytest.fixture
def clock(hub: Hub) -> FakeClock:
    fake = FakeClock()
    hub.webhooks.clock = fake
    hub.catalog.clock = fake
    return fake


async def drain(dispatcher: Dispatcher, rounds: int = 50) -> None:
    for _ in range(rounds):
        if not await dispatcher.run_once():
            return


def endpoint(hub: Hub, receiver: Receiver, **spec: Any) -> tuple[str, str]:
    """Registers the receiver (its port must be known, so call inside `run`)."""
    created = hub.webhooks.create({"url": receiver.url, **spec})
    return created.endpoint.endpoint_id, created.secret


def test_delivery_is_signed_per_standard_webhooks_and_shaped_as_documented(hub: Hub) -> None:
    receiver = Receiver()

    async def body(dispatcher: Dispatcher) -> str:
        _, secret = endpoint(hub, receiver)
        hub.catalog.create("Product", product("S-1"), author="alice")
        await drain(dispatcher)
        return secret

    secret = run(hub, receiver, body)
    [got] = receiver.delivered
    headers = {
        "webhook-id": got.webhook_id,
        "webhook-timestamp": got.timestamp,
        "webhook-signature": got.signature,
    }
    verified = Webhook(secret).verify(got.body, headers)  # the reference verifier, not ours
    assert verified["type"] == "object.created"
    data = verified["data"]
    assert data["objectType"] == "Product"
    assert data["businessKey"] == "S-1"
    assert data["version"] == 1
    assert data["object"]["fields"]["sku"] == "S-1"
    assert "id" not in data["object"]  # the internal id never leaves the hub
    assert got.webhook_id.startswith("evt_")
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(got.body, headers)


def statuses(hub: Hub, endpoint_id: str) -> dict[str, int]:
    [stats] = [s for s in hub.webhooks.stats() if s.endpoint_id == endpoint_id]
    return {k: v for k, v in stats.counts.items() if v}


def test_filters_pick_event_types_classes_and_changed_fields(hub: Hub, clock: FakeClock) -> None:
    everything, prices, brands = Receiver(), Receiver(), Receiver()

    async def body(dispatcher: Dispatcher) -> None:
        await everything.start()
        await brands.start()
        endpoint(hub, everything)
        endpoint(hub, prices, classes=["Product"], changedFields=["price"])
        endpoint(hub, brands, eventTypes=["object.created"], classes=["Brand"])
        hub.catalog.create("Product", product("F-1"), author="a")
        hub.catalog.patch("Product", "F-1", {"name": {"en": "renamed"}}, author="a")
        hub.catalog.patch(
            "Product", "F-1", {"price": {"amount": 12, "currency": "EUR"}}, author="a"
        )
        hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="a")
        await drain(dispatcher)
        await everything.stop()
        await brands.stop()

    run(hub, prices, body)
    kinds = [(r.payload["type"], r.payload["data"]["objectType"]) for r in everything.delivered]
    # Order holds per object; deliveries of different objects go out concurrently.
    assert sorted(kinds) == [
        ("object.created", "Brand"),
        ("object.created", "Product"),
        ("object.updated", "Product"),
        ("object.updated", "Product"),
    ]
    # A field filter narrows updates only; the create still matters to a copy-keeper.
    assert [r.payload["data"]["changedFields"] for r in prices.delivered][1:] == [["price"]]
    assert [r.payload["type"] for r in prices.delivered] == ["object.created", "object.updated"]
    assert [r.payload["data"]["objectType"] for r in brands.delivered] == ["Brand"]


def test_thin_payload_leaves_out_the_object(hub: Hub, clock: FakeClock) -> None:
    receiver = Receiver()

    async def body(dispatcher: Dispatcher) -> None:
        endpoint(hub, receiver, payload="thin")
        hub.catalog.create("Product", product("T-1"), author="a")
        await drain(dispatcher)

    run(hub, receiver, body)
    [got] = receiver.delivered
    assert "object" not in got.payload["data"]
    assert got.payload["data"]["businessKey"] == "T-1"


def test_a_failing_object_waits_for_its_own_retry_while_others_flow(
    hub: Hub, clock: FakeClock
) -> None:
    """Per endpoint, version 2 of an object is not sent before version 1 got through, and a
    stuck object holds up nobody else (no head-of-line blocking across objects)."""
    failures = {"first": True}

    def answer(r: Received) -> int:
        if r.payload["data"]["businessKey"] == "A" and failures["first"]:
            failures["first"] = False
            return 503
        return 200

    receiver = Receiver(answer=answer)

    async def body(dispatcher: Dispatcher) -> None:
        endpoint(hub, receiver)
        hub.catalog.create("Product", product("A"), author="a")
        hub.catalog.create("Product", product("B"), author="a")
        hub.catalog.patch("Product", "A", {"price": {"amount": 11, "currency": "EUR"}}, author="a")
        hub.catalog.patch("Product", "B", {"price": {"amount": 11, "currency": "EUR"}}, author="a")
        await drain(dispatcher)
        assert [(p["data"]["businessKey"], p["data"]["version"]) for p in sent(receiver)] == [
            ("B", 1),
            ("B", 2),
        ]
        clock.advance(timedelta(seconds=10))  # past the first retry delay (5 s +- 10 %)
        await drain(dispatcher)

    run(hub, receiver, body)
    versions_of_a = [
        p["data"]["version"] for p in sent(receiver) if p["data"]["businessKey"] == "A"
    ]
    assert versions_of_a == [1, 2]
    tries_of_a = [
        r.webhook_id for r in receiver.requests if r.payload["data"]["businessKey"] == "A"
    ]
    assert tries_of_a[0] == tries_of_a[1]  # the retry carries the same webhook-id


def sent(receiver: Receiver) -> list[dict[str, Any]]:
    return [r.payload for r in receiver.delivered]


def test_outage_of_thirty_minutes_loses_nothing_and_keeps_version_order(
    hub: Hub, clock: FakeClock
) -> None:
    outage_until = clock.now + timedelta(minutes=30)
    receiver = Receiver(answer=lambda r: 503 if clock.now < outage_until else 200)

    async def body(dispatcher: Dispatcher) -> None:
        endpoint(hub, receiver)
        for i in range(5):
            hub.catalog.create("Product", product(f"O-{i}"), author="a")
        for round_ in range(3):
            for i in range(5):
                price = {"amount": 20 + round_, "currency": "EUR"}
                hub.catalog.patch("Product", f"O-{i}", {"price": price}, author="a")
            await drain(dispatcher)
            clock.advance(timedelta(minutes=1))
        while clock.now < outage_until + timedelta(hours=3):
            await drain(dispatcher)
            clock.advance(timedelta(minutes=1))
        await drain(dispatcher)

    run(hub, receiver, body)
    assert len(receiver.requests) > len(receiver.delivered)  # the outage was real
    by_key: dict[str, list[int]] = {}
    for payload in sent(receiver):
        by_key.setdefault(payload["data"]["businessKey"], []).append(payload["data"]["version"])
    assert by_key == {f"O-{i}": [1, 2, 3, 4] for i in range(5)}
    assert len(set(receiver.ids())) == len(receiver.ids()) == 20


def test_retry_after_is_honoured(hub: Hub, clock: FakeClock) -> None:
    answers = iter([(429, {"Retry-After": "600"})])
    receiver = Receiver(answer=lambda r: next(answers, 200))

    async def body(dispatcher: Dispatcher) -> list[int]:
        endpoint(hub, receiver)
        hub.catalog.create("Product", product("R-1"), author="a")
        counts = []
        await drain(dispatcher)
        counts.append(len(receiver.delivered))
        clock.advance(timedelta(seconds=590))  # the schedule alone would have retried by now
        await drain(dispatcher)
        counts.append(len(receiver.delivered))
        clock.advance(timedelta(seconds=20))
        await drain(dispatcher)
        counts.append(len(receiver.delivered))
        return counts

    assert run(hub, receiver, body) == [0, 0, 1]


def test_gone_disables_the_endpoint(hub: Hub, clock: FakeClock) -> None:
    receiver = Receiver(answer=lambda r: 410)

    async def body(dispatcher: Dispatcher) -> str:
        endpoint_id, _ = endpoint(hub, receiver)
        hub.catalog.create("Product", product("G-1"), author="a")
        await drain(dispatcher)
        hub.catalog.create("Product", product("G-2"), author="a")
        clock.advance(timedelta(hours=1))
        await drain(dispatcher)
        return endpoint_id

    endpoint_id = run(hub, receiver, body)
    assert len(receiver.requests) == 1
    disabled = hub.webhooks.get(endpoint_id)
    assert disabled.spec.enabled is False
    assert disabled.disabled_reason == "the receiver answered 410 Gone"


def test_circuit_opens_after_repeated_failures(hub: Hub, clock: FakeClock) -> None:
    receiver = Receiver(answer=lambda r: 500)

    async def body(dispatcher: Dispatcher) -> tuple[int, str]:
        endpoint_id, _ = endpoint(hub, receiver)
        for i in range(8):
            hub.catalog.create("Product", product(f"C-{i}"), author="a")
        await drain(dispatcher)
        return len(receiver.requests), endpoint_id

    first_round, endpoint_id = run(
        hub, receiver, body, circuit=CircuitPolicy(threshold=3), batch_size=2
    )
    # Two per batch: the third failure opens the circuit and the rest wait for the pause.
    assert first_round == 4
    health = hub.webhooks.get(endpoint_id)
    assert health.consecutive_failures == 4
    assert health.paused_until is not None and health.paused_until > clock.now


def test_exhausted_schedule_dead_letters_and_replay_keeps_the_webhook_id(
    hub: Hub, clock: FakeClock
) -> None:
    healthy = {"on": False}
    receiver = Receiver(answer=lambda r: 200 if healthy["on"] else 500)
    short = RetryPolicy(schedule=(timedelta(seconds=1), timedelta(seconds=2)), jitter=0)

    async def body(dispatcher: Dispatcher) -> str:
        endpoint_id, _ = endpoint(hub, receiver)
        hub.catalog.create("Product", product("D-1"), author="a")
        for _ in range(3):
            await drain(dispatcher)
            clock.advance(timedelta(seconds=3))
        dead = hub.webhooks.deliveries(DeliveryFilter(status=DeliveryStatus.DEAD))
        assert [d.business_key for d in dead] == ["D-1"]
        assert dead[0].attempts == 3 and dead[0].last_error == "HTTP 500"
        healthy["on"] = True
        clock.advance(timedelta(minutes=5))
        assert hub.webhooks.replay(DeliveryFilter(endpoint_id=endpoint_id)) == 1
        await drain(dispatcher)
        return endpoint_id

    endpoint_id = run(hub, receiver, body, retry=short)
    assert len(receiver.requests) == 4
    assert len({r.webhook_id for r in receiver.requests}) == 1
    assert receiver.requests[-1].timestamp != receiver.requests[0].timestamp  # fresh signature
    [record] = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=endpoint_id))
    assert record.status == DeliveryStatus.DELIVERED
    _, attempts = hub.webhooks.delivery(record.id)
    assert [a.status_code for a in attempts] == [500, 500, 500, 200]
    assert attempts[-1].response_excerpt == "ok"


def test_rotation_signs_with_both_secrets_during_the_overlap(hub: Hub) -> None:
    receiver = Receiver()

    async def body(dispatcher: Dispatcher) -> tuple[str, str]:
        endpoint_id, old = endpoint(hub, receiver)
        new = hub.webhooks.rotate_secret(endpoint_id)
        hub.catalog.create("Product", product("K-1"), author="a")
        await drain(dispatcher)
        return old, new

    old, new = run(hub, receiver, body)
    [got] = receiver.delivered
    headers = {
        "webhook-id": got.webhook_id,
        "webhook-timestamp": got.timestamp,
        "webhook-signature": got.signature,
    }
    assert len(got.signature.split(" ")) == 2
    Webhook(old).verify(got.body, headers)
    Webhook(new).verify(got.body, headers)


def test_two_dispatchers_never_send_the_same_attempt_twice(hub: Hub) -> None:
    """Two dispatchers claim from one queue at once (FOR UPDATE SKIP LOCKED on PostgreSQL,
    serialized write transactions on SQLite): with no crash, each event arrives once."""
    receiver = Receiver()

    async def body(first: Dispatcher) -> None:
        endpoint(hub, receiver)
        for i in range(60):
            hub.catalog.create("Product", product(f"P2-{i}"), author="a")
        for i in range(0, 60, 3):
            hub.catalog.patch(
                "Product", f"P2-{i}", {"price": {"amount": 2, "currency": "EUR"}}, author="a"
            )
        service = hub.webhooks
        second = Dispatcher(
            service.endpoints, service.queue, service.sealer, first.sender, first.config
        )
        await asyncio.gather(drain(first, 200), drain(second, 200))
        await drain(first)

    run(hub, receiver, body, batch_size=5)
    assert len(receiver.ids()) == len(set(receiver.ids())) == 80


class ExplodingOnce:
    """A sender whose first call fails with a bug, not a network error."""

    def __init__(self, real: Http1Sender) -> None:
        self.real = real
        self.calls = 0

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("boom")
        return await self.real.post(url, body, headers)


def test_a_bug_while_sending_fails_that_attempt_and_the_worker_goes_on(
    hub: Hub, clock: FakeClock
) -> None:
    receiver = Receiver()

    async def body(dispatcher: Dispatcher) -> None:
        endpoint(hub, receiver)
        dispatcher.sender = ExplodingOnce(dispatcher.sender)  # type: ignore[arg-type]
        hub.catalog.create("Product", product("X-1"), author="a")
        await drain(dispatcher)
        clock.advance(timedelta(seconds=10))
        await drain(dispatcher)

    run(hub, receiver, body)
    [record] = hub.webhooks.deliveries(DeliveryFilter())
    assert record.status == DeliveryStatus.DELIVERED and record.attempts == 2
    _, attempts = hub.webhooks.delivery(record.id)
    assert attempts[0].error == "internal error: RuntimeError: boom"


def test_an_endpoint_failing_for_the_whole_window_is_disabled(hub: Hub, clock: FakeClock) -> None:
    receiver = Receiver(answer=lambda r: 500)
    circuit = CircuitPolicy(threshold=100, disable_after=timedelta(hours=2))
    quick = RetryPolicy(schedule=(timedelta(minutes=10),) * 50, jitter=0)

    async def body(dispatcher: Dispatcher) -> str:
        endpoint_id, _ = endpoint(hub, receiver)
        hub.catalog.create("Product", product("N-1"), author="a")
        for _ in range(12):
            await drain(dispatcher)
            assert hub.webhooks.get(endpoint_id).spec.enabled
            clock.advance(timedelta(minutes=10))
        await drain(dispatcher)
        return endpoint_id

    endpoint_id = run(hub, receiver, body, circuit=circuit, retry=quick)
    disabled = hub.webhooks.get(endpoint_id)
    assert disabled.spec.enabled is False
    assert disabled.disabled_reason == "every delivery failed for 2 hours"
    # Enabling clears the record; the pending delivery is still there.
    again = hub.webhooks.set_enabled(endpoint_id, True)
    assert again.consecutive_failures == 0 and again.disabled_reason is None
    [pending] = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=endpoint_id))
    assert pending.status == DeliveryStatus.PENDING


def test_rate_limit_spaces_deliveries(hub: Hub) -> None:
    receiver = Receiver()
    arrivals: list[float] = []

    def note(r: Received) -> int:
        arrivals.append(time.monotonic())
        return 200

    receiver.answer = note

    async def body(dispatcher: Dispatcher) -> None:
        endpoint(hub, receiver, rateLimit=20)
        for i in range(6):
            hub.catalog.create("Product", product(f"RL-{i}"), author="a")
        await drain(dispatcher)

    run(hub, receiver, body)
    assert len(arrivals) == 6
    assert arrivals[-1] - arrivals[0] >= 5 / 20 * 0.9


def test_delivery_time_check_refuses_a_destination_that_became_internal(
    hub: Hub, clock: FakeClock
) -> None:
    """The endpoint was saved while private addresses were allowed (or its name pointed
    elsewhere); the dispatcher checks again before each send."""
    receiver = Receiver()

    async def body(dispatcher: Dispatcher) -> None:
        endpoint(hub, receiver)
        hub.catalog.create("Product", product("SSRF-1"), author="a")
        await drain(dispatcher)

    run(hub, receiver, body, allow_private=False)
    assert receiver.requests == []
    [record] = hub.webhooks.deliveries(DeliveryFilter())
    assert record.last_error is not None
    assert record.last_error.startswith("destination refused: '127.0.0.1' resolves to 127.0.0.1")


def test_only_enabling_clears_an_endpoints_failure_record(hub: Hub, clock: FakeClock) -> None:
    receiver = Receiver(answer=lambda r: 500)

    async def body(dispatcher: Dispatcher) -> str:
        endpoint_id, _ = endpoint(hub, receiver)
        for i in range(4):
            hub.catalog.create("Product", product(f"H-{i}"), author="a")
        await drain(dispatcher)
        return endpoint_id

    endpoint_id = run(hub, receiver, body, circuit=CircuitPolicy(threshold=3))
    paused = hub.webhooks.update(endpoint_id, {"description": "ERP"})
    assert paused.consecutive_failures == 4 and paused.paused_until is not None
    cleared = hub.webhooks.update(endpoint_id, {"enabled": True})
    assert cleared.consecutive_failures == 0 and cleared.paused_until is None


def test_disabling_an_endpoint_raises_an_operational_event_for_those_who_ask(
    hub: Hub, clock: FakeClock
) -> None:
    ops, failing, everything = Receiver(), Receiver(answer=lambda r: 410), Receiver()

    async def body(dispatcher: Dispatcher) -> str:
        await ops.start()
        await everything.start()
        endpoint(hub, ops, eventTypes=["webhook.endpoint_disabled"])
        failing_id, _ = endpoint(hub, failing)
        endpoint(hub, everything)
        hub.catalog.create("Product", product("OPS-1"), author="a")
        await drain(dispatcher)
        await ops.stop()
        await everything.stop()
        return failing_id

    failing_id = run(hub, failing, body)
    [event] = [r.payload for r in ops.delivered]
    assert event["type"] == "webhook.endpoint_disabled"
    assert event["data"] == {
        "endpoint": failing_id,
        "url": failing.url,
        "reason": "the receiver answered 410 Gone",
    }
    # "All events" means all catalog events: operational ones must be asked for by name.
    assert [r.payload["type"] for r in everything.delivered] == ["object.created"]
