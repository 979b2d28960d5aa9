"""RabbitMQ as a destination of the delivery pipeline (aio-pika).

Each delivery becomes one persistent message on the broker's exchange, and counts as delivered
only once the broker confirms it (publisher confirms): a nack, a return (no queue bound for its
routing key, when `mandatory`), a lost connection or no confirm by the deadline is a failed
attempt, retried on the pipeline's schedule, dead-lettered when that runs out, and replayable.
Messages carry the event id as message_id: a retry after a lost confirm may publish twice,
and consumers de-duplicate by it.

A worker keeps one connection per broker address and user, shared by every destination that
publishes there (ConnectionRegistry), each destination on its own channel. The connection is a
plain one, not aio-pika's robust kind: a robust connection reconnects in a loop of its own,
which a batch would wait on past its deadline. Here a dead connection is dropped and the next
batch makes a new one, within that batch's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from aio_pika.exceptions import (
    AMQPChannelError,
    AMQPConnectionError,
    AMQPError,
    ConnectionClosed,
    DeliveryError,
    ProbableAuthenticationError,
    PublishError,
)

from pimhub.brokers.routing import subject_of
from pimhub.brokers.spec import BrokerConfig, Credentials
from pimhub.events.deliveries import AttemptResult, Delivery

log = structlog.get_logger("pimhub.brokers")
# aiormq logs "error when creating transport: <AMQPConnectionError ...>" at level error before
# raising that same error to us (a wrong port, a broker away): the attempt's error already
# says it, so its own line is noise in the worker's log. Its other messages are kept.
logging.getLogger("aiormq.connection").setLevel(logging.CRITICAL)
# The least time a batch is given to publish, whatever the deadline: handing it back unsent
# would make it due again at once, and with a lease too short for this (a 2 s lease leaves
# 1 s) it would never be published and nothing would say so. Past the deadline a message is
# at worst published twice; consumers de-duplicate by message id.
MIN_SECONDS = 1.0
CONNECT_SECONDS = 10.0  # at most, and never past the batch's deadline
CONFIRMED = "confirmed by the broker"
# Failures after which the shared connection is not trusted again: the next batch makes a
# new one.
_CONNECTION_FAULTS = (AMQPConnectionError, ConnectionError, OSError, TimeoutError)
# What the network and the broker can cause (aio-pika raises RuntimeError for a connection
# that closed under it); anything else is a bug, logged with its traceback.
_EXPECTED = (AMQPError, ConnectionError, OSError, TimeoutError, RuntimeError)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where and as whom a connection is made: destinations with the same address share one."""

    host: str
    port: int
    vhost: str
    tls: bool
    username: str
    password: str

    @classmethod
    def of(cls, config: BrokerConfig, credentials: Credentials) -> BrokerAddress:
        return cls(
            config.host,
            config.port,
            config.vhost,
            config.tls,
            credentials.username,
            credentials.password,
        )

    def shown(self) -> str:
        scheme = "amqps" if self.tls else "amqp"
        return f"{scheme}://{self.host}:{self.port} (vhost {self.vhost!r})"


class BrokerRefused(AMQPConnectionError):
    """The broker answered the connection's opening with Connection.Close (a vhost that does
    not exist, a user without access to it, a login refused), in words."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


async def connect(address: BrokerAddress, timeout: float) -> AbstractConnection:
    """A new plain connection (the caller bounds the wait: `timeout` is passed on). The
    broker's refusal is raised as BrokerRefused naming its reply code and text."""
    try:
        return await aio_pika.connect(
            host=address.host,
            port=address.port,
            login=address.username,
            password=address.password,
            virtualhost=address.vhost,
            ssl=address.tls,
            ssl_context=ssl.create_default_context() if address.tls else None,
            timeout=timeout,
            client_properties={"connection_name": "pimhub"},
        )
    except AMQPError as exc:
        refused = refusal_of(exc, address.vhost)
        if refused is None:
            raise
        raise BrokerRefused(refused) from exc


def refusal_of(exc: BaseException, vhost: str) -> str | None:
    """The broker's Connection.Close reply in words, when `exc` is one (else None). aiormq
    raises an InvalidFrameError quoting only the frame's repr ("Expected one of
    ['Connection.OpenOk'], got <Connection.Close object at 0x...>") when the broker refuses
    the vhost: the frame itself is read from where aiormq held it."""
    code: int | None = None
    text = ""
    if isinstance(exc, ProbableAuthenticationError):
        code, text = 403, " ".join(str(a) for a in exc.args)
    elif isinstance(exc, ConnectionClosed) and len(exc.args) >= 2:
        code, text = exc.args[0], str(exc.args[1])
    elif "Connection.Close" in str(exc):
        frame = _close_frame(exc)
        if frame is None:
            return (
                f"RabbitMQ refused the connection while opening vhost {vhost!r} (it may not "
                "exist, or the user may have no access to it)"
            )
        code, text = frame.reply_code, str(frame.reply_text)
    else:
        return None
    name, _, words = text.partition(" - ")
    if not words:  # no "NAME - text" form: the text as given
        name, words = "", text
    return f"RabbitMQ refused the connection: {words} ({code}{' ' + name if name else ''})"


