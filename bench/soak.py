"""Soak: ten minutes of mixed load on `pimhub serve` and `pimhub worker`, then an account of
what was lost, what failed and how much memory the two processes hold.

Set-up (not measured): a fresh SQLite database (or, with PIMHUB_BENCH_POSTGRES_URL, a
throwaway schema of that PostgreSQL database) with the commerce model, PRODUCTS products and
the demo datahub configuration; a webhook endpoint for every event at a receiver in its own
process (bench/webhook_throughput.py's, which notes each webhook-id); a Magento connector to
the contract double (tests/connectors/magento/double.py, in a thread of this process), fully
synced once before the load starts.

Load, over keep-alive connections to the server:
- READERS threads in a closed loop: GET /api/v1/products/{sku}, GET /api/v1/objects/Product/
  {sku}, a GraphQL listing on /graphql/demo, a search on /simple-rest/demo/search;
- one writer: PATCH /api/v1/objects/Product/{sku} with a new price, WRITE_RATE a second
  (the worker pushes each change to Magento and posts it to the receiver);
- every IMPORT_EVERY seconds an import of IMPORT_ROWS rows (new products and updates) through
  POST /api/v1/imports, followed until the job finishes.

At the end the load stops and the script waits (up to DRAIN_SECONDS) for the worker to
catch up. Reported: answers other than 2xx and transport errors per kind, failed imports,
error lines in the server's and worker's logs, lost events (outbox events of the run the
receiver never acknowledged), products whose price in Magento is not the hub's, and the RSS
of serve and worker after the warm-up and at the end (sampled every minute meanwhile). The
script exits 1 on any error or loss.

The load generators live in bench/soak_load.py.

Floor: a bare Starlette route on uvicorn in its own process answering a small JSON object,
loaded by the same READERS threads for FLOOR_SECONDS before the soak; the ratio is the
soak's read answers per second over the floor's.

    .venv/bin/python bench/soak.py [--seconds 600]

PIMHUB_BENCH_SOAK_SECONDS also sets the duration (e.g. 60 for a quick look).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil  # type: ignore[import-untyped]  # no stubs installed
from magento_sync import CREDENTIALS, product
from rest_get import HOST, clean_env, free_port, pimhub_command
from soak_load import IMPORT_EVERY, IMPORT_ROWS, READERS, WRITE_RATE, Tally, read_rate, run_load
from webhook_throughput import arrivals, own_schema

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the double lives in tests/

from tests.connectors.magento.double import MagentoDouble
from tests.connectors.magento.server import DoubleServer

DEFAULT_SECONDS = 600
PRODUCTS = 300
WARMUP_SECONDS = 10.0
FLOOR_SECONDS = 5.0
SAMPLE_EVERY = 60.0
DRAIN_SECONDS = 300.0
SECRET_KEY = "bench-secret-key-bench-secret-key"
GENEROUS = "1000000/minute"
CONNECTOR = "soak"
WEBHOOK_TOOL = Path(__file__).resolve().with_name("webhook_throughput.py")
ERROR_LINE = re.compile(r"\b(error|critical|traceback)\b", re.IGNORECASE)


# -- processes -----------------------------------------------------------------------------


def serve_floor(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def ping(_: Request) -> Response:
        return Response(
            orjson.dumps({"sku": "MG-000001", "ok": True}), media_type="application/json"
        )

    app = Starlette(routes=[Route("/ping", ping)])
    uvicorn.run(app, host=HOST, port=port, access_log=False, log_level="warning")


@contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def rss_mb(proc: subprocess.Popen[bytes]) -> float:
    """Resident memory of the process and its children (uvicorn may fork), in MiB."""
    root = psutil.Process(proc.pid)
    total = root.memory_info().rss
    for child in root.children(recursive=True):
        with suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return float(total) / 2**20


def error_lines(log: Path) -> list[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if ERROR_LINE.search(line)]


# -- set-up and the account ----------------------------------------------------------------


def prepare(env: dict[str, str], receiver_port: int, double_url: str) -> tuple[str, list[str]]:
    """The catalog, the demo datahub configuration, the webhook endpoint and the connector
    (synced once); (an admin key, the products' SKUs)."""
    os.environ.update(env)
    from pimhub.bootstrap import bootstrap
    from pimhub.catalog.commerce import commerce_model
    from pimhub.datahub.demo import ensure_demo_datahub
    from pimhub.storage.migrate import upgrade

    hub = bootstrap()
    try:
        upgrade(hub.engine)
        hub.classes.apply(commerce_model(), author="bench")
        ensure_demo_datahub(hub.datahub)
        items = [product(n) for n in range(PRODUCTS)]
        with hub.catalog.batch_writer("Product", author="bench") as batch:
            bad = [r for r in batch.save(items) if r.errors]
            if bad:
                raise SystemExit(f"products refused: {bad[:3]}")
            batch.commit()
        config = {"name": CONNECTOR, "baseUrl": double_url, "currency": "EUR"}
        hub.connectors.add(config, CREDENTIALS)
        report = asyncio.run(hub.connectors.full_sync(CONNECTOR, poll_interval=0.2))
        if report.failed or report.complete != PRODUCTS:
            raise SystemExit(f"the first full sync failed: {report.to_dict()}")
        # Events of the set-up are not the soak's: only those after the endpoint count.
        mark_dispatched(hub)
        hub.webhooks.create({"url": f"http://{HOST}:{receiver_port}/hook"})
        _, token = hub.access.create("soak", ["admin"], environment="test")
        return token, [i["sku"] for i in items]
    finally:
        hub.close()


def mark_dispatched(hub: Any) -> None:
    from pimhub.bootstrap import build_dispatcher

    dispatcher = build_dispatcher(hub)

    async def drain() -> None:
        while await dispatcher.run_once():
            pass

    asyncio.run(drain())


@dataclass
class Account:
    lost: set[str]
    stale: dict[str, tuple[Any, Any]]  # SKU -> (the hub's price, Magento's)
    events: int


def account(double: MagentoDouble, receiver_port: int, after_id: int) -> Account:
    """What the receiver and Magento are missing of what the hub committed."""
    from sqlalchemy import select

    from pimhub.bootstrap import bootstrap
    from pimhub.storage.tables import outbox

    hub = bootstrap()
    try:
        with hub.engine.connect() as conn:
            query = select(outbox.c.event_id).where(outbox.c.id > after_id)
            committed = set(conn.execute(query).scalars())
        prices = {
            o.key: o.values["price"]["amount"]
            for page in hub.connectors.catalog.pages("Product", 500)
            for o in page
        }
    finally:
        hub.close()
    got = set(arrivals(receiver_port))
    stale = {}
    for sku, price in prices.items():
        held = double.product(sku)
        magento_price = None if held is None else held.get("price")
        if magento_price is None or abs(float(magento_price) - float(price)) > 0.001:
            stale[sku] = (price, magento_price)
    return Account(committed - got, stale, len(committed))


def outbox_high_water() -> int:
    from sqlalchemy import func, select

    from pimhub.bootstrap import bootstrap
    from pimhub.storage.tables import outbox

    hub = bootstrap()
    try:
        with hub.engine.connect() as conn:
            return int(conn.execute(select(func.max(outbox.c.id))).scalar() or 0)
    finally:
        hub.close()


def drained(double: MagentoDouble, port: int, after_id: int) -> Account:
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        found = account(double, port, after_id)
        if (not found.lost and not found.stale) or time.monotonic() > deadline:
            return found
        time.sleep(2)


# -- the run -------------------------------------------------------------------------------


def soak(seconds: float, database_url: str, workdir: Path) -> int:
    env = clean_env(
        PIMHUB_DATABASE_URL=database_url,
        PIMHUB_DATA_DIR=str(workdir / "data"),
        PIMHUB_SECRET_KEY=SECRET_KEY,
        PIMHUB_WEBHOOKS_ALLOW_PRIVATE="true",
        PIMHUB_LOG_LEVEL="WARNING",
        # One client address and one key carry the whole load: limits far above it keep the
        # limiter on the path without refusing anything.
        PIMHUB_RATE_LIMIT_PER_KEY=GENEROUS,
        PIMHUB_RATE_LIMIT_PER_ADDRESS=GENEROUS,
    )
    double = MagentoDouble(validate=False, bulk_delay=0.05, record_requests=False)
    receiver_port, floor_port, port = free_port(), free_port(), free_port()
    base = f"http://{HOST}:{port}"
    tally = Tally()
    with ExitStack() as stack:
        double_url = stack.enter_context(DoubleServer(double)).base_url
        receiver = [sys.executable, str(WEBHOOK_TOOL), "--receiver", str(receiver_port)]
        stack.enter_context(process(receiver, env, workdir / "receiver.log"))
        floor = [sys.executable, __file__, "--floor", str(floor_port)]
        floor_proc = stack.enter_context(process(floor, env, workdir / "floor.log"))
        wait_http(f"http://{HOST}:{floor_port}/ping", floor_proc)
        token, skus = prepare(env, receiver_port, double_url)
        after_id = outbox_high_water()
        server = stack.enter_context(
            process([*pimhub_command(), "serve", "--port", str(port)], env, workdir / "serve.log")
        )
        worker = stack.enter_context(
            process([*pimhub_command(), "worker"], env, workdir / "worker.log")
        )
        wait_http(f"{base}/readyz", server)
        floor_rps = read_rate(f"http://{HOST}:{floor_port}", "/ping", {}, FLOOR_SECONDS)
        floor_proc.terminate()
        print(
            f"soak of {seconds:.0f} s on {database_url.split(':')[0]}: {PRODUCTS} products, "
            f"{READERS} readers, {WRITE_RATE:g} writes/s, an import of {IMPORT_ROWS} rows every "
            f"{IMPORT_EVERY:g} s; floor (bare route) {floor_rps:,.0f} req/s",
            flush=True,
        )

        began = time.monotonic()
        memory: list[tuple[float, float, float]] = []
        stop_sampling = threading.Event()

        def sample() -> None:
            if stop_sampling.wait(min(WARMUP_SECONDS, seconds / 2)):
                return
            while True:
                at = time.monotonic() - began
                memory.append((at, rss_mb(server), rss_mb(worker)))
                reads = tally.reads()
                print(
                    f"  {at:5.0f} s  serve {memory[-1][1]:6.1f} MiB  worker "
                    f"{memory[-1][2]:6.1f} MiB  reads {reads:,}  failures "
                    f"{tally.failures.total()}",
                    flush=True,
                )
                if stop_sampling.wait(SAMPLE_EVERY):
                    return

        sampler = threading.Thread(target=sample)
        sampler.start()
        run_load(base, token, skus, seconds, tally)
        load_seconds = time.monotonic() - began
        memory.append((load_seconds, rss_mb(server), rss_mb(worker)))
        stop_sampling.set()
        sampler.join()
        found = drained(double, receiver_port, after_id)
        exits = {"serve": server.poll(), "worker": worker.poll()}

    logs = {name: error_lines(workdir / f"{name}.log") for name in ("serve", "worker")}
    reads = tally.reads()
    rps = reads / load_seconds
    print()
    for kind in sorted(tally.answers):
        sample_text = f"  first: {tally.samples[kind]}" if kind in tally.samples else ""
        counts = f"{tally.answers[kind]:8,} answers  {tally.failures[kind]:5} failed"
        print(f"{kind:14} {counts}{sample_text}")
    for name, lines in logs.items():
        shown = "".join(f"\n    {line[:300]}" for line in lines[:5])
        print(f"{name} log: {len(lines)} error lines{shown}")
    died = {name: code for name, code in exits.items() if code is not None}
    if died:
        print(f"exited during the soak: {died}")
    print(
        f"events committed {found.events:,}, lost {len(found.lost)}"
        + (f" (e.g. {sorted(found.lost)[:3]})" if found.lost else "")
    )
    print(
        f"Magento behind the hub: {len(found.stale)} products"
        + (f" (e.g. {list(found.stale.items())[:3]})" if found.stale else "")
    )
    first, last = memory[0], memory[-1]
    print(
        f"RSS serve {first[1]:.1f} -> {last[1]:.1f} MiB, worker {first[2]:.1f} -> "
        f"{last[2]:.1f} MiB ({first[0]:.0f} s -> {last[0]:.0f} s)"
    )
    print(f"reads {rps:,.0f}/s over {load_seconds:.0f} s; floor {floor_rps:,.0f}/s")
    errors = tally.failures.total() + sum(map(len, logs.values())) + len(died)
    print(f"errors {errors}, lost events {len(found.lost)}")
    print(f"ratio: {rps / floor_rps:.3f}")
    return 1 if errors or found.lost or found.stale else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    default = float(os.environ.get("PIMHUB_BENCH_SOAK_SECONDS", DEFAULT_SECONDS))
    parser.add_argument("--seconds", type=float, default=default)
    parser.add_argument("--floor", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        serve_floor(args.floor)
        return
    # Stopped with SIGTERM, the clean-up below still stops serve, worker and the receiver.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    postgres = os.environ.get("PIMHUB_BENCH_POSTGRES_URL")
    with tempfile.TemporaryDirectory(prefix="pimhub-soak-") as tmp:
        workdir = Path(tmp)
        if postgres:
            with own_schema(postgres) as url:
                code = soak(args.seconds, url, workdir)
        else:
            code = soak(args.seconds, f"sqlite:///{workdir / 'soak.db'}", workdir)
    sys.exit(code)


if __name__ == "__main__":
    main()
