"""The JSON log writer batches lines per event-loop tick and never drops or splits one."""

from __future__ import annotations

import asyncio
import io

import orjson

from pimhub.api.observability import TickBufferedLines


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
