"""A real HTTP receiver for webhook tests: records what arrives, answers what it is told."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class Received:
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.body)
        return data


Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Receiver:
    """Answers `answer(received)` (a status, (status, headers) or (status, headers, body));
    200 by default. Only 2xx answers are kept in `delivered`; every request is in `requests`."""

    answer: Callable[[Received], int | tuple[int, dict[str, str]] | Answer] = lambda r: 200
    requests: list[Received] = field(default_factory=list)
    delivered: list[Received] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(
            request.headers.get("webhook-id", ""),
            request.headers.get("webhook-timestamp", ""),
            request.headers.get("webhook-signature", ""),
            await request.read(),
        )
        self.requests.append(received)
        answer = self.answer(received)
        if not isinstance(answer, tuple):
            answer = (answer, {})
        status, headers = answer[0], answer[1]
        if 200 <= status < 300:
            self.delivered.append(received)
        body = answer[2] if len(answer) == 3 else (b"ok" if status < 300 else b"no")
        return web.Response(status=status, headers=headers, body=body)

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def ids(self) -> list[str]:
        return [r.webhook_id for r in self.delivered]


@contextmanager
def receiver_in_thread(receiver: Receiver) -> Iterator[Receiver]:
    """Runs the receiver on its own loop in a thread, for tests whose worker is another
    process."""
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(receiver.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield receiver
    finally:
        asyncio.run_coroutine_threadsafe(receiver.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
