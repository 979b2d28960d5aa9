"""Throughput of PATCH /api/v1/objects/Product/{sku} under concurrent keep-alive load.

Each request changes one field ({"fields": {"stock": n}}, n never repeating, so every PATCH
writes) of a random one of 1,500 demo products, without If-Match, from 16 keep-alive
connections; a second figure sends every request to the same SKU (all writers contend for
one key). pimhub runs as `pimhub serve` with default settings (INFO request logs, sent to
/dev/null) and a key with read and write scopes, so it answers 200 with the object.

Floor: a bare Starlette route on the same uvicorn that does the same durable work with the
raw driver in one transaction: read the row by business key, UPDATE the object row (version
+ 1, modification time, data JSON), INSERT a version row and an outbox event row, commit,
and answer the object as pimhub does with orjson; no authentication, validation, relation
lookups, search documents or logging. Its tables (objects, object_versions, outbox: pimhub's
columns, keys and indexes) are its own, filled with a copy of pimhub's objects. On SQLite
(the default) it uses one sqlite3 connection (WAL, synchronous=NORMAL, as pimhub) in the
event loop; SQLite runs one writer at a time anyway. With --postgres URL (or
PIMHUB_BENCH_POSTGRES_URL) both run on PostgreSQL instead: a fresh database created beside
URL's and dropped at the end, pimhub in its public schema, the floor in a schema of its own
with a psycopg connection per worker thread and SELECT ... FOR UPDATE. Both servers must
answer the same object to the same PATCH (checked at the start).

Rounds alternate between the servers; the figures are medians of 2xx answers per second,
and the ratio is median pimhub req/s / median floor req/s for the spread writes (the one-SKU
ratio is an extra line). Answers other than 2xx do not count as throughput; they are counted
and shown per round with the first body of each status. At the end the versions pimhub
recorded for the one SKU must be 1..n, none missing or repeated.

PIMHUB_BENCH_SERVER_PYTHONPATH, if set, is the PYTHONPATH of the pimhub server only (for
instance the src folder of a git worktree of an older commit, to measure it against the
same floor); the script prints where the server imports pimhub from.

    .venv/bin/python bench/rest_write.py [--postgres postgresql://...]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rest_get import (
    HOST,
    RoundResult,
    alternate_rounds,
    build_database,
    clean_env,
    free_port,
    get_once,
    pimhub_command,
    run_fast,
    start,
    stop,
    summary,
    wait_ready,
)

PRODUCTS = 1500
ROUND_SECONDS = 4.0
REPEATS = 5
FLOOR_SCHEMA = "bench_floor"
SERVER_PYTHONPATH = "PIMHUB_BENCH_SERVER_PYTHONPATH"

# pimhub's three tables as storage/tables.py declares them; {id}, {time} and {json} are the
# column types of the backend.
FLOOR_DDL = """
CREATE TABLE objects (
  id {id} PRIMARY KEY, uuid VARCHAR(36) NOT NULL UNIQUE, class_name VARCHAR(64) NOT NULL,
  business_key VARCHAR(255) NOT NULL, published BOOLEAN NOT NULL, version INTEGER NOT NULL,
  created_at {time} NOT NULL, modified_at {time} NOT NULL, data {json} NOT NULL,
  completeness {json} NOT NULL, UNIQUE (class_name, business_key));
CREATE INDEX ix_objects_class_name_modified_at ON objects (class_name, modified_at);
CREATE INDEX ix_objects_class_name_id ON objects (class_name, id);
CREATE TABLE object_versions (
  id {id} PRIMARY KEY, object_uuid VARCHAR(36) NOT NULL, class_name VARCHAR(64) NOT NULL,
  business_key VARCHAR(255) NOT NULL, version INTEGER NOT NULL, action VARCHAR(16) NOT NULL,
  author VARCHAR(255) NOT NULL, created_at {time} NOT NULL, published BOOLEAN NOT NULL,
  changed_fields {json} NOT NULL, data {json} NOT NULL, UNIQUE (object_uuid, version));
