"""Connectors changed and removed while the same name is removed and added again: a change
never conflicts and is never lost (it applies to the row there now, or is a 404), and a
remove never conflicts (204 or 404). The race made to happen on both backends, then real
parallel writers on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.api.test_connectors_api import BASE, CONFIG, CREDENTIALS, add


def test_a_change_applies_to_the_connector_added_again(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    add(client, admin)
    repository = hub.connectors.repository
    real_save = repository.save
    calls = 0

    def save(*args: Any, **kwargs: Any) -> bool:
        # Another client removes the connector just before the first save and adds it again
        # just after it.
        nonlocal calls
        calls += 1
        if calls > 1:
            return real_save(*args, **kwargs)
        assert client.delete(f"{BASE}/shop", headers=admin).status_code == 204
        saved = real_save(*args, **kwargs)
        add(client, admin)
        return saved

    repository.save = save  # type: ignore[method-assign]
    changed = {**CONFIG, "baseUrl": "https://again.example.com"}
    put = client.put(f"{BASE}/shop", json={"config": changed}, headers=admin)
    assert put.status_code == 200, put.text
    assert put.json()["config"]["baseUrl"] == "https://again.example.com"
    assert client.get(f"{BASE}/shop", headers=admin).json()["config"]["baseUrl"] == (
        "https://again.example.com"
    )


def test_a_change_of_a_connector_removed_meanwhile_is_404(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    add(client, admin)
    repository = hub.connectors.repository
    real_save = repository.save

    def save(*args: Any, **kwargs: Any) -> bool:
        repository.remove("shop")
        return real_save(*args, **kwargs)

    repository.save = save  # type: ignore[method-assign]
    put = client.put(f"{BASE}/shop", json={"config": CONFIG}, headers=admin)
    assert put.status_code == 404, put.text


def test_parallel_changes_removes_and_adds_of_one_connector_never_conflict(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    """Six threads each put, remove and add the same connector: puts are 200 or 404, removes
    204 or 404, adds 201 or 409 connector-exists; never a write-conflict."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("parallel writers: PostgreSQL (SQLite serialises its writers)")
    add(client, admin)
    seen: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()
    body = {"config": CONFIG, "credentials": CREDENTIALS}

    def writer(n: int) -> None:
        own = TestClient(client.app)
        for i in range(15):
            op = ("put", "delete", "post")[(n + i) % 3]
            if op == "put":
                config = {**CONFIG, "baseUrl": f"https://p{n}x{i}.example.com"}
                response = own.put(f"{BASE}/shop", json={"config": config}, headers=admin)
            elif op == "delete":
                response = own.delete(f"{BASE}/shop", headers=admin)
            else:
                response = own.post(BASE, json=body, headers=admin)
            with lock:
                seen[(op, response.status_code)] += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    allowed = {("put", 200), ("put", 404), ("delete", 204), ("delete", 404)}
    allowed |= {("post", 201), ("post", 409)}
    assert set(seen) <= allowed, seen
