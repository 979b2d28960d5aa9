"""Brokers changed and removed while the same name is removed and added again: a change that
named no version never conflicts (it applies to the row there now, or is a 404), and a remove
never conflicts (204 or 404). One race made to happen on both backends, then real parallel
writers on PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests import write_races
from tests.conftest import bearer

from .test_brokers_api import BASE, CONFIG, CREDENTIALS, add


@pytest.fixture
def integrate(hub: Hub) -> dict[str, str]:
    return bearer(hub, "integrate", name="integrator")


def recreated_during_the_first_save(hub: Hub, client: TestClient, headers: dict[str, str]) -> None:
    """The broker is removed just before the first save and added again just after it."""

    def remove() -> None:
        assert client.delete(f"{BASE}/mq", headers=headers).status_code == 204

    write_races.recreated_during_the_first_save(
        hub.brokers.repository, remove, lambda: add(client, headers)
    )


def test_a_change_naming_no_version_applies_to_the_broker_added_again(
    hub: Hub, client: TestClient, integrate: dict[str, str]
) -> None:
    add(client, integrate)
    recreated_during_the_first_save(hub, client, integrate)
    changed = {**CONFIG, "routingKeyPrefix": "again"}
    put = client.put(f"{BASE}/mq", json={"config": changed}, headers=integrate)
    assert put.status_code == 200, put.text
    assert "None" not in put.text
    assert put.json()["config"]["routingKeyPrefix"] == "again"
    assert put.json()["version"] == 2  # the re-created row (version 1), changed once


def test_a_change_naming_a_version_still_conflicts_with_the_broker_added_again(
    hub: Hub, client: TestClient, integrate: dict[str, str]
) -> None:
    add(client, integrate)
    recreated_during_the_first_save(hub, client, integrate)
    put = client.put(f"{BASE}/mq", json={"config": CONFIG, "version": 1}, headers=integrate)
    assert put.status_code == 409, put.text
    assert put.json()["code"] == "stale-broker"


def test_a_change_of_a_broker_removed_meanwhile_is_404(
    hub: Hub, client: TestClient, integrate: dict[str, str]
) -> None:
    add(client, integrate)
    write_races.removed_before_each_save(hub.brokers.repository, "mq")
    put = client.put(f"{BASE}/mq", json={"config": CONFIG}, headers=integrate)
    assert put.status_code == 404, put.text


def test_parallel_changes_removes_and_adds_of_one_broker_never_conflict(
    hub: Hub, client: TestClient, integrate: dict[str, str]
) -> None:
    """Six threads each put (no version), remove and add the same broker: the puts are 200
    or 404, the removes 204 or 404, the adds 201 or 409 broker-exists; never a
    write-conflict nor a stale version."""
    add(client, integrate)
    seen = write_races.parallel_writes(
        hub,
        client,
        BASE,
        "mq",
        integrate,
        lambda n, i: {"config": {**CONFIG, "routingKeyPrefix": f"p{n}x{i}"}},
        {"config": CONFIG, "credentials": CREDENTIALS},
    )
    allowed = {
        ("put", 200, ""),
        ("put", 404, "broker-not-found"),
        ("delete", 204, ""),
        ("delete", 404, "broker-not-found"),
        ("post", 201, ""),
        ("post", 409, "broker-exists"),
    }
    assert set(seen) <= allowed, seen
