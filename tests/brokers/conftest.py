"""RabbitMQ helpers for the broker tests: a unique exchange and queues per test (deleted after),
a consumer that reads what arrived, and driving the hub's delivery pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from pimhub.bootstrap import Hub, build_dispatcher
from pimhub.events.dispatcher import Dispatcher
from pimhub.events.policy import RetryPolicy


@dataclass
class Rabbit:
    """The test's RabbitMQ: its address without credentials, the credentials apart, and the
    test's own exchange and queue names."""

    amqp_url: str  # as given (with credentials), for the test's own consumer
    url: str
    username: str
    password: str
    exchange: str
    queues: list[str] = field(default_factory=list)

    def queue_name(self) -> str:
        name = f"{self.exchange}.q{len(self.queues)}"
        self.queues.append(name)
        return name

    def credentials(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}

    def config(self, name: str = "mq", **changes: Any) -> dict[str, Any]:
        return {"name": name, "url": self.url, "exchange": self.exchange, **changes}


@pytest.fixture
def rabbit(amqp_url: str) -> Iterator[Rabbit]:
    parts = urlsplit(amqp_url)
    port = f":{parts.port}" if parts.port else ""
    found = Rabbit(
        amqp_url=amqp_url,
        url=f"{parts.scheme}://{parts.hostname}{port}{parts.path}",
        username=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
        exchange=f"pimhub.test.{uuid.uuid4().hex[:12]}",
    )
    yield found
    tidy(found)


def tidy(rabbit: Rabbit) -> None:
    """Deletes the test's exchange and queues. The broker is asked over AMQP first (a few
    milliseconds); only when that fails is it checked and started with the CLI (1.7 s a
    call: a restart test may have stopped it and failed before starting it)."""
    if not asyncio.run(_delete(rabbit, timeout=2)):
        ensure_running()
        asyncio.run(_delete(rabbit, timeout=10))


async def _delete(rabbit: Rabbit, timeout: float) -> bool:
    """Whether the broker could be reached. Best effort: a broker restarting just now
    (another run's restart test) leaves the names behind rather than failing the test that
    used them."""
    try:
        connection = await aio_pika.connect(rabbit.amqp_url, timeout=timeout)
    except (OSError, aio_pika.exceptions.AMQPError):
        return False
    async with connection:
        for name in rabbit.queues:
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(name)
        channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.exchange_delete(rabbit.exchange)
    return True


@contextlib.asynccontextmanager
async def consumer(rabbit: Rabbit) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(rabbit.amqp_url, timeout=10)
    async with connection:
        yield await connection.channel()


async def bind(
    rabbit: Rabbit, binding: str = "#", *, exchange_type: str = "topic", **arguments: Any
) -> str:
    """A durable queue bound to the test's exchange (declared here too, durable, as the
    destination declares it); returns the queue's name."""
    name = rabbit.queue_name()
    async with consumer(rabbit) as channel:
        exchange = await channel.declare_exchange(rabbit.exchange, exchange_type, durable=True)
        queue = await channel.declare_queue(name, durable=True)
        await queue.bind(exchange, binding, arguments=arguments or None)
    return name


async def take(rabbit: Rabbit, queue: str, count: int, wait: float = 10.0) -> list[Any]:
    """Up to `count` messages from `queue` (acknowledged), waiting at most `wait` seconds for
    them to arrive; each as (routing key, body, message id, delivery mode, headers, type)."""
    got: list[AbstractIncomingMessage] = []
    async with consumer(rabbit) as channel:
        found = await channel.declare_queue(queue, durable=True, passive=True)
        ends = time.monotonic() + wait
        while len(got) < count and time.monotonic() < ends:
            message = await found.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.02)
                continue
            got.append(message)
    return got


async def queued(rabbit: Rabbit, queue: str) -> int:
    async with consumer(rabbit) as channel:
        found = await channel.declare_queue(queue, durable=True, passive=True)
        return int(found.declaration_result.message_count or 0)


def ensure_running() -> None:
    """RabbitMQ is up (a restart test may have stopped it and failed before starting it).
    check_running, not ping: the node answers a ping while its application is stopped."""
    check = ["rabbitmq-diagnostics", "-q", "check_running"]
    if subprocess.run(check, capture_output=True).returncode != 0:
        subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, check=False)
        subprocess.run(["rabbitmqctl", "await_startup"], capture_output=True, check=False)


def fast_dispatcher(hub: Hub) -> Dispatcher:
    """The hub's dispatcher with no waits between retries (failures come due again at once)."""
    dispatcher = build_dispatcher(hub)
    dispatcher.config.retry = RetryPolicy(schedule=(timedelta(0),) * 50, jitter=0.0)
    return dispatcher


async def close_destinations(dispatcher: Dispatcher) -> None:
    for target in list(dispatcher._targets.values()):
        if target.destination is not None:
            await target.destination.aclose()


async def drain(dispatcher: Dispatcher, rounds: int = 50) -> None:
    """Rounds of fan-out, claim, send and record until every event is fanned out and nothing
    is due (at most `rounds`). On PostgreSQL a round fans out nothing while another process's
    worker (another test run on the same database) holds the fan-out lock: that is waited
    out, not taken for the end."""
    for _ in range(rounds):
        if await dispatcher.run_once():
            continue
        backlog = await asyncio.to_thread(dispatcher.queue.backlog)
        if not backlog.undispatched_events:
            return
        await asyncio.sleep(0.05)


async def first_round(dispatcher: Dispatcher, rounds: int = 100) -> None:
    """One round that did something (see drain: the fan-out lock may be someone else's)."""
    for _ in range(rounds):
        if await dispatcher.run_once():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no round of the dispatcher found work")
