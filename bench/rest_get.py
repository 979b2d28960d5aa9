"""Throughput of GET /api/v1/products/{sku} under concurrent keep-alive load.

Floor: a bare Starlette route (same uvicorn, one worker) that fetches the same product row
joined with its category and brand in one SQL statement on sqlite3, then, like pimhub, the
assets its image and gallery name in a second statement (when it names any: three products
in four have an image), and returns the same JSON with orjson (asset URLs and thumbnail URLs
included); it does no authentication, rate limiting, logging, ETag or security headers.
Before the bench starts, both servers must answer the same bodies for the first products,
with and without an image. pimhub runs as `pimhub serve` with
default settings (INFO request logs, sent to /dev/null); a second pimhub with
PIMHUB_LOG_LEVEL=WARNING is reported as an extra line. Rounds alternate between the servers;
the ratio is median pimhub req/s / median floor req/s.

    .venv/bin/python bench/rest_get.py
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import orjson

from pimhub.assets.detect import RASTER_TYPES
from pimhub.assets.presets import BUILTIN_PRESETS

PRODUCTS = 1500
CONNECTIONS = 16
WARMUP_SECONDS = 1.0
ROUND_SECONDS = 5.0
REPEATS = 5
MAX_REQUESTS_PER_CONNECTION = 2_000_000
HOST = "127.0.0.1"
DEFAULT_LANGUAGE = "en"
T = TypeVar("T")

FLOOR_SQL = """
SELECT p.business_key, p.uuid, p.published, p.version, p.modified_at, p.data,
       c.published, c.data, b.published, b.data, p.completeness
FROM objects AS p
LEFT OUTER JOIN objects AS c ON c.uuid = json_extract(p.data, '$."category"')
LEFT OUTER JOIN objects AS b ON b.uuid = json_extract(p.data, '$."brand"')
WHERE p.class_name = 'Product' AND p.business_key = ?
"""
# The image and the gallery: the asset columns a view shows, read by uuid.
FLOOR_ASSETS_SQL = (
    "SELECT uuid, path, mimetype, checksum, width, height, metadata FROM assets WHERE uuid IN "
)


# -- the floor server ----------------------------------------------------------------------

# pimhub's built-in thumbnail presets (name, fingerprint as in URLs) and the types that have
# thumbnails: configuration both servers share, not work.
_THUMBNAILS = sorted((name, p.fingerprint[:8]) for name, p in BUILTIN_PRESETS.items())
_RASTER = frozenset(RASTER_TYPES.values())


def _pick(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if value.get(DEFAULT_LANGUAGE) is not None:
        return value[DEFAULT_LANGUAGE]
    return next(iter(value.values()), None)


def _related_name(published: Any, data: Any) -> Any:
    if data is None or not published:
        return None
    return _pick(orjson.loads(data).get("name"))


def _floor_assets(conn: Any, uuids: list[str], base: str) -> dict[str, dict[str, Any]]:
    """uuid -> the asset's view as pimhub shows it, one statement for all of them."""
    rows = conn.execute(FLOOR_ASSETS_SQL + f"({', '.join('?' * len(uuids))})", uuids).fetchall()
    views = {}
    for uuid_, path, mimetype, checksum, width, height, metadata in rows:
        url = f"{base}/assets{quote(path)}"
        alt = (orjson.loads(metadata) if metadata else {}).get("alt")
        views[uuid_] = {
            "uuid": uuid_,
            "path": path,
            "url": f"{url}?{urlencode({'v': checksum[:16]})}",
            "mimetype": mimetype,
            "width": width,
            "height": height,
            "alt": _pick(alt) if alt else None,
            "thumbnails": {
                name: f"{url}?"
                + urlencode({"thumbnail": name, "v": f"{checksum[:16]}-{fingerprint}"})
                for name, fingerprint in _THUMBNAILS
            }
            if mimetype in _RASTER
            else {},
        }
    return views


