"""Races between writers of one named thing (a broker, a connector, an inbound source) over
the REST API: a remove and add made to happen between a change's read and its write, and
parallel writers that change, remove and add the same name."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub

WRITERS = 6
WRITES_EACH = 15


def recreated_during_the_first_save(
    repository: Any, remove: Callable[[], None], add: Callable[[], None]
) -> None:
    """`repository.save` removes the thing just before its first write and adds it again just
    after it, as another client would between a PUT's read and its write."""
    real_save = repository.save
    calls = 0

    def save(*args: Any, **kwargs: Any) -> bool:
        nonlocal calls
        calls += 1
        if calls > 1:
            return bool(real_save(*args, **kwargs))
        remove()
        saved = real_save(*args, **kwargs)
        add()
        return bool(saved)

    repository.save = save


def removed_before_each_save(repository: Any, name: str) -> None:
    """`repository.save` finds the row `name` removed meanwhile."""
    real_save = repository.save

    def save(*args: Any, **kwargs: Any) -> bool:
        repository.remove(name)
        return bool(real_save(*args, **kwargs))

    repository.save = save


def parallel_writes(
    hub: Hub,
    client: TestClient,
    base: str,
    name: str,
    headers: dict[str, str],
    put_body: Callable[[int, int], Any],
    post_body: Any,
) -> Counter[tuple[str, int, str]]:
    """WRITERS threads each put `put_body(writer, write)` to base/name (no version), remove
    it and add it again with `post_body`, WRITES_EACH times in turn: the answers counted by
    (operation, status, problem code). PostgreSQL only (SQLite serialises its writers)."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("parallel writers: PostgreSQL (SQLite serialises its writers)")
    seen: Counter[tuple[str, int, str]] = Counter()
    lock = threading.Lock()

    def writer(n: int) -> None:
        own = TestClient(client.app)
        for i in range(WRITES_EACH):
            op = ("put", "delete", "post")[(n + i) % 3]
            if op == "put":
                response = own.put(f"{base}/{name}", json=put_body(n, i), headers=headers)
            elif op == "delete":
                response = own.delete(f"{base}/{name}", headers=headers)
            else:
                response = own.post(base, json=post_body, headers=headers)
            code = response.json().get("code", "") if response.status_code >= 400 else ""
            with lock:
                seen[(op, response.status_code, code)] += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seen
