"""Inbound events accepted per second, and RabbitMQ publishing with confirms, against floors.

(a) Receiving. pimhub runs as `pimhub serve` (default settings, request logs to /dev/null) on
SQLite in a temporary folder, with one inbound source `bench` of the standard-webhooks scheme
(key: the order id in the body). Every request is a new signed message: a unique webhook-id,
the current webhook-timestamp, a v1 HMAC-SHA256 signature, a ~700-byte order document; pimhub
verifies it, checks its id against the accepted ones, and stores the audit row and its outbox
event in one transaction before answering 202. Floor: a bare Starlette route on the same
uvicorn that takes the same requests and does one raw INSERT per request (message id, time,
body) with sqlite3 on its own file, with pimhub's connection settings (WAL,
synchronous=NORMAL, foreign_keys, busy_timeout: storage.engine.build_engine), in the event
loop, answering 202 with the row id: no verification, no de-duplication, no outbox. Rounds
of 16 keep-alive connections alternate between the two; the figure is the median over the
repeats of pimhub's 2xx/s over the floor's in the same repeat. Checked: a repeated id is a
200 duplicate, a bad signature a 401, and pimhub stored exactly one accepted audit row and one
outbox event per 202 it answered.

(b) Publishing. The hub's RabbitMQ destination (brokers.rabbitmq, built the way the worker
builds it: BrokerService.destination on the broker's pipeline row) is handed claimed
deliveries in batches of the dispatcher's size (PIMHUB_WEBHOOK_BATCH_SIZE, 500), as the
dispatcher does, each batch's deliveries of distinct keys, and must answer every one delivered
(confirmed). Floor: aio-pika on one channel with publisher confirms publishing the same bodies
with the same routing keys and message properties (persistent, mandatory, message id, type,
timestamp, headers), to the same exchange, each batch's messages in flight at once (awaiting
every confirm before the next batch), as the destination does. A durable queue bound to the exchange
takes the messages (purged between rounds; its count checked). Needs RabbitMQ at
PIMHUB_BENCH_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/); without one, (b) is skipped
with a note.

The last line is `ratio: X`, the worse of the two figures (the target is 0.5 or more).

    .venv/bin/python bench/inbound.py [--messages 5000] [--only receiving|publishing]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rest_get import (
    CONNECTIONS,
    HOST,
    WARMUP_SECONDS,
    RoundResult,
    clean_env,
    cpu_seconds,
    free_port,
    get_once,
    load_round,
    pimhub_command,
    run_fast,
    start,
    stop,
    summary,
)

SOURCE = "bench"
EVENT_TYPE = "shop.order.placed"
ROUND_SECONDS = 4.0
REPEATS = 5
SECRET_KEY = "bench"  # PIMHUB_SECRET_KEY: the set-up and the server read the same sealed secret
AMQP_ENV = "PIMHUB_BENCH_AMQP_URL"
AMQP_DEFAULT = "amqp://guest:guest@127.0.0.1:5672/"
BATCH = 500  # deliveries the dispatcher claims and hands a destination at once (default)
PUBLISH_REPEATS = 5

# The same pragmas as storage.engine._sqlite_engine sets on every connection.
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000")
FLOOR_DDL = (
    "CREATE TABLE IF NOT EXISTS inbound (id INTEGER PRIMARY KEY, source VARCHAR(30) NOT NULL,"
    " message_id VARCHAR(255) NOT NULL, received_at DATETIME NOT NULL, body TEXT NOT NULL)"
)
FLOOR_INSERT = "INSERT INTO inbound (source, message_id, received_at, body) VALUES (?, ?, ?, ?)"


# -- the messages --------------------------------------------------------------------------


def order_body(n: int) -> bytes:
    """An order as a shop would send it (~700 bytes), its id unique to `n`."""
    return orjson.dumps(
        {
            "type": EVENT_TYPE,
            "timestamp": "2026-12-05T00:00:00Z",
            "data": {
                "orderId": f"B{n:09d}",
                "store": "default",
                "customer": {"email": f"buyer{n % 997}@example.com", "name": "Ada Buyer"},
                "currency": "EUR",
                "total": 129.7 + n % 50,
                "shipping": {"method": "flatrate", "street": "Hauptstr. 1", "city": "Berlin"},
                "items": [
                    {"sku": f"PH-{(n * 7 + i) % 1000:05d}", "qty": 1 + i, "price": 19.9 + i}
                    for i in range(4)
                ],
            },
        }
    )


def signed_requests(path: str, key: bytes) -> Callable[[random.Random], bytes]:
    """Builds a new Standard Webhooks-signed POST on every call: never the same message id."""
    counter = itertools.count()
    run = uuid.uuid4().hex[:8]
    head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n").encode()

    def next_request(_rng: random.Random) -> bytes:
        n = next(counter)
        body = order_body(n)
        message_id = f"msg_{run}_{n}".encode()
        stamp = str(int(time.time())).encode()
        mac = hmac.new(key, message_id + b"." + stamp + b"." + body, hashlib.sha256).digest()
        return b"%swebhook-id: %s\r\nwebhook-timestamp: %s\r\nwebhook-signature: v1,%s\r\n" % (
            head,
            message_id,
            stamp,
            base64.b64encode(mac),
        ) + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)

    return next_request


# -- the floor server ----------------------------------------------------------------------


def serve_floor(port: int, db_path: str) -> None:
    """The bare route: the body, one INSERT, the row id."""
    import sqlite3

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False, timeout=30)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(FLOOR_DDL)

    async def receive(request: Request) -> Response:
        body = await request.body()
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        row = conn.execute(
            FLOOR_INSERT,
            (
                request.path_params["source"],
                request.headers.get("webhook-id", ""),
                stamp,
                body.decode(),
            ),
        )
        answer = b'{"status":"accepted","message":%d}' % (row.lastrowid or 0)
        return Response(answer, status_code=202, media_type="application/json")

    app = Starlette(routes=[Route("/inbound/{source}", receive, methods=["POST"])])
    uvicorn.run(app, host=HOST, port=port, access_log=False, log_level="warning")


# -- (a) receiving -------------------------------------------------------------------------


def hub_settings(workdir: Path) -> dict[str, str]:
    return {
        "PIMHUB_DATABASE_URL": f"sqlite:///{workdir / 'pimhub.db'}",
        "PIMHUB_DATA_DIR": str(workdir),
        "PIMHUB_SECRET_KEY": SECRET_KEY,
    }


def open_hub(workdir: Path) -> Any:
    """The hub on the bench's database, migrated (the commerce model installed)."""
    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize
    from pimhub.settings import Settings

    hub = bootstrap(
        Settings(
            database_url=f"sqlite:///{workdir / 'pimhub.db'}",
            data_dir=workdir,
            secret_key=SECRET_KEY,
            webhooks_allow_private=True,  # the broker on this machine
        )
    )
    initialize(hub)
    return hub


