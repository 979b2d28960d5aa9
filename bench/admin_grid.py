"""The admin's catalog grid page over 100,000 products, against the same catalog query
served as JSON by a bare route.

One server process (uvicorn, one worker) serves both: the admin (`create_app`, signed in with
a session cookie, the page rendered with its Jinja templates) and a bare Starlette route that
parses the same query string, runs the SAME catalog listing (`hub.catalog.list_objects` with
the grid's ListQuery) and answers its items as orjson: no session, no template, no lookups.
Two cases: (a) the first page of the grid as it opens, (b) a filtered and sorted page
(price > 200 from a filter row, published only, sorted by price descending). Rounds of
concurrent keep-alive load alternate between page and floor; the ratio is the median over
the repeats of page req/s over floor req/s in the same repeat (target: 0.5 or more). The SQL
statements of one page are counted in-process.

    .venv/bin/python bench/admin_grid.py [--products 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rest_get import (
    HOST,
    WARMUP_SECONDS,
    RoundResult,
    clean_env,
    free_port,
    get_once,
    load_round,
    product_row,
    start,
    stop,
    summary,
    wait_ready,
)

ROUND_SECONDS = 4.0
# Five rounds each: the median then shrugs off one round hit by other work on the machine.
REPEATS = 5
CASES = {
    "first page": "",
    "filtered + sorted": "f=price&op=gt&v=200&published=published&sort=-price",
}
PAGE = "/admin/objects/Product"
FLOOR = "/floor/objects/Product"


# -- the server ----------------------------------------------------------------------------


def serve(port: int, db_path: str) -> None:
    """The admin and the floor route in one uvicorn process."""
    import orjson
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    from pimhub.admin.grid import grid_state
    from pimhub.admin.grid_query import list_query
    from pimhub.api.app import create_app
    from pimhub.bootstrap import bootstrap
    from pimhub.settings import Settings

    hub = bootstrap(Settings(database_url=f"sqlite:///{db_path}"))

    def listing(params: Any) -> bytes:
        state = grid_state(params)
        definition = hub.classes.get("Product")
        query = list_query(state, state.filter_json(definition, "en"), include_drafts=True)
        page = hub.catalog.list_objects("Product", query)
        body = {
            "total": page.total,
            "items": [o.to_dict() for o in page.items],
            "nextCursor": page.next_cursor,
        }
        return orjson.dumps(body)

    async def floor(request: Request) -> Response:
        body = await run_in_threadpool(listing, request.query_params)
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route(FLOOR, floor), Mount("/", create_app(hub))])
    uvicorn.run(app, host=HOST, port=port, access_log=False, log_level="warning")


# -- set-up --------------------------------------------------------------------------------


def build_database(db_path: Path, products: int) -> str:
    """The commerce model, the demo's brands and categories and `products` products written
    straight into the tables (a bulk load, not the subject here), and a catalog manager
    signed in; returns the session token."""
    from sqlalchemy import insert

    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize
    from pimhub.demo_catalog import generate
    from pimhub.settings import Settings
    from pimhub.storage.tables import objects
    from pimhub.users.passwords import Argon2Passwords

    hub = bootstrap(Settings(database_url=f"sqlite:///{db_path}"))
    try:
        initialize(hub)
        catalog = generate(1)
        for kind, items in (("Brand", catalog.brands), ("Category", catalog.categories)):
            for item in items:
                hub.catalog.put(kind, item["code"], item, author="bench")
        now = datetime.now(UTC)
        rows = [
            product_row(
                n,
                {
                    "name": {"en": f"Product {n}", "de": f"Produkt {n}"},
                    "price": {"amount": round(5 + n % 500 + 0.99, 2), "currency": "EUR"},
                    "stock": n % 97,
                    "weight": {"value": 1 + n % 5, "unit": "kg"},
                },
                now,
            )
            for n in range(products)
        ]
        for n in range(0, products, 10):  # every tenth product a draft
            rows[n]["published"] = False
        with hub.engine.begin() as conn:
            for chunk in range(0, len(rows), 10_000):
                conn.execute(insert(objects), rows[chunk : chunk + 10_000])
        hub.users.passwords = Argon2Passwords(time_cost=1, memory_cost=64)
        user = hub.users.create("bench", "bench-password", "catalog-manager")
        _, token = hub.users.start_session(user)
        return token
    finally:
        hub.close()


def statements_per_page(db_path: Path, token: str, query: str) -> list[str]:
    """The SQL statements one warm grid page runs (session lookup included), in-process."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from pimhub.api.app import create_app
    from pimhub.bootstrap import bootstrap
    from pimhub.settings import Settings

    hub = bootstrap(Settings(database_url=f"sqlite:///{db_path}"))
    try:
        client = TestClient(create_app(hub), cookies={"pimhub_session": token})
        assert client.get(f"{PAGE}?{query}").status_code == 200  # warm
        seen: list[str] = []
        listener: Callable[..., None] = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(hub.engine, "before_cursor_execute", listener)
        answer = client.get(f"{PAGE}?{query}")
        event.remove(hub.engine, "before_cursor_execute", listener)
        assert answer.status_code == 200, answer.text[:300]
        return [statement.split()[0] for statement in seen]
    finally:
        hub.close()


