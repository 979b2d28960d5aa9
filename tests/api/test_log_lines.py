"""The JSON log writer batches lines per event-loop tick and never drops or splits one."""

from __future__ import annotations

import asyncio
import io

import orjson
import structlog
from fastapi.testclient import TestClient

from pimhub.api import observability
from pimhub.api.app import create_app
from pimhub.api.observability import TickBufferedLines, configure_logging
from pimhub.bootstrap import Hub


class CountingStream(io.BytesIO):
    writes = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(data)


def test_lines_logged_in_one_tick_are_written_together_at_its_end() -> None:
    stream = CountingStream()
    lines = TickBufferedLines(stream)

    async def scenario() -> None:
        for i in range(5):
            lines.info(orjson.dumps({"n": i}))
        assert stream.getvalue() == b""  # still this tick
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert stream.writes == 1
    assert [orjson.loads(x)["n"] for x in stream.getvalue().splitlines()] == [0, 1, 2, 3, 4]


def test_lines_outside_a_loop_are_written_at_once() -> None:
    stream = CountingStream()
    lines = TickBufferedLines(stream)
    lines.info(b'{"a":1}')
    lines.error(b'{"b":2}')
    assert stream.getvalue() == b'{"a":1}\n{"b":2}\n'


def test_flush_writes_what_is_pending() -> None:
    stream = CountingStream()
    lines = TickBufferedLines(stream)

    async def scenario() -> None:
        lines.info(b'{"late":true}')
        lines.flush()  # what atexit does if the loop never gets round to it
        assert stream.getvalue() == b'{"late":true}\n'

    asyncio.run(scenario())
    assert stream.writes == 1


def test_request_lines_look_like_every_other_log_line(sample: Hub) -> None:
    stream = io.BytesIO()
    configure_logging("INFO", json=True, stream=stream)
    try:
        client = TestClient(create_app(sample))
        client.get("/healthz", headers={"X-Request-ID": "rid-7"})
        with structlog.contextvars.bound_contextvars(request_id="rid-8"):
            structlog.get_logger("t").info("other")
        assert observability._request_lines is not None
        observability._request_lines.flush()
        lines = [orjson.loads(x) for x in stream.getvalue().splitlines()]
        request = next(x for x in lines if x["event"] == "request")
        other = next(x for x in lines if x["event"] == "other")
        assert set(other) <= set(request)
        assert (request["request_id"], request["status"], request["path"]) == (
            "rid-7",
            200,
            "/healthz",
        )
        assert request["timestamp"].endswith("Z") and request["level"] == "info"
    finally:
        configure_logging("INFO", json=True)


def test_no_request_lines_above_info(sample: Hub) -> None:
    stream = io.BytesIO()
    configure_logging("WARNING", json=True, stream=stream)
    try:
        assert observability._request_lines is None
        TestClient(create_app(sample)).get("/healthz")
        assert b'"request"' not in stream.getvalue()
    finally:
        configure_logging("INFO", json=True)


def test_an_unexpected_failure_is_one_json_line_with_the_request_id(sample: Hub) -> None:
    """A 500's traceback is logged as JSON with the id the client got, and its request line
    says error: a log collector links the two."""
    stream = io.BytesIO()
    configure_logging("INFO", json=True, stream=stream)
    try:
        app = create_app(sample)

        @app.get("/boom")
        def boom() -> None:
            raise RuntimeError("kaput")

        client = TestClient(app, raise_server_exceptions=False)
        answer = client.get("/boom", headers={"X-Request-ID": "rid-500"})
        assert answer.status_code == 500 and answer.json()["code"] == "internal-error"
        assert observability._request_lines is not None
        observability._request_lines.flush()
        lines = [orjson.loads(x) for x in stream.getvalue().splitlines()]
        failed = next(x for x in lines if x["event"] == "request.failed")
        assert failed["request_id"] == "rid-500" and failed["level"] == "error"
        assert failed["path"] == "/boom"
        assert "RuntimeError" in str(failed["exception"]) and "kaput" in str(failed["exception"])
        request = next(x for x in lines if x["event"] == "request")
        assert (request["request_id"], request["status"], request["level"]) == (
            "rid-500",
            500,
            "error",
        )
    finally:
        configure_logging("INFO", json=True)
