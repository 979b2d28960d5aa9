"""Inbound sources changed while the same name is removed and added again: a change that
named no version never conflicts; it applies to the source there now, or is a 404. The race
made to happen on both backends, then real parallel writers on PostgreSQL (before the fix:
409 stale-version "... at version 1, not None")."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.conftest import bearer

BASE = "/api/v1/inbound/sources"
SOURCE = {"name": "churn", "scheme": "shared-secret", "secret": "c" * 20}


@pytest.fixture
def integrator(hub: Hub) -> dict[str, str]:
    return bearer(hub, "integrate", name="integrator")


def create(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(BASE, json=SOURCE, headers=headers)
    assert response.status_code == 201, response.text


def test_a_change_naming_no_version_applies_to_the_source_added_again(
    hub: Hub, client: TestClient, integrator: dict[str, str]
) -> None:
    create(client, integrator)
    repository = hub.inbound.sources
    real_save = repository.save
    calls = 0

    def save(*args: Any, **kwargs: Any) -> bool:
        # Another client removes the source just before the first save and adds it again just
        # after it, as between the PUT's read and its write.
        nonlocal calls
        calls += 1
        if calls > 1:
            return real_save(*args, **kwargs)
        assert client.delete(f"{BASE}/churn", headers=integrator).status_code == 204
        saved = real_save(*args, **kwargs)
        create(client, integrator)
        return saved

    repository.save = save  # type: ignore[method-assign]
    put = client.put(f"{BASE}/churn", json={"description": "after"}, headers=integrator)
    assert put.status_code == 200, put.text
    assert "None" not in put.text
    assert put.json()["description"] == "after"


def test_a_change_of_a_source_removed_meanwhile_is_404(
    hub: Hub, client: TestClient, integrator: dict[str, str]
) -> None:
    create(client, integrator)
    repository = hub.inbound.sources
    real_save = repository.save

    def save(*args: Any, **kwargs: Any) -> bool:
        repository.remove("churn")
        return real_save(*args, **kwargs)

    repository.save = save  # type: ignore[method-assign]
    put = client.put(f"{BASE}/churn", json={"description": "x"}, headers=integrator)
    assert put.status_code == 404, put.text


def test_parallel_changes_removes_and_adds_of_one_source_never_conflict(
    hub: Hub, client: TestClient, integrator: dict[str, str]
) -> None:
    """Six threads each put (no version), remove and add the same source: puts are 200 or
    404, removes 204 or 404, adds 201 or 409 source-exists; never a stale version."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("parallel writers: PostgreSQL (SQLite serialises its writers)")
    create(client, integrator)
    seen: Counter[tuple[str, int, str]] = Counter()
    lock = threading.Lock()

    def writer(n: int) -> None:
        own = TestClient(client.app)
        for i in range(15):
            op = ("put", "delete", "post")[(n + i) % 3]
            if op == "put":
                body = {"description": f"p{n}x{i}"}
                response = own.put(f"{BASE}/churn", json=body, headers=integrator)
            elif op == "delete":
                response = own.delete(f"{BASE}/churn", headers=integrator)
            else:
                response = own.post(BASE, json=SOURCE, headers=integrator)
            code = response.json().get("code", "") if response.status_code >= 400 else ""
            with lock:
                seen[(op, response.status_code, code)] += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not {key for key in seen if key[0] != "post" and key[1] == 409}, seen
    assert {status for _, status, _ in seen} <= {200, 201, 204, 404, 409}, seen


def test_a_change_that_keeps_losing_races_is_a_503(
    hub: Hub, client: TestClient, integrator: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every compare-and-set lost (another writer each time): retryable, never a stale
    version for a client that named none."""
    create(client, integrator)
    monkeypatch.setattr(hub.inbound.sources, "save", lambda *args, **kwargs: False)
    put = client.put(f"{BASE}/churn", json={"description": "x"}, headers=integrator)
    assert put.status_code == 503, put.text
    assert put.json()["code"] == "service-unavailable" and int(put.headers["retry-after"]) > 0
    versioned = client.put(
        f"{BASE}/churn", json={"description": "x"}, headers={**integrator, "If-Match": '"1"'}
    )
    assert versioned.status_code == 412, versioned.text  # a named version still conflicts
