"""/api/v1/keys through the ASGI app, on SQLite and PostgreSQL: create (secret shown once),
list, read, change, rotate with an overlap, revoke; admin only; audited; /metrics counts the
keys that expire soon."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, update

from pimhub.bootstrap import Hub
from pimhub.catalog.clock import utc_now
from pimhub.settings import Settings
from pimhub.storage.tables import api_keys, audit_log
from tests.api.test_rest_contract import problem
from tests.conftest import bearer

BASE = "/api/v1/keys"
PRODUCTS = "/api/v1/objects/Product"


def create(client: TestClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(BASE, json={"name": "erp", "scopes": ["read"], **body}, headers=admin)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created: dict[str, Any] = response.json()
    return created


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_create_shows_the_secret_once_and_reads_never_do(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = create(
        client, admin, allowedNetworks=["10.0.0.0/8", "192.0.2.1"], rateLimit="600/minute",
        expiresInDays=90, description="the ERP",
    )  # fmt: skip
    key_id = created["keyId"]
    assert created["secret"].startswith(f"phk_{key_id}_")
    assert created["scopes"] == ["read:*"] and created["status"] == "active"
    assert created["allowedNetworks"] == ["10.0.0.0/8", "192.0.2.1/32"]
    assert created["rateLimit"] == "600/minute" and created["expiryWarning"] is None
    read = client.get(f"{BASE}/{key_id}", headers=admin)
    assert read.status_code == 200 and "secret" not in read.json()
    listed = client.get(BASE, headers=admin).json()["items"]
    assert key_id in [k["keyId"] for k in listed]
    assert created["secret"] not in client.get(BASE, headers=admin).text


def test_only_admin_keys_manage_keys(client: TestClient, hub: Hub, admin: dict[str, str]) -> None:
    key_id = create(client, admin)["keyId"]
    integrator = bearer(hub, "integrate", "write", name="integrator")
    for method, path in [
        ("GET", BASE),
        ("POST", BASE),
        ("GET", f"{BASE}/{key_id}"),
        ("PATCH", f"{BASE}/{key_id}"),
        ("POST", f"{BASE}/{key_id}/rotate"),
        ("DELETE", f"{BASE}/{key_id}"),
    ]:
        body = problem(client.request(method, path, headers=integrator, json={}), 403, "forbidden")
        assert "admin" in body["detail"]
        problem(client.request(method, path, json={}), 401, "unauthorized")


def test_bad_input_is_refused_naming_what_is_wrong(
    client: TestClient, admin: dict[str, str]
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "x", "scopes": ["read"], "allowedNetworks": ["10.0.0.0/8", "nonsense"]},
         "not a CIDR network: nonsense"),
        ({"name": "x", "scopes": ["read"], "allowedNetworks": ["10.0.0.9/24"]},
         "not a CIDR network: 10.0.0.9/24"),
        ({"name": "x", "scopes": ["read"], "rateLimit": "lots"}, "'lots' is not a rate"),
        ({"name": "x", "scopes": ["read"], "rateLimit": "off"}, "a key's rate cannot be off"),
        ({"name": "x", "scopes": ["read"], "expiresInDays": 0}, "expiry is a whole number"),
        ({"name": "x", "scopes": ["read"], "expiresInDays": "7"}, "expiresInDays must be"),
        ({"name": "x", "scopes": ["read"], "colour": "red"}, "unknown field(s): colour"),
        ({"name": "x"}, "a key needs a name and scopes"),
        ({"name": "x", "scopes": ["root"]}, "invalid scopes"),
    ]  # fmt: skip
    for body, message in cases:
        refused = problem(client.post(BASE, json=body, headers=admin), 422, "invalid-key")
        assert message in refused["detail"], (body, refused)
    key_id = create(client, admin)["keyId"]
    patch = client.patch(f"{BASE}/{key_id}", json={"allowedNetworks": ["::1/200"]}, headers=admin)
    assert "::1/200" in problem(patch, 422, "invalid-key")["detail"]
    nothing = problem(client.patch(f"{BASE}/{key_id}", json={}, headers=admin), 422, "invalid-key")
    assert nothing["detail"].startswith("nothing to change")
    problem(client.get(f"{BASE}/000000000000", headers=admin), 404, "not-found")
    problem(
        client.post(f"{BASE}/{key_id}/rotate?overlapHours=-1", headers=admin),
        400,
        "invalid-parameter",
    )


def test_a_huge_rotation_overlap_is_refused_never_a_500(
    client: TestClient, hub: Hub, admin: dict[str, str]
) -> None:
    key_id = create(client, admin)["keyId"]
    for hours in ("1e30", "8785", "inf"):
        refused = client.post(f"{BASE}/{key_id}/rotate?overlapHours={hours}", headers=admin)
        problem(refused, 400, "invalid-parameter")
    # The default comes from the setting, which cannot be larger than the overlap allowed
    # (a huge one made timedelta overflow: 500 on every rotation without overlapHours).
    with pytest.raises(ValidationError, match="key_rotation_overlap_hours"):
        Settings(key_rotation_overlap_hours=1e12)
    assert Settings(key_rotation_overlap_hours=366 * 24).key_rotation_overlap_hours == 8784


def test_patch_changes_networks_rate_expiry_and_description(
    client: TestClient, admin: dict[str, str]
) -> None:
    key_id = create(client, admin, allowedNetworks=["10.0.0.0/8"])["keyId"]
    changed = client.patch(
        f"{BASE}/{key_id}",
        json={"allowedNetworks": ["2001:db8::/32"], "rateLimit": "5/second",
              "expiresInDays": 3, "description": "moved"},
        headers=admin,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["allowedNetworks"] == ["2001:db8::/32"] and body["rateLimit"] == "5/second"
    assert body["description"] == "moved" and body["expiryWarning"] == "expires in 2d"
    assert body["status"] == "expires in 2d"
    cleared = client.patch(
        f"{BASE}/{key_id}",
        json={"allowedNetworks": None, "rateLimit": None, "expiresInDays": None},
        headers=admin,
    ).json()
    assert cleared["allowedNetworks"] == [] and cleared["rateLimit"] is None
    assert cleared["expiresAt"] is None and cleared["description"] == "moved"


def test_rotate_keeps_the_key_and_the_previous_secret_for_the_overlap(
    client: TestClient, hub: Hub, admin: dict[str, str]
) -> None:
    created = create(client, admin, scopes=["read", "write:Product"])
    key_id, first = created["keyId"], created["secret"]
    rotated = client.post(f"{BASE}/{key_id}/rotate?overlapHours=1", headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    second = rotated.json()["secret"]
    assert rotated.json()["keyId"] == key_id and rotated.json()["scopes"] == created["scopes"]
    assert rotated.json()["previousValidUntil"] is not None
    for token in (first, second):
        assert client.get(PRODUCTS, headers=auth(token)).status_code == 200
    # A second rotation within the overlap: only the latest previous secret stays.
    third = client.post(f"{BASE}/{key_id}/rotate?overlapHours=1", headers=admin).json()["secret"]
    body = problem(client.get(PRODUCTS, headers=auth(first)), 401, "unauthorized")
    assert body["detail"] == "the API key is not valid"
    for token in (second, third):
        assert client.get(PRODUCTS, headers=auth(token)).status_code == 200
    # When the overlap ends, the previous secret is refused, saying when it ended.
    hub.access.clock = lambda: utc_now() + timedelta(hours=1, seconds=1)
    body = problem(client.get(PRODUCTS, headers=auth(second)), 401, "unauthorized")
    assert body["detail"].startswith("the API key's previous secret expired at ")
    assert client.get(PRODUCTS, headers=auth(third)).status_code == 200


def test_rotate_without_overlap_uses_the_setting(
    client: TestClient, hub: Hub, admin: dict[str, str]
) -> None:
    key_id = create(client, admin)["keyId"]
    before = utc_now()
    body = client.post(f"{BASE}/{key_id}/rotate", headers=admin).json()
    until = hub.access.get(key_id).previous_valid_until
    assert until is not None
    hours = hub.settings.key_rotation_overlap_hours
    assert timedelta(hours=hours) <= until - before < timedelta(hours=hours, minutes=1)
    assert body["previousValidUntil"] == until.isoformat()


def test_delete_revokes_at_once(client: TestClient, admin: dict[str, str]) -> None:
    created = create(client, admin)
    assert client.delete(f"{BASE}/{created['keyId']}", headers=admin).status_code == 204
    body = problem(client.get(PRODUCTS, headers=auth(created["secret"])), 401, "unauthorized")
    assert body["detail"] == "the API key has been revoked"
    assert client.get(f"{BASE}/{created['keyId']}", headers=admin).json()["status"] == "revoked"
    again = problem(client.delete(f"{BASE}/{created['keyId']}", headers=admin), 404, "not-found")
    assert "was revoked at" in again["detail"]
    problem(client.post(f"{BASE}/{created['keyId']}/rotate", headers=admin), 404, "not-found")


def test_every_change_is_audited_without_secrets(
    client: TestClient, hub: Hub, admin: dict[str, str]
) -> None:
    created = create(client, admin, allowedNetworks=["10.0.0.0/8"])
    key_id = created["keyId"]
    client.patch(f"{BASE}/{key_id}", json={"rateLimit": "9/second"}, headers=admin)
    rotated = client.post(f"{BASE}/{key_id}/rotate", headers=admin).json()["secret"]
    client.delete(f"{BASE}/{key_id}", headers=admin)
    with hub.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.target == key_id).order_by(audit_log.c.id)
        ).all()
        hashes = conn.execute(
            select(api_keys.c.secret_hash, api_keys.c.previous_secret_hash).where(
                api_keys.c.key_id == key_id
            )
        ).one()
    assert [r.action for r in rows] == ["key.created", "key.updated", "key.rotated", "key.revoked"]
    assert {r.target_type for r in rows} == {"key"}
    assert rows[0].before is None and rows[0].after["allowedNetworks"] == ["10.0.0.0/8"]
    assert rows[1].before["rateLimit"] is None and rows[1].after["rateLimit"] == "9/second"
    assert rows[2].before["rotatedAt"] is None and rows[2].after["rotatedAt"] is not None
    assert rows[3].after["revokedAt"] is not None
    text = repr([tuple(r) for r in rows])
    for secret in (created["secret"][17:], rotated[17:], *hashes):  # after phk_<12>_
        assert secret not in text


def test_metrics_count_keys_expiring_soon(
    client: TestClient, hub: Hub, admin: dict[str, str]
) -> None:
    soon = create(client, admin, name="soon", expiresInDays=2)["keyId"]
    create(client, admin, name="later", expiresInDays=200)
    gone = create(client, admin, name="gone", expiresInDays=2)["keyId"]
    client.delete(f"{BASE}/{gone}", headers=admin)
    with hub.engine.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == soon)
            .values(expires_at=utc_now() + timedelta(days=1))
        )
    text = client.get("/metrics").text
    assert "pimhub_api_keys_expiring_soon 1.0" in text, text
    assert f'pimhub_api_key_expiry_seconds{{key="{soon}",name="soon"}}' in text


def test_a_rotation_that_loses_a_race_is_a_409_problem(
    client: TestClient, hub: Hub, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another rotation lands between this one's read and its write (forced): 409, not 500."""
    created = create(client, admin)
    key_id = created["keyId"]
    repository = hub.access.keys
    real_rotate = repository.rotate
    won: list[str] = []

    def lose(key: str, **values: Any) -> bool:
        if not won:
            monkeypatch.setattr(repository, "rotate", real_rotate)
            won.append(hub.access.rotate(key, timedelta(0))[1])
        return real_rotate(key, **values)

    monkeypatch.setattr(repository, "rotate", lose)
    lost = problem(client.post(f"{BASE}/{key_id}/rotate", headers=admin), 409, "rotation-conflict")
    assert "was rotated by another request at the same time" in lost["detail"]
    assert "secret" not in lost
    assert client.get(PRODUCTS, headers=auth(won[0])).status_code == 200
