"""Inbound events in the delivery pipeline, on both backends: fan-out to the endpoints that
subscribe by type, pattern and source; per-key order; transforms applied to what is signed
and sent; a transform failing on an event is a failed attempt that sends nothing, is retried
and dead-lettered; internal (hub:) destinations; one event's deliveries by its id."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, insert, select, update
from standardwebhooks.webhooks import Webhook

from pimhub.bootstrap import Hub
from pimhub.catalog.ids import new_event_id
from pimhub.events.deliveries import (
    AttemptResult,
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
)
from pimhub.events.dispatcher import Dispatcher
from pimhub.events.endpoints import EndpointSpec, WebhookEndpoint
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from pimhub.inbound.messages import (
    AcceptedMessage,
    inbound_event_payload,
    inbound_order_key,
    payload_hash,
)
from pimhub.storage.tables import outbox, webhook_deliveries, webhook_endpoints
from tests.events.fakes import FakeClock
from tests.events.receiver import Receiver
from tests.events.test_dispatch import clock, drain, endpoint, product, run

__all__ = ["clock"]  # the fixture, used by name

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
HOOK = "https://hooks.example.com/"


def inbound(
    hub: Hub,
    source: str,
    event_type: str,
    key: str | None,
    payload: Any,
    at: datetime = T0,
) -> str:
    """Stores an accepted inbound message's outbox event the way the inbox does (design 19:
    one outbox row, class_name = the source, order_key from the source and key)."""
    body = orjson.dumps(payload)
    message = AcceptedMessage(
        source=source,
        message_id=new_event_id(),
        event_type=event_type,
        key=key,
        received_at=at,
        body=body.decode(),
        payload=payload,
        payload_hash=payload_hash(body),
        size=len(body),
        remote=None,
    )
    event_id = new_event_id()
    with hub.engine.begin() as conn:
        conn.execute(
            insert(outbox).values(
                event_id=event_id,
                event_type=event_type,
                class_name=source,
                object_uuid=None,
                business_key=key,
                version=0,
                changed_fields=[],
                payload=inbound_event_payload(message),
                created_at=at,
                order_key=inbound_order_key(source, key, event_id),
            )
        )
    return event_id


def fan_out_all(hub: Hub, now: datetime = T0) -> None:
    """Fans out everything waiting (due at `now`). On PostgreSQL the fan-out lock is the
    schema's; a worker of this hub still running could make one fan_out skip its turn."""
    queue = hub.webhooks.queue
    for _ in range(1000):
        queue.fan_out(now, 1000)
        if queue.backlog().undispatched_events == 0:
            return
    raise AssertionError("the outbox never emptied")


def hook(hub: Hub, name: str, **spec: Any) -> str:
    return hub.webhooks.create({"url": HOOK + name, **spec}).endpoint.endpoint_id


def ok(delivery: Delivery, at: datetime) -> AttemptResult:
    return AttemptResult(delivery, at, 1.0, 200, "ok", None)


def record(hub: Hub, results: Sequence[AttemptResult], at: datetime) -> None:
    hub.webhooks.queue.record(results, RetryPolicy(jitter=0), CircuitPolicy(), at)


def test_an_inbound_event_fans_out_only_to_its_subscribers(hub: Hub) -> None:
    wanted = {
        hook(hub, "exact", eventTypes=["magento.order.placed"]),
        hook(hub, "pattern", eventTypes=["magento.*"]),
        hook(hub, "by-source", eventTypes=["magento.order.*"], sources=["erp", "magento"]),
    }
    hook(hub, "everything")  # "all events" means the catalog's
    hook(hub, "catalog", eventTypes=["object.created"])
    hook(hub, "other-type", eventTypes=["magento.customer.*", "erp.*"])
    hook(hub, "other-source", eventTypes=["magento.*"], sources=["erp"])
    hook(hub, "paused", eventTypes=["magento.*"], enabled=False)
    event_id = inbound(hub, "magento", "magento.order.placed", "1001", {"increment_id": "1001"})
    queue = hub.webhooks.queue
    fan_out_all(hub)
    found = hub.webhooks.deliveries(DeliveryFilter())
    assert {d.endpoint_id for d in found} == wanted
    assert {(d.event_id, d.event_type, d.class_name, d.business_key) for d in found} == {
        (event_id, "magento.order.placed", "magento", "1001")
    }
    claimed = queue.claim(T0, 10, T0 + LEASE)
    assert len(claimed) == 3
    for delivery in claimed:
        assert delivery.event_type == "magento.order.placed" and delivery.class_name == "magento"
        assert delivery.problem is None
        body = orjson.loads(delivery.body)
        assert body["type"] == "magento.order.placed"
        assert body["data"] == {
            "source": "magento",
            "messageId": body["data"]["messageId"],
            "key": "1001",
            "payload": {"increment_id": "1001"},
        }