def _close_frame(exc: BaseException) -> Any:
    """The Connection.Close frame that a traceback's frames held (a local named `frame`)."""
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame.f_locals.get("frame")
        if type(frame).__name__ == "Close" and hasattr(frame, "reply_code"):
            return frame
        tb = tb.tb_next
    return None


class SharedConnection:
    """One connection of this worker to one broker address, used by every destination there;
    made again on first use after it died (a broker restart)."""

    def __init__(self, address: BrokerAddress, loop: asyncio.AbstractEventLoop) -> None:
        self.address = address
        self.loop = loop
        self.users = 0
        self.connects = 0  # connections made so far (for tests and logs)
        self._connection: AbstractConnection | None = None
        self._lock = asyncio.Lock()

    async def get(self, timeout: float) -> AbstractConnection:
        async with self._lock:
            current = self._connection
            if current is not None and alive(current):
                return current
            self._connection = None
            if current is not None:
                await _quietly(current.close())
            self._connection = await connect(self.address, min(timeout, CONNECT_SECONDS))
            self.connects += 1
            return self._connection

    async def discard(self, connection: AbstractConnection) -> None:
        """Drops a connection that failed, so that the next user makes a new one. Under the
        lock: a `get` making the connection anew meanwhile must not see it dropped halfway."""
        async with self._lock:
            if self._connection is connection:
                self._connection = None
        await _quietly(connection.close())

    async def close(self) -> None:
        current, self._connection = self._connection, None
        if current is not None:
            await _quietly(current.close())


class ConnectionRegistry:
    """The worker process's shared connections, counted by their users. Kept per event loop:
    a connection belongs to the loop it was made on."""

    def __init__(self) -> None:
        self._shared: dict[tuple[int, BrokerAddress], SharedConnection] = {}

    def acquire(self, address: BrokerAddress) -> SharedConnection:
        loop = asyncio.get_running_loop()
        # Loops that ended without their destinations being closed (a test's asyncio.run):
        # their connections died with them.
        for key in [k for k, s in self._shared.items() if s.loop.is_closed()]:
            del self._shared[key]
        key = (id(loop), address)
        shared = self._shared.get(key)
        if shared is None or shared.loop is not loop:
            shared = self._shared[key] = SharedConnection(address, loop)
        shared.users += 1
        return shared

    async def release(self, shared: SharedConnection) -> None:
        shared.users -= 1
        if shared.users > 0:
            return
        key = (id(shared.loop), shared.address)
        if self._shared.get(key) is shared:
            del self._shared[key]
        await shared.close()

    def shared(self) -> list[SharedConnection]:
        """The connections in use (for tests and diagnostics)."""
        return list(self._shared.values())


REGISTRY = ConnectionRegistry()


