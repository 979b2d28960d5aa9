"""Publishing to the real RabbitMQ through the delivery pipeline, on both backends: what a
consumer gets (routing key, body, message id, persistence, headers), per-key order, mandatory
routing, and the connection shared by a worker's brokers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import orjson
from sqlalchemy import insert, select

from pimhub.bootstrap import Hub
from pimhub.brokers.rabbitmq import REGISTRY
from pimhub.catalog.ids import new_event_id
from pimhub.events.deliveries import DeliveryFilter
from pimhub.events.policy import RetryPolicy
from pimhub.inbound.messages import AcceptedMessage, inbound_event_payload, inbound_order_key
from pimhub.storage.tables import outbox, webhook_deliveries

from .conftest import (
    Rabbit,
    bind,
    close_destinations,
    drain,
    fast_dispatcher,
    first_round,
    queued,
    take,
)


def deliveries(hub: Hub, endpoint: str = "broker-mq", **where: Any) -> list[Any]:
    return hub.webhooks.queue.deliveries(
        DeliveryFilter(endpoint_id=endpoint, **where), limit=500, after_id=None
    )


def insert_inbound(hub: Hub, source: str, event_type: str, key: str | None, payload: Any) -> str:
    """An accepted inbound message's outbox row, as the inbox writes it (design 19)."""
    now = datetime.now(UTC)
    body = orjson.dumps(payload).decode()
    message = AcceptedMessage(
        source, "m-" + new_event_id(), event_type, key, now, body, payload, "0" * 64, 2, None
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
                created_at=now,
                order_key=inbound_order_key(source, key, event_id),
            )
        )
    return event_id


def test_catalog_and_inbound_events_arrive_persistent_with_their_routing_keys(
    hub: Hub, rabbit: Rabbit
) -> None:
    types = ["object.created", "object.updated", "magento.*"]
    hub.brokers.add(rabbit.config(eventTypes=types), rabbit.credentials())
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")
    hub.catalog.patch("Brand", "acme", {"name": "Acme Inc"}, author="t")
    order = {"increment_id": "100001", "grand_total": 42.5}
    inbound_id = insert_inbound(hub, "magento", "magento.order.placed", "100001", order)
    hub.catalog.create("Category", {"code": "men", "name": {"en": "Men"}}, author="t")

    async def scenario() -> list[Any]:
        queue = await bind(rabbit)
        dispatcher = fast_dispatcher(hub)
        try:
            await drain(dispatcher)
        finally:
            await close_destinations(dispatcher)
        return await take(rabbit, queue, 4)

    got = asyncio.run(scenario())
    by_key = {m.routing_key: m for m in got}
    assert sorted(by_key) == [
        "catalog.Brand.created",
        "catalog.Brand.updated",
        "catalog.Category.created",
        "magento.order.placed",
    ]
    delivered = {d.event_id: d for d in deliveries(hub)}
    assert {d.status.value for d in delivered.values()} == {"delivered"}
    assert {m.message_id for m in got} == set(delivered)
    for message in got:
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.content_type == "application/json"
        assert message.timestamp is not None
        body = orjson.loads(message.body)
        assert message.headers["pimhub-event-type"] == body["type"] == message.type
    placed = by_key["magento.order.placed"]
    assert placed.message_id == inbound_id
    assert placed.headers["pimhub-source"] == "magento"
    assert orjson.loads(placed.body)["data"]["payload"] == order
    updated = orjson.loads(by_key["catalog.Brand.updated"].body)
    assert updated["data"]["object"]["fields"]["name"] == "Acme Inc"
    assert by_key["catalog.Brand.updated"].headers["pimhub-class"] == "Brand"


