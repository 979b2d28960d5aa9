"""`?dryRun=true` on PUT and POST /api/v1/classes: 200 with what saving would do, the same
refusals as saving, nothing stored; on both backends."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.api.test_rest_contract import problem
from tests.conftest import bearer

CLASSES = "/api/v1/classes"


def _brand(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"{CLASSES}/Brand", headers=admin).json()
    return body


def test_put_dry_run_says_updated_and_stores_nothing(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    before = _brand(client, admin)
    changed = {**before, "fields": [*before["fields"], {"name": "country", "type": "text"}]}
    response = client.put(f"{CLASSES}/Brand?dryRun=true", json=changed, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"dryRun": True, "outcome": "updated"}
    assert _brand(client, admin) == before
    same = client.put(f"{CLASSES}/Brand?dryRun=true", json=before, headers=admin)
    assert same.json()["outcome"] == "unchanged"


def test_put_dry_run_refuses_an_incompatible_change_like_saving(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    before = _brand(client, admin)
    broken = {**before, "fields": [f for f in before["fields"] if f["name"] != "name"]}
    dry = problem(
        client.put(f"{CLASSES}/Brand?dryRun=true", json=broken, headers=admin),
        409,
        "incompatible-class-change",
    )
    real = problem(
        client.put(f"{CLASSES}/Brand", json=broken, headers=admin),
        409,
        "incompatible-class-change",
    )
    assert dry["detail"] == real["detail"] and dry["errors"] == real["errors"]
    assert _brand(client, admin)["version"] == before["version"]


def test_put_dry_run_refuses_a_stale_version(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    before = _brand(client, admin)
    stale = {**before, "version": before["version"] + 5}
    problem(
        client.put(f"{CLASSES}/Brand?dryRun=true", json=stale, headers=admin), 409, "stale-version"
    )
    problem(client.put(f"{CLASSES}/Brand", json=stale, headers=admin), 409, "stale-version")


def test_post_dry_run_says_created_or_refuses_an_existing_class(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    supplier = {
        "name": "Supplier",
        "businessKey": "code",
        "fields": [{"name": "code", "type": "text"}],
    }
    response = client.post(f"{CLASSES}?dryRun=true", json=supplier, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"dryRun": True, "outcome": "created"}
    assert client.get(f"{CLASSES}/Supplier", headers=admin).status_code == 404
    existing = _brand(client, admin)
    problem(client.post(f"{CLASSES}?dryRun=true", json=existing, headers=admin), 409, "conflict")
    problem(client.post(CLASSES, json=existing, headers=admin), 409, "conflict")


def test_dry_run_needs_admin(client: TestClient, sample: Hub) -> None:
    reader = bearer(sample, "read", name="reader")
    before = client.get(f"{CLASSES}/Brand", headers=reader).json()
    problem(
        client.put(f"{CLASSES}/Brand?dryRun=true", json=before, headers=reader), 403, "forbidden"
    )


def test_dry_run_refuses_an_invalid_definition_like_saving(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    bad = {"name": "supplier", "fields": "none"}
    dry = problem(
        client.post(f"{CLASSES}?dryRun=true", json=bad, headers=admin),
        422,
        "invalid-class-definition",
    )
    real = problem(client.post(CLASSES, json=bad, headers=admin), 422, "invalid-class-definition")
    assert dry["errors"] == real["errors"]


def test_a_misspelled_dry_run_is_refused_not_saved(client: TestClient, hub: Hub) -> None:
    headers = bearer(hub, "admin")
    before = client.get("/api/v1/classes/Product", headers=headers).json()
    changed = {**before, "title": "Misspelled dry run"}
    answer = client.put("/api/v1/classes/Product?dryrun=true", json=changed, headers=headers)
    assert answer.status_code == 400
    assert "'dryrun'" in answer.json()["detail"]
    after = client.get("/api/v1/classes/Product", headers=headers).json()
    assert after["version"] == before["version"] and after.get("title") == before.get("title")
    created = client.post("/api/v1/classes?dry_run=1", json={"name": "X"}, headers=headers)
    assert created.status_code == 400