def request_bytes(path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nCookie: pimhub_session={token}\r\n\r\n"
    ).encode()


# -- the run -------------------------------------------------------------------------------


async def measure(workdir: Path, db_path: Path, token: str) -> dict[str, float]:
    port = free_port()
    proc = start(
        [sys.executable, __file__, "--server", str(port), str(db_path)], clean_env(), workdir
    )
    ratios = {}
    try:
        first = request_bytes(PAGE, token)
        await wait_ready(port, first, proc)
        for case, query in CASES.items():
            suffix = f"?{query}" if query else ""
            requests = {
                "page": [request_bytes(PAGE + suffix, token)],
                "floor": [request_bytes(FLOOR + suffix, token)],
            }
            for name, request in requests.items():
                status, body = await get_once(port, request[0])
                if status != 200:
                    raise RuntimeError(f"{case} {name}: {status} {body[:300]!r}")
            print(f"-- {case}: {PAGE}{suffix}", flush=True)
            results = await _rounds(port, proc, requests)
            figures = {name: summary(name, rounds) for name, rounds in results.items()}
            for _, line in figures.values():
                print(line)
            p50 = statistics.median(r.p50 for r in results["page"]) / statistics.median(
                r.p50 for r in results["floor"]
            )
            of_medians = figures["page"][0] / figures["floor"][0]
            ratios[case] = paired_ratio(results["page"], results["floor"])
            print(
                f"{case}: p50 latency page / floor = {p50:.2f}x; ratio {ratios[case]:.3f} "
                f"(median of the rounds' pairs; of the medians: {of_medians:.3f})"
            )
    finally:
        stop(proc)
    return ratios


def paired_ratio(page: list[RoundResult], floor: list[RoundResult]) -> float:
    """The median over repeats of page req/s over the floor's in the same repeat. The two
    rounds of a repeat run back to back, so other work on a shared machine slows both about
    alike; a ratio of medians taken apart pairs a slowed round of one with a free one of the
    other."""
    return statistics.median(p.rps / f.rps for p, f in zip(page, floor, strict=True))


async def _rounds(
    port: int, proc: subprocess.Popen[bytes], requests: dict[str, list[bytes]]
) -> dict[str, list[RoundResult]]:
    """A warm-up of each, then rounds alternating between page and floor (one server)."""
    for request in requests.values():
        await load_round(port, request, WARMUP_SECONDS, seed=0)
    out: dict[str, list[RoundResult]] = {name: [] for name in requests}
    for repeat in range(REPEATS):
        order = list(requests) if repeat % 2 == 0 else list(reversed(requests))
        for name in order:
            result = await load_round(port, requests[name], ROUND_SECONDS, seed=repeat + 1)
            if result.errors:
                raise RuntimeError(f"{name}: {result.errors} non-2xx: {result.failures}")
            out[name].append(result)
            print(f"  round {repeat + 1} {name:<6} {result.rps:8.1f} req/s", flush=True)
    return out


async def run(workdir: Path, products: int) -> dict[str, float]:
    db_path = workdir / "bench.db"
    began = time.perf_counter()
    token = build_database(db_path, products)
    print(f"set-up: {products} products in {time.perf_counter() - began:.1f} s", flush=True)
    for case, query in CASES.items():
        statements = statements_per_page(db_path, token, query)
        print(f"SQL statements per page ({case}): {len(statements)} ({' '.join(statements)})")
    return await measure(workdir, db_path, token)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--server":
        serve(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-") as tmp:
        ratios = asyncio.run(run(Path(tmp), args.products))
    for case, ratio in ratios.items():
        print(f"ratio ({case}): {ratio:.3f}")
    # The bench's one figure, as every bench prints it: the worse of the two cases.
    print(f"ratio: {min(ratios.values()):.3f} (target: 0.5 or more of the floor)")


if __name__ == "__main__":
    main()