def test_order_keys_come_from_the_outbox_else_the_object(hub: Hub) -> None:
    hook(hub, "all", eventTypes=["object.created", "magento.*"])
    event_id = inbound(hub, "magento", "magento.order.placed", "1001", {})
    keyless = inbound(hub, "magento", "magento.order.placed", None, {})
    created = hub.catalog.create("Product", product("K-1"), author="t")
    fan_out_all(hub)
    with hub.engine.connect() as conn:
        rows = conn.execute(
            select(webhook_deliveries.c.event_id, webhook_deliveries.c.order_key)
        ).all()
    keys = {event: key for event, key in rows}
    assert keys[event_id] == "in:magento:1001"
    assert keys[keyless] == f"in:magento:#{keyless}"
    assert set(keys.values()) - {"in:magento:1001", f"in:magento:#{keyless}"} == {created.uuid}


def test_events_of_one_key_go_out_one_at_a_time_in_order(hub: Hub) -> None:
    hook(hub, "erp", eventTypes=["magento.*"])
    first = inbound(hub, "magento", "magento.order.placed", "1001", {"n": 1})
    other = inbound(hub, "magento", "magento.order.placed", "1002", {"n": 2})
    second = inbound(hub, "magento", "magento.order.paid", "1001", {"n": 3})
    queue = hub.webhooks.queue
    fan_out_all(hub)
    claimed = queue.claim(T0, 10, T0 + LEASE)
    assert sorted(d.event_id for d in claimed) == sorted([first, other])
    assert queue.claim(T0, 10, T0 + LEASE) == []  # the second waits for the first
    # The first fails: it is retried, and the second still waits behind it.
    by_id = {d.event_id: d for d in claimed}
    record(hub, [AttemptResult(by_id[first], T0, 1.0, 500, "no", None), ok(by_id[other], T0)], T0)
    later = T0 + timedelta(minutes=10)
    [retried] = queue.claim(later, 10, later + LEASE)
    assert retried.event_id == first
    record(hub, [ok(retried, later)], later)
    [then] = queue.claim(later, 10, later + LEASE)
    assert then.event_id == second and then.event_type == "magento.order.paid"


def test_a_transform_shapes_what_is_signed_and_sent(hub: Hub) -> None:
    receiver = Receiver()
    transform = "{order: data.key, total: data.payload.grand_total, source: data.source}"

    async def body(dispatcher: Dispatcher) -> tuple[str, str]:
        endpoint_id, secret = endpoint(
            hub, receiver, eventTypes=["magento.*"], sources=["magento"], transform=transform
        )
        endpoint(hub, receiver, eventTypes=["object.created"], payload="thin", transform="data")
        inbound(hub, "magento", "magento.order.placed", "1001", {"grand_total": 49.9})
        hub.catalog.create("Product", product("T-1"), author="t")
        fan_out_all(hub, hub.webhooks.clock())
        await drain(dispatcher)
        return endpoint_id, secret

    endpoint_id, secret = run(hub, receiver, body)
    assert len(receiver.delivered) == 2
    by_body = {orjson.loads(r.body).get("order"): r for r in receiver.delivered}
    got = by_body["1001"]
    assert got.body == orjson.dumps({"order": "1001", "total": 49.9, "source": "magento"})
    headers = {
        "webhook-id": got.webhook_id,
        "webhook-timestamp": got.timestamp,
        "webhook-signature": got.signature,
    }
    Webhook(secret).verify(got.body, headers)  # the signature is over the transformed body
    thin = orjson.loads(by_body[None].body)  # thin first, then the transform
    assert thin["businessKey"] == "T-1" and "object" not in thin
    # The delivery log rebuilds the same body.
    [record_] = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=endpoint_id))
    assert hub.webhooks.queue.sent_body(record_.id) == got.body


