"""/api/v1/audit through the app on both backends: changes made over REST with a key are
listed with the key as actor, filtered, paged by cursor, admins only; no secret in a row."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.api.test_rest_contract import problem
from tests.conftest import bearer

BASE = "/api/v1/audit"


def key_id(hub: Hub, name: str) -> str:
    return next(k.key_id for k in hub.access.all() if k.name == name)


def test_changes_over_rest_are_listed_with_the_key_as_actor(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    created = client.post(
        "/api/v1/webhooks/endpoints", json={"url": "https://hooks.example.com/a"}, headers=admin
    ).json()
    endpoint = created["id"]
    patched = client.patch(
        f"/api/v1/webhooks/endpoints/{endpoint}", json={"description": "ERP"}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    rotated = client.post(f"/api/v1/webhooks/endpoints/{endpoint}/rotate-secret", headers=admin)
    assert rotated.status_code == 200, rotated.text
    answer = client.get(BASE, params={"target": endpoint}, headers=admin)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [e["action"] for e in body["items"]] == [
        "webhook.rotated",
        "webhook.updated",
        "webhook.created",
    ]
    assert body["nextCursor"] is None
    actor = f"key:{key_id(hub, 'admin')} (admin)"
    assert {e["actor"] for e in body["items"]} == {actor}
    updated = body["items"][1]
    assert updated["targetType"] == "webhook" and updated["target"] == endpoint
    assert updated["before"]["description"] == ""
    assert updated["after"]["description"] == "ERP"
    text = answer.text
    assert created["secret"] not in text and rotated.json()["secret"] not in text
    one = client.get(f"{BASE}/{updated['id']}", headers=admin)
    assert one.status_code == 200 and one.json() == updated
    by_actor = client.get(BASE, params={"actor": actor, "action": "webhook.created"}, headers=admin)
    assert [e["id"] for e in by_actor.json()["items"]] == [body["items"][2]["id"]]


def test_keyset_paging_and_filters(hub: Hub, client: TestClient, admin: dict[str, str]) -> None:
    for n in range(5):
        hub.audit.record("datahub.updated", "datahub", f"d{n}", after={"n": n})
    first = client.get(BASE, params={"targetType": "datahub", "limit": 2}, headers=admin).json()
    assert [e["target"] for e in first["items"]] == ["d4", "d3"]
    second = client.get(
        BASE,
        params={"targetType": "datahub", "limit": 2, "before": first["nextCursor"]},
        headers=admin,
    ).json()
    assert [e["target"] for e in second["items"]] == ["d2", "d1"]
    later = client.get(BASE, params={"since": "9999-01-01T00:00"}, headers=admin).json()
    assert later == {"items": [], "nextCursor": None}


def test_refusals(hub: Hub, client: TestClient, admin: dict[str, str]) -> None:
    integrator = bearer(hub, "integrate", name="integrator")
    problem(client.get(BASE, headers=integrator), 403, "forbidden")
    assert client.get(BASE).status_code == 401
    body = problem(
        client.get(BASE, params={"since": "yesterday"}, headers=admin), 400, "invalid-parameter"
    )
    assert body["errors"][0]["field"] == "since"
    body = problem(client.get(BASE, params={"targt": "x"}, headers=admin), 400, "invalid-query")
    assert "targt" in body["detail"]
    problem(client.get(BASE, params={"actor": "a\x00b"}, headers=admin), 400, "nul-character")
    problem(client.get(f"{BASE}/999999", headers=admin), 404, "unknown-audit-entry")
    assert client.get(BASE, params={"limit": 501}, headers=admin).status_code == 400