def prepare_hub(workdir: Path) -> bytes:
    """Adds the source; returns its HMAC key."""
    hub = open_hub(workdir)
    try:
        _, secret = hub.inbound.add_source(
            {
                "name": SOURCE,
                "scheme": "standard-webhooks",
                "description": "bench/inbound.py",
                "eventTypes": [EVENT_TYPE],
                "key": {"path": "data.orderId"},
            }
        )
    finally:
        hub.close()
    if secret is None or not secret.startswith("whsec_"):
        raise RuntimeError(f"the source's secret is not a whsec_ secret: {secret!r}")
    return base64.b64decode(secret.removeprefix("whsec_"))


def stored_counts(workdir: Path) -> tuple[int, int]:
    """(accepted audit rows, outbox events) in pimhub's database."""
    import sqlite3

    conn = sqlite3.connect(workdir / "pimhub.db")
    try:
        accepted = conn.execute(
            "SELECT count(*) FROM inbound_messages WHERE source = ? AND outcome = 'accepted'",
            (SOURCE,),
        ).fetchone()[0]
        events = conn.execute(
            "SELECT count(*) FROM outbox WHERE class_name = ? AND event_type = ?",
            (SOURCE, EVENT_TYPE),
        ).fetchone()[0]
    finally:
        conn.close()
    return int(accepted), int(events)