def test_a_failing_transform_sends_nothing_and_is_retried_then_dead_lettered(
    hub: Hub, clock: FakeClock
) -> None:
    receiver = Receiver()
    short = RetryPolicy(schedule=(timedelta(seconds=1), timedelta(seconds=2)), jitter=0)

    async def body(dispatcher: Dispatcher) -> str:
        endpoint_id, _ = endpoint(
            hub, receiver, eventTypes=["erp.*"], transform="abs(data.payload.qty)"
        )
        inbound(hub, "erp", "erp.stock.changed", "SKU-1", {"qty": "seven"}, at=clock.now)
        inbound(hub, "erp", "erp.stock.changed", "SKU-2", {"qty": -7}, at=clock.now)
        fan_out_all(hub, hub.webhooks.clock())
        await drain(dispatcher)
        failed = hub.webhooks.deliveries(DeliveryFilter(business_key="SKU-1"))
        assert [(d.status, d.attempts) for d in failed] == [(DeliveryStatus.PENDING, 1)]
        for _ in range(3):
            clock.advance(timedelta(seconds=3))
            await drain(dispatcher)
        return endpoint_id

    endpoint_id = run(hub, receiver, body, retry=short)
    assert [r.body for r in receiver.requests] == [b"7"]  # the other event went out
    [dead] = hub.webhooks.deliveries(DeliveryFilter(status=DeliveryStatus.DEAD))
    assert dead.business_key == "SKU-1" and dead.attempts == 3
    reason = "transform failed: In function abs(), invalid type for value: seven"
    assert dead.last_error is not None and dead.last_error.startswith(reason)
    _, attempts = hub.webhooks.delivery(dead.id)
    assert [(a.status_code, a.error == dead.last_error) for a in attempts] == [(None, True)] * 3
    # Not the receiver's fault: its health is untouched, it is neither paused nor disabled.
    health = hub.webhooks.get(endpoint_id)
    assert health.consecutive_failures == 0 and health.paused_until is None
    assert health.spec.enabled
    assert hub.webhooks.queue.sent_body(dead.id) is None  # nothing was sent


class Internal:
    """A destination inside the hub (as the catalog feed is): notes what it is handed."""

    def __init__(self) -> None:
        self.handed: list[Delivery] = []

    async def deliver(self, deliveries: Sequence[Delivery], deadline: datetime) -> list[Any]:
        self.handed += deliveries
        return [AttemptResult(d, T0, 0.0, 200, None, None) for d in deliveries]

    async def aclose(self) -> None:
        return None


def internal_destination(hub: Hub, spec: EndpointSpec) -> str:
    """A pipeline row of another kind, at a hub: URL, as the inbound repository writes one."""
    queue_endpoints = hub.webhooks.endpoints
    sealed = hub.webhooks.sealer.encrypt("{}")
    row = queue_endpoints.add("feed-erp", spec, sealed, hub.webhooks.clock())
    with hub.engine.begin() as conn:
        conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == row.id)
            .values(kind="catalog-feed")
        )
    return row.endpoint_id


