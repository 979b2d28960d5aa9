"""bench/inbound.py (a), receiving: signed messages posted to `pimhub serve` and to the
floor (inbound_floor.py), in alternating rounds; see bench/inbound.py for the method."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
from inbound_common import EVENT_TYPE, SECRET_KEY, SOURCE, open_hub, order_body
from rest_get import (
    CONNECTIONS,
    HOST,
    WARMUP_SECONDS,
    RoundResult,
    clean_env,
    cpu_seconds,
    free_port,
    get_once,
    load_round,
    pimhub_command,
    start,
    stop,
    summary,
)

ROUND_SECONDS = 4.0
REPEATS = 5
FLOOR_SERVER = Path(__file__).with_name("inbound_floor.py")


def signed_requests(path: str, key: bytes) -> Callable[[random.Random], bytes]:
    """Builds a new Standard Webhooks-signed POST on every call: never the same message id."""
    counter = itertools.count()
    run = uuid.uuid4().hex[:8]
    head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n").encode()

    def next_request(_rng: random.Random) -> bytes:
        n = next(counter)
        body = order_body(n)
        message_id = f"msg_{run}_{n}".encode()
        stamp = str(int(time.time())).encode()
        mac = hmac.new(key, message_id + b"." + stamp + b"." + body, hashlib.sha256).digest()
        return b"%swebhook-id: %s\r\nwebhook-timestamp: %s\r\nwebhook-signature: v1,%s\r\n" % (
            head,
            message_id,
            stamp,
            base64.b64encode(mac),
        ) + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)

    return next_request


def hub_settings(workdir: Path) -> dict[str, str]:
    return {
        "PIMHUB_DATABASE_URL": f"sqlite:///{workdir / 'pimhub.db'}",
        "PIMHUB_DATA_DIR": str(workdir),
        "PIMHUB_SECRET_KEY": SECRET_KEY,
    }


def prepare_hub(workdir: Path) -> bytes:
    """Adds the source; returns its HMAC key."""
    hub = open_hub(workdir)
    try:
        _, secret = hub.inbound.add_source(
            {
                "name": SOURCE,
                "scheme": "standard-webhooks",
                "description": "bench/inbound.py",
                "eventTypes": [EVENT_TYPE],
                "key": {"path": "data.orderId"},
            }
        )
    finally:
        hub.close()
    if secret is None or not secret.startswith("whsec_"):
        raise RuntimeError(f"the source's secret is not a whsec_ secret: {secret!r}")
    return base64.b64decode(secret.removeprefix("whsec_"))


def stored_counts(workdir: Path) -> tuple[int, int]:
    """(accepted audit rows, outbox events) in pimhub's database."""
    import sqlite3

    conn = sqlite3.connect(workdir / "pimhub.db")
    try:
        accepted = conn.execute(
            "SELECT count(*) FROM inbound_messages WHERE source = ? AND outcome = 'accepted'",
            (SOURCE,),
        ).fetchone()[0]
        events = conn.execute(
            "SELECT count(*) FROM outbox WHERE class_name = ? AND event_type = ?",
            (SOURCE, EVENT_TYPE),
        ).fetchone()[0]
    finally:
        conn.close()
    return int(accepted), int(events)


async def check_hub(port: int, key: bytes) -> None:
    """A new message is a 202, the same one again a 200 duplicate of it, a bad signature a
    401: the server verifies and de-duplicates."""
    path = f"/inbound/{SOURCE}"
    request = signed_requests(path, key)(random.Random(0))
    first_status, first = await get_once(port, request)
    again_status, again = await get_once(port, request)
    if first_status != 202 or again_status != 200:
        raise RuntimeError(f"expected 202 then 200: {first_status} {first!r}, {again_status}")
    original, duplicate = orjson.loads(first), orjson.loads(again)
    if duplicate.get("status") != "duplicate" or duplicate.get("duplicateOf") != original.get(
        "message"
    ):
        raise RuntimeError(f"not a duplicate of {original}: {duplicate}")
    forged_status, forged = await get_once(port, signed_requests(path, b"wrong")(random.Random(0)))
    if forged_status != 401:
        raise RuntimeError(f"a forged signature was answered {forged_status}: {forged!r}")


async def wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Until the server answers anything."""
    probe = f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            await get_once(port, probe)
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


async def receiving(workdir: Path) -> float:
    began = time.perf_counter()
    key = prepare_hub(workdir)
    print(f"(a) set-up: database and source in {time.perf_counter() - began:.1f} s", flush=True)
    ports = {"pimhub": free_port(), "floor": free_port()}
    commands = {
        "pimhub": (
            [*pimhub_command(), "serve", "--port", str(ports["pimhub"])],
            clean_env(**hub_settings(workdir)),
        ),
        "floor": (
            [
                sys.executable,
                str(FLOOR_SERVER),
                str(ports["floor"]),
                str(workdir / "floor.db"),
            ],
            clean_env(),
        ),
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    results: dict[str, list[RoundResult]] = {name: [] for name in ports}
    requests = signed_requests(f"/inbound/{SOURCE}", key)
    try:
        for name, (command, env) in commands.items():
            procs[name] = start(command, env, workdir)
            await wait_up(ports[name], procs[name])
        await check_hub(ports["pimhub"], key)
        before = stored_counts(workdir)
        answered = 0
        for name, port in ports.items():
            warm = await load_round(port, requests, WARMUP_SECONDS, seed=0)
            if warm.errors:
                raise RuntimeError(f"warm-up {name}: {warm.errors} non-2xx: {warm.failures}")
            if name == "pimhub":
                answered += warm.requests
        print(f"{CONNECTIONS} connections, {ROUND_SECONDS:.0f} s rounds, {REPEATS} repeats")
        for repeat in range(REPEATS):
            order = list(ports) if repeat % 2 == 0 else list(reversed(ports))
            for name in order:
                cpu_before = cpu_seconds(procs[name].pid)
                result = await load_round(ports[name], requests, ROUND_SECONDS, seed=repeat + 1)
                cpu_after = cpu_seconds(procs[name].pid)
                if cpu_before is not None and cpu_after is not None:
                    result.server_cpu = cpu_after - cpu_before
                if result.errors:
                    raise RuntimeError(f"{name}: {result.errors} non-2xx: {result.failures}")
                if name == "pimhub":
                    answered += result.requests
                results[name].append(result)
                print(f"  round {repeat + 1} {name:<7} {result.rps:8.0f} accepted/s", flush=True)
    finally:
        for proc in procs.values():
            stop(proc)
    after = stored_counts(workdir)
    accepted, events = after[0] - before[0], after[1] - before[1]
    verdict = "ok" if accepted == events == answered else "MISMATCH"
    print(
        f"pimhub answered {answered} x 202; stored {accepted} accepted, {events} events: {verdict}"
    )
    if verdict != "ok":
        raise RuntimeError("pimhub did not store exactly what it acknowledged")
    for name, rounds in results.items():
        print(summary(name, rounds)[1])
    pairs = zip(results["pimhub"], results["floor"], strict=True)
    ratio = statistics.median(ours.rps / floor.rps for ours, floor in pairs)
    print(f"(a) inbound accepted/s, pimhub / floor: {ratio:.3f} (median of the repeats' pairs)")
    return ratio
