"""A GraphQL listing of 100 products with nested category and brand, over HTTP, on a catalog
of 100,000 products; then a listing of 20 parents with their 10 variants each.

Floor: a bare Starlette route (same uvicorn, one worker) that fetches the same page joined
with category and brand in one SQL statement on sqlite3 and returns the same JSON with
orjson; no authentication, no GraphQL, no logging. pimhub runs as `pimhub serve` with default
settings. Each request asks for a random one of the first 20 pages (integer offsets, as
Pimcore clients page). Both servers must answer byte-identical JSON (compared at start).
The ratio is median pimhub req/s / median floor req/s; the SQL statement count per request
is measured in-process on the same database.

Second case, parents with their children: a catalog of 100 parents with 10 variants each
(written through the catalog service, so variants inherit as they do in use);
`getProductListing(family: PARENTS)` pages 20 parents with `children { ... }`. Its floor
runs the page of parents and one `parent_uuid IN (...)` statement for all their children,
on sqlite3, and answers the same JSON. Its ratio is printed before the main one, which
stays the last line.

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
        "Product": {
            "fields": ["sku", "name", "price", "stock", "category", "brand", "color", "size"]
        },
        "Category": {"fields": ["code", "name"]},
        "Brand": {"fields": ["code", "name"]},
    },
}
QUERY = """query($after: Int) { getProductListing(first: 100, after: $after) {
  edges { node { sku name price { amount currency } stock
                 category { code name } brand { code name } } }
  pageInfo { hasNextPage } } }"""

FAMILY_PARENTS = 100
FAMILY_CHILDREN = 10
FAMILY_PAGE = 20
FAMILY_PAGES = 4  # pages 0-3: the 21st parent a page looks for is near, not a full scan
FAMILY_QUERY = """query($after: Int) {
  getProductListing(first: 20, after: $after, family: PARENTS) {
  edges { node { sku name price { amount currency }
                 children { sku color size name price { amount currency } } } }
  pageInfo { hasNextPage } } }"""
COLORS = ["black", "white", "red", "blue", "green"]
SIZES = ["S", "M"]

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


FAMILY_FLOOR_SQL = """
SELECT uuid, data FROM objects AS p
WHERE class_name = 'Product' AND published = 1
  AND EXISTS (SELECT 1 FROM objects AS c WHERE c.parent_uuid = p.uuid)