def test_internal_destinations_skip_the_address_check_and_get_transform_failures_apart(
    hub: Hub,
) -> None:
    internal = Internal()
    receiver = Receiver()

    def factory(row: WebhookEndpoint, secret: str) -> Internal:
        assert row.kind == "catalog-feed" and secret == "{}"
        return internal

    spec = EndpointSpec(
        url="hub:catalog-feed/erp",
        event_types=("erp.*",),
        sources=("erp",),
        transform="abs(data.payload.qty)",
    )
    feed_id = internal_destination(hub, spec)

    async def body(dispatcher: Dispatcher) -> None:
        dispatcher.destinations = factory
        dispatcher.config.allow_private = False  # the address check is on
        inbound(hub, "erp", "erp.stock.changed", "SKU-1", {"qty": -3})
        inbound(hub, "erp", "erp.stock.changed", "SKU-2", {"qty": "three"})
        inbound(hub, "shop", "erp.stock.changed", "SKU-3", {"qty": 1})  # another source
        fan_out_all(hub, hub.webhooks.clock())
        await drain(dispatcher)

    run(hub, receiver, body)
    assert [(d.class_name, d.event_type, d.body) for d in internal.handed] == [
        ("erp", "erp.stock.changed", b"3")
    ]
    by_key = {d.business_key: d for d in hub.webhooks.deliveries(DeliveryFilter())}
    assert set(by_key) == {"SKU-1", "SKU-2"}
    assert by_key["SKU-1"].status == DeliveryStatus.DELIVERED
    failed = by_key["SKU-2"]
    assert failed.status == DeliveryStatus.PENDING and failed.attempts == 1
    assert failed.last_error is not None and failed.last_error.startswith("transform failed: ")
    row = hub.webhooks.endpoints.get(feed_id)
    assert row is not None and row.consecutive_failures == 0


def test_one_events_deliveries_are_listed_and_replayed_by_its_id(hub: Hub) -> None:
    hook(hub, "a", eventTypes=["magento.*"])
    hook(hub, "b", eventTypes=["magento.order.placed"])
    mine = inbound(hub, "magento", "magento.order.placed", "1", {})
    inbound(hub, "magento", "magento.order.placed", "2", {})
    queue = hub.webhooks.queue
    fan_out_all(hub)
    found = hub.webhooks.deliveries(DeliveryFilter(event_id=mine))
    assert len(found) == 2 and {d.event_id for d in found} == {mine}
    assert hub.webhooks.deliveries(DeliveryFilter(event_id="evt_none")) == []
    claimed = queue.claim(T0, 10, T0 + LEASE)
    record(hub, [ok(d, T0) for d in claimed], T0)
    where = DeliveryFilter(event_id=mine, status=DeliveryStatus.DELIVERED)
    assert hub.webhooks.replayable(where) == 2
    assert hub.webhooks.replay(where) == 2
    assert {d.status for d in hub.webhooks.deliveries(DeliveryFilter(event_id=mine))} == {
        DeliveryStatus.PENDING
    }


def test_parallel_fan_out_creates_each_delivery_once(hub: Hub) -> None:
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("fan-outs run truly in parallel on PostgreSQL only")
    endpoints = [hook(hub, f"p{i}", eventTypes=["magento.*"]) for i in range(3)]
    events = [
        inbound(hub, "magento", "magento.order.placed", str(i % 7), {"n": i}) for i in range(150)
    ]
    queue = hub.webhooks.queue
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def fan_out() -> None:
        try:
            start.wait()
            for _ in range(5000):
                queue.fan_out(T0, 10)
                if hub.webhooks.queue.backlog().undispatched_events == 0:
                    return
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=fan_out) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with hub.engine.connect() as conn:
        rows = conn.execute(
            select(webhook_deliveries.c.endpoint_id, webhook_deliveries.c.event_id)
        ).all()
        assert (
            conn.execute(select(func.count()).where(outbox.c.dispatched_at.is_(None))).scalar() == 0
        )
    assert len(rows) == len(set(rows)) == len(endpoints) * len(events)
    # Per key, deliveries were created in event order.
    order = {e: i for i, e in enumerate(events)}
    for endpoint_id in endpoints:
        listed = hub.webhooks.deliveries(DeliveryFilter(endpoint_id=endpoint_id), limit=500)
        by_key: dict[str | None, list[int]] = {}
        for d in listed:
            by_key.setdefault(d.business_key, []).append(order[d.event_id])
        assert all(seq == sorted(seq) for seq in by_key.values())
