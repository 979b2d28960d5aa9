"""RabbitMQ connection faults against the real broker: a vhost that does not exist is named
in the broker's words (not aiormq's "Expected one of ['Connection.OpenOk']"), in the delivery
log and in `test`; a confirm timeout on one destination leaves the connection it shares with
other brokers at the address; dropping a connection waits for one being made."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pimhub.bootstrap import Hub
from pimhub.brokers.rabbitmq import ConnectionRegistry, RabbitDestination, SharedConnection
from pimhub.brokers.spec import Credentials, parse_config

from .conftest import Rabbit, bind, queued
from .test_destination import delivery

NO_VHOST = "pimhub-no-such-vhost"


def elsewhere(rabbit: Rabbit) -> str:
    parts = urlsplit(rabbit.url)
    return f"{parts.scheme}://{parts.netloc}/{NO_VHOST}"


def test_a_wrong_vhost_is_named_in_the_delivery_log(rabbit: Rabbit) -> None:
    config = parse_config({**rabbit.config(), "url": elsewhere(rabbit)})
    credentials = Credentials(rabbit.username, rabbit.password)

    async def scenario() -> list[str | None]:
        destination = RabbitDestination(config, credentials, lambda: datetime.now(UTC))
        try:
            deadline = datetime.now(UTC) + timedelta(seconds=10)
            return [r.error for r in await destination.deliver([delivery(1)], deadline)]
        finally:
            await destination.aclose()

    [error] = asyncio.run(scenario())
    assert error is not None
    assert f"RabbitMQ refused the connection: vhost {NO_VHOST} not found (530 NOT_ALLOWED)" in error
    assert "Connection.OpenOk" not in error and "object at 0x" not in error


def test_a_wrong_vhost_is_named_by_the_broker_test(hub: Hub, rabbit: Rabbit) -> None:
    hub.brokers.add({**rabbit.config(), "url": elsewhere(rabbit)}, rabbit.credentials())
    found = asyncio.run(hub.brokers.test("mq"))
    assert found.error is not None
    assert (
        found.error
        == f"RabbitMQ refused the connection: vhost {NO_VHOST} not found (530 NOT_ALLOWED)"
    )


def test_wrong_credentials_are_named_by_the_broker(rabbit: Rabbit) -> None:
    config = parse_config(rabbit.config())

    async def scenario() -> str | None:
        destination = RabbitDestination(
            config, Credentials(rabbit.username, "wrong-pw"), lambda: datetime.now(UTC)
        )
        try:
            deadline = datetime.now(UTC) + timedelta(seconds=10)
            [result] = await destination.deliver([delivery(1)], deadline)
            return result.error
        finally:
            await destination.aclose()

    error = asyncio.run(scenario())
    assert error is not None and "(403 ACCESS_REFUSED)" in error


class _Stuck:
    """An exchange whose publish never gets its confirm."""

    async def publish(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.Event().wait()


def test_a_confirm_timeout_keeps_the_connection_shared_with_other_brokers(
    rabbit: Rabbit,
) -> None:
    registry = ConnectionRegistry()
    config = parse_config(rabbit.config())
    credentials = Credentials(rabbit.username, rabbit.password)

    async def scenario() -> tuple[str | None, list[bool], int, int]:
        queue = await bind(rabbit)
        clock = lambda: datetime.now(UTC)  # noqa: E731
        slow = RabbitDestination(config, credentials, clock, registry)
        other = RabbitDestination(config, credentials, clock, registry)
        try:
            deadline = datetime.now(UTC) + timedelta(seconds=20)
            await slow.deliver([delivery(1)], deadline)
            await other.deliver([delivery(2)], deadline)
            [shared] = registry.shared()
            slow._exchange = _Stuck()  # type: ignore[assignment]
            # The least time a batch gets (MIN_SECONDS) passes without a confirm.
            [stuck] = await slow.deliver([delivery(3)], datetime.now(UTC))
            after = await other.deliver([delivery(4)], deadline)
            again = await slow.deliver([delivery(5)], deadline)
            connects = shared.connects
        finally:
            await slow.aclose()
            await other.aclose()
        return stuck.error, [r.ok for r in after + again], connects, await queued(rabbit, queue)

    error, oks, connects, count = asyncio.run(scenario())
    assert error is not None and "no confirm from the broker" in error
    assert oks == [True, True]
    assert connects == 1  # never dropped: the other broker's connection stayed
    assert count == 4


def test_discard_waits_for_a_connection_being_made(rabbit: Rabbit) -> None:
    config = parse_config(rabbit.config())
    credentials = Credentials(rabbit.username, rabbit.password)

    async def scenario() -> tuple[bool, bool]:
        destination = RabbitDestination(config, credentials, lambda: datetime.now(UTC))
        address = destination.address
        shared = SharedConnection(address, asyncio.get_running_loop())
        first = await shared.get(10)
        await shared._lock.acquire()  # as a `get` making a connection holds it
        dropping = asyncio.create_task(shared.discard(first))
        for _ in range(5):
            await asyncio.sleep(0)
        waited = not dropping.done() and shared._connection is first
        shared._lock.release()
        await dropping
        dropped = shared._connection is None
        await shared.close()
        return waited, dropped

    assert asyncio.run(scenario()) == (True, True)
