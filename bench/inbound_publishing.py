"""bench/inbound.py (b), publishing: the hub's RabbitMQ destination against aio-pika with
publisher confirms, the same messages in batches of the dispatcher's size; see
bench/inbound.py for the method."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from inbound_common import EVENT_TYPE, SOURCE, open_hub, order_body

BATCH = 500  # deliveries the dispatcher claims and hands a destination at once (default)
PUBLISH_REPEATS = 5


def catalog_body(n: int) -> bytes:
    """A Product update as the outbox holds it (~800 bytes)."""
    sku = f"PH-{n:07d}"
    return orjson.dumps(
        {
            "type": "object.updated",
            "timestamp": "2026-12-05T00:00:00.000Z",
            "data": {
                "objectType": "Product",
                "uuid": str(uuid.UUID(int=n)),
                "businessKey": sku,
                "version": 2,
                "changedFields": ["stock"],
                "object": {
                    "class": "Product",
                    "key": sku,
                    "version": 2,
                    "fields": {
                        "sku": sku,
                        "name": {"en": f"Product {n}", "de": f"Produkt {n}"},
                        "description": {"en": "A product published to measure the broker. " * 4},
                        "price": {"amount": 10 + n % 90, "currency": "EUR"},
                        "stock": n % 50,
                    },
                },
            },
        }
    )


def deliveries(endpoint: int, count: int) -> list[Any]:
    """`count` claimed deliveries: Product updates and inbound orders, alternately, each of
    its own key (one claim never holds two of one key)."""
    from pimhub.events.deliveries import Delivery

    lease = datetime.now(UTC) + timedelta(hours=1)
    out = []
    for n in range(count):
        order = n % 2 == 1
        body = order_body(n) if order else catalog_body(n)
        out.append(
            Delivery(
                id=n + 1,
                endpoint=endpoint,
                event_id=f"evt_{uuid.uuid4().hex}",
                body=body,
                attempts=0,
                lease_until=lease,
                event_type=EVENT_TYPE if order else "object.updated",
                class_name=SOURCE if order else "Product",
            )
        )
    return out


def routing_key(delivery: Any) -> str:
    """The routing key the design gives the event (catalog.<Class>.<action>, or the inbound
    type): the floor publishes with it, the queue is bound to exactly these."""
    if delivery.event_type == EVENT_TYPE:
        return EVENT_TYPE
    return f"catalog.{delivery.class_name}.{delivery.event_type.split('.')[1]}"


def hub_destination(workdir: Path, amqp_url: str, exchange: str) -> tuple[Any, Any, int]:
    """(the hub, the RabbitMQ destination the worker builds for a broker, the broker's pipeline
    row id): the broker is added as `pimhub brokers add` does, and its destination made by
    the dispatcher's factory from the row and its decrypted credentials."""
    from urllib.parse import urlsplit

    from pimhub.bootstrap import destination_factory

    hub = open_hub(workdir)
    parts = urlsplit(amqp_url)
    address = f"{parts.scheme}://{parts.hostname}:{parts.port or 5672}{parts.path or '/'}"
    credentials = {"username": parts.username or "guest", "password": parts.password or "guest"}
    broker = hub.brokers.add({"name": "bench", "url": address, "exchange": exchange}, credentials)
    endpoint = hub.webhooks.endpoints.get(broker.endpoint_id)
    sealed = hub.webhooks.endpoints.secrets(broker.endpoint_id)
    if endpoint is None or sealed is None:
        raise RuntimeError(f"the broker's pipeline row {broker.endpoint_id} is missing")
    destination = destination_factory(hub)(endpoint, hub.webhooks.sealer.decrypt(sealed.sealed))
    if destination is None:
        raise RuntimeError("the broker's destination could not be built")
    return hub, destination, endpoint.id


async def hub_publish(destination: Any, batches: list[list[Any]]) -> float:
    """Messages per second through the destination, batch after batch; every one confirmed."""
    started = time.perf_counter()
    for batch in batches:
        results = await destination.deliver(batch, datetime.now(UTC) + timedelta(seconds=60))
        failed = [r for r in results if not r.ok]
        if len(results) != len(batch) or failed:
            raise RuntimeError(f"{len(failed)} of {len(batch)} not delivered: {failed[:1]}")
    return sum(len(b) for b in batches) / (time.perf_counter() - started)


async def floor_publish(exchange: Any, batches: list[list[Any]]) -> float:
    """The same messages with aio-pika (the properties the hub sets, persistent, mandatory),
    each confirmed, a batch in flight at once on one channel."""
    import aio_pika

    started = time.perf_counter()
    for batch in batches:
        now = datetime.now(UTC)
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        d.body,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=d.event_id,
                        timestamp=now,
                        type=d.event_type,
                        app_id="pimhub",
                        headers={"pimhub-event-type": d.event_type},
                    ),
                    routing_key=routing_key(d),
                    mandatory=True,
                )
                for d in batch
            )
        )
    return sum(len(b) for b in batches) / (time.perf_counter() - started)


async def amqp_reachable(url: str) -> str | None:
    """None when RabbitMQ answers at `url`, else why not."""
    import aio_pika

    try:
        connection = await asyncio.wait_for(aio_pika.connect(url), timeout=5)
    except Exception as error:  # any failure to connect means: no broker to measure
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


async def publishing(workdir: Path, amqp_url: str, messages: int) -> float:
    import aio_pika

    name = f"pimhub-bench-{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(name, durable=True)
    for key in ("catalog.Product.updated", EVENT_TYPE):
        await queue.bind(exchange, routing_key=key)
    hub, destination, endpoint = hub_destination(workdir, amqp_url, name)
    work = deliveries(endpoint, messages)
    batches = [work[i : i + BATCH] for i in range(0, len(work), BATCH)]
    rates: dict[str, list[float]] = {"pimhub": [], "floor": []}
    runs: dict[str, Callable[[], Any]] = {
        "pimhub": lambda: hub_publish(destination, batches),
        "floor": lambda: floor_publish(exchange, batches),
    }

    async def counted(label: str) -> float:
        rate: float = await runs[label]()
        queued = await channel.declare_queue(name, durable=True, passive=True)
        count = queued.declaration_result.message_count
        await queue.purge()
        if count != messages:
            raise RuntimeError(f"{label}: {count} of {messages} messages reached the queue")
        return rate

    try:
        for label in runs:  # warm-up: connections, channels, the exchange declared
            await counted(label)
        print(f"(b) {messages} messages per round in batches of {BATCH}, {PUBLISH_REPEATS} repeats")
        for repeat in range(PUBLISH_REPEATS):
            order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
            for label in order:
                rates[label].append(await counted(label))
                print(f"  round {repeat + 1} {label:<7} {rates[label][-1]:8.0f} msg/s", flush=True)
    finally:
        await destination.aclose()
        hub.close()
        await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        await connection.close()
    for label, values in rates.items():
        rounds = " ".join(f"{v:.0f}" for v in values)
        print(f"{label:<7} {statistics.median(values):8.0f} msg/s confirmed  (rounds: {rounds})")
    pairs = zip(rates["pimhub"], rates["floor"], strict=True)
    ratio = statistics.median(ours / floor for ours, floor in pairs)
    print(f"(b) RabbitMQ confirmed msg/s, pimhub / aio-pika: {ratio:.3f} (median of the pairs)")
    return ratio
