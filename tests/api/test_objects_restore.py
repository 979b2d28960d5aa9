"""POST /api/v1/objects/{class}/{key}/versions/{n}/restore: a write of an earlier version's
values, with the object write's scope and preconditions; on both backends."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from pimhub.bootstrap import Hub
from pimhub.storage.tables import outbox
from tests.api.test_rest_contract import OBJECTS, TEE, problem, tee, versions
from tests.conftest import bearer

__all__ = ["tee"]  # the fixture


def _restore(tee: str, n: int) -> str:
    return f"{tee}/versions/{n}/restore"


def _changed(client: TestClient, admin: dict[str, str], tee: str) -> None:
    patched = client.patch(tee, json={"fields": {"stock": 3}}, headers=admin)
    assert patched.status_code == 200 and patched.headers["etag"] == '"2"'


def _events(hub: Hub) -> list[tuple[str, int]]:
    with hub.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.event_type, outbox.c.version)
            .where(outbox.c.business_key == "T-1")
            .order_by(outbox.c.id)
        ).all()
    return [(r.event_type, r.version) for r in rows]


def test_restore_writes_a_new_version_with_the_old_values(
    client: TestClient, admin: dict[str, str], tee: str, sample: Hub
) -> None:
    _changed(client, admin, tee)
    response = client.post(_restore(tee, 1), headers=admin)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"3"'
    body = response.json()
    assert body["version"] == 3 and "stock" not in body["fields"]
    assert body["fields"]["name"] == TEE["name"]
    assert versions(client, admin, tee) == [3, 2, 1]
    assert _events(sample)[-1][1] == 3


def test_a_stale_version_is_refused_like_patch(
    client: TestClient, admin: dict[str, str], tee: str
) -> None:
    _changed(client, admin, tee)
    stale = {**admin, "If-Match": '"1"'}
    problem(client.post(_restore(tee, 1), headers=stale), 412, "precondition-failed")
    problem(client.post(_restore(tee, 1), json={"version": 1}, headers=admin), 409, "stale-version")
    assert versions(client, admin, tee) == [2, 1]
    current = {**admin, "If-Match": '"2"'}
    assert client.post(_restore(tee, 1), headers=current).status_code == 200


def test_no_version_named_is_never_a_conflict(
    client: TestClient, admin: dict[str, str], tee: str
) -> None:
    _changed(client, admin, tee)
    for _ in range(3):
        patched = client.patch(tee, json={"fields": {"stock": 9}}, headers=admin)
        assert patched.status_code == 200
        response = client.post(_restore(tee, 1), json={}, headers=admin)
        assert response.status_code == 200, response.text


def test_unknown_version_and_object_are_404(
    client: TestClient, admin: dict[str, str], tee: str
) -> None:
    problem(client.post(_restore(tee, 7), headers=admin), 404, "version-not-found")
    missing = f"{OBJECTS}/Product/NOPE/versions/1/restore"
    problem(client.post(missing, headers=admin), 404, "object-not-found")
    assert versions(client, admin, tee) == [1]


def test_restore_needs_write_on_the_class(
    client: TestClient, admin: dict[str, str], tee: str, sample: Hub
) -> None:
    _changed(client, admin, tee)
    reader = bearer(sample, "read-drafts:Product", name="reader")
    problem(client.post(_restore(tee, 1), headers=reader), 403, "forbidden")
    other = bearer(sample, "write:Brand", name="brands")
    problem(client.post(_restore(tee, 1), headers=other), 403, "forbidden")
    assert versions(client, admin, tee) == [2, 1]


def test_hostile_restores_are_refused_with_a_4xx_and_change_nothing(
    client: TestClient, admin: dict[str, str], tee: str
) -> None:
    json_type = {**admin, "content-type": "application/json"}
    cases = [
        (_restore(tee, 10**25), None, "invalid-parameter"),
        (f"{tee}/versions/-1/restore", None, "invalid-parameter"),
        (f"{tee}/versions/%C2%B2/restore", None, "invalid-parameter"),
        (_restore(tee, 1), b'{"version": 1e999}', "malformed-json"),
        (_restore(tee, 1), b'{"version": "\\u0000"}', "nul-character"),
        (_restore(tee, 1), b"[" * 100_000, "malformed-json"),
        (_restore(tee, 1), b'{"version": 99999999999999999999999}', "invalid-body"),
    ]
    for path, body, code in cases:
        answer = client.post(path, content=body, headers=json_type if body else admin)
        assert answer.status_code == 400, (path[-30:], body and body[:30], answer.text)
        assert answer.json()["code"] == code, (path[-30:], answer.text)
    assert client.get(tee, headers=admin).headers["etag"] == '"1"'
