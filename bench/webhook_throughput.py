"""Webhook delivery throughput and commit-to-receipt latency against a transport floor.

Receiver: a minimal asyncio HTTP/1.1 server in its own process that answers 200 to every POST
and notes each webhook-id with its arrival time.

Floor: a minimal asyncio HTTP/1.1 keep-alive client (benchmark code only) that signs the same
payloads the way the dispatcher does and posts them to the same receiver over the same number
of connections.

pimhub: the same number of product saves are committed first (not timed: that is the catalog's
speed, not delivery's); then `pimhub worker` starts and the clock runs from its start to the
receiver's last acknowledgement. On PostgreSQL (PIMHUB_BENCH_POSTGRES_URL set) it is also run
with two workers. Latency: with the worker idle, single saves 50 ms apart; commit-to-receipt
p50 and p99 from the writer's commit to the receiver's arrival time.

    .venv/bin/python bench/webhook_throughput.py [--events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from rest_get import clean_env, free_port, percentile, pimhub_command

HOST = "127.0.0.1"
CONNECTIONS = 16  # the dispatcher's connections per endpoint (AiohttpSender.per_host)
LATENCY_SAMPLES = 100

# -- the receiver --------------------------------------------------------------------------


class _Receiving(asyncio.Protocol):
    arrivals: dict[str, float] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < head_end + 4 + length:
                return
            self.buffer = self.buffer[head_end + 4 + length :]
            self.transport.write(self._answer(lines[0], headers))

    def _answer(self, request_line: str, headers: dict[str, str]) -> bytes:
        if request_line.startswith("GET /arrivals"):
            body = orjson.dumps(_Receiving.arrivals)
        elif request_line.startswith("POST /reset"):
            _Receiving.arrivals = {}
            body = b"{}"
        else:
            webhook_id = headers.get("webhook-id", "")
            _Receiving.arrivals.setdefault(webhook_id, time.time())
            body = b"ok"
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def serve_receiver(port: int) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Receiving, HOST, port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


async def _call(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    body = await reader.readexactly(length)
    writer.close()
    return body


def arrivals(port: int) -> dict[str, float]:
    body = asyncio.run(_call(port, b"GET /arrivals HTTP/1.1\r\nHost: x\r\n\r\n"))
    data: dict[str, float] = orjson.loads(body)
    return data


def reset(port: int) -> None:
    asyncio.run(_call(port, b"POST /reset HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))


# -- the floor -----------------------------------------------------------------------------


def _signed_request(port: int, key: bytes, webhook_id: str, body: bytes) -> bytes:
    stamp = str(int(time.time()))
    signed = f"{webhook_id}.{stamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return (
        f"POST /hook HTTP/1.1\r\nHost: {HOST}:{port}\r\ncontent-type: application/json\r\n"
        f"webhook-id: {webhook_id}\r\nwebhook-timestamp: {stamp}\r\n"
        f"webhook-signature: v1,{signature}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _floor_connection(port: int, key: bytes, jobs: list[tuple[str, bytes]]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    for webhook_id, body in jobs:
        writer.write(_signed_request(port, key, webhook_id, body))
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
    writer.close()


def floor_rate(port: int, payloads: list[bytes]) -> float:
    """Signed posts per second over CONNECTIONS keep-alive connections."""
    key = os.urandom(24)
    jobs = [(f"floor_{uuid.uuid4().hex}", body) for body in payloads]

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(
            *(_floor_connection(port, key, jobs[i::CONNECTIONS]) for i in range(CONNECTIONS))
        )
        return len(jobs) / (time.perf_counter() - started)

    return asyncio.run(main())


# -- pimhub ------------------------------------------------------------------------------------


def hub_env(database_url: str, data_dir: Path) -> dict[str, str]:
    return clean_env(
        PIMHUB_DATABASE_URL=database_url,
        PIMHUB_DATA_DIR=str(data_dir),
        PIMHUB_SECRET_KEY="bench",
        PIMHUB_WEBHOOKS_ALLOW_PRIVATE="true",
        PIMHUB_LOG_LEVEL="WARNING",
        **{k: v for k, v in os.environ.items() if k.startswith("PIMHUB_WEBHOOK_")},
    )


def prepare(env: dict[str, str], receiver_port: int) -> Any:
    """Migrates, installs the model and registers the receiver; returns the hub."""
    os.environ.update(env)
    from pimhub.bootstrap import bootstrap
    from pimhub.catalog.commerce import commerce_model
    from pimhub.storage.migrate import upgrade

    hub = bootstrap()
    upgrade(hub.engine)
    if not hub.classes.all():
        hub.classes.apply(commerce_model(), author="bench")
    for old in hub.webhooks.all():
        hub.webhooks.delete(old.endpoint_id)
    hub.webhooks.create({"url": f"http://{HOST}:{receiver_port}/hook"})
    return hub


def product(n: int) -> dict[str, Any]:
    return {
        "sku": f"WB-{n:07d}",
        "name": {"en": f"Benchmark product {n}", "de": f"Benchmark-Produkt {n}"},
        "description": {"en": "A product saved to measure webhook delivery. " * 8},
        "price": {"amount": 10 + n % 90, "currency": "EUR"},
        "stock": n % 50,
    }


def save_events(hub: Any, first: int, count: int) -> list[bytes]:
    """Saves `count` products; returns their outbox payloads (for the floor to post)."""
    from sqlalchemy import select

    from pimhub.storage.tables import outbox

    with hub.engine.connect() as conn:
        high = conn.execute(select(outbox.c.id).order_by(outbox.c.id.desc()).limit(1)).scalar() or 0
    for n in range(first, first + count):
        hub.catalog.create("Product", product(n), author="bench")
    with hub.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.payload).where(outbox.c.id > high)).scalars()
        return [orjson.dumps(p) for p in rows]


def start_workers(env: dict[str, str], count: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [*pimhub_command(), "worker"],
            env=env,
            stdout=subprocess.DEVNULL,  # warnings and errors still reach the terminal
        )
        for _ in range(count)
    ]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(20)


def wait_for(port: int, count: int, timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        got = arrivals(port)
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


def delivery_rate(
    hub: Any, env: dict[str, str], port: int, events: int, workers: int
) -> tuple[float, list[bytes]]:
    """Events per second from the receiver's first acknowledgement to its last (the worker's
    start-up, mostly imports, is not delivery), and the payloads that were delivered."""
    payloads = save_events(hub, hub_counter.next(events), events)
    reset(port)
    running = start_workers(env, workers)
    try:
        got = wait_for(port, events, timeout=600)
    finally:
        stop_workers(running)
    if len(got) < events:
        raise SystemExit(f"only {len(got)} of {events} events arrived")
    return (events - 1) / (max(got.values()) - min(got.values())), payloads


def latency(hub: Any, env: dict[str, str], port: int) -> tuple[float, float]:
    """Commit-to-receipt p50 and p99 in ms, one save at a time with the worker idle."""
    from sqlalchemy import select

    from pimhub.storage.tables import outbox

    reset(port)
    running = start_workers(env, 1)
    try:
        time.sleep(2.0)  # the worker is up and idle
        committed: dict[str, float] = {}
        for _ in range(LATENCY_SAMPLES):
            hub.catalog.create("Product", product(hub_counter.next(1)), author="bench")
            done = time.time()
            with hub.engine.connect() as conn:
                event_id = conn.execute(
                    select(outbox.c.event_id).order_by(outbox.c.id.desc()).limit(1)
                ).scalar_one()
            committed[event_id] = done
            time.sleep(0.05)
        got = wait_for(port, LATENCY_SAMPLES, timeout=30)
    finally:
        stop_workers(running)
    delays = sorted((got[i] - t) * 1000 for i, t in committed.items() if i in got)
    return percentile(delays, 0.5), percentile(delays, 0.99)


class _Counter:
    def __init__(self) -> None:
        self.value = 0

    def next(self, count: int) -> int:
        first = self.value
        self.value += count
        return first


hub_counter = _Counter()


def measure(label: str, database_url: str, workdir: Path, events: int, workers: int) -> None:
    port = free_port()
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    try:
        time.sleep(0.5)
        env = hub_env(database_url, workdir)
        hub = prepare(env, port)
        floors, rates = [], []
        for _ in range(2):
            rate, payloads = delivery_rate(hub, env, port, events, workers)
            rates.append(rate)
            floors.append(floor_rate(port, payloads))
        p50, p99 = latency(hub, env, port)
        rate, floor = statistics.median(rates), statistics.median(floors)
        print(
            f"{label:34} {rate:8.0f} events/s  floor {floor:8.0f} posts/s  "
            f"ratio {rate / floor:.3f}  commit-to-receipt p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
            f"  (rounds: {' '.join(f'{r:.0f}' for r in rates)}"
            f" / {' '.join(f'{f:.0f}' for f in floors)})"
        )
        hub.close()
    finally:
        receiver.terminate()
        receiver.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver(args.receiver)
        return
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-") as tmp:
        workdir = Path(tmp)
        measure(
            "SQLite, one worker",
            f"sqlite:///{workdir / 'bench.db'}",
            workdir,
            args.events,
            1,
        )
        postgres = os.environ.get("PIMHUB_BENCH_POSTGRES_URL")
        if postgres:
            for workers in (1, 2):
                with own_schema(postgres) as url:
                    measure(f"PostgreSQL, {workers} worker(s)", url, workdir, args.events, workers)


@contextmanager
def own_schema(url: str) -> Iterator[str]:
    """A throwaway schema, so the benchmark never touches other tables in the database."""
    from sqlalchemy import create_engine, text

    schema = f"pimhub_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
