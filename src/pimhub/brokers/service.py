"""Broker destinations: settings, the pipeline row they deliver through, and the destination
the dispatcher builds from it. REST and the CLI both use this."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import aio_pika
import structlog

from pimhub.access.audit import Auditor
from pimhub.brokers.errors import BrokerExists, BrokerNotFound, InvalidBroker, StaleBroker
from pimhub.brokers.rabbitmq import (
    BrokerAddress,
    RabbitDestination,
    connect,
    declared_exchange,
    described,
)
from pimhub.brokers.records import BrokerRepository, StoredBroker
from pimhub.brokers.spec import (
    KIND,
    NAME_PATTERN,
    BrokerConfig,
    Credentials,
    parse_config,
    parse_credentials,
)
from pimhub.catalog.errors import FieldError, WriteConflict
from pimhub.catalog.retry import WRITE_ATTEMPTS, retrying
from pimhub.events.destinations import blocked_address
from pimhub.events.endpoints import WebhookEndpoint
from pimhub.events.ports import Destination, Sealer

log = structlog.get_logger("pimhub.brokers")
TEST_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class BrokerTest:
    """What `test` found: each step it passed, and the first failure (or None)."""

    broker: str
    steps: list[str] = field(default_factory=list)
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "broker": self.broker,
            "ok": self.ok,
            "steps": self.steps,
            "error": self.error,
            "durationMs": round(self.duration_ms, 2),
        }


class BrokerService:
    def __init__(
        self,
        repository: BrokerRepository,
        sealer: Sealer,
        *,
        clock: Callable[[], datetime],
        allow_private: bool = False,
        audit: Auditor | None = None,
    ) -> None:
        self.repository = repository
        self.sealer = sealer
        self.clock = clock
        self.allow_private = allow_private
        self.audit = audit  # records each change after it committed

    # -- settings --------------------------------------------------------------------------

    def check(self, body: Any) -> BrokerConfig:
        """The configuration, with every problem by key; a broker inside the hub's network is
        refused unless private destinations are allowed (as for webhooks and connectors)."""
        config = parse_config(body)
        if not self.allow_private and (reason := blocked_address(config.url)):
            problem = FieldError("url", f"destination refused: {reason}", "destination")
            raise InvalidBroker("the broker configuration is not valid", [problem])
        return config

    def add(self, body: Any, credentials: Any) -> StoredBroker:
        config = self.check(body)
        sealed = self.sealer.encrypt(parse_credentials(credentials).to_json())
        # Two adds of one name at once: the loser runs again and finds the winner's row.
        stored = retrying(
            lambda: self.repository.add(
                config.name, KIND, config.to_dict(), config.subscription, sealed, self.clock()
            )
        )
        if stored is None:
            raise BrokerExists(f"a broker named '{config.name}' exists")
        if self.audit is not None:
            self.audit.record_change("broker", "created", config.name, None, stored)
        return stored

    def update(
        self, name: str, body: Any, credentials: Any = None, *, expected: int | None = None
    ) -> StoredBroker:
        """Replaces the settings (the name stays; `enabled` stays unless given); new
        credentials when given. With `expected`, only while the version is still that;
        without, never a conflict: a broker removed (and perhaps added again) between the
        read and the write is read again, and the change applies to whatever row exists now
        (BrokerNotFound when none does)."""
        for _ in range(WRITE_ATTEMPTS):
            current = self.get(name)
            if self._save(name, current, body, credentials, expected):
                saved = self.get(name)
                if self.audit is not None:  # the credentials never, only whether replaced
                    self.audit.record_change(
                        "broker",
                        "updated",
                        name,
                        current,
                        saved,
                        credentials_replaced=credentials is not None,
                    )
                return saved
            if expected is not None:
                found = self.get(name)  # gone meanwhile: 404
                raise StaleBroker(
                    f"broker '{name}' is at version {found.version}, not {expected}: read it again",
                    found.version,
                )
        raise WriteConflict(
            f"broker '{shown(name)}' was removed and added again while it was being "
            "changed; nothing was saved, try again"
        )

    def _save(
        self,
        name: str,
        current: StoredBroker,
        body: Any,
        credentials: Any,
        expected: int | None,
    ) -> bool:
        """One compare-and-set of the settings built on `current`; False when the row (or,
        with `expected`, that version of it) is no longer there."""
        # Enabling it (again) is a fresh start, as for a webhook endpoint: its failure record
        # and a circuit's pause go.
        asked = isinstance(body, Mapping) and body.get("enabled") is True
        if isinstance(body, Mapping):
            body = {"enabled": current.enabled, **body, "name": name}
        config = self.check(body)
        sealed = None
        if credentials is not None:
            sealed = self.sealer.encrypt(parse_credentials(credentials).to_json())
        reset = asked or (config.subscription.enabled and not current.enabled)
        return retrying(
            lambda: self.repository.save(
                name,
                config.to_dict(),
                config.subscription,
                self.clock(),
                sealed,
                expected=expected,
                reset_health=reset,
            )
        )

    def get(self, name: str) -> StoredBroker:
        stored = self.repository.get(name) if NAME_PATTERN.fullmatch(name) else None
        if stored is None:
            raise BrokerNotFound(f"no broker '{shown(name)}'")
        return stored

    def all(self) -> list[StoredBroker]:
        return self.repository.all()

    def remove(self, name: str) -> None:
        # A remove that lost a race with a change or an add of the same name runs again: it
        # answers "removed" or "not found", never a conflict.
        before = self.repository.get(name) if NAME_PATTERN.fullmatch(name) else None
        if not NAME_PATTERN.fullmatch(name) or not retrying(lambda: self.repository.remove(name)):
            raise BrokerNotFound(f"no broker '{shown(name)}'")
        if self.audit is not None:
            self.audit.record_change("broker", "deleted", name, before, None)

    def config(self, name: str) -> BrokerConfig:
        return parse_config(self.get(name).config)

    def credentials(self, name: str) -> Credentials:
        sealed = self.repository.sealed_secret(name)
        if sealed is None:
            raise BrokerNotFound(f"no broker '{name}'")
        return Credentials.from_json(self.sealer.decrypt(sealed))

    # -- the pipeline ----------------------------------------------------------------------

    def destination(self, endpoint: WebhookEndpoint, secret: str) -> Destination | None:
        """The pipeline destination of a broker's row (the dispatcher's factory). Its
        connection is made on its first batch and shared with the worker's other destinations
        on the same broker as the same user."""
        stored = self.repository.by_endpoint(endpoint.id)
        if stored is None:
            log.error("broker.missing", endpoint=endpoint.endpoint_id)
            return None
        config = parse_config(stored.config)
        # The row's own spec (its enabled flag, as the circuit left it) is what fans out.
        config = replace(config, subscription=endpoint.spec)
        return RabbitDestination(config, Credentials.from_json(secret), self.clock)

    async def test(self, name: str) -> BrokerTest:
        """Connects as the broker's user, declares its exchange (or checks that it exists,
        when it is not declared), then sends a ping through the broker's default exchange to
        a temporary queue of its own, with a publisher confirm, and reads it back: nothing
        reaches the broker's exchange or its consumers. Reports each step and the first
        failure."""
        config, credentials, refused = await asyncio.to_thread(self._test_inputs, name)
        started = time.perf_counter()
        steps: list[str] = []
        if refused:
            return BrokerTest(name, steps, f"destination refused: {refused}")
        try:
            await asyncio.wait_for(_probe(config, credentials, steps), timeout=TEST_SECONDS)
        except Exception as exc:
            error = described(exc)
            return BrokerTest(name, steps, error, (time.perf_counter() - started) * 1000)
        return BrokerTest(name, steps, None, (time.perf_counter() - started) * 1000)

    def _test_inputs(self, name: str) -> tuple[BrokerConfig, Credentials, str | None]:
        """The blocking part of a test: database reads and the address check (DNS)."""
        config = self.config(name)
        refused = None if self.allow_private else blocked_address(config.url)
        return config, self.credentials(name), refused


def shown(name: str) -> str:
    """A name as an error message may quote it: cut short, control characters escaped."""
    cut = name[:40] + ("..." if len(name) > 40 else "")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in cut)


async def _probe(config: BrokerConfig, credentials: Credentials, steps: list[str]) -> None:
    address = BrokerAddress.of(config, credentials)
    connection = await connect(address, TEST_SECONDS)
    try:
        steps.append(f"connected to {address.shown()} as {credentials.username!r}")
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await declared_exchange(channel, config)
        verb = "declared" if config.declare else "found"
        steps.append(f"{verb} {config.exchange_type} exchange {config.exchange!r}")
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        ping = aio_pika.Message(b"{}", message_id="ping_" + os.urandom(8).hex())
        await channel.default_exchange.publish(ping, queue.name, mandatory=True)
        got = await queue.get(no_ack=True, fail=False, timeout=TEST_SECONDS)
        if got is None or got.message_id != ping.message_id:
            raise InvalidBroker("the broker confirmed a ping but did not hand it back")
        steps.append("published a confirmed ping to a temporary queue and read it back")
    finally:
        await connection.close()
