"""Latency of /simple-rest/{config}/search over 100,000 products, against the raw FTS query.

Floor: a bare Starlette route (same uvicorn, one worker) that runs the same FTS5 query on
sqlite3 (the MATCH, BM25 ranking, the join to the objects, the count of all matches, the
first 20 rows) and returns the same items with orjson: no key check, no configuration, no
parameter validation, no logging. pimhub runs as `pimhub serve` with default settings
against the same database file. Both answer a mix of searches (common words, two-word
searches, prefixes, business keys) one request at a time on a keep-alive connection, in
alternating rounds; the figures are p50 and p99 of pimhub over the floor's. Both must return
the same items and totals (checked for every query at the start).

    .venv/bin/python bench/search.py [--products 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import orjson
from rest_get import HOST, fetch, percentile, pimhub_and_floor, product_row, start, stop

SIZE = 20
ROUNDS = 6
REQUESTS_PER_ROUND = 300
# Every Product field is exposed: a configuration that hides any text field would not match
# other text at all (see docs/search.md), and the floor matches all of it.
CONFIG = {"name": "bench", "classes": {"Product": {}, "Category": {}, "Brand": {}}}
ADJECTIVES = [
    "waterproof",
    "breathable",
    "lightweight",
    "classic",
    "slim",
    "relaxed",
    "vintage",
    "modern",
    "thermal",
    "quilted",
    "stretch",
    "organic",
    "rugged",
    "compact",
    "padded",
    "insulated",
    "essential",
    "premium",
    "urban",
    "alpine",
]
MATERIALS = [
    "cotton",
    "wool",
    "linen",
    "leather",
    "denim",
    "fleece",
    "nylon",
    "silk",
    "cashmere",
    "bamboo",
]
NOUNS = [
    "jacket",
    "shirt",
    "hoodie",
    "sweater",
    "trousers",
    "shorts",
    "backpack",
    "tent",
    "boots",
    "sneakers",
    "scarf",
    "gloves",
    "beanie",
    "vest",
    "parka",
    "blazer",
    "skirt",
    "dress",
    "socks",
    "belt",
    "bottle",
    "lantern",
    "stove",
    "mug",
]
WORDS = (ADJECTIVES + MATERIALS + NOUNS) * 3 + [f"w{n}" for n in range(400)]
FLOOR_SQL = """
WITH hits AS MATERIALIZED (
  SELECT rowid >> 6 AS id, bm25(search_fts, 100.0, 10.0, 1.0, 0.0) AS rank
  FROM search_fts WHERE search_fts MATCH ?
)
SELECT o.uuid, o.business_key, o.published, o.version, o.created_at, o.modified_at, o.data,
       count(*) OVER ()