async def check_hub(port: int, key: bytes) -> None:
    """A new message is a 202, the same one again a 200 duplicate of it, a bad signature a
    401: the server verifies and de-duplicates."""
    path = f"/inbound/{SOURCE}"
    request = signed_requests(path, key)(random.Random(0))
    first_status, first = await get_once(port, request)
    again_status, again = await get_once(port, request)
    if first_status != 202 or again_status != 200:
        raise RuntimeError(f"expected 202 then 200: {first_status} {first!r}, {again_status}")
    original, duplicate = orjson.loads(first), orjson.loads(again)
    if duplicate.get("status") != "duplicate" or duplicate.get("duplicateOf") != original.get(
        "message"
    ):
        raise RuntimeError(f"not a duplicate of {original}: {duplicate}")
    forged_status, forged = await get_once(port, signed_requests(path, b"wrong")(random.Random(0)))
    if forged_status != 401:
        raise RuntimeError(f"a forged signature was answered {forged_status}: {forged!r}")


async def wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Until the server answers anything."""
    probe = f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            await get_once(port, probe)
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


async def receiving(workdir: Path) -> float:
    began = time.perf_counter()
    key = prepare_hub(workdir)
    print(f"(a) set-up: database and source in {time.perf_counter() - began:.1f} s", flush=True)
    ports = {"pimhub": free_port(), "floor": free_port()}
    commands = {
        "pimhub": (
            [*pimhub_command(), "serve", "--port", str(ports["pimhub"])],
            clean_env(**hub_settings(workdir)),
        ),
        "floor": (
            [
                sys.executable,
                __file__,
                "--floor-server",
                str(ports["floor"]),
                str(workdir / "floor.db"),
            ],
            clean_env(),
        ),
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    results: dict[str, list[RoundResult]] = {name: [] for name in ports}
    requests = signed_requests(f"/inbound/{SOURCE}", key)
    try:
        for name, (command, env) in commands.items():
            procs[name] = start(command, env, workdir)
            await wait_up(ports[name], procs[name])
        await check_hub(ports["pimhub"], key)
        before = stored_counts(workdir)
        answered = 0
        for name, port in ports.items():
            warm = await load_round(port, requests, WARMUP_SECONDS, seed=0)
            if warm.errors:
                raise RuntimeError(f"warm-up {name}: {warm.errors} non-2xx: {warm.failures}")
            if name == "pimhub":
                answered += warm.requests
        print(f"{CONNECTIONS} connections, {ROUND_SECONDS:.0f} s rounds, {REPEATS} repeats")
        for repeat in range(REPEATS):
            order = list(ports) if repeat % 2 == 0 else list(reversed(ports))
            for name in order:
                cpu_before = cpu_seconds(procs[name].pid)
                result = await load_round(ports[name], requests, ROUND_SECONDS, seed=repeat + 1)
                cpu_after = cpu_seconds(procs[name].pid)
                if cpu_before is not None and cpu_after is not None:
                    result.server_cpu = cpu_after - cpu_before
                if result.errors:
                    raise RuntimeError(f"{name}: {result.errors} non-2xx: {result.failures}")
                if name == "pimhub":
                    answered += result.requests
                results[name].append(result)
                print(f"  round {repeat + 1} {name:<7} {result.rps:8.0f} accepted/s", flush=True)
    finally:
        for proc in procs.values():
            stop(proc)
    after = stored_counts(workdir)
    accepted, events = after[0] - before[0], after[1] - before[1]
    verdict = "ok" if accepted == events == answered else "MISMATCH"
    print(
        f"pimhub answered {answered} x 202; stored {accepted} accepted, {events} events: {verdict}"
    )
    if verdict != "ok":
        raise RuntimeError("pimhub did not store exactly what it acknowledged")
    for name, rounds in results.items():
        print(summary(name, rounds)[1])
    pairs = zip(results["pimhub"], results["floor"], strict=True)
    ratio = statistics.median(ours.rps / floor.rps for ours, floor in pairs)
    print(f"(a) inbound accepted/s, pimhub / floor: {ratio:.3f} (median of the repeats' pairs)")
    return ratio


# -- (b) publishing ------------------------------------------------------------------------


def catalog_body(n: int) -> bytes:
    """A Product update as the outbox holds it (~800 bytes)."""
    sku = f"PH-{n:07d}"
    return orjson.dumps(
        {
            "type": "object.updated",
            "timestamp": "2026-12-05T00:00:00.000Z",
            "data": {
                "objectType": "Product",
                "uuid": str(uuid.UUID(int=n)),
                "businessKey": sku,
                "version": 2,
                "changedFields": ["stock"],
                "object": {
                    "class": "Product",
                    "key": sku,
                    "version": 2,
                    "fields": {
                        "sku": sku,
                        "name": {"en": f"Product {n}", "de": f"Produkt {n}"},
                        "description": {"en": "A product published to measure the broker. " * 4},
                        "price": {"amount": 10 + n % 90, "currency": "EUR"},
                        "stock": n % 50,
                    },
                },
            },
        }
    )


def deliveries(endpoint: int, count: int) -> list[Any]:
    """`count` claimed deliveries: Product updates and inbound orders, alternately, each of
    its own key (one claim never holds two of one key)."""
    from pimhub.events.deliveries import Delivery

    lease = datetime.now(UTC) + timedelta(hours=1)
    out = []
    for n in range(count):
        order = n % 2 == 1
        body = order_body(n) if order else catalog_body(n)
        out.append(
            Delivery(
                id=n + 1,
                endpoint=endpoint,
                event_id=f"evt_{uuid.uuid4().hex}",
                body=body,
                attempts=0,
                lease_until=lease,
                event_type=EVENT_TYPE if order else "object.updated",
                class_name=SOURCE if order else "Product",
            )
        )
    return out


def routing_key(delivery: Any) -> str:
    """The routing key the design gives the event (catalog.<Class>.<action>, or the inbound
    type): the floor publishes with it, the queue is bound to exactly these."""
    if delivery.event_type == EVENT_TYPE:
        return EVENT_TYPE
    return f"catalog.{delivery.class_name}.{delivery.event_type.split('.')[1]}"


def hub_destination(workdir: Path, amqp_url: str, exchange: str) -> tuple[Any, Any, int]:
    """(the hub, the RabbitMQ destination the worker builds for a broker, the broker's pipeline
    row id): the broker is added as `pimhub brokers add` does, and its destination made by
    the dispatcher's factory from the row and its decrypted credentials."""
    from urllib.parse import urlsplit

    from pimhub.bootstrap import destination_factory

    hub = open_hub(workdir)
    parts = urlsplit(amqp_url)
    address = f"{parts.scheme}://{parts.hostname}:{parts.port or 5672}{parts.path or '/'}"
    credentials = {"username": parts.username or "guest", "password": parts.password or "guest"}
    broker = hub.brokers.add({"name": "bench", "url": address, "exchange": exchange}, credentials)
    endpoint = hub.webhooks.endpoints.get(broker.endpoint_id)
    sealed = hub.webhooks.endpoints.secrets(broker.endpoint_id)
    if endpoint is None or sealed is None:
        raise RuntimeError(f"the broker's pipeline row {broker.endpoint_id} is missing")
    destination = destination_factory(hub)(endpoint, hub.webhooks.sealer.decrypt(sealed.sealed))
    if destination is None:
        raise RuntimeError("the broker's destination could not be built")
    return hub, destination, endpoint.id


