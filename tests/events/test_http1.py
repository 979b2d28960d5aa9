"""The dispatcher's HTTP/1.1 sender against real servers: keep-alive reuse, chunked and
closing answers, Retry-After, the 2 KB excerpt, stale connections, timeouts, refusals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from aiohttp import web

from pimhub.events.http1 import Http1Sender
from tests.e2e.processes import free_port

T = TypeVar("T")


def with_server(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    body: Callable[[str, Http1Sender], Awaitable[T]],
    **sender_options: float,
) -> T:
    async def main() -> T:
        app = web.Application()
        app.router.add_post("/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        sender = Http1Sender(**sender_options)  # type: ignore[arg-type]
        try:
            return await body(f"http://127.0.0.1:{port}/hook?x=1", sender)
        finally:
            await sender.close()
            await runner.cleanup()

    return asyncio.run(main())


def test_keep_alive_connection_is_reused_and_request_is_complete() -> None:
    seen: list[tuple[str, str, bytes, str | None]] = []

    async def handler(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        seen.append(
            (request.path_qs, request.headers["webhook-id"], await request.read(), str(peer))
        )
        return web.Response(text="thanks")

    async def body(url: str, sender: Http1Sender) -> list[int]:
        statuses = []
        for i in range(3):
            reply = await sender.post(url, b'{"n":%d}' % i, {"webhook-id": f"evt_{i}"})
            statuses.append(reply.status)
            assert reply.body_excerpt == "thanks"
        return statuses

    assert with_server(handler, body) == [200, 200, 200]
    assert [s[:3] for s in seen] == [("/hook?x=1", f"evt_{i}", b'{"n":%d}' % i) for i in range(3)]
    assert len({s[3] for s in seen}) == 1  # one connection for all three


def test_chunked_answer_retry_after_and_excerpt_limit() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=429, headers={"Retry-After": "30"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"x" * 500)
        await response.write_eof()
        return response

    async def body(url: str, sender: Http1Sender) -> None:
        reply = await sender.post(url, b"{}", {})
        assert reply.status == 429 and reply.retry_after == "30"
        assert len(reply.body_excerpt) == 2048
        again = await sender.post(url, b"{}", {})  # the connection survived the long body
        assert again.status == 429

    with_server(handler, body)


def test_an_answer_with_nul_and_broken_utf8_makes_a_storable_excerpt() -> None:
    async def handler(request: web.Request) -> web.Response:
        # A NUL, a byte that is no UTF-8, then two-byte characters cut at the 2 KB mark.
        return web.Response(status=500, body=b"\x00\xff" + "\u00e9".encode() * 2000)

    async def body(url: str, sender: Http1Sender) -> str:
        return (await sender.post(url, b"{}", {})).body_excerpt

    excerpt = with_server(handler, body)
    assert excerpt == "\ufffd\ufffd" + "\u00e9" * 1023
    excerpt.encode("utf-8")  # no lone surrogates either


def test_connection_close_answers_and_stale_idle_connections_are_replaced() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=204, headers={"Connection": "close"})

    async def body(url: str, sender: Http1Sender) -> list[int]:
        return [(await sender.post(url, b"{}", {})).status for _ in range(3)]

    assert with_server(handler, body) == [204, 204, 204]


def test_a_receiver_that_stops_answering_times_out_without_a_second_send() -> None:
    release = asyncio.Event()
    calls: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(1)
        if len(calls) > 1:
            await release.wait()
        return web.Response()

    async def body(url: str, sender: Http1Sender) -> float:
        assert (await sender.post(url, b"{}", {})).status == 200  # leaves an idle connection
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await sender.post(url, b"{}", {})
        release.set()  # lets the server shut down
        return time.monotonic() - started

    elapsed = with_server(handler, body, total_timeout=0.5)
    assert 0.5 <= elapsed < 2.0
    assert len(calls) == 2  # a timeout is not a stale connection: no resend


def test_refused_connection_is_an_os_error() -> None:
    async def main() -> None:
        sender = Http1Sender(connect_timeout=1)
        with pytest.raises(OSError):
            await sender.post(f"http://127.0.0.1:{free_port()}/x", b"{}", {})
        await sender.close()

    asyncio.run(main())


def against(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    body: Callable[[str, Http1Sender], Awaitable[None]],
) -> None:
    """Runs `body` with a sender and the URL of a raw asyncio server answering with `serve`."""

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sender = Http1Sender()
        try:
            await body(f"http://127.0.0.1:{port}/", sender)
        finally:
            await sender.close()
            server.close()

    asyncio.run(main())


def test_http10_answer_ending_with_the_connection_is_complete() -> None:
    """Python's http.server answers HTTP/1.0 with no Content-Length: the body ends at close."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 202 Accepted\r\nServer: old\r\n\r\nqueued")
        await writer.drain()
        writer.close()

    async def body(url: str, sender: Http1Sender) -> None:
        for _ in range(2):  # the second one must not reuse the closed connection
            reply = await sender.post(url, b"{}", {})
            assert (reply.status, reply.body_excerpt) == (202, "queued")

    against(answer, body)


def test_a_body_cut_short_is_an_error() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await writer.drain()
        writer.close()

    async def body(url: str, sender: Http1Sender) -> None:
        with pytest.raises(OSError, match="before a complete response"):
            await sender.post(url, b"{}", {})

    against(answer, body)


def raw_server(
    reply: bytes,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(2)  # the "{}" body
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            writer.write(reply)
            await writer.drain()

    return answer


def test_interim_answers_are_skipped_and_the_final_one_counts() -> None:
    reply = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"
    )

    async def body(url: str, sender: Http1Sender) -> None:
        for _ in range(3):  # the connection stays in step with its requests
            answer = await sender.post(url, b"{}", {})
            assert (answer.status, answer.body_excerpt) == (200, "done")

    against(raw_server(reply), body)


def test_stray_bytes_after_an_answer_retire_the_connection() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500 Stray\r\n\r\n"

    async def body(url: str, sender: Http1Sender) -> None:
        for _ in range(3):
            answer = await sender.post(url, b"{}", {})
            assert answer.status == 200
            await asyncio.sleep(0.05)

    against(raw_server(reply), body)
