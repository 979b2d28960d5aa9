"""Connectors changed and removed while the same name is removed and added again: a change
never conflicts and is never lost (it applies to the row there now, or is a 404), and a
remove never conflicts (204 or 404). The race made to happen on both backends, then real
parallel writers on PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests import write_races
from tests.api.test_connectors_api import BASE, CONFIG, CREDENTIALS, add


def test_a_change_applies_to_the_connector_added_again(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    add(client, admin)

    def remove() -> None:
        assert client.delete(f"{BASE}/shop", headers=admin).status_code == 204

    # Another client removes the connector just before the first save and adds it again just
    # after it.
    write_races.recreated_during_the_first_save(
        hub.connectors.repository, remove, lambda: add(client, admin)
    )
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
    write_races.removed_before_each_save(hub.connectors.repository, "shop")
    put = client.put(f"{BASE}/shop", json={"config": CONFIG}, headers=admin)
    assert put.status_code == 404, put.text


def test_parallel_changes_removes_and_adds_of_one_connector_never_conflict(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    """Six threads each put, remove and add the same connector: puts are 200 or 404, removes
    204 or 404, adds 201 or 409 connector-exists; never a write-conflict."""
    add(client, admin)
    seen = write_races.parallel_writes(
        hub,
        client,
        BASE,
        "shop",
        admin,
        lambda n, i: {"config": {**CONFIG, "baseUrl": f"https://p{n}x{i}.example.com"}},
        {"config": CONFIG, "credentials": CREDENTIALS},
    )
    allowed = {("put", 200), ("put", 404), ("delete", 204), ("delete", 404)}
    allowed |= {("post", 201), ("post", 409)}
    assert {(op, status) for op, status, _ in seen} <= allowed, seen