ORDER BY id LIMIT 21 OFFSET ?
"""
CHILDREN_FLOOR_SQL = """
SELECT parent_uuid, data FROM objects
WHERE parent_uuid IN ({}) AND published = 1 ORDER BY parent_uuid, id
"""


# -- the floor server ----------------------------------------------------------------------


def _text(value: Any) -> Any:
    return value.get("en") if isinstance(value, dict) else value


def _related(published: Any, data: Any) -> Any:
    if data is None or not published:
        return None
    values = orjson.loads(data)
    return {"code": values.get("code"), "name": _text(values.get("name"))}


def _money(value: Any) -> Any:
    if value is None:
        return None
    return {"amount": float(value["amount"]), "currency": value["currency"]}


def _families(conn: Any, offset: int) -> dict[str, Any]:
    """The floor of the second case: a page of parents, then all their children at once."""
    found = conn.execute(FAMILY_FLOOR_SQL, (offset,)).fetchall()
    rows = found[:FAMILY_PAGE]
    uuids = [row[0] for row in rows]
    children: dict[str, list[Any]] = {u: [] for u in uuids}
    sql = CHILDREN_FLOOR_SQL.format(", ".join("?" * len(uuids)))
    for parent, data in conn.execute(sql, uuids) if uuids else ():
        values = orjson.loads(data)
        children[parent].append(
            {
                "sku": values["sku"],
                "color": values.get("color"),
                "size": values.get("size"),
                "name": _text(values.get("name")),
                "price": _money(values.get("price")),
            }
        )
    edges = []
    for uuid, data in rows:
        values = orjson.loads(data)
        node = {"sku": values["sku"], "name": _text(values.get("name"))}
        node["price"] = _money(values.get("price"))
        node["children"] = children[uuid]
        edges.append({"node": node})
    return {"edges": edges, "pageInfo": {"hasNextPage": len(found) > FAMILY_PAGE}}


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
        if "children" in body["query"]:
            page = _families(conn, int(body["variables"]["after"]))
            return Response(
                orjson.dumps({"data": {"getProductListing": page}}),
                media_type="application/json",
            )
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
                        "price": _money(price),
                        "stock": stock,  # a whole number: GraphQL answers it as an Int
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


def build_families(db_path: Path) -> str:
    """The commerce model, the demo's brands and categories, and FAMILY_PARENTS parents with
    FAMILY_CHILDREN variants each, written through the catalog service; returns a key."""
    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize
    from pimhub.demo_catalog import generate
    from pimhub.settings import Settings

    hub = bootstrap(Settings(database_url=f"sqlite:///{db_path}"))
    try:
        initialize(hub)
        catalog = generate(1)
        for kind, items in (("Brand", catalog.brands), ("Category", catalog.categories)):
            for item in items:
                hub.catalog.put(kind, item["code"], item, author="bench")
        for n in range(FAMILY_PARENTS):
            sku = f"F-{n:04}"
            parent = {
                "sku": sku,
                "name": {"en": f"Hoodie {n}", "de": f"Kapuzenpulli {n}"},
                "price": {"amount": round(20 + n % 50 + 0.99, 2), "currency": "EUR"},
                "stock": n % 97,
                "category": catalog.categories[n % len(catalog.categories)]["code"],
                "brand": catalog.brands[n % len(catalog.brands)]["code"],
            }
            hub.catalog.create("Product", parent, author="bench")
            for k in range(FAMILY_CHILDREN):
                color, size = COLORS[k // len(SIZES)], SIZES[k % len(SIZES)]
                own: dict[str, Any] = {"sku": f"{sku}-{color}-{size}", "color": color, "size": size}
                if k % 3 == 0:  # some variants price themselves
                    own["price"] = {"amount": 30 + k, "currency": "EUR"}
                hub.catalog.create("Product", own, parent=sku, author="bench")
        hub.datahub.create(CONFIG, author="bench")
        _, token = hub.access.create("bench", ["datahub:bench"], environment="test")
        return token
    finally:
        hub.close()


def _all(hub: Any, kind: str) -> list[Any]:
    from pimhub.catalog.service import ListQuery

    items: list[Any] = hub.catalog.list_objects(kind, ListQuery(first=1000)).items
    return items


def statements_per_request(
    db_path: Path, token: str, query: str = QUERY, expected: int = PAGE
) -> list[str]:
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
        service.run("bench", key, query, {"after": 0}, None)  # warm the caches
        seen: list[str] = []
        listener: Callable[..., None] = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(hub.engine, "before_cursor_execute", listener)
        body = service.run("bench", key, query, {"after": expected}, None)
        event.remove(hub.engine, "before_cursor_execute", listener)
        assert len(body["data"]["getProductListing"]["edges"]) == expected, body
        return [statement.split()[0] for statement in seen]
    finally:
        hub.close()


def request_bytes(offset: int, token: str, query: str = QUERY) -> bytes:
    body = orjson.dumps({"query": query, "variables": {"after": offset}})
    return (
        f"POST /graphql/bench HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


# -- the run -------------------------------------------------------------------------------


async def measure(
    workdir: Path, db_path: Path, requests: list[bytes]
) -> tuple[float, float, dict[str, list[RoundResult]]]:
    """pimhub and the floor on `db_path`, alternating rounds of `requests` (the same answer
    checked first); returns the ratio, the p50 slowdown and the rounds."""
    ports, commands = pimhub_and_floor(__file__, db_path)
    procs = {}
    results: dict[str, list[RoundResult]] = {}
    try:
        for name, (command, env) in commands.items():
            procs[name] = start(command, env, workdir)
            await wait_ready(ports[name], requests[0], procs[name])
        check = requests[min(3, len(requests) - 1)]
        bodies = {name: (await get_once(port, check))[1] for name, port in ports.items()}
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
    slowdown = statistics.median(r.p50 for r in results["pimhub"]) / statistics.median(
        r.p50 for r in results["floor"]
    )
    return figures["pimhub"][0] / figures["floor"][0], slowdown, results


async def run(workdir: Path, products: int) -> float:
    db_path = workdir / "bench.db"
    began = time.perf_counter()
    token = build_database(db_path, products)
    print(f"set-up: {products} products in {time.perf_counter() - began:.1f} s", flush=True)
    statements = statements_per_request(db_path, token)
    print(f"SQL statements per request: {len(statements)} ({' '.join(statements)})", flush=True)
    requests = [request_bytes(page * PAGE, token) for page in range(PAGES)]
    ratio, slowdown, _ = await measure(workdir, db_path, requests)
    print(f"p50 latency: pimhub / floor = {slowdown:.2f}x (target: within 2x)")

    print(f"-- parents with their children ({FAMILY_PAGE} of {FAMILY_PARENTS} parents per page)")
    family_db = workdir / "families.db"
    began = time.perf_counter()
    token = build_families(family_db)
    print(
        f"set-up: {FAMILY_PARENTS} parents x {FAMILY_CHILDREN} variants in "
        f"{time.perf_counter() - began:.1f} s",
        flush=True,
    )
    statements = statements_per_request(family_db, token, FAMILY_QUERY, FAMILY_PAGE)
    print(f"SQL statements per request: {len(statements)} ({' '.join(statements)})", flush=True)
    requests = [
        request_bytes(page * FAMILY_PAGE, token, FAMILY_QUERY) for page in range(FAMILY_PAGES)
    ]
    family_ratio, family_slowdown, _ = await measure(workdir, family_db, requests)
    print(f"p50 latency: pimhub / floor = {family_slowdown:.2f}x")
    print(f"ratio (parents with children): {family_ratio:.3f}")
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