CREATE TABLE outbox (
  id {id} PRIMARY KEY, event_id VARCHAR(40) NOT NULL UNIQUE, event_type VARCHAR(40) NOT NULL,
  class_name VARCHAR(64) NOT NULL, object_uuid VARCHAR(36), business_key VARCHAR(255),
  version INTEGER NOT NULL, changed_fields {json} NOT NULL, payload {json} NOT NULL,
  created_at {time} NOT NULL, dispatched_at {time});
CREATE INDEX ix_outbox_dispatched_at_id ON outbox (dispatched_at, id);
"""
SQLITE_TYPES = {"id": "INTEGER", "time": "DATETIME", "json": "JSON"}
POSTGRES_TYPES = {"id": "BIGSERIAL", "time": "TIMESTAMPTZ", "json": "JSONB"}
COPY_OBJECTS = (
    "INSERT INTO {floor}objects SELECT id, uuid, class_name, business_key, published, version,"
    " created_at, modified_at, data, completeness FROM {source}objects"
)

SELECT = (
    "SELECT id, uuid, published, version, created_at, data, completeness FROM objects"
    " WHERE class_name = 'Product' AND business_key = ?"
)
UPDATE = "UPDATE objects SET version = ?, modified_at = ?, data = ? WHERE id = ?"
INSERT_VERSION = (
    "INSERT INTO object_versions (object_uuid, class_name, business_key, version, action,"
    " author, created_at, published, changed_fields, data)"
    " VALUES (?, 'Product', ?, ?, 'updated', 'bench', ?, ?, ?, ?)"
)
INSERT_EVENT = (
    "INSERT INTO outbox (event_id, event_type, class_name, object_uuid, business_key, version,"
    " changed_fields, payload, created_at) VALUES (?, 'object.updated', 'Product', ?, ?, ?, ?,"
    " ?, ?)"
)


# -- the floor server ----------------------------------------------------------------------


def iso(moment: datetime | str) -> str:
    """pimhub's timestamps: UTC, milliseconds, Z (SQLite stores them naive, as text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FloorStore:
    """The floor's connection and statements: sqlite3 on a file, or psycopg."""

    def __init__(self, target: str) -> None:
        self.postgres = target.startswith("postgresql")
        if self.postgres:
            import psycopg
            from psycopg.types.json import set_json_dumps, set_json_loads

            self.conn: Any = psycopg.connect(target, options=f"-c search_path={FLOOR_SCHEMA}")
            set_json_loads(orjson.loads, self.conn)
            set_json_dumps(orjson.dumps, self.conn)
            self.sql = [s.replace("?", "%s") for s in (SELECT, UPDATE, INSERT_VERSION)]
            self.sql[0] += " FOR UPDATE"
        else:
            import sqlite3

            self.conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
                self.conn.execute(f"PRAGMA {pragma}")
            self.sql = [SELECT, UPDATE, INSERT_VERSION]
        self.insert_event = INSERT_EVENT.replace("?", "%s") if self.postgres else INSERT_EVENT

    def stamp(self, moment: datetime) -> Any:
        """A time as the driver stores it (SQLAlchemy's text format on SQLite)."""
        return moment if self.postgres else moment.strftime("%Y-%m-%d %H:%M:%S.%f")

    def patch(self, sku: str, changes: dict[str, Any]) -> bytes | None:
        """The write in one transaction; the object's JSON, or None if there is no such SKU."""
        select, update, insert_version = self.sql
        conn = self.conn
        if not self.postgres:
            conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(select, (sku,)).fetchone()
        if row is None:
            conn.rollback()
            return None
        object_id, object_uuid, published, version, created_at, data, completeness = row
        values = orjson.loads(data) if isinstance(data, str) else data
        # Read, not recomputed: the benchmark's change (stock) is in no completeness channel.
        if isinstance(completeness, str):
            completeness = orjson.loads(completeness)
        changed = [name for name, value in changes.items() if values.get(name) != value]
        values.update(changes)
        version += 1
        now = datetime.now(UTC)
        stamp = self.stamp(now)
        obj = {
            "uuid": object_uuid,
            "class": "Product",
            "key": sku,
            "published": bool(published),
            "version": version,
            "createdAt": iso(created_at),
            "modifiedAt": iso(now),
            "fields": values,
            "completeness": completeness,
        }
        values_json = orjson.dumps(values).decode()
        changed_json = orjson.dumps(changed).decode()
        event = {
            "type": "object.updated",
            "timestamp": obj["modifiedAt"],
            "data": {
                "objectType": "Product",
                "uuid": object_uuid,
                "businessKey": sku,
                "version": version,
                "changedFields": changed,
                "object": obj,
            },
        }
        conn.execute(update, (version, stamp, values_json, object_id))
        conn.execute(
            insert_version,
            (object_uuid, sku, version, stamp, bool(published), changed_json, values_json),
        )
        conn.execute(
            self.insert_event,
            (
                f"evt_{uuid.uuid4().hex}",
                object_uuid,
                sku,
                version,
                changed_json,
                orjson.dumps(event).decode(),
                stamp,
            ),
        )
        conn.commit()
        return orjson.dumps(obj)


