"""Helpers of the inbound end-to-end tests: real `pimhub serve` and `pimhub worker` processes on
the test's database (the `hub` fixture's, so both backends), which the tests kill with SIGKILL
and start again; signing as Mage-OS and Standard Webhooks senders do; a RabbitMQ consumer."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import signal
import subprocess
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook

from tests.e2e.processes import PIMHUB, free_port
from tests.events.test_crash import child_env

T = TypeVar("T")


def hub_env(engine: Engine, workdir: Path) -> dict[str, str]:
    """What `pimhub serve` and `pimhub worker` need to share the test's database; short leases
    and retries so a killed worker's deliveries are taken up again within seconds."""
    return {
        **child_env(engine),
        "PIMHUB_DATA_DIR": str(workdir / "data"),
        "PIMHUB_WEBHOOK_RETRY_SCHEDULE": "[0.2, 0.5, 1, 1, 2, 2]",
    }


class HubProcess:
    """One `pimhub <command>` process that can be started, killed (SIGKILL) and started again;
    every run's output is appended to workdir/<name>.log."""

    def __init__(self, command: list[str], env: dict[str, str], workdir: Path, name: str) -> None:
        self.command = command
        self.env = env
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*PIMHUB, *self.command],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        assert self.proc.returncode == -signal.SIGKILL, self.log()

    def stop(self) -> int:
        """SIGTERM; the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"{self.command} did not stop on SIGTERM: {self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


class Server(HubProcess):
    """`pimhub serve` on one loopback port, kept across restarts (so clients keep its URL)."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__(["serve", "--port", str(self.port)], env, workdir, "server")

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 90  # a busy machine (parallel test runs) starts slowly
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"server exited: {self.log()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"server did not start: {self.log()}")


def worker(env: dict[str, str], workdir: Path, name: str = "worker") -> HubProcess:
    return HubProcess(["worker"], env, workdir, name)


def until(
    condition: Callable[[], bool],
    what: str,
    seconds: float = 30,
    explain: Callable[[], str] = lambda: "",
) -> None:
    """Waits for `condition`; fails naming `what` (and `explain()`) when it never holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what} {explain()}")


# -- senders ---------------------------------------------------------------------------------


def mageos_headers(body: bytes, token: str) -> dict[str, str]:
    """What Mage-OS async events send: the hex HMAC-SHA256 of the body with the shared
    verification token."""
    digest = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/cloudevents+json", "x-magento-signature": digest}


def standard_webhook_headers(secret: str, message_id: str, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers for `body`, signed now."""
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(message_id, now, body.decode())
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def verified(secret: str, headers: dict[str, str], body: bytes) -> Any:
    """The body of a delivery whose Standard Webhooks signature is valid; raises otherwise."""
    return Webhook(secret).verify(body, headers)


# -- RabbitMQ ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    routing_key: str
    persistent: bool
    body: Any


class AmqpQueue:
    """A queue of the test's own, bound to a topic exchange with routing patterns; what arrived
    is read with basic.get (each call its own short connection, so no thread or loop lingers)."""

    def __init__(self, url: str, exchange: str, queue: str, patterns: list[str]) -> None:
        self.url = url
        self.exchange = exchange
        self.queue = queue
        self.patterns = patterns
        self.received: list[Published] = []

    def declare(self) -> None:
        _with_broker(self._declare)

    async def _declare(self) -> None:
        import aio_pika

        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(self.queue, durable=True)
            for pattern in self.patterns:
                await queue.bind(exchange, pattern)

    def drain(self) -> list[Published]:
        """Everything received so far (read now and before)."""
        self.received += _with_broker(self._drain)
        return self.received

    async def _drain(self) -> list[Published]:
        import aio_pika

        got = []
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(self.queue)
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                persistent = message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
                body = orjson.loads(message.body)
                got.append(Published(message.routing_key or "", persistent, body))
        return got

    def delete(self) -> None:
        _with_broker(self._delete)

    async def _delete(self) -> None:
        import aio_pika

        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(self.queue)


def _with_broker(operation: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`operation` run, again while RabbitMQ refuses connections for a while (other test
    sessions on this machine restart it to test outages; the queue is durable and its
    messages persistent, so nothing is lost meanwhile)."""
    from aiormq.exceptions import AMQPConnectionError

    deadline = time.monotonic() + 60
    while True:
        try:
            return asyncio.run(operation())
        except (AMQPConnectionError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