def serve_floor(port: int, db_path: str) -> None:
    """The bare route: two statements (the product, its assets), a dict, orjson."""
    import sqlite3

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    conn = sqlite3.connect(db_path, check_same_thread=False)

    async def product(request: Request) -> Response:
        row = conn.execute(FLOOR_SQL, (request.path_params["sku"],)).fetchone()
        if row is None or not row[2]:
            return Response(b'{"status":404}', status_code=404, media_type="application/json")
        data = orjson.loads(row[5])
        price = data.get("price") or {}
        modified = datetime.fromisoformat(row[4]).isoformat(timespec="milliseconds") + "Z"
        image, gallery = data.get("image"), data.get("gallery") or []
        named = ([image] if isinstance(image, str) else []) + [g for g in gallery if g]
        base = f"{request.url.scheme}://{request.headers.get('host', '')}"
        assets = _floor_assets(conn, named, base) if named else {}
        view = {
            "sku": row[0],
            "uuid": row[1],
            "name": _pick(data.get("name")),
            "price": price.get("amount"),
            "currency": price.get("currency"),
            "category": _related_name(row[6], row[7]),
            "brand": _related_name(row[8], row[9]),
            "description": _pick(data.get("description")),
            "stock": data.get("stock"),
            "weight": data.get("weight"),
            "image": assets.get(image) if isinstance(image, str) else None,
            "gallery": [assets[g] for g in gallery if g in assets],
            "published": bool(row[2]),
            "updatedAt": modified,
            "version": row[3],
            "language": DEFAULT_LANGUAGE,
            "completeness": {
                channel: per_language[DEFAULT_LANGUAGE]
                for channel, per_language in orjson.loads(row[10] or "{}").items()
                if DEFAULT_LANGUAGE in per_language
            },
        }
        return Response(orjson.dumps(view), media_type="application/json")

    app = Starlette(routes=[Route("/api/v1/products/{sku}", product)])
    uvicorn.run(app, host=HOST, port=port, access_log=False, log_level="warning")


# -- set-up --------------------------------------------------------------------------------


def build_database(
    url: str, products: int, scopes: Sequence[str] = ("read",)
) -> tuple[str, list[str]]:
    """What `pimhub demo` loads (commerce model, generated catalog) into the database at
    `url`; (a key with `scopes`, skus)."""
    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize, seed_demo
    from pimhub.demo_catalog import generate
    from pimhub.settings import Settings

    hub = bootstrap(Settings(database_url=url))
    try:
        initialize(hub)
        seed_demo(hub, products)
        _, token = hub.access.create("bench", list(scopes), environment="test")
        return token, [p["sku"] for p in generate(products).products]
    finally:
        hub.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# One address and one key carry a bench's whole load: limits far above it keep the rate-limit
# checks on the path (and in the figures) without refusing anything.
BENCH_RATE = "999999999/hour"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIMHUB_")}
    env.update(PIMHUB_RATE_LIMIT_PER_KEY=BENCH_RATE, PIMHUB_RATE_LIMIT_PER_ADDRESS=BENCH_RATE)
    env.update(extra)
    return env


def pimhub_command() -> list[str]:
    script = Path(sys.executable).parent / "pimhub"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pimhub.cli.main"]


# -- the load generator --------------------------------------------------------------------


# The requests of a round: a list to pick from at random, or a function of the connection's
# random generator that builds the next one.
Requests = Sequence[bytes] | Callable[[random.Random], bytes]


@dataclass
class Failures:
    """Answers other than 2xx, by status, with the first body of each status."""

    statuses: Counter[int] = field(default_factory=Counter)
    samples: dict[int, bytes] = field(default_factory=dict)

    def add(self, status: int, body: bytes) -> None:
        self.statuses[status] += 1
        self.samples.setdefault(status, body[:300])

    def __str__(self) -> str:
        return "; ".join(
            f"{n} x {status}: {self.samples[status]!r}" for status, n in self.statuses.items()
        )


