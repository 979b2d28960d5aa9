"""Inbound sources changed while the same name is removed and added again: a change that
named no version never conflicts; it applies to the source there now, or is a 404. The race
made to happen on both backends, then real parallel writers on PostgreSQL (before the fix:
409 stale-version "... at version 1, not None")."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests import write_races
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

    def remove() -> None:
        assert client.delete(f"{BASE}/churn", headers=integrator).status_code == 204

    # Another client removes the source just before the first save and adds it again just
    # after it, as between the PUT's read and its write.
    write_races.recreated_during_the_first_save(
        hub.inbound.sources, remove, lambda: create(client, integrator)
    )
    put = client.put(f"{BASE}/churn", json={"description": "after"}, headers=integrator)
    assert put.status_code == 200, put.text
    assert "None" not in put.text
    assert put.json()["description"] == "after"


def test_a_change_of_a_source_removed_meanwhile_is_404(
    hub: Hub, client: TestClient, integrator: dict[str, str]
) -> None:
    create(client, integrator)
    write_races.removed_before_each_save(hub.inbound.sources, "churn")
    put = client.put(f"{BASE}/churn", json={"description": "x"}, headers=integrator)
    assert put.status_code == 404, put.text


def test_parallel_changes_removes_and_adds_of_one_source_never_conflict(
    hub: Hub, client: TestClient, integrator: dict[str, str]
) -> None:
    """Six threads each put (no version), remove and add the same source: puts are 200 or
    404, removes 204 or 404, adds 201 or 409 source-exists; never a stale version."""
    create(client, integrator)
    seen = write_races.parallel_writes(
        hub,
        client,
        BASE,
        "churn",
        integrator,
        lambda n, i: {"description": f"p{n}x{i}"},
        SOURCE,
    )
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