def test_versions_of_one_object_arrive_in_order_with_a_prefix(hub: Hub, rabbit: Rabbit) -> None:
    hub.brokers.add(
        rabbit.config(routingKeyPrefix="shop1", eventTypes=["object.created", "object.updated"]),
        rabbit.credentials(),
    )
    hub.catalog.create("Brand", {"code": "acme", "name": "v1"}, author="t")
    hub.catalog.create("Brand", {"code": "zeta", "name": "z1"}, author="t")
    for n in range(2, 9):
        hub.catalog.patch("Brand", "acme", {"name": f"v{n}"}, author="t")
        hub.catalog.patch("Brand", "zeta", {"name": f"z{n}"}, author="t")

    async def scenario() -> list[Any]:
        queue = await bind(rabbit, "shop1.catalog.Brand.*")
        dispatcher = fast_dispatcher(hub)
        try:
            await drain(dispatcher)
        finally:
            await close_destinations(dispatcher)
        return await take(rabbit, queue, 16)

    got = asyncio.run(scenario())
    assert len(got) == 16
    for code in ("acme", "zeta"):
        versions = [
            orjson.loads(m.body)["data"]["version"]
            for m in got
            if orjson.loads(m.body)["data"]["businessKey"] == code
        ]
        assert versions == list(range(1, 9)), code
    assert {m.routing_key for m in got} == {
        "shop1.catalog.Brand.created",
        "shop1.catalog.Brand.updated",
    }


def test_an_unroutable_message_fails_until_a_queue_is_bound(hub: Hub, rabbit: Rabbit) -> None:
    hub.brokers.add(rabbit.config(eventTypes=["object.created"]), rabbit.credentials())
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")

    async def scenario() -> list[Any]:
        dispatcher = fast_dispatcher(hub)
        try:
            await first_round(dispatcher)  # no queue bound: returned, a failed attempt
            failed = deliveries(hub)
            assert [d.status.value for d in failed] == ["pending"]
            assert failed[0].attempts == 1
            assert "no queue is bound for routing key 'catalog.Brand.created'" in (
                failed[0].last_error or ""
            )
            queue = await bind(rabbit, "catalog.#")
            await drain(dispatcher)
        finally:
            await close_destinations(dispatcher)
        return await take(rabbit, queue, 1)

    got = asyncio.run(scenario())
    [delivered] = deliveries(hub)
    assert delivered.status.value == "delivered" and delivered.attempts == 2
    assert [m.message_id for m in got] == [delivered.event_id]


def test_without_mandatory_an_unroutable_message_is_delivered_and_dropped(
    hub: Hub, rabbit: Rabbit
) -> None:
    hub.brokers.add(rabbit.config(mandatory=False), rabbit.credentials())
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")

    async def scenario() -> None:
        dispatcher = fast_dispatcher(hub)
        try:
            await drain(dispatcher)
        finally:
            await close_destinations(dispatcher)

    asyncio.run(scenario())
    assert [(d.status.value, d.attempts) for d in deliveries(hub)] == [("delivered", 1)]


def test_brokers_on_one_address_share_one_connection(hub: Hub, rabbit: Rabbit) -> None:
    hub.brokers.add(rabbit.config("one", eventTypes=["object.created"]), rabbit.credentials())
    other = {**rabbit.config("two", eventTypes=["object.created"]), "routingKeyPrefix": "two"}
    hub.brokers.add(other, rabbit.credentials())
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")

    async def scenario() -> tuple[int, int, list[Any], int]:
        queue = await bind(rabbit)
        dispatcher = fast_dispatcher(hub)
        try:
            await drain(dispatcher)
            mine = [s for s in REGISTRY.shared() if s.loop is asyncio.get_running_loop()]
            users = sum(s.users for s in mine)
            connects = sum(s.connects for s in mine)
        finally:
            await close_destinations(dispatcher)
        left = len([s for s in REGISTRY.shared() if s.loop is asyncio.get_running_loop()])
        return users, connects, await take(rabbit, queue, 2), left

    users, connects, got, left = asyncio.run(scenario())
    assert (users, connects) == (2, 1)
    assert sorted(m.routing_key for m in got) == [
        "catalog.Brand.created",
        "two.catalog.Brand.created",
    ]
    assert left == 0  # closed with its last destination


def test_a_missing_exchange_not_declared_is_a_failed_attempt_naming_it(
    hub: Hub, rabbit: Rabbit
) -> None:
    hub.brokers.add(rabbit.config(declare=False), rabbit.credentials())
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")

    async def scenario() -> None:
        dispatcher = fast_dispatcher(hub)
        try:
            await first_round(dispatcher)
            [failed] = deliveries(hub)
            assert failed.status.value == "pending" and rabbit.exchange in (failed.last_error or "")
            queue = await bind(rabbit)  # declares the exchange: the retry finds it
            await drain(dispatcher)
            assert await queued(rabbit, queue) == 1
        finally:
            await close_destinations(dispatcher)

    asyncio.run(scenario())
    assert [d.status.value for d in deliveries(hub)] == ["delivered"]


