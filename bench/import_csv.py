"""Import throughput: 100,000 generated product rows from CSV through `run_import` (mapping,
validation, relation lookup, versions, outbox events, search documents) into SQLite.

Floor: the same CSV parsed with the csv module and inserted with one raw
`sqlite3.executemany` into a bare table with a unique SKU index, in the same run. The ratio
is pimhub rows/s over floor rows/s (target 0.5). Also prints the re-import of the unchanged
file, and peak RSS.

    .venv/bin/python bench/import_csv.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sqlite3
import tempfile
import time
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


def pimhub(csv_path: Path, db_path: Path) -> tuple[float, float, Any]:
    from pimhub.bootstrap import bootstrap
    from pimhub.cli.server import initialize
    from pimhub.settings import Settings
    from pimhub.transfer.importer import ImportOptions, run_import
    from pimhub.transfer.mapping import parse_mapping
    from pimhub.transfer.sources import read

    hub = bootstrap(Settings(database_url=f"sqlite:///{db_path}"))
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
    return seconds, time.perf_counter() - began, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / "products.csv"
        write_csv(csv_path, args.rows)
        floor_seconds = floor(csv_path, work / "floor.db")
        seconds, again_seconds, summary = pimhub(csv_path, work / "pimhub.db")
    floor_rate, rate = args.rows / floor_seconds, args.rows / seconds
    print(f"floor   {floor_rate:10,.0f} rows/s  ({floor_seconds:.2f} s: csv + raw executemany)")
    print(
        f"pimhub  {rate:10,.0f} rows/s  ({seconds:.2f} s: {summary.created:,} created with "
        "versions, outbox events and search documents)"
    )
    print(f"re-import of the unchanged file: {args.rows / again_seconds:,.0f} rows/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")
    print(f"ratio: {rate / floor_rate:.3f} (target: 0.5 or more)")


if __name__ == "__main__":
    main()
