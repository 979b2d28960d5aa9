"""The admin's key lifecycle pages on both backends: rotate (new secret shown once, the old
one kept for the overlap, a form sent twice rotates once), change networks, rate, expiry and
description, the expiry warning in the list; admins only."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import update

from pimhub.bootstrap import Hub
from pimhub.catalog.clock import utc_now
from pimhub.storage.tables import api_keys
from tests.admin.conftest import AdminClient
from tests.admin.test_key_pages import _create, _form_token, _secret


def test_rotate_and_change_are_for_admins_only(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    key, token = users_hub.access.create("someone", ["read"], environment="test")
    for role in ("manager", "integrator", "viewer"):
        client = signed_in(role)
        for path in (f"/admin/keys/{key.key_id}/rotate", f"/admin/keys/{key.key_id}/edit"):
            assert client.get(path).status_code == 403, (role, path)
            assert client.post_form(path, {"rate_limit": "1/hour"}).status_code == 403
    assert users_hub.access.authenticate(token).rate_limit is None
    assert users_hub.access.get(key.key_id).rotated_at is None


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_for_the_overlap(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    key, old = users_hub.access.create("storefront", ["read"], environment="test")
    page = client.get(f"/admin/keys/{key.key_id}/rotate")
    assert page.status_code == 200 and "<h1>Rotate key storefront?</h1>" in page.text
    assert 'name="overlap_hours"' in page.text and 'value="24"' in page.text
    form_token = _form_token(page.text)
    answer = client.post_form(
        f"/admin/keys/{key.key_id}/rotate", {"form_token": form_token, "overlap_hours": "1.5"}
    )
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert "<h1>Key storefront rotated</h1>" in answer.text
    assert "The previous secret is accepted until" in answer.text
    new = _secret(answer.text)
    assert new.startswith(f"phk_{key.key_id}_") and new != old
    for token in (old, new):
        assert users_hub.access.authenticate(token).key_id == key.key_id
    until = users_hub.access.get(key.key_id).previous_valid_until
    assert until is not None
    assert timedelta(hours=1, minutes=29) < until - utc_now() <= timedelta(hours=1, minutes=30)

    again = client.post_form(
        f"/admin/keys/{key.key_id}/rotate", {"form_token": form_token, "overlap_hours": "1"}
    )
    assert again.status_code == 409 and "was rotated from this form already" in again.text
    assert new not in again.text
    assert users_hub.access.authenticate(new).key_id == key.key_id  # not rotated twice

    listing = client.get("/admin/keys").text
    assert "previous secret valid until" in listing and new not in listing


def test_a_bad_overlap_is_named_next_to_its_field(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    key, token = users_hub.access.create("storefront", ["read"], environment="test")
    for hours in ("-1", "abc", "9999", "nan", "\u0661"):
        page = client.get(f"/admin/keys/{key.key_id}/rotate").text
        answer = client.post_form(
            f"/admin/keys/{key.key_id}/rotate",
            {"form_token": _form_token(page), "overlap_hours": hours},
        )
        assert answer.status_code == 422, hours
        assert 'id="overlap-error">0 to 8784 hours' in answer.text
    assert users_hub.access.authenticate(token).rotated_at is None


def test_changing_networks_rate_expiry_and_description(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    made, _ = _create(
        client, scope="read:*", allowed_networks="10.0.0.0/8\n192.0.2.1", rate_limit="60/minute"
    )
    answer = cast(Any, made)  # _create's answer is a response
    assert answer.status_code == 200, answer.text
    (key,) = users_hub.access.all()
    assert key.allowed_networks == ("10.0.0.0/8", "192.0.2.1/32")
    assert key.rate_limit == "60/minute"

    page = client.get(f"/admin/keys/{key.key_id}/edit")
    assert page.status_code == 200 and "10.0.0.0/8\n192.0.2.1/32</textarea>" in page.text
    bad = client.post_form(
        f"/admin/keys/{key.key_id}/edit",
        {"allowed_networks": "10.0.0.0/8\nlocalhost", "rate_limit": "60/minute"},
    )
    assert bad.status_code == 422
    assert re.search(r'id="key-networks-error">[^<]*localhost', bad.text)
    assert "10.0.0.0/8\nlocalhost</textarea>" in bad.text  # input kept
    saved = client.post_form(
        f"/admin/keys/{key.key_id}/edit",
        {"allowed_networks": "", "rate_limit": "5/second", "description": "shop",
         "expires_in_days": "3"},
    )  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/keys"
    changed = users_hub.access.get(key.key_id)
    assert changed.allowed_networks == () and changed.rate_limit == "5/second"
    assert changed.description == "shop" and changed.expires_at is not None
    listing = client.get("/admin/keys").text
    assert '<span class="badge warn">expires in 2d</span>' in listing

    client.post_form(
        f"/admin/keys/{key.key_id}/edit",
        {"rate_limit": "", "description": "shop", "no_expiry": "on"},
    )
    cleared = users_hub.access.get(key.key_id)
    assert cleared.rate_limit is None and cleared.expires_at is None


def test_the_list_warns_of_keys_that_expire_soon(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    soon, _ = users_hub.access.create("soon", ["read"], environment="test", expires_in_days=30)
    with users_hub.engine.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == soon.key_id)
            .values(expires_at=utc_now() + timedelta(hours=5, minutes=5))
        )
    listing = signed_in("admin").get("/admin/keys").text
    row = listing.split(f'<tr id="key-{soon.key_id}">')[1].split("</tr>")[0]
    assert '<span class="badge warn">expires in 5h</span>' in row
