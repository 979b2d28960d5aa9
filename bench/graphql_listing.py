"""A GraphQL listing of 100 products with nested category and brand, over HTTP, on a catalog
of 100,000 products.

Floor: a bare Starlette route (same uvicorn, one worker) that fetches the same page joined
with category and brand in one SQL statement on sqlite3 and returns the same JSON with
orjson; no authentication, no GraphQL, no logging. pimhub runs as `pimhub serve` with default
settings. Each request asks for a random one of the first 20 pages (integer offsets, as
Pimcore clients page). Both servers must answer byte-identical JSON (compared at start).
The ratio is median pimhub req/s / median floor req/s; the SQL statement count per request
is measured in-process on the same database.

    .venv/bin/python bench/graphql_listing.py [--products 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rest_get import (
    HOST,
    RoundResult,
    alternate_rounds,
    get_once,
    pimhub_and_floor,
    product_row,
    start,
    stop,
    summary,
    wait_ready,
)

PAGE = 100
PAGES = 20
ROUND_SECONDS = 5.0
REPEATS = 5
CONFIG = {
    "name": "bench",
    "classes": {
        "Product": {"fields": ["sku", "name", "price", "stock", "category", "brand"]},
        "Category": {"fields": ["code", "name"]},
        "Brand": {"fields": ["code", "name"]},
    },
}
QUERY = """query($after: Cursor) { getProductListing(first: 100, after: $after) {
  edges { node { sku name price { amount currency } stock
                 category { code name } brand { code name } } }
  pageInfo { hasNextPage } } }"""

FLOOR_SQL = """
SELECT p.data, c.published, c.data, b.published, b.data
FROM (
  SELECT id, data FROM objects
  WHERE class_name = 'Product' AND published = 1
  ORDER BY id LIMIT 101 OFFSET ?
) AS p
LEFT OUTER JOIN objects AS c ON c.uuid = json_extract(p.data, '$."category"')
LEFT OUTER JOIN objects AS b ON b.uuid = json_extract(p.data, '$."brand"')
ORDER BY p.id
"""


# -- the floor server ----------------------------------------------------------------------


def _text(value: Any) -> Any:
    return value.get("en") if isinstance(value, dict) else value


def _related(published: Any, data: Any) -> Any:
    if data is None or not published:
        return None
    values = orjson.loads(data)
    return {"code": values.get("code"), "name": _text(values.get("name"))}


def serve_floor(port: int, db_path: str) -> None:
    import sqlite3

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    conn = sqlite3.connect(db_path, check_same_thread=False)

    async def listing(request: Request) -> Response:
        body = orjson.loads(await request.body())
        rows = conn.execute(FLOOR_SQL, (int(body["variables"]["after"]),)).fetchall()
        edges = []
        for row in rows[:PAGE]:
            data = orjson.loads(row[0])
            price = data.get("price")
            stock = data.get("stock")
            edges.append(
                {
                    "node": {
                        "sku": data["sku"],
                        "name": _text(data.get("name")),
                        "price": None
                        if price is None
                        else {"amount": float(price["amount"]), "currency": price["currency"]},
                        "stock": None if stock is None else float(stock),
                        "category": _related(row[1], row[2]),
                        "brand": _related(row[3], row[4]),
                    }
                }
            )
        page = {"edges": edges, "pageInfo": {"hasNextPage": len(rows) > PAGE}}
        return Response(
            orjson.dumps({"data": {"getProductListing": page}}), media_type="application/json"
        )

    app = Starlette(routes=[Route("/graphql/bench", listing, methods=["POST"])])
    uvicorn.run(app, host=HOST, port=port, access_log=False, log_level="warning")


# -- set-up --------------------------------------------------------------------------------


def build_database(db_path: Path, products: int) -> str:
    """The commerce model, the demo's brands and categories, `products` products written
    straight into the tables (a bulk load, not the subject here); returns a datahub key."""
    from sqlalchemy import insert

    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize
    from pimhub.demo_catalog import generate
    from pimhub.settings import Settings
    from pimhub.storage.tables import objects

    hub = bootstrap(Settings(database_url=f"sqlite:///{db_path}"))
    try:
        initialize(hub)
        catalog = generate(1)
        for kind, items in (("Brand", catalog.brands), ("Category", catalog.categories)):
            for item in items:
                hub.catalog.put(kind, item["code"], item, author="bench")
        uuids = {kind: {o.key: o.uuid for o in _all(hub, kind)} for kind in ("Brand", "Category")}
        brands, categories = list(uuids["Brand"].values()), list(uuids["Category"].values())
        now = datetime.now(UTC)
        rows = [
            product_row(
                n,
                {
                    "name": {"en": f"Product {n}", "de": f"Produkt {n}"},
                    "price": {"amount": round(5 + n % 500 + 0.99, 2), "currency": "EUR"},
                    "stock": n % 97,
                    "category": categories[n % len(categories)],
                    "brand": brands[n % len(brands)],
                },
                now,
            )
            for n in range(products)
        ]
        with hub.engine.begin() as conn:
            for chunk in range(0, len(rows), 10_000):
                conn.execute(insert(objects), rows[chunk : chunk + 10_000])
        hub.datahub.create(CONFIG, author="bench")
        _, token = hub.access.create("bench", ["datahub:bench"], environment="test")
        return token
    finally:
        hub.close()


def _all(hub: Any, kind: str) -> list[Any]:
    from pimhub.catalog.service import ListQuery

    return hub.catalog.list_objects(kind, ListQuery(first=1000)).items


def statements_per_request(db_path: Path, token: str) -> list[str]:
    """SQL statements one warm listing request executes, counted in-process (the BEGIN of
    its read snapshot included)."""
    from sqlalchemy import event

    from pimhub.api.app import graphql_service
    from pimhub.bootstrap import bootstrap
    from pimhub.settings import Settings

    hub = bootstrap(Settings(database_url=f"sqlite:///{db_path}"))
    try:
        service = graphql_service(hub)
        key = hub.access.authenticate(token)
        service.run("bench", key, QUERY, {"after": 0}, None)  # warm the caches
        seen: list[str] = []
        listener: Callable[..., None] = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(hub.engine, "before_cursor_execute", listener)
        body = service.run("bench", key, QUERY, {"after": 100}, None)
        event.remove(hub.engine, "before_cursor_execute", listener)
        assert len(body["data"]["getProductListing"]["edges"]) == PAGE, body
        return [statement.split()[0] for statement in seen]
    finally:
        hub.close()


def request_bytes(offset: int, token: str) -> bytes:
    body = orjson.dumps({"query": QUERY, "variables": {"after": offset}})
    return (
        f"POST /graphql/bench HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


# -- the run -------------------------------------------------------------------------------


async def run(workdir: Path, products: int) -> float:
    db_path = workdir / "bench.db"
    began = time.perf_counter()
    token = build_database(db_path, products)
    print(f"set-up: {products} products in {time.perf_counter() - began:.1f} s", flush=True)
    statements = statements_per_request(db_path, token)
    print(f"SQL statements per request: {len(statements)} ({' '.join(statements)})", flush=True)
    requests = [request_bytes(page * PAGE, token) for page in range(PAGES)]
    ports, commands = pimhub_and_floor(__file__, db_path)
    procs = {}
    results: dict[str, list[RoundResult]] = {}
    try:
        for name, (command, env) in commands.items():
            procs[name] = start(command, env, workdir)
            await wait_ready(ports[name], requests[0], procs[name])
        bodies = {name: (await get_once(port, requests[3]))[1] for name, port in ports.items()}
        pimhub_body = orjson.loads(bodies["pimhub"])
        pimhub_body.pop("extensions", None)
        if pimhub_body != orjson.loads(bodies["floor"]):
            raise RuntimeError(f"servers disagree: {bodies['pimhub'][:400]!r}")
        results = await alternate_rounds(ports, procs, requests, REPEATS, ROUND_SECONDS)
    finally:
        for proc in procs.values():
            stop(proc)
    figures = {name: summary(name, rounds) for name, rounds in results.items()}
    for _, line in figures.values():
        print(line)
    ratio = figures["pimhub"][0] / figures["floor"][0]
    slowdown = statistics.median(r.p50 for r in results["pimhub"]) / statistics.median(
        r.p50 for r in results["floor"]
    )
    print(f"p50 latency: pimhub / floor = {slowdown:.2f}x (target: within 2x)")
    return ratio


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--floor-server":
        serve_floor(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-") as tmp:
        ratio = asyncio.run(run(Path(tmp), args.products))
    print(f"ratio: {ratio:.3f} (target: 0.5 or more, i.e. within 2x of the floor)")


if __name__ == "__main__":
    main()