def serve_floor(port: int, target: str) -> None:
    """The bare route: one transaction with the raw driver, a dict, orjson."""
    import threading

    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    postgres = target.startswith("postgresql")
    shared = None if postgres else FloorStore(target)
    local = threading.local()

    def write_in_thread(sku: str, changes: dict[str, Any]) -> bytes | None:
        store = getattr(local, "store", None)
        if store is None:
            store = local.store = FloorStore(target)
        return store.patch(sku, changes)

    async def patch(request: Request) -> Response:
        changes = orjson.loads(await request.body())["fields"]
        sku = request.path_params["sku"]
        if shared is None:
            body = await run_in_threadpool(write_in_thread, sku, changes)
        else:
            body = shared.patch(sku, changes)
        if body is None:
            return Response(b'{"status":404}', status_code=404, media_type="application/json")
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route("/api/v1/objects/Product/{sku}", patch, methods=["PATCH"])])
    uvicorn.run(app, host=HOST, port=port, access_log=False, log_level="warning")


# -- set-up --------------------------------------------------------------------------------


@contextmanager
def databases(workdir: Path, postgres: str | None) -> Iterator[tuple[str, str]]:
    """(pimhub's database URL, the floor's target): two SQLite files, or a fresh PostgreSQL
    database beside `postgres`'s (dropped afterwards) with the floor in a schema of its own."""
    if postgres is None:
        yield f"sqlite:///{workdir / 'pimhub.db'}", str(workdir / "floor.db")
        return
    from sqlalchemy import create_engine, make_url, text

    name = f"pimhub_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(postgres).set(drivername="postgresql+psycopg"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
    try:
        yield url, url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def build_floor(url: str, target: str) -> None:
    """The floor's tables, holding a copy of pimhub's objects."""
    store = FloorStore(target)
    conn = store.conn
    types = POSTGRES_TYPES if store.postgres else SQLITE_TYPES
    if store.postgres:
        conn.execute(f"CREATE SCHEMA {FLOOR_SCHEMA}")
        source = "public."
    else:
        conn.execute("ATTACH DATABASE ? AS source", (url.removeprefix("sqlite:///"),))
        source = "source."
    for statement in FLOOR_DDL.format(**types).split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(
        COPY_OBJECTS.format(floor=f"{FLOOR_SCHEMA}." if store.postgres else "", source=source)
    )
    conn.commit()
    conn.close()


# -- the load ------------------------------------------------------------------------------

_stock = itertools.count(1)  # every PATCH sets a stock no earlier request set: a real change