async def hub_publish(destination: Any, batches: list[list[Any]]) -> float:
    """Messages per second through the destination, batch after batch; every one confirmed."""
    started = time.perf_counter()
    for batch in batches:
        results = await destination.deliver(batch, datetime.now(UTC) + timedelta(seconds=60))
        failed = [r for r in results if not r.ok]
        if len(results) != len(batch) or failed:
            raise RuntimeError(f"{len(failed)} of {len(batch)} not delivered: {failed[:1]}")
    return sum(len(b) for b in batches) / (time.perf_counter() - started)


async def floor_publish(exchange: Any, batches: list[list[Any]]) -> float:
    """The same messages with aio-pika (the properties the hub sets, persistent, mandatory),
    each confirmed, a batch in flight at once on one channel."""
    import aio_pika

    started = time.perf_counter()
    for batch in batches:
        now = datetime.now(UTC)
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        d.body,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=d.event_id,
                        timestamp=now,
                        type=d.event_type,
                        app_id="pimhub",
                        headers={"pimhub-event-type": d.event_type},
                    ),
                    routing_key=routing_key(d),
                    mandatory=True,
                )
                for d in batch
            )
        )
    return sum(len(b) for b in batches) / (time.perf_counter() - started)


async def amqp_reachable(url: str) -> str | None:
    """None when RabbitMQ answers at `url`, else why not."""
    import aio_pika

    try:
        connection = await asyncio.wait_for(aio_pika.connect(url), timeout=5)
    except Exception as error:  # any failure to connect means: no broker to measure
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


