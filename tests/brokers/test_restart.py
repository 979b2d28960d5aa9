"""A RabbitMQ restart in the middle of publishing (rabbitmqctl stop_app / start_app) while a
running worker delivers a stream of catalog changes: attempts fail while the broker is away
and are retried, the worker reconnects by itself, and every delivery recorded as delivered
(confirmed) is in the consumer's queue. Duplicates are allowed only for deliveries that had an
unconfirmed attempt; each object's versions arrive in order."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson

from pimhub.bootstrap import Hub
from pimhub.events.deliveries import DeliveryFilter
from pimhub.events.policy import CircuitPolicy, RetryPolicy

from .conftest import (
    Rabbit,
    bind,
    close_destinations,
    ensure_running,
    fast_dispatcher,
    queued,
    take,
)

CODES = ("acme", "zeta", "nova")
ROUNDS = 40  # one change to each object per round, 50 ms apart
ENDPOINT = "broker-mq"


def states(hub: Hub) -> list[Any]:
    return hub.webhooks.queue.deliveries(
        DeliveryFilter(endpoint_id=ENDPOINT), limit=1000, after_id=None
    )


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], capture_output=True, check=True, timeout=60)


async def until(check: Callable[[], bool], what: str, wait: float = 20.0) -> None:
    ends = time.monotonic() + wait
    while not await asyncio.to_thread(check):
        assert time.monotonic() < ends, f"still waiting for {what}"
        await asyncio.sleep(0.05)


def write(hub: Hub, round_: int) -> None:
    """One change to each object (round 0 creates them)."""
    for code in CODES:
        if round_ == 0:
            hub.catalog.create("Brand", {"code": code, "name": f"{code} 0"}, author="t")
        else:
            hub.catalog.patch("Brand", code, {"name": f"{code} {round_}"}, author="t")


async def write_rounds(hub: Hub) -> None:
    for round_ in range(ROUNDS):
        await asyncio.to_thread(write, hub, round_)
        await asyncio.sleep(0.05)


def test_a_broker_restart_loses_no_confirmed_message(hub: Hub, rabbit: Rabbit) -> None:
    hub.brokers.add(
        rabbit.config(eventTypes=["object.created", "object.updated"]), rabbit.credentials()
    )

    def delivered_all() -> bool:
        found = states(hub)
        return bool(found) and all(d.status.value == "delivered" for d in found)

    def some_failed() -> bool:
        return any(d.attempts >= 1 and d.status.value == "pending" for d in states(hub))

    async def scenario() -> tuple[int, list[Any]]:
        queue = await bind(rabbit)
        dispatcher = fast_dispatcher(hub)
        # Retried every 0.1 s for up to 30 s, and the circuit's pause (30 s after five
        # failures by default) kept short: the broker is away for a few seconds.
        dispatcher.config.retry = RetryPolicy(schedule=(timedelta(seconds=0.1),) * 300)
        dispatcher.config.circuit = CircuitPolicy(
            first_pause=timedelta(seconds=0.2), max_pause=timedelta(seconds=0.5)
        )
        stop = asyncio.Event()
        worker = asyncio.ensure_future(dispatcher.run(stop))
        writing = asyncio.ensure_future(write_rounds(hub))
        try:
            await until(lambda: len(states(hub)) >= 3 * len(CODES), "the first deliveries")
            # The broker goes away while changes keep coming and batches are on the wire.
            await asyncio.to_thread(rabbitmqctl, "stop_app")
            await until(some_failed, "a failed attempt while the broker is away")
            await asyncio.to_thread(rabbitmqctl, "start_app")
            await writing
            await until(delivered_all, "every change to be confirmed after the restart")
        finally:
            stop.set()
            writing.cancel()
            await worker
            await close_destinations(dispatcher)
            await asyncio.to_thread(ensure_running)
        count = await queued(rabbit, queue)
        return count, await take(rabbit, queue, count)

    count, got = asyncio.run(scenario())
    found = states(hub)
    assert len(found) == ROUNDS * len(CODES)
    assert all(d.status.value == "delivered" for d in found)
    retried = {d.event_id for d in found if d.attempts > 1}
    assert retried, "no attempt failed: the restart did not fall in the middle"
    received = [m.message_id for m in got]
    assert len(received) == count
    # Nothing confirmed is lost, nothing arrives that was not sent.
    assert set(received) == {d.event_id for d in found}
    duplicates = {i for i in received if received.count(i) > 1}
    assert duplicates <= retried
    # Per object, the versions as first received are in order.
    for code in CODES:
        versions: list[int] = []
        for message in got:
            data = orjson.loads(message.body)["data"]
            if data["businessKey"] == code and data["version"] not in versions:
                versions.append(data["version"])
        assert versions == list(range(1, ROUNDS + 1)), code