@dataclass
class RoundResult:
    requests: int
    seconds: float
    p50: float
    p99: float
    failures: Failures = field(default_factory=Failures)
    server_cpu: float | None = None  # seconds of CPU the server process used in the round

    @property
    def rps(self) -> float:
        """2xx answers per second: a refused request is no throughput."""
        return (self.requests - self.errors) / self.seconds

    @property
    def errors(self) -> int:
        return self.failures.statuses.total()


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_bytes(sku: str, token: str) -> bytes:
    return (
        f"GET /api/v1/products/{sku} HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    ).encode()


async def fetch(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One request/response on a keep-alive connection (Content-Length bodies only)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            break
    if length < 0:
        raise RuntimeError(f"response without Content-Length: {head!r}")
    body = await reader.readexactly(length) if length else b""
    return status, body


async def connection_loop(
    port: int,
    requests: Requests,
    seconds: float,
    seed: int,
    latencies: list[float],
    failures: Failures,
) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    rng = random.Random(seed)
    pick = requests if callable(requests) else lambda rng: rng.choice(requests)
    done = 0
    try:
        deadline = time.perf_counter() + seconds
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            start = time.perf_counter()
            if start >= deadline:
                break
            status, body = await fetch(reader, writer, pick(rng))
            latencies.append(time.perf_counter() - start)
            done += 1
            if not 200 <= status < 300:
                failures.add(status, body)
    finally:
        writer.close()
    return done


async def load_round(port: int, requests: Requests, seconds: float, seed: int) -> RoundResult:
    latencies: list[float] = []
    failures = Failures()
    start = time.perf_counter()
    loops = [
        connection_loop(port, requests, seconds, seed * 1000 + i, latencies, failures)
        for i in range(CONNECTIONS)
    ]
    counts = await asyncio.wait_for(asyncio.gather(*loops), timeout=seconds + 30)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return RoundResult(
        requests=sum(counts),
        seconds=elapsed,
        p50=percentile(latencies, 0.5),
        p99=percentile(latencies, 0.99),
        failures=failures,
    )


async def get_once(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        return await asyncio.wait_for(fetch(reader, writer, request), timeout=10)
    finally:
        writer.close()


async def wait_ready(port: int, request: bytes, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            status, body = await get_once(port, request)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        if status != 200:
            raise RuntimeError(f"server on port {port} answered {status}: {body[:300]!r}")
        return
    raise RuntimeError(f"server on port {port} did not start")


# -- the run -------------------------------------------------------------------------------


async def alternate_rounds(
    ports: dict[str, int],
    procs: dict[str, subprocess.Popen[bytes]],
    requests: Requests,
    repeats: int,
    seconds: float,
) -> dict[str, list[RoundResult]]:
    """A warm-up per server, then `repeats` rounds each, alternating which server goes
    first, with the server's CPU time per round."""
    for name, port in ports.items():
        warm = await load_round(port, requests, WARMUP_SECONDS, seed=0)
        if warm.errors:
            print(f"  warm-up {name}: {warm.errors} non-2xx: {warm.failures}", flush=True)
    print(f"{CONNECTIONS} connections, {seconds:.0f} s rounds, {repeats} repeats", flush=True)
    results: dict[str, list[RoundResult]] = {name: [] for name in ports}
    for repeat in range(repeats):
        order = list(ports) if repeat % 2 == 0 else list(reversed(ports))
        for name in order:
            cpu_before = cpu_seconds(procs[name].pid)
            result = await load_round(ports[name], requests, seconds, seed=repeat + 1)
            cpu_after = cpu_seconds(procs[name].pid)
            if cpu_before is not None and cpu_after is not None:
                result.server_cpu = cpu_after - cpu_before
            results[name].append(result)
            failed = f"  {result.errors} non-2xx: {result.failures}" if result.errors else ""
            print(f"  round {repeat + 1} {name:<22} {result.rps:8.0f} req/s{failed}", flush=True)
    return results


def product_row(n: int, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """An `objects` row for bulk-loaded bench product number `n` (SKU B-000123)."""
    return {
        "uuid": str(uuid.uuid4()),
        "class_name": "Product",
        "business_key": f"B-{n:06}",
        "published": True,
        "version": 1,
        "created_at": now,
        "modified_at": now,
        "data": {"sku": f"B-{n:06}", **data},
    }


def pimhub_and_floor(
    script: str, db_path: Path
) -> tuple[dict[str, int], dict[str, tuple[list[str], dict[str, str]]]]:
    """Ports and commands for `pimhub serve` and `script`'s floor server on one SQLite file."""
    ports = {"pimhub": free_port(), "floor": free_port()}
    commands = {
        "pimhub": (
            [*pimhub_command(), "serve", "--port", str(ports["pimhub"])],
            clean_env(PIMHUB_DATABASE_URL=f"sqlite:///{db_path}"),
        ),
        "floor": (
            [sys.executable, script, "--floor-server", str(ports["floor"]), str(db_path)],
            clean_env(),
        ),
    }
    return ports, commands


def start(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def summary(name: str, rounds: list[RoundResult]) -> tuple[float, str]:
    """Medians over the rounds: req/s, p50, p99 and server CPU per request."""
    rps = statistics.median(r.rps for r in rounds)
    p50 = statistics.median(r.p50 for r in rounds) * 1000
    p99 = statistics.median(r.p99 for r in rounds) * 1000
    cpu = [r.server_cpu / r.requests for r in rounds if r.server_cpu is not None and r.requests]
    cpu_text = f"  server CPU {statistics.median(cpu) * 1e6:5.0f} us/req" if cpu else ""
    errors = sum(r.errors for r in rounds)
    runs = " ".join(f"{r.rps:.0f}" for r in rounds)
    line = (
        f"{name:<22} {rps:7.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms{cpu_text}  "
        f"errors {errors}  (rounds: {runs})"
    )
    return rps, line


async def run(workdir: Path) -> float:
    db_path = workdir / "bench.db"
    began = time.perf_counter()
    token, skus = build_database(f"sqlite:///{db_path}", PRODUCTS)
    print(f"set-up: {len(skus)} products in {time.perf_counter() - began:.1f} s", flush=True)
    requests = [request_bytes(sku, token) for sku in skus]
    url = f"sqlite:///{db_path}"
    ports = {"pimhub": free_port(), "pimhub (WARNING logs)": free_port(), "floor": free_port()}
    commands = {
        "pimhub": (
            [*pimhub_command(), "serve", "--port", str(ports["pimhub"])],
            clean_env(PIMHUB_DATABASE_URL=url),
        ),
        "pimhub (WARNING logs)": (
            [*pimhub_command(), "serve", "--port", str(ports["pimhub (WARNING logs)"])],
            clean_env(PIMHUB_DATABASE_URL=url, PIMHUB_LOG_LEVEL="WARNING"),
        ),
        "floor": (
            [sys.executable, __file__, "--floor-server", str(ports["floor"]), str(db_path)],
            clean_env(),
        ),
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, (command, env) in commands.items():
            proc = start(command, env, workdir)
            procs[name] = proc
            await wait_ready(ports[name], requests[0], proc)
        # Same work: all answer the same JSON for the same product (the first eight: with
        # an image and without).
        images = 0
        for request in requests[:8]:
            bodies = {name: (await get_once(port, request))[1] for name, port in ports.items()}
            images += orjson.loads(bodies["floor"]).get("image") is not None
            sorted_bodies = {
                orjson.dumps(orjson.loads(b), option=orjson.OPT_SORT_KEYS) for b in bodies.values()
            }
            if len(sorted_bodies) != 1:
                raise RuntimeError(f"servers disagree: {bodies}")
        if not images:
            raise RuntimeError("no product with an image among the first eight")
        results = await alternate_rounds(ports, procs, requests, REPEATS, ROUND_SECONDS)
    finally:
        for proc in procs.values():
            stop(proc)
    figures = {name: summary(name, rounds) for name, rounds in results.items()}
    for _, line in figures.values():
        print(line)
    floor = figures["floor"][0]
    print(f"ratio with WARNING logs: {figures['pimhub (WARNING logs)'][0] / floor:.3f}")
    return figures["pimhub"][0] / floor


def run_fast(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop where it is installed: the load client spends less CPU."""
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--floor-server":
        serve_floor(int(sys.argv[2]), sys.argv[3])
        return
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-") as tmp:
        ratio = run_fast(run(Path(tmp)))
    print(f"ratio: {ratio:.3f}")


if __name__ == "__main__":
    main()
