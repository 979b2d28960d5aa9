"""The RabbitMQ destination on its own: the batch's deadline holds against a broker that
never answers, deliveries that cannot be sent are not published, too little time left still
publishes, and destinations share and release their connection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson

from pimhub.brokers.rabbitmq import ConnectionRegistry, RabbitDestination
from pimhub.brokers.spec import Credentials, parse_config
from pimhub.events.deliveries import Delivery

from .conftest import Rabbit, bind, queued

CREDENTIALS = Credentials("guest", "guest")


def delivery(n: int, problem: str | None = None) -> Delivery:
    body = orjson.dumps({"type": "object.created", "data": {"objectType": "Brand", "n": n}})
    lease = datetime.now(UTC) + timedelta(seconds=60)
    return Delivery(n, 1, f"evt_{n}", body, 0, lease, "object.created", "Brand", problem=problem)


def test_a_broker_that_never_answers_fails_the_batch_by_its_deadline() -> None:
    async def scenario() -> list[str | None]:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # accepts, never speaks AMQP

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        config = parse_config({"name": "mute", "url": f"amqp://127.0.0.1:{port}/"})
        destination = RabbitDestination(config, CREDENTIALS, lambda: datetime.now(UTC))
        try:
            deadline = datetime.now(UTC) + timedelta(seconds=1.5)
            results = await destination.deliver([delivery(1), delivery(2)], deadline)
        finally:
            await destination.aclose()
            server.close()
        assert all(not r.ok and r.receiver_fault for r in results)
        return [r.error for r in results]

    errors = asyncio.run(scenario())
    assert len(errors) == 2
    assert all(e and "cannot publish to amqp://127.0.0.1" in e and "timed out" in e for e in errors)


def test_too_little_time_still_publishes_the_batch(rabbit: Rabbit) -> None:
    """A lease too short for MIN_SECONDS (a 2 s lease leaves 1 s) or a deadline gone: handed
    back, the batch would be due again at once and never published; it is published."""

    async def scenario() -> tuple[list[bool], int]:
        queue = await bind(rabbit)
        config = parse_config(rabbit.config())
        credentials = Credentials(rabbit.username, rabbit.password)
        destination = RabbitDestination(config, credentials, lambda: datetime.now(UTC))
        results = []
        try:
            for left in (timedelta(seconds=0.5), timedelta(seconds=-1)):
                deadline = datetime.now(UTC) + left
                results += await destination.deliver([delivery(len(results) + 1)], deadline)
        finally:
            await destination.aclose()
        return [r.ok and not r.skipped for r in results], await queued(rabbit, queue)

    oks, count = asyncio.run(scenario())
    assert oks == [True, True]
    assert count == 2


def test_an_unsendable_delivery_fails_without_being_published(rabbit: Rabbit) -> None:
    registry = ConnectionRegistry()

    async def scenario() -> tuple[list[tuple[bool, bool, str | None]], int]:
        queue = await bind(rabbit)
        config = parse_config(rabbit.config())
        credentials = Credentials(rabbit.username, rabbit.password)
        destination = RabbitDestination(config, credentials, lambda: datetime.now(UTC), registry)
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        batch = [delivery(1), delivery(2, problem="transform failed: boom")]
        try:
            results = await destination.deliver(batch, deadline)
        finally:
            await destination.aclose()
        return [(r.ok, r.receiver_fault, r.error) for r in results], await queued(rabbit, queue)

    outcomes, count = asyncio.run(scenario())
    assert sorted(outcomes, key=str) == sorted(
        [(True, True, None), (False, False, "transform failed: boom")], key=str
    )
    assert count == 1
    assert registry.shared() == []  # released with its destination


def test_destinations_with_other_credentials_do_not_share(rabbit: Rabbit) -> None:
    registry = ConnectionRegistry()

    async def scenario() -> tuple[int, int]:
        config = parse_config(rabbit.config())
        clock = lambda: datetime.now(UTC)  # noqa: E731
        same = [
            RabbitDestination(
                config, Credentials(rabbit.username, rabbit.password), clock, registry
            )
            for _ in range(3)
        ]
        other = RabbitDestination(config, Credentials(rabbit.username, "other"), clock, registry)
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        await bind(rabbit)
        try:
            for destination in [*same, other]:
                await destination.deliver([delivery(1)], deadline)
            counts = (len(registry.shared()), max(s.users for s in registry.shared()))
        finally:
            for destination in [*same, other]:
                await destination.aclose()
        return counts

    assert asyncio.run(scenario()) == (2, 3)
    assert registry.shared() == []