FROM hits JOIN objects AS o ON o.id = hits.id
WHERE o.class_name = 'Product' AND o.published = 1
ORDER BY lower(o.business_key) = ? DESC, hits.rank, o.id
LIMIT ?
"""


def queries(products: int) -> list[str]:
    rng = random.Random(7)
    mix = [*NOUNS[:8], "cotton", "waterproof jacket", "slim denim", "thermal", "alpine tent"]
    mix += ["jack", "swea", "leath", "insul", "back"]  # type-ahead prefixes
    mix += [f"B-{rng.randrange(products):06}" for _ in range(5)]  # business keys
    mix += [f"{rng.choice(MATERIALS)} {rng.choice(NOUNS)}" for _ in range(7)]
    return mix


# -- the floor server ----------------------------------------------------------------------


def _iso(text: str) -> str:
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _item(row: Any) -> dict[str, Any]:
    data = orjson.loads(row[6])
    fields = {}
    for name in ("sku", "name", "shortDescription", "price", "stock"):
        value = data.get(name)
        if isinstance(value, dict) and name in ("name", "shortDescription"):
            value = value.get("en") or next(iter(value.values()), None)
        if value is not None:
            fields[name] = value
    return {
        "uuid": row[0],
        "class": "Product",
        "key": row[1],
        "published": bool(row[2]),
        "version": row[3],
        "createdAt": _iso(row[4]),
        "modifiedAt": _iso(row[5]),
        "fields": fields,
    }


def serve_floor(port: int, db_path: str) -> None:
    import sqlite3

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from pimhub.search.documents import query_tokens
    from pimhub.search.ports import TextQuery
    from pimhub.search.sqlite_fts import match_expression

    conn = sqlite3.connect(db_path, check_same_thread=False)

    async def search(request: Request) -> Response:
        q = request.query_params["q"]
        match = match_expression(TextQuery(q, tuple(query_tokens(q))), "en")
        rows = conn.execute(FLOOR_SQL, (match, q.strip().lower(), SIZE)).fetchall()
        body = {"total": rows[0][7] if rows else 0, "items": [_item(r) for r in rows]}
        return Response(orjson.dumps(body), media_type="application/json")

    app = Starlette(routes=[Route("/simple-rest/bench/search", search)])
    uvicorn.run(app, host=HOST, port=port, access_log=False, log_level="warning")


# -- set-up --------------------------------------------------------------------------------


def build_database(db_path: Path, products: int) -> str:
    """The commerce model and `products` products written straight into the tables (a bulk
    load, not the subject here), then indexed with the search rebuild; returns a key."""
    from sqlalchemy import insert

    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize
    from pimhub.settings import Settings
    from pimhub.storage.tables import objects

    hub = bootstrap(Settings(database_url=f"sqlite:///{db_path}"))
    rng = random.Random(11)
    try:
        initialize(hub)
        now = datetime.now(UTC)
        rows = []
        for n in range(products):
            name = f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {rng.choice(NOUNS)}"
            words = " ".join(rng.choice(WORDS) for _ in range(25))
            data = {
                "name": {"en": name.capitalize(), "de": f"Artikel {n}"},
                "shortDescription": {"en": words},
                "price": {"amount": round(5 + n % 500 + 0.99, 2), "currency": "EUR"},
                "stock": n % 97,
            }
            rows.append(product_row(n, data, now))
        with hub.engine.begin() as conn:
            for chunk in range(0, len(rows), 10_000):
                conn.execute(insert(objects), rows[chunk : chunk + 10_000])
        began = time.perf_counter()
        indexed = hub.search.rebuild()
        seconds = time.perf_counter() - began
        print(
            f"index rebuild: {indexed} objects, {hub.search.size()} documents in {seconds:.1f} s"
            f" ({indexed / seconds:,.0f} objects/s)",
            flush=True,
        )
        hub.datahub.create(CONFIG, author="bench")
        _, token = hub.access.create("bench", ["datahub:bench"], environment="test")
        return token
    finally:
        hub.close()


def request_bytes(q: str, token: str) -> bytes:
    path = f"/simple-rest/bench/search?q={quote(q)}&class=Product&size={SIZE}"
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()


# -- the run -------------------------------------------------------------------------------


async def latencies(port: int, requests: list[bytes], count: int, seed: int) -> list[float]:
    """`count` requests one after another on one keep-alive connection."""
    reader, writer = await asyncio.open_connection(HOST, port)
    rng = random.Random(seed)
    seen = []
    try:
        for _ in range(count):
            began = time.perf_counter()
            status, body = await fetch(reader, writer, rng.choice(requests))
            seen.append(time.perf_counter() - began)
            if status != 200:
                raise RuntimeError(f"{status}: {body[:300]!r}")
    finally:
        writer.close()
    return seen


async def wait_ready(port: int, request: bytes) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            await latencies(port, [request], 1, 0)
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


async def same_answers(ports: dict[str, int], requests: list[bytes]) -> None:
    for request in requests:
        answers = {}
        for name, port in ports.items():
            reader, writer = await asyncio.open_connection(HOST, port)
            try:
                status, body = await fetch(reader, writer, request)
            finally:
                writer.close()
            data = orjson.loads(body)
            answers[name] = (status, data["total"], data["items"])
        if answers["pimhub"] != answers["floor"]:
            q = parse_qs(urlsplit(request.split(b" ")[1].decode()).query)["q"][0]
            raise RuntimeError(f"servers disagree on q={q!r}: {answers}")


async def run(workdir: Path, products: int) -> tuple[float, float]:
    db_path = workdir / "bench.db"
    began = time.perf_counter()
    token = build_database(db_path, products)
    print(f"set-up: {products} products in {time.perf_counter() - began:.1f} s", flush=True)
    requests = [request_bytes(q, token) for q in queries(products)]
    ports, commands = pimhub_and_floor(__file__, db_path)
    procs = {}
    seen: dict[str, list[float]] = {name: [] for name in ports}
    try:
        for name, (command, env) in commands.items():
            procs[name] = start(command, env, workdir)
            await wait_ready(ports[name], requests[0])
        await same_answers(ports, requests)
        for port in ports.values():
            await latencies(port, requests, 100, 0)  # warm-up
        for round_ in range(ROUNDS):
            order = list(ports) if round_ % 2 == 0 else list(reversed(ports))
            for name in order:
                seen[name] += await latencies(ports[name], requests, REQUESTS_PER_ROUND, round_)
    finally:
        for proc in procs.values():
            stop(proc)
    figures = {}
    for name, values in seen.items():
        values.sort()
        figures[name] = (percentile(values, 0.5), percentile(values, 0.99))
        mean = statistics.fmean(values) * 1000
        print(
            f"{name:<8} p50 {figures[name][0] * 1000:6.2f} ms  p99 {figures[name][1] * 1000:6.2f}"
            f" ms  mean {mean:6.2f} ms  ({len(values)} searches)"
        )
    return (
        figures["pimhub"][0] / figures["floor"][0],
        figures["pimhub"][1] / figures["floor"][1],
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--floor-server":
        serve_floor(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-") as tmp:
        p50, p99 = asyncio.run(run(Path(tmp), args.products))
    print(f"p50 ratio: {p50:.2f}x  p99 ratio: {p99:.2f}x  (target: within 2x of the floor)")


if __name__ == "__main__":
    main()