async def publishing(workdir: Path, amqp_url: str, messages: int) -> float:
    import aio_pika

    name = f"pimhub-bench-{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(name, durable=True)
    for key in ("catalog.Product.updated", EVENT_TYPE):
        await queue.bind(exchange, routing_key=key)
    hub, destination, endpoint = hub_destination(workdir, amqp_url, name)
    work = deliveries(endpoint, messages)
    batches = [work[i : i + BATCH] for i in range(0, len(work), BATCH)]
    rates: dict[str, list[float]] = {"pimhub": [], "floor": []}
    runs: dict[str, Callable[[], Any]] = {
        "pimhub": lambda: hub_publish(destination, batches),
        "floor": lambda: floor_publish(exchange, batches),
    }

    async def counted(label: str) -> float:
        rate: float = await runs[label]()
        queued = await channel.declare_queue(name, durable=True, passive=True)
        count = queued.declaration_result.message_count
        await queue.purge()
        if count != messages:
            raise RuntimeError(f"{label}: {count} of {messages} messages reached the queue")
        return rate

    try:
        for label in runs:  # warm-up: connections, channels, the exchange declared
            await counted(label)
        print(f"(b) {messages} messages per round in batches of {BATCH}, {PUBLISH_REPEATS} repeats")
        for repeat in range(PUBLISH_REPEATS):
            order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
            for label in order:
                rates[label].append(await counted(label))
                print(f"  round {repeat + 1} {label:<7} {rates[label][-1]:8.0f} msg/s", flush=True)
    finally:
        await destination.aclose()
        hub.close()
        await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        await connection.close()
    for label, values in rates.items():
        rounds = " ".join(f"{v:.0f}" for v in values)
        print(f"{label:<7} {statistics.median(values):8.0f} msg/s confirmed  (rounds: {rounds})")
    pairs = zip(rates["pimhub"], rates["floor"], strict=True)
    ratio = statistics.median(ours / floor for ours, floor in pairs)
    print(f"(b) RabbitMQ confirmed msg/s, pimhub / aio-pika: {ratio:.3f} (median of the pairs)")
    return ratio


# -- the run -------------------------------------------------------------------------------


async def run(workdir: Path, messages: int, only: str | None) -> dict[str, float]:
    ratios = {}
    if only in (None, "receiving"):
        ratios["receiving"] = await receiving(workdir)
    if only == "receiving":
        return ratios
    amqp_url = os.environ.get(AMQP_ENV, AMQP_DEFAULT)
    missing = await amqp_reachable(amqp_url)
    if missing is None:
        ratios["publishing"] = await publishing(workdir, amqp_url, messages)
    else:
        print(f"(b) skipped: no RabbitMQ at {amqp_url} ({missing}); set {AMQP_ENV}")
    return ratios


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--floor-server":
        serve_floor(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="per publishing round")
    parser.add_argument("--only", choices=["receiving", "publishing"], help="one of the two")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-") as tmp:
        ratios = run_fast(run(Path(tmp), args.messages, args.only))
    if not ratios:
        raise SystemExit("nothing was measured")
    for case, ratio in ratios.items():
        print(f"ratio ({case}): {ratio:.3f}")
    # The bench's one figure, as every bench prints it: the worse of the two.
    print(f"ratio: {min(ratios.values()):.3f}")


if __name__ == "__main__":
    main()