def test_wrong_credentials_fail_the_attempt_without_a_secret_in_the_log(
    hub: Hub, rabbit: Rabbit
) -> None:
    hub.brokers.add(rabbit.config(), {"username": rabbit.username, "password": "wrong-pw-93f1"})
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")

    async def scenario() -> None:
        dispatcher = fast_dispatcher(hub)
        try:
            await first_round(dispatcher)
        finally:
            await close_destinations(dispatcher)

    asyncio.run(scenario())
    [failed] = deliveries(hub)
    assert failed.status.value == "pending" and failed.attempts == 1
    assert "cannot publish to amqp://" in (failed.last_error or "")
    assert "wrong-pw-93f1" not in (failed.last_error or "")
    with hub.engine.connect() as conn:
        assert conn.execute(select(webhook_deliveries.c.id)).all()


def test_a_transform_reshapes_the_published_body_and_keeps_the_routing_key(
    hub: Hub, rabbit: Rabbit
) -> None:
    config = rabbit.config(
        eventTypes=["object.created"], transform="{sku: data.businessKey, v: data.version}"
    )
    hub.brokers.add(config, rabbit.credentials())
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")

    async def scenario() -> list[Any]:
        queue = await bind(rabbit)
        dispatcher = fast_dispatcher(hub)
        try:
            await drain(dispatcher)
        finally:
            await close_destinations(dispatcher)
        return await take(rabbit, queue, 1)

    [message] = asyncio.run(scenario())
    assert orjson.loads(message.body) == {"sku": "acme", "v": 1}
    assert message.routing_key == "catalog.Brand.created"
    assert message.headers == {"pimhub-event-type": "object.created", "pimhub-class": "Brand"}


def test_a_headers_exchange_routes_by_the_event_headers(hub: Hub, rabbit: Rabbit) -> None:
    hub.brokers.add(rabbit.config(exchangeType="headers"), rabbit.credentials())
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")
    hub.catalog.create("Category", {"code": "men", "name": {"en": "Men"}}, author="t")

    async def scenario() -> list[Any]:
        match = {"x-match": "all", "pimhub-class": "Category"}
        queue = await bind(rabbit, "", exchange_type="headers", **match)
        dispatcher = fast_dispatcher(hub)
        dispatcher.config.retry = RetryPolicy(schedule=(timedelta(hours=1),))
        try:
            await drain(dispatcher)
        finally:
            await close_destinations(dispatcher)
        return await take(rabbit, queue, 2, wait=1.0)

    got = asyncio.run(scenario())
    assert [m.headers["pimhub-class"] for m in got] == ["Category"]
    # The Brand's event had no queue: returned, so a failed attempt waiting for its retry.
    states = {d.class_name: d.status.value for d in deliveries(hub)}
    assert states == {"Category": "delivered", "Brand": "pending"}


def test_inbound_events_come_by_pattern_and_only_from_the_named_sources(
    hub: Hub, rabbit: Rabbit
) -> None:
    config = rabbit.config(eventTypes=["magento.*"], sources=["magento"])
    hub.brokers.add(config, rabbit.credentials())
    wanted = insert_inbound(hub, "magento", "magento.customer.created", "c-1", {"id": 1})
    insert_inbound(hub, "othershop", "magento.customer.created", "c-2", {"id": 2})
    insert_inbound(hub, "magento", "erp.stock.changed", "SKU-1", {"qty": 3})
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="t")  # not asked for

    async def scenario() -> list[Any]:
        queue = await bind(rabbit)
        dispatcher = fast_dispatcher(hub)
        try:
            await drain(dispatcher)
        finally:
            await close_destinations(dispatcher)
        return await take(rabbit, queue, 2, wait=1.0)

    got = asyncio.run(scenario())
    found = deliveries(hub)
    assert [(d.event_id, d.status.value) for d in found] == [(wanted, "delivered")], found
    assert [(m.routing_key, m.message_id) for m in got] == [("magento.customer.created", wanted)]
