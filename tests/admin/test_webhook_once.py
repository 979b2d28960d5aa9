"""Creating an endpoint and rotating its secret are one-time forms (admin/once.py): the same
form sent again (a reload of the answer that shows the secret, a double click) answers 409
'this form was already sent', creates or rotates nothing and shows no secret. Both backends."""

from __future__ import annotations

import re
from collections.abc import Callable

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient

PUBLIC_URL = "http://93.184.216.34/hook"
SECRET = re.compile(r'id="secret-value" readonly value="(whsec_[^"]+)"')
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def token_on(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "no one-time token on the form"
    return found.group(1)


def test_a_resent_create_form_makes_no_second_endpoint(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    token = token_on(client.get("/admin/webhooks/new").text)
    form = {"url": PUBLIC_URL, "description": "once", "form_token": token}
    first = client.post_form("/admin/webhooks/new", form)
    assert first.status_code == 201 and SECRET.search(first.text)
    [endpoint] = users_hub.webhooks.all()
    again = client.post_form("/admin/webhooks/new", form)
    assert again.status_code == 409
    assert "this form was already sent" in again.text
    assert SECRET.search(again.text) is None
    assert f'href="/admin/webhooks/{endpoint.endpoint_id}"' in again.text
    assert [e.endpoint_id for e in users_hub.webhooks.all()] == [endpoint.endpoint_id]


def test_a_refused_create_form_can_be_fixed_and_sent_again(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    token = token_on(client.get("/admin/webhooks/new").text)
    bad = client.post_form("/admin/webhooks/new", {"url": "ftp://x/y", "form_token": token})
    assert bad.status_code == 422 and users_hub.webhooks.all() == []
    fixed = client.post_form("/admin/webhooks/new", {"url": PUBLIC_URL, "form_token": token})
    assert fixed.status_code == 201
    assert len(users_hub.webhooks.all()) == 1


def test_a_resent_rotate_form_rotates_nothing(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id = users_hub.webhooks.create({"url": PUBLIC_URL}).endpoint.endpoint_id
    client = signed_in("integrator")
    token = token_on(client.get(f"/admin/webhooks/{endpoint_id}").text)
    path = f"/admin/webhooks/{endpoint_id}/rotate"
    first = client.post_form(path, {"form_token": token})
    shown = SECRET.search(first.text)
    assert first.status_code == 200 and shown is not None
    rotated_at = users_hub.webhooks.get(endpoint_id).secret_rotated_at
    again = client.post_form(path, {"form_token": token})
    assert again.status_code == 409
    assert "this form was already sent" in again.text
    assert SECRET.search(again.text) is None
    assert users_hub.webhooks.secret(endpoint_id) == shown.group(1)
    assert users_hub.webhooks.get(endpoint_id).secret_rotated_at == rotated_at
    # A fresh form (the 409 page's) rotates again, as asked.
    fresh = client.post_form(path, {"form_token": token_on(again.text)})
    assert fresh.status_code == 200
    assert users_hub.webhooks.secret(endpoint_id) != shown.group(1)
