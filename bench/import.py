"""Import throughput: 100,000 generated product rows from CSV through `run_import` (mapping,
validation, relation lookup, versions, outbox events, search documents) into SQLite.

Floor (the issue's): the same CSV parsed with the csv module and inserted with one raw
`sqlite3.executemany` into a bare table with a unique SKU index, in the same run. The ratio
is pimhub rows/s over floor rows/s (target 0.5).

Also printed, for reading the ratio: the storage ceiling, i.e. the rows pimhub wrote
(objects, versions, outbox events, references, search documents) copied into a fresh pimhub
database with raw executemany and a commit per batch, as pimhub commits: what no amount of
Python speed can beat with this storage layout. Then the re-import of the unchanged file,
peak RSS, and with --postgres URL (or PIMHUB_BENCH_POSTGRES_URL) the same import into
PostgreSQL (a throwaway schema).

And Magento's Luma sample catalog (1,994 rows, ../shared/datasets, or --luma PATH) through the
shipped magento-products mapping with its variants (147 configurable products linking 1,847
simple ones, which are written one by one), with its re-import, each as a ratio of the floor.

    .venv/bin/python bench/import.py [--rows 100000] [--postgres postgresql://...] [--luma CSV]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

COLUMNS = ["sku", "name", "description", "price", "qty", "brand", "color", "weight"]
MAPPING = {
    "class": "Product",
    "fields": {
        "sku": "sku",
        "name.en": "name",
        "shortDescription.en": "description",
        "price.amount": {"column": "price", "number": True},
        "price.currency": {"value": "EUR"},
        "stock": {"column": "qty", "number": True},
        "brand": "brand",
        "color": {"column": "color", "lowercase": True},
        "weight": {"column": "weight", "number": True},
    },
}
WORDS = [
    "soft",
    "warm",
    "light",
    "breathable",
    "cotton",
    "wool",
    "merino",
    "jacket",
    "hoodie",
    "trail",
    "urban",
    "classic",
]
COLORS = ["Black", "White", "Grey", "Red", "Blue", "Green"]


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(5)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for n in range(rows):
            writer.writerow(
                [
                    f"IMP-{n:07}",
                    f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {n}",
                    " ".join(rng.choice(WORDS) for _ in range(30)),
                    f"{rng.randint(5, 500)}.{rng.randint(0, 99):02}",
                    rng.randint(0, 500),
                    f"brand-{n % 20}",
                    rng.choice(COLORS),
                    f"{rng.random() * 3:.3f}",
                ]
            )


def floor(csv_path: Path, db_path: Path) -> float:
    began = time.perf_counter()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, name TEXT, "
        "description TEXT, price TEXT, qty TEXT, brand TEXT, color TEXT, weight TEXT)"
    )
    conn.execute("CREATE UNIQUE INDEX ix_products_sku ON products (sku)")
    with csv_path.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        next(reader)
        conn.executemany(
            "INSERT INTO products (sku, name, description, price, qty, brand, color, weight) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            reader,
        )
    conn.commit()
    conn.close()
    return time.perf_counter() - began


TABLES = ("objects", "object_versions", "outbox", "object_references")
BATCH = 1000  # rows per commit, as run_import's default


def ceiling(source: Path, db_path: Path) -> float:
    """Seconds to write the rows pimhub wrote for its products into a fresh database, read
    batch by batch (a million rows do not fit in memory at once)."""
    from pimhub.storage.engine import build_engine
    from pimhub.storage.migrate import upgrade

    engine = build_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    engine.dispose()
    src = sqlite3.connect(source)
    objects = src.execute("SELECT * FROM objects WHERE class_name = 'Product' ORDER BY id")
    versions = src.execute("SELECT * FROM object_versions WHERE class_name = 'Product'")
    events = src.execute("SELECT * FROM outbox WHERE class_name = 'Product'")
    conn = sqlite3.connect(db_path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    seconds = 0.0
    while chunk := objects.fetchmany(BATCH):
        first, last = chunk[0][0], chunk[-1][0]  # ids: the references and documents match
        rows = {
            "objects": chunk,
            "object_versions": versions.fetchmany(BATCH),
            "outbox": events.fetchmany(BATCH),
            "object_references": src.execute(
                "SELECT * FROM object_references WHERE source_id BETWEEN ? AND ?", (first, last)
            ).fetchall(),
        }
        documents = src.execute(
            "SELECT rowid, key, name, body, language FROM search_fts "
            "WHERE rowid >= ? AND rowid < ?",
            (first * 64, (last + 1) * 64),
        ).fetchall()
        began = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for table in TABLES:
            if rows[table]:
                marks = ", ".join("?" * len(rows[table][0]))
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows[table])
        conn.executemany(
            "INSERT INTO search_fts (rowid, key, name, body, language) VALUES (?, ?, ?, ?, ?)",
            documents,
        )
        conn.execute("COMMIT")
        seconds += time.perf_counter() - began
    conn.close()
    src.close()
    return seconds


def pimhub(csv_path: Path, url: str) -> tuple[float, float, Any]:
    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize
    from pimhub.settings import Settings
    from pimhub.transfer.importer import ImportOptions, run_import
    from pimhub.transfer.mapping import parse_mapping
    from pimhub.transfer.sources import read

    hub = bootstrap(Settings(database_url=url))
    initialize(hub)
    for n in range(20):
        hub.catalog.create("Brand", {"code": f"brand-{n}", "name": f"Brand {n}"}, author="bench")
    mapping = parse_mapping(MAPPING)

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="bench")

    began = time.perf_counter()
    first = run_import(writer, read(csv_path), mapping, ImportOptions())
    seconds = time.perf_counter() - began
    assert first.failed == 0, first.errors[:3]
    began = time.perf_counter()
    again = run_import(writer, read(csv_path), mapping, ImportOptions())
    assert again.unchanged == first.rows, again.to_dict()
    again_seconds = time.perf_counter() - began
    hub.engine.dispose()
    return seconds, again_seconds, first


LUMA = "datasets/magento2-sample-data/ConfigurableSampleData/fixtures/products.csv"


def luma(csv_path: Path, url: str, variants: bool = True) -> tuple[float, float, Any]:
    """Seconds to import Luma's CSV with magento-products (variants linked, unless not
    `variants`) into a fresh hub, seconds to import it again (nothing changes), and the
    first summary."""
    import yaml

    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize
    from pimhub.settings import Settings
    from pimhub.transfer.importer import ImportOptions, run_import
    from pimhub.transfer.mapping import parse_mapping, shipped_mapping
    from pimhub.transfer.sources import read

    hub = bootstrap(Settings(database_url=url))
    initialize(hub)
    raw = yaml.safe_load(shipped_mapping("magento-products") or "")
    if not variants:
        del raw["fields"]["@variants"]
    mapping = parse_mapping(raw)

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="bench")

    began = time.perf_counter()
    first = run_import(writer, read(csv_path), mapping, ImportOptions())
    seconds = time.perf_counter() - began
    assert first.failed == 0 and (first.parents > 0) == variants, first.to_dict()
    began = time.perf_counter()
    again = run_import(writer, read(csv_path), mapping, ImportOptions())
    assert again.unchanged == first.rows, again.to_dict()
    again_seconds = time.perf_counter() - began
    hub.engine.dispose()
    return seconds, again_seconds, first


def postgres(csv_path: Path, url: str) -> tuple[float, float, Any]:
    """The same import into a throwaway schema of the PostgreSQL database at `url`."""
    from sqlalchemy import text

    from pimhub.storage.engine import build_engine

    schema = f"pimhub_bench_{uuid.uuid4().hex[:8]}"
    admin = build_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in url else "?"
    try:
        return pimhub(csv_path, f"{url}{joiner}options=-csearch_path%3D{schema},public")
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PIMHUB_BENCH_POSTGRES_URL"),
        help="also import into this PostgreSQL database (default: PIMHUB_BENCH_POSTGRES_URL)",
    )
    parser.add_argument(
        "--luma",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / LUMA,
        help="Magento's Luma products.csv (default: ../shared/datasets/...)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / "products.csv"
        write_csv(csv_path, args.rows)
        floor_seconds = floor(csv_path, work / "floor.db")
        seconds, again_seconds, summary = pimhub(csv_path, f"sqlite:///{work / 'pimhub.db'}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ceiling_seconds = ceiling(work / "pimhub.db", work / "ceiling.db")
        pg = postgres(csv_path, args.postgres) if args.postgres else None
        variants = plain = None
        if args.luma.exists():
            variants = luma(args.luma, f"sqlite:///{work / 'luma.db'}")
            plain = luma(args.luma, f"sqlite:///{work / 'luma-plain.db'}", variants=False)
    floor_rate, rate = args.rows / floor_seconds, args.rows / seconds
    print(f"floor    {floor_rate:10,.0f} rows/s  ({floor_seconds:.2f} s: csv + raw executemany)")
    print(
        f"ceiling  {args.rows / ceiling_seconds:10,.0f} rows/s  ({ceiling_seconds:.2f} s: "
        "pimhub's rows, raw executemany, a commit per 1,000)"
    )
    print(
        f"pimhub   {rate:10,.0f} rows/s  ({seconds:.2f} s: {summary.created:,} created with "
        "versions, outbox events and search documents)"
    )
    print(f"re-import of the unchanged file: {args.rows / again_seconds:,.0f} rows/s")
    print(f"peak RSS {peak:,.0f} MB (through the import)")
    if pg is not None:
        print(
            f"PostgreSQL: {args.rows / pg[0]:,.0f} rows/s, "
            f"re-import {args.rows / pg[1]:,.0f} rows/s"
        )
    if variants is not None and plain is not None:
        luma_seconds, luma_again, luma_summary = variants
        luma_rate, luma_again_rate = (
            luma_summary.rows / luma_seconds,
            luma_summary.rows / luma_again,
        )
        print(
            f"Luma     {luma_rate:10,.0f} rows/s  ({luma_seconds:.2f} s: {luma_summary.rows:,} "
            f"rows, {luma_summary.parents} parents linking {luma_summary.variants:,} variants; "
            f"ratio {luma_rate / floor_rate:.4f}); re-import {luma_again_rate:,.0f} rows/s "
            f"(ratio {luma_again_rate / floor_rate:.4f})"
        )
        print(
            f"Luma without linking variants: {luma_summary.rows / plain[0]:,.0f} rows/s, "
            f"re-import {luma_summary.rows / plain[1]:,.0f} rows/s"
        )
    else:
        print(f"Luma: skipped, no file at {args.luma} (pass --luma)")
    print(f"of the storage ceiling: {seconds and ceiling_seconds / seconds:.2f}")
    print(f"ratio: {rate / floor_rate:.3f} (target: 0.5 or more)")


if __name__ == "__main__":
    main()
