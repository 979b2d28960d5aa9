"""Completeness recomputation when a class's channels change: 100,000 products, then the
Product class gets one more required field for its `ecommerce` channel, which recomputes and
stores every product's completeness in the class change's transaction.

Printed: the whole class change, committed (a change of channels only skips the validation
of every stored object that other class changes do), and the recomputation alone
(catalog.completeness.recompute_class in a unit of work, rolled back; on PostgreSQL it runs
after the class changes, on a table holding their dead row versions), each the median of a
few runs.

Floor: the same UPDATE of every product's completeness column by id, with one raw driver
`executemany` of values computed up front (no reading, no computing). The ratio is the
recomputation's objects/s over the floor's.

    .venv/bin/python bench/completeness.py [--rows 100000] [--postgres postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text

from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.batch import WriteMode
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.completeness import completeness_of, recompute_class
from pimhub.settings import Settings
from pimhub.storage.engine import build_engine
from pimhub.storage.migrate import upgrade

BATCH = 2000
RUNS = 3


def fill(hub: Hub, rows: int) -> None:
    for start in range(0, rows, BATCH):
        items: list[dict[str, Any]] = []
        for n in range(start, min(rows, start + BATCH)):
            item: dict[str, Any] = {"sku": f"C-{n:07}", "name": {"en": f"Product {n}"}}
            if n % 2:
                item["description"] = {"en": "Soft and warm", "de": "Weich und warm"}
            if n % 3:
                item["price"] = {"amount": n % 500 + 1, "currency": "EUR"}
            if n % 5:
                item["image"] = f"products/{n}.jpg"
            items.append(item)
        with hub.catalog.batch_writer("Product", mode=WriteMode.CREATE, author="bench") as w:
            w.save(items)
            w.commit()


def product_with(required: list[str]) -> dict[str, Any]:
    raw = next(c for c in commerce_model() if c["name"] == "Product")
    channel = {**raw["completeness"]["channels"]["ecommerce"], "required": required}
    return {**raw, "completeness": {"channels": {"ecommerce": channel}}}


def time_class_change(hub: Hub) -> float:
    """One class change that adds `ean` to the channel, then one that takes it out again."""
    base = ["name", "description", "price", "image"]
    started = time.perf_counter()
    hub.classes.replace("Product", product_with([*base, "ean"]), author="bench")
    elapsed = time.perf_counter() - started
    hub.classes.replace("Product", product_with(base), author="bench")
    return elapsed


def time_recompute(hub: Hub) -> tuple[float, int]:
    definition = hub.classes.get("Product")
    with hub.catalog.uow(write=True) as uow:
        started = time.perf_counter()
        done = recompute_class(uow.objects, definition)
        return time.perf_counter() - started, done  # rolled back: nothing committed


def time_floor(hub: Hub) -> float:
    """The same UPDATEs with raw executemany, values computed before the clock starts."""
    definition = hub.classes.get("Product")
    value = orjson.dumps(completeness_of(definition, {"name": {"en": "x"}})).decode()
    raw = hub.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT id FROM objects WHERE class_name = 'Product'")
        ids = [r[0] for r in cursor.fetchall()]
        sqlite = hub.engine.dialect.name == "sqlite"
        sql = (
            "UPDATE objects SET completeness = ? WHERE id = ?"
            if sqlite
            else "UPDATE objects SET completeness = CAST(%s AS jsonb) WHERE id = %s"
        )
        rows = [(value, i) for i in ids]
        started = time.perf_counter()
        for chunk in range(0, len(rows), BATCH):
            cursor.executemany(sql, rows[chunk : chunk + BATCH])
        elapsed = time.perf_counter() - started
        raw.rollback()
        return elapsed
    finally:
        raw.close()


def run(url: str, rows: int, label: str) -> float:
    engine = build_engine(url)
    upgrade(engine)
    hub = bootstrap(Settings(database_url=url), engine=engine)
    hub.classes.apply(commerce_model(), author="bench")
    started = time.perf_counter()
    fill(hub, rows)
    print(f"[{label}] {rows:,} products written in {time.perf_counter() - started:.1f} s")
    change = statistics.median(time_class_change(hub) for _ in range(RUNS))
    recompute = statistics.median(time_recompute(hub)[0] for _ in range(RUNS))
    floor = statistics.median(time_floor(hub) for _ in range(RUNS))
    print(f"[{label}] class change (channels only, committed): {change:.2f} s")
    print(f"[{label}] recomputation alone: {recompute:.2f} s ({rows / recompute:,.0f} objects/s)")
    print(f"[{label}] floor, raw executemany UPDATE: {floor:.2f} s ({rows / floor:,.0f} rows/s)")
    engine.dispose()
    return floor / recompute


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("PIMHUB_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ratio = run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.rows, "sqlite")
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = build_engine(args.postgres)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
        sep = "&" if "?" in args.postgres else "?"
        url = f"{args.postgres}{sep}options=-csearch_path%3D{schema},public"
        try:
            run(url, args.rows, "postgresql")
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    print(f"ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