class RabbitDestination:
    """Publishes a broker's deliveries to its exchange (events.ports.Destination)."""

    def __init__(
        self,
        config: BrokerConfig,
        credentials: Credentials,
        clock: Callable[[], datetime],
        registry: ConnectionRegistry = REGISTRY,
    ) -> None:
        self.config = config
        self.address = BrokerAddress.of(config, credentials)
        self.clock = clock
        self.registry = registry
        self._shared: SharedConnection | None = None
        self._connection: AbstractConnection | None = None  # the one the channel is on
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def deliver(
        self, deliveries: Sequence[Delivery], deadline: datetime
    ) -> list[AttemptResult]:
        started = self.clock()
        deadline = max(deadline, started + timedelta(seconds=MIN_SECONDS))
        remaining = (deadline - started).total_seconds()
        clock = time.perf_counter()
        unsendable = [d for d in deliveries if d.problem]
        results = [_failed(d, started, 0.0, d.problem or "", receiver=False) for d in unsendable]
        wanted = [d for d in deliveries if not d.problem]
        if not wanted:
            return results
        try:
            exchange = await asyncio.wait_for(self._ready(remaining), timeout=remaining)
        except Exception as exc:
            error = f"cannot publish to {self.address.shown()}: {described(exc)}"
            if not isinstance(exc, _EXPECTED):
                log.exception("broker.unexpected_error", broker=self.config.name)
            # Only a channel's own error (no such exchange, another type) leaves the
            # connection usable; anything else may be a connection that died unnoticed.
            await self._forget(
                connection=not isinstance(exc, AMQPChannelError | TimeoutError)
                or self._connection_dead()
            )
            elapsed = (time.perf_counter() - clock) * 1000
            return results + [_failed(d, started, elapsed, error) for d in wanted]
        left = max((deadline - self.clock()).total_seconds(), 0.1)
        outcomes = await asyncio.gather(
            *(self._publish(exchange, d, left, started) for d in wanted)
        )
        faults = [fault for _, fault in outcomes if fault is not None]
        if faults:
            await self._forget(connection=self._connection_at_fault(faults))
        return results + [result for result, _ in outcomes]

    async def _publish(
        self, exchange: AbstractExchange, delivery: Delivery, timeout: float, started: datetime
    ) -> tuple[AttemptResult, BaseException | None]:
        """One delivery's attempt, and the fault that makes the channel unusable (or None)."""
        subject = subject_of(delivery)
        key = subject.routing_key(self.config.routing_key_prefix)
        message = aio_pika.Message(
            delivery.body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=delivery.event_id,
            timestamp=self.clock(),
            type=subject.event_type,
            app_id="pimhub",
            headers=dict(subject.headers()),
        )
        clock = time.perf_counter()
        try:
            await asyncio.wait_for(
                exchange.publish(message, key, mandatory=self.config.mandatory), timeout=timeout
            )
        except PublishError:
            error = (
                f"no queue is bound for routing key {key!r} on exchange "
                f"{self.config.exchange!r}: the broker returned the message"
            )
            return _failed(delivery, started, _ms(clock), error), None
        except DeliveryError as exc:
            error = f"the broker refused the message (nack): {described(exc)}"
            return _failed(delivery, started, _ms(clock), error), None
        except TimeoutError as exc:
            error = f"no confirm from the broker within {timeout:.1f} s"
            return _failed(delivery, started, _ms(clock), error), exc
        except Exception as exc:
            if not isinstance(exc, _EXPECTED):
                log.exception("broker.publish_failed", broker=self.config.name)
            error = f"publishing to {self.address.shown()} failed: {described(exc)}"
            return _failed(delivery, started, _ms(clock), error), exc
        excerpt = f"{CONFIRMED} (routing key {key})"
        return AttemptResult(delivery, started, _ms(clock), 200, excerpt, None), None

    async def _ready(self, remaining: float) -> AbstractExchange:
        """The exchange on an open channel: reused while it stays open, else made again (on
        the shared connection, which is itself made again when it died)."""
        channel = self._channel
        connection = self._connection
        if (
            self._exchange is not None
            and channel is not None
            and not channel.is_closed
            and connection is not None
            and alive(connection)
        ):
            return self._exchange
        await self._forget(connection=False)
        if self._shared is None:
            self._shared = self.registry.acquire(self.address)
        self._connection = connection = await self._shared.get(remaining)
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self._channel = channel
        self._exchange = await declared_exchange(channel, self.config)
        return self._exchange

    def _connection_at_fault(self, faults: Sequence[BaseException]) -> bool:
        """Whether these faults condemn the shared connection. A timeout (no confirm in time)
        says only that this channel is slow or stuck: the connection is shared by other
        brokers at the address, whose messages in flight would fail (and be published again),
        so it is dropped only when it is really dead."""
        if any(
            isinstance(f, _CONNECTION_FAULTS) and not isinstance(f, TimeoutError) for f in faults
        ):
            return True
        return self._connection_dead()

    def _connection_dead(self) -> bool:
        return self._connection is not None and not alive(self._connection)

    async def _forget(self, *, connection: bool) -> None:
        """Closes the channel (and drops the shared connection when it is the fault)."""
        channel, self._channel, self._exchange = self._channel, None, None
        dead, self._connection = self._connection, None
        if channel is not None and not channel.is_closed:
            await _quietly(channel.close())
        if connection and self._shared is not None and dead is not None:
            await self._shared.discard(dead)

    async def aclose(self) -> None:
        await self._forget(connection=False)
        shared, self._shared = self._shared, None
        if shared is not None:
            await self.registry.release(shared)


async def declared_exchange(channel: AbstractChannel, config: BrokerConfig) -> AbstractExchange:
    """The broker's exchange: declared durable (`declare`), else checked to exist."""
    if config.declare:
        return await channel.declare_exchange(config.exchange, config.exchange_type, durable=True)
    return await channel.get_exchange(config.exchange, ensure=True)


def alive(connection: AbstractConnection) -> bool:
    """A plain connection closed by the broker (a restart) is not marked closed: it only
    stops being connected."""
    return not connection.is_closed and connection.connected.is_set()


def described(exc: BaseException) -> str:
    """An AMQP error in words: the broker's reply text where it gave one."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, BrokerRefused):
        return exc.text
    args = [a for a in getattr(exc, "args", ()) if a is not None]
    if isinstance(exc, AMQPError) and args:
        text = " ".join(str(a) for a in args)
        return f"{type(exc).__name__}: {text}"
    return str(exc) or type(exc).__name__


def _failed(
    delivery: Delivery, at: datetime, ms: float, error: str, *, receiver: bool = True
) -> AttemptResult:
    return AttemptResult(delivery, at, ms, None, None, error, receiver_fault=receiver)


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


async def _quietly(closing: Any) -> None:
    """Closes something that may already be broken; its error is of no use any more."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(closing, timeout=5.0)
