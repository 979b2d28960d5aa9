"""JSON logs with a request id per request, as a pure ASGI middleware (no body buffering)."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.tracebacks import ExceptionDictTransformer

log = structlog.get_logger("pimhub.http")

# Where RequestLogMiddleware writes its JSON line itself, bypassing structlog's processor
# chain (a third of the cost of a product GET's log line); None when it goes through structlog.
_request_lines: TickBufferedLines | None = None


_EXCEPTION_RENDERER = structlog.processors.ExceptionRenderer(
    ExceptionDictTransformer(show_locals=False, use_rich=False)
)


def configure_logging(
    level: str = "INFO", json: bool = True, stream: BinaryIO | None = None
) -> None:
    global _request_lines
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json:
        # `exc_info` (log.exception, exc_info=True or an exception) becomes `exception`: its
        # type, message and frames, chained causes included. Without this processor the
        # JSON line carried only `"exc_info": true`. No locals: they may hold keys and SQL.
        processors.append(_EXCEPTION_RENDERER)
    # JSON lines are rendered by orjson straight to bytes: one log line per request is on
    # the hot path, and the stdlib json encoder was a visible share of a product GET.
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=orjson.dumps)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    lines = TickBufferedLines(stream or sys.stderr.buffer) if json else None
    threshold = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=lines or structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    _request_lines = lines if lines is not None and threshold <= logging.INFO else None


class TickBufferedLines:
    """A structlog logger (and its own factory) for JSON lines. Lines logged on an event loop
    are written together, in one write and flush, when the loop finishes its current
    iteration; under load that turns one system call per request into one per batch, and
    when idle a line waits for no more than the rest of the tick. Elsewhere (threads without
    a loop, the CLI) lines are written at once."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._scheduled = False
        self._lock = threading.Lock()
        atexit.register(self.flush)

    def __call__(self, *_args: Any) -> TickBufferedLines:
        return self

    def msg(self, message: bytes) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            with self._lock:
                self._stream.write(message + b"\n")
                self._stream.flush()
            return
        with self._lock:
            self._pending.append(message)
            if self._scheduled:
                return
            self._scheduled = True
        loop.call_soon(self.flush)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg

    def flush(self) -> None:
        with self._lock:
            lines, self._pending, self._scheduled = self._pending, [], False
            if lines:
                self._stream.write(b"\n".join(lines) + b"\n")
                self._stream.flush()


class RequestLogMiddleware:
    """Gives each request an id (kept from X-Request-ID when sent), echoes it in the response
    and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or os.urandom(16).hex()
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        # bind/reset rather than the bound_contextvars() context manager: same effect, less
        # work on every request.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # The server's own traceback line is plain text without the request id; this one
            # is JSON, carries the id the client got and the exception, so the two connect.
            # A fresh logger: the module's is cached at first use, and this path is rare.
            failed = structlog.get_logger("pimhub.http")
            failed.exception("request.failed", method=scope["method"], path=scope["path"])
            raise
        finally:
            ms = round((time.perf_counter() - start) * 1000, 2)
            if _request_lines is not None:
                _request_lines.msg(
                    orjson.dumps(
                        {
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status,
                            "ms": ms,
                            "event": "request",
                            "request_id": request_id,
                            "level": _level(status),
                            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                        }
                    )
                )
            else:
                log.info(
                    "request", method=scope["method"], path=scope["path"], status=status, ms=ms
                )
            structlog.contextvars.reset_contextvars(**tokens)


def _level(status: int) -> str:
    """A request line's level: error for a failure of the hub; a 503 is a planned refusal
    with Retry-After (a disabled inbound source, the database busy), which the client
    retries, so it is a warning, not an alert."""
    if status == 503:
        return "warning"
    return "error" if status >= 500 else "info"


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")[:64]
            return text if text.isprintable() else None
    return None