def patches(token: str, skus: Sequence[str]) -> Callable[[random.Random], bytes]:
    """Builds PATCH requests for random ones of `skus`, each with a new stock value."""
    heads = [
        (
            f"PATCH /api/v1/objects/Product/{sku} HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        for sku in skus
    ]

    def next_request(rng: random.Random) -> bytes:
        body = b'{"fields":{"stock":%d}}' % next(_stock)
        return b"%s%d\r\n\r\n%s" % (rng.choice(heads), len(body), body)

    return next_request


def server_code(env: dict[str, str]) -> str:
    """Where the pimhub server's interpreter imports pimhub from."""
    done = subprocess.run(
        [sys.executable, "-c", "import pimhub; print(pimhub.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def contended_versions(url: str, sku: str) -> str:
    """The versions pimhub recorded for `sku`: n rows, numbered 1..n, if no write was lost."""
    from sqlalchemy import text

    from pimhub.storage.engine import build_engine

    engine = build_engine(url)
    try:
        with engine.connect() as conn:
            rows, low, high, distinct = conn.execute(
                text(
                    "SELECT count(*), min(version), max(version), count(DISTINCT version)"
                    " FROM object_versions WHERE class_name = 'Product' AND business_key = :k"
                ),
                {"k": sku},
            ).one()
    finally:
        engine.dispose()
    verdict = "ok" if (low, high, distinct) == (1, rows, rows) else "GAPS OR REPEATS"
    return f"{rows} version rows of {sku}, versions {low}..{high} ({verdict})"


async def same_answer(ports: dict[str, int], request: bytes) -> None:
    """Both servers answer the same object to the same PATCH (but for the time)."""
    answers = {}
    for name, port in ports.items():
        status, body = await get_once(port, request)
        if status != 200:
            raise RuntimeError(f"{name} answered {status}: {body[:300]!r}")
        answers[name] = orjson.loads(body)
        answers[name].pop("modifiedAt")
    if len({orjson.dumps(a, option=orjson.OPT_SORT_KEYS) for a in answers.values()}) != 1:
        raise RuntimeError(f"servers disagree: {answers}")


# -- the run -------------------------------------------------------------------------------


async def run(workdir: Path, postgres: str | None) -> float:
    with databases(workdir, postgres) as (url, target):
        began = time.perf_counter()
        token, skus = build_database(url, PRODUCTS, ["read", "write"])
        build_floor(url, target)
        backend = "PostgreSQL" if postgres else "SQLite"
        print(f"set-up: {len(skus)} products on {backend} in {time.perf_counter() - began:.1f} s")
        ports = {"pimhub": free_port(), "floor": free_port()}
        env = clean_env(PIMHUB_DATABASE_URL=url)
        if os.environ.get(SERVER_PYTHONPATH):
            env["PYTHONPATH"] = os.environ[SERVER_PYTHONPATH]
        print(f"pimhub server code: {server_code(env)}", flush=True)
        commands = {
            "pimhub": ([*pimhub_command(), "serve", "--port", str(ports["pimhub"])], env),
            "floor": (
                [sys.executable, __file__, "--floor-server", str(ports["floor"]), target],
                clean_env(),
            ),
        }
        procs: dict[str, subprocess.Popen[bytes]] = {}
        results: dict[str, list[RoundResult]] = {}
        try:
            for name, (command, command_env) in commands.items():
                procs[name] = start(command, command_env, workdir)
                await wait_ready(ports[name], patches(token, skus)(random.Random(0)), procs[name])
            await same_answer(ports, patches(token, [skus[7]])(random.Random(0)))
            spread = patches(token, skus)
            results = await alternate_rounds(ports, procs, spread, REPEATS, ROUND_SECONDS)
            print(f"all connections on one SKU ({skus[0]}):", flush=True)
            one = {f"{name} (one SKU)": port for name, port in ports.items()}
            one_procs = {f"{name} (one SKU)": proc for name, proc in procs.items()}
            results |= await alternate_rounds(
                one, one_procs, patches(token, [skus[0]]), REPEATS, ROUND_SECONDS
            )
        finally:
            for proc in procs.values():
                stop(proc)
        print(contended_versions(url, skus[0]))
    figures = {name: summary(name, rounds) for name, rounds in results.items()}
    for _, line in figures.values():
        print(line)
    contended = figures["pimhub (one SKU)"][0] / figures["floor (one SKU)"][0]
    print(f"ratio on one SKU: {contended:.3f}")
    return figures["pimhub"][0] / figures["floor"][0]


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--floor-server":
        serve_floor(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PIMHUB_BENCH_POSTGRES_URL"),
        help="run on a fresh database beside this one (default: PIMHUB_BENCH_POSTGRES_URL)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pimhub-bench-") as tmp:
        ratio = run_fast(run(Path(tmp), args.postgres))
    print(f"ratio: {ratio:.3f}")


if __name__ == "__main__":
    main()
