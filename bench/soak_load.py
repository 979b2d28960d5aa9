"""The load of bench/soak.py: reader threads, the writer, the importer and their tally,
and the closed-loop reader that measures the floor. Imported by soak.py (run that)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from magento_sync import product

READERS = 3
WRITE_RATE = 5.0  # PATCHes per second
IMPORT_EVERY = 90.0
IMPORT_ROWS = 50
IMPORT_MAPPING = """class: Product
fields:
  sku: sku
  name.en: name
  price.amount: {column: price, number: true}
  price.currency: {value: EUR}
  stock: {column: stock, number: true}
"""
GRAPHQL = orjson.dumps(
    {
        "query": "query($after: Int) { getProductListing(first: 20, after: $after) "
        "{ edges { node { sku name price stock } } } }",
        "variables": {"after": 0},
    }
)
SEARCH_WORDS = ("bench", "product", "Bench product 1", "MG-0001", "prod")


# -- tallies -------------------------------------------------------------------------------


@dataclass
class Tally:
    """Answers per kind; failures (non-2xx or no answer) per kind with a first sample."""

    answers: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, kind: str, status: int | None, text: str = "") -> None:
        with self.lock:
            self.answers[kind] += 1
            if status is None or not 200 <= status < 300:
                self.failures[kind] += 1
                self.samples.setdefault(kind, f"{status}: {text[:300]}")

    def reads(self) -> int:
        with self.lock:
            return sum(n for k, n in self.answers.items() if k.startswith("read"))


def call(
    tally: Tally, kind: str, send: Callable[..., httpx.Response], *args: Any, **kwargs: Any
) -> httpx.Response | None:
    """`send(*args, **kwargs)`, its answer noted in `tally`."""
    try:
        answer = send(*args, **kwargs)
    except httpx.HTTPError as exc:
        tally.note(kind, None, repr(exc))
        return None
    tally.note(kind, answer.status_code, answer.text)
    return answer


# -- the load ------------------------------------------------------------------------------


def reader(base: str, token: str, skus: list[str], tally: Tally, stop: threading.Event) -> None:
    rng = random.Random()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        while not stop.is_set():
            sku = rng.choice(skus)
            pick = rng.random()
            if pick < 0.35:
                call(tally, "read product", http.get, f"/api/v1/products/{sku}")
            elif pick < 0.6:
                call(tally, "read object", http.get, f"/api/v1/objects/Product/{sku}")
            elif pick < 0.8:
                body = GRAPHQL.replace(b'"after":0', f'"after":{rng.randrange(10)}'.encode())
                kind, json_type = "read graphql", {"Content-Type": "application/json"}
                call(tally, kind, http.post, "/graphql/demo", content=body, headers=json_type)
            else:
                q = rng.choice(SEARCH_WORDS)
                params = {"q": q, "size": 10}
                call(tally, "read search", http.get, "/simple-rest/demo/search", params=params)


def writer(base: str, token: str, skus: list[str], tally: Tally, stop: threading.Event) -> None:
    """PATCHes a new price at WRITE_RATE; every PATCH changes the product."""
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}"}
    step = 0
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        next_at = time.monotonic()
        while not stop.is_set():
            step += 1
            sku = rng.choice(skus)
            price = {"amount": round(1000 + step * 0.01, 2), "currency": "EUR"}
            path, body = f"/api/v1/objects/Product/{sku}", {"fields": {"price": price}}
            call(tally, "write patch", http.patch, path, json=body)
            next_at += 1 / WRITE_RATE
            stop.wait(max(0.0, next_at - time.monotonic()))


def importer(base: str, token: str, tally: Tally, stop: threading.Event) -> None:
    """An import every IMPORT_EVERY seconds: half new products, half updates of old ones."""
    headers = {"Authorization": f"Bearer {token}"}
    round_ = 0
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        while not stop.wait(IMPORT_EVERY if round_ else 5.0):
            round_ += 1
            rows = ["sku,name,price,stock"]
            for n in range(IMPORT_ROWS // 2):
                rows.append(f"IMP-{round_:03d}-{n:03d},Imported {round_} {n},{10 + n},{n}")
                rows.append(f"{product(n)['sku']},Bench product {n},{20 + round_},{round_}")
            files = {"file": ("soak.csv", ("\n".join(rows) + "\n").encode(), "text/csv")}
            data = {"mapping": IMPORT_MAPPING}
            started = call(tally, "import", http.post, "/api/v1/imports", data=data, files=files)
            if started is None or started.status_code != 202:
                continue
            job_id = started.json()["id"]
            deadline = time.monotonic() + 120
            status = "queued"
            while status in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.5)
                got = http.get(f"/api/v1/imports/{job_id}")
                status = got.json().get("status", "?") if got.status_code == 200 else "?"
            if status != "succeeded":
                tally.note("import job", 599, f"import {job_id} ended {status}")
            else:
                tally.note("import job", 200)


def run_load(base: str, token: str, skus: list[str], seconds: float, tally: Tally) -> None:
    """Runs the whole mix for `seconds` (soak.py samples the processes meanwhile)."""
    stop = threading.Event()
    threads = [
        threading.Thread(target=reader, args=(base, token, skus, tally, stop))
        for _ in range(READERS)
    ]
    threads.append(threading.Thread(target=writer, args=(base, token, skus, tally, stop)))
    threads.append(threading.Thread(target=importer, args=(base, token, tally, stop)))
    for thread in threads:
        thread.start()
    try:
        stop.wait(seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join(180)


def read_rate(base: str, path: str, headers: dict[str, str], seconds: float) -> float:
    """GETs of `path` per second from READERS threads in a closed loop."""
    done = Counter[int]()
    stop = threading.Event()

    def loop() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            while not stop.is_set():
                done[http.get(path).status_code] += 1

    threads = [threading.Thread(target=loop) for _ in range(READERS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(30)
    if set(done) != {200}:
        raise SystemExit(f"the floor answered {dict(done)}")
    return done.total() / (time.perf_counter() - began)
