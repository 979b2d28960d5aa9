"""API key pages on both backends: admins only; a created key's secret is shown once (in the
POST's answer, not cached, not in a cookie, address or log) and works against REST until it
is revoked; a form sent twice makes one key; bad scopes and expiry are named."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient


def _form_token(page: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    assert found, "no form token"
    return found[1]


def _secret(page: str) -> str:
    found = re.search(r'<input id="new-secret"[^>]* readonly value="([^"]+)"', page)
    assert found, "no secret on the page"
    return html.unescape(found[1])


def _create(client: AdminClient, **fields: object) -> tuple[object, str]:
    token = _form_token(client.get("/admin/keys").text)
    data = {"form_token": token, "name": "storefront", "environment": "test", **fields}
    return client.post_form("/admin/keys", data), token


@pytest.mark.parametrize("role", ["manager", "integrator", "viewer"])
def test_keys_are_for_admins_only(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], role: str
) -> None:
    key, _ = users_hub.access.create("someone", ["read"], environment="test")
    client = signed_in(role)
    assert client.get("/admin/keys").status_code == 403
    assert client.get(f"/admin/keys/{key.key_id}/revoke").status_code == 403
    made = client.post_form("/admin/keys", {"name": "x", "scope": "admin"})
    assert made.status_code == 403
    assert client.post_form(f"/admin/keys/{key.key_id}/revoke").status_code == 403
    assert [k.name for k in users_hub.access.all()] == ["someone"]
    assert users_hub.access.all()[0].revoked_at is None


def test_a_new_key_is_shown_once_works_against_rest_and_stops_after_revoke(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], capsys: pytest.CaptureFixture[str]
) -> None:
    client = signed_in("admin")
    answer, _ = _create(client, scope=["read:*", "read-drafts:*"], expires_in_days="30")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert "location" not in answer.headers
    secret = _secret(answer.text)
    assert secret.startswith("phk_")
    assert secret not in answer.headers.get("set-cookie", "")
    assert '<label for="new-secret">API key (shown once)</label>' in answer.text

    (key,) = users_hub.access.all()
    assert key.scopes == ("read:*", "read-drafts:*") and key.environment == "test"
    assert key.expires_at is not None and (key.expires_at - key.created_at).days == 30

    rest = TestClient(create_app(users_hub))
    bearer = {"Authorization": f"Bearer {secret}"}
    assert rest.get("/api/v1/objects/Product/TS-2", headers=bearer).status_code == 200
    assert rest.delete("/api/v1/objects/Product/TS-2", headers=bearer).status_code == 403

    listing = client.get("/admin/keys").text
    assert f'<tr id="key-{key.key_id}">' in listing and secret not in listing
    confirm = client.get(f"/admin/keys/{key.key_id}/revoke")
    assert confirm.status_code == 200 and "<h1>Revoke key storefront?</h1>" in confirm.text
    revoked = client.post_form(f"/admin/keys/{key.key_id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["location"] == "/admin/keys"
    refused = rest.get("/api/v1/objects/Product/TS-2", headers=bearer)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert 'badge muted">revoked' in client.get("/admin/keys").text
    assert client.post_form(f"/admin/keys/{key.key_id}/revoke").status_code == 404
    assert secret not in capsys.readouterr().out  # the request log


def test_the_same_form_sent_twice_makes_one_key_and_shows_no_secret_again(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    first, token = _create(client, scope="integrate")
    secret = _secret(first.text)
    again = client.post_form(
        "/admin/keys",
        {"form_token": token, "name": "storefront", "environment": "test", "scope": "integrate"},
    )
    assert again.status_code == 409
    assert "was made from this form already" in again.text
    assert secret not in again.text and 'id="new-secret"' not in again.text
    assert len(users_hub.access.all()) == 1


def test_bad_scopes_and_expiry_are_named_next_to_their_fields_and_input_kept(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    answer, token = _create(client, scope="read:*", other_scopes="read:Product, sudo")
    assert answer.status_code == 422
    assert re.search(
        r'<p class="field-error" id="other-scopes-error">[^<]*&#39;sudo&#39; is not a scope',
        answer.text,
    )
    assert 'id="other-scopes" name="other_scopes" value="read:Product, sudo"' in answer.text
    assert 'value="storefront"' in answer.text
    assert re.search(r'value="read:\*" checked', answer.text)
    none, _ = _create(client)
    assert none.status_code == 422 and "a key needs at least one scope" in none.text
    expiry, _ = _create(client, scope="read:*", expires_in_days="-3")
    assert expiry.status_code == 422
    assert 'id="key-expiry-error">1 to 3650 days, or empty' in expiry.text
    unnamed, _ = _create(client, scope="read:*", name="  ")
    assert unnamed.status_code == 422 and 'id="key-name-error"' in unnamed.text
    env, _ = _create(client, scope="read:*", environment="moon")
    assert env.status_code == 422 and 'id="key-environment-error"' in env.text
    assert users_hub.access.all() == []
    # A refused form may be fixed and sent again with the same token.
    fixed = client.post_form(
        "/admin/keys",
        {"form_token": token, "name": "storefront", "environment": "test", "scope": "read:*"},
    )
    assert fixed.status_code == 200 and len(users_hub.access.all()) == 1


def test_hostile_input_gets_a_4xx_page(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    key, _ = users_hub.access.create("victim", ["read"], environment="test")
    nul, _ = _create(client, scope="read:*", name="a\x00b")
    assert nul.status_code == 400
    huge, _ = _create(client, scope="read:*", name="n" * 500)
    assert huge.status_code == 422
    days, _ = _create(client, scope="read:*", expires_in_days="9" * 5000)
    assert days.status_code == 422
    # Revoking takes a key id, never a name (the service would revoke every key so named).
    assert client.post_form("/admin/keys/victim/revoke").status_code == 404
    assert client.get("/admin/keys/nope/revoke").status_code == 404
    assert users_hub.access.all()[0].revoked_at is None
    assert [k.name for k in users_hub.access.all()] == ["victim"]
    assert key.key_id in client.get("/admin/keys").text


def test_a_datahub_link_presets_the_scope(signed_in: Callable[[str], AdminClient]) -> None:
    page = signed_in("admin").get("/admin/keys?scope=datahub:shop").text
    assert 'id="other-scopes" name="other_scopes" value="datahub:shop"' in page


@pytest.mark.parametrize("days", ["²", "٣", "1²", "0", "00000000000000000000031"])
def test_expiry_takes_ascii_digits_only_never_a_500(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], days: str
) -> None:
    client = signed_in("admin")
    answer, _ = _create(client, scope="read:*", expires_in_days=days)
    if days.startswith("000"):  # leading zeros are still digits: 31 days
        assert answer.status_code == 200
        assert [k.expires_at is not None for k in users_hub.access.all()] == [True]
        return
    assert answer.status_code == 422, answer.text[:300]
    assert 'id="key-expiry-error">1 to 3650 days, or empty' in answer.text
    assert users_hub.access.all() == []


def test_superscript_digits_sent_as_bytes_are_refused(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    token = _form_token(client.get("/admin/keys").text)
    body = (
        f"csrf_token={client.csrf}&form_token={token}&name=s&environment=test"
        "&scope=read%3A%2A&expires_in_days=%C2%B2"
    )
    answer = client.post(
        "/admin/keys",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert answer.status_code == 422
    assert users_hub.access.all() == []
