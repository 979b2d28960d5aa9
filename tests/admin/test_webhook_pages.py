"""/admin/webhooks: endpoints listed with health and sparkline, created and edited with the
service's refusals inline, the secret shown once, rotation, a ping to a real receiver,
enable/disable and delete; integrators and admins only. Both backends."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient
from tests.events.receiver import Receiver, receiver_in_thread

PUBLIC_URL = "http://93.184.216.34/hook"  # a global address literal: no DNS needed
SECRET = re.compile(r'id="secret-value" readonly value="(whsec_[^"]+)"')


@pytest.mark.parametrize("role", ["integrator", "admin"])
def test_integrators_and_admins_see_the_webhook_pages(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], role: str
) -> None:
    created = users_hub.webhooks.create({"url": PUBLIC_URL, "description": "the shop"})
    client = signed_in(role)
    listing = client.get("/admin/webhooks")
    assert listing.status_code == 200
    assert PUBLIC_URL in listing.text and "the shop" in listing.text
    assert "no attempts in the last 24 hours" in listing.text
    assert client.get("/admin/webhooks/new").status_code == 200
    page = client.get(f"/admin/webhooks/{created.endpoint.endpoint_id}")
    assert page.status_code == 200
    assert created.secret not in page.text  # the secret is shown at creation only
    assert client.get("/admin/deliveries").status_code == 200


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_managers_and_viewers_are_refused(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], role: str
) -> None:
    endpoint_id = users_hub.webhooks.create({"url": PUBLIC_URL}).endpoint.endpoint_id
    client = signed_in(role)
    for path in ("/webhooks", "/webhooks/new", f"/webhooks/{endpoint_id}", "/deliveries"):
        assert client.get("/admin" + path).status_code == 403, path
    refused = client.post_form(f"/admin/webhooks/{endpoint_id}/disable")
    assert refused.status_code == 403
    assert users_hub.webhooks.get(endpoint_id).spec.enabled
    assert "Webhooks" not in client.get("/admin/").text.split("<main", 1)[0]


def test_create_shows_the_secret_once_and_the_endpoint_is_in_the_rest_list(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    answer = client.post_form(
        "/admin/webhooks/new",
        {
            "url": PUBLIC_URL,
            "description": "ERP",
            "eventTypes": ["object.updated", "object.published"],
            "classes": ["Product"],
            "changedFields": "price, name",
            "payload": "thin",
            "rateLimit": "5",
        },
    )
    assert answer.status_code == 201
    assert answer.headers["cache-control"] == "no-store"
    secret = SECRET.search(answer.text)
    assert secret is not None
    assert "set-cookie" not in answer.headers or secret.group(1) not in answer.headers["set-cookie"]
    [endpoint] = users_hub.webhooks.all()
    assert users_hub.webhooks.secret(endpoint.endpoint_id) == secret.group(1)
    spec = endpoint.spec
    assert (spec.url, spec.description, spec.payload.value, spec.rate_limit) == (
        PUBLIC_URL,
        "ERP",
        "thin",
        5.0,
    )
    assert spec.event_types == ("object.updated", "object.published")
    assert spec.classes == ("Product",) and spec.changed_fields == ("price", "name")
    key = users_hub.access.create("rest", ["integrate"], environment="test")[1]
    rest = client.get("/api/v1/webhooks/endpoints", headers={"Authorization": f"Bearer {key}"})
    assert [e["id"] for e in rest.json()["items"]] == [endpoint.endpoint_id]
    again = client.get(f"/admin/webhooks/{endpoint.endpoint_id}")
    assert secret.group(1) not in again.text


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "must be an absolute http(s) URL"),
        ("not a url", "must be an absolute http(s) URL"),
        ("http://10.1.2.3/hook", "which is not a public address"),
    ],
)
def test_a_bad_or_private_url_is_refused_inline_with_the_input_kept(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], url: str, message: str
) -> None:
    users_hub.webhooks.allow_private = False
    client = signed_in("integrator")
    answer = client.post_form(
        "/admin/webhooks/new",
        {"url": url, "description": "kept text", "classes": ["Brand"]},
    )
    assert answer.status_code == 422
    assert 'role="alert"' in answer.text
    assert 'required aria-invalid="true" aria-describedby="url-error"' in answer.text
    error = re.search(r'<p class="field-error" id="url-error">([^<]*)</p>', answer.text)
    assert error is not None and message in error.group(1)
    assert 'value="kept text"' in answer.text
    assert 'value="Brand" checked' in answer.text
    assert users_hub.webhooks.all() == []


def test_bad_rate_and_unknown_event_type_are_named(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    rate = client.post_form("/admin/webhooks/new", {"url": PUBLIC_URL, "rateLimit": "nan"})
    assert rate.status_code == 422 and 'id="rateLimit-error"' in rate.text
    kind = client.post_form("/admin/webhooks/new", {"url": PUBLIC_URL, "eventTypes": ["x.y"]})
    assert kind.status_code == 422 and 'id="eventTypes-error"' in kind.text
    assert users_hub.webhooks.all() == []


def test_edit_saves_and_enable_disable_and_delete(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id = users_hub.webhooks.create({"url": PUBLIC_URL}).endpoint.endpoint_id
    client = signed_in("integrator")
    stamp = users_hub.webhooks.get(endpoint_id).updated_at.isoformat()
    saved = client.post_form(
        f"/admin/webhooks/{endpoint_id}",
        {
            "url": PUBLIC_URL + "2",
            "eventTypes": ["object.deleted"],
            "payload": "full",
            "updatedAt": stamp,
        },
    )
    assert saved.status_code == 303
    spec = users_hub.webhooks.get(endpoint_id).spec
    assert spec.url == PUBLIC_URL + "2" and spec.event_types == ("object.deleted",)
    assert client.post_form(f"/admin/webhooks/{endpoint_id}/disable").status_code == 303
    assert not users_hub.webhooks.get(endpoint_id).spec.enabled
    assert client.post_form(f"/admin/webhooks/{endpoint_id}/enable").status_code == 303
    assert users_hub.webhooks.get(endpoint_id).spec.enabled
    confirm = client.get(f"/admin/webhooks/{endpoint_id}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    assert users_hub.webhooks.all() != []  # asking is not deleting
    gone = client.post_form(f"/admin/webhooks/{endpoint_id}/delete")
    assert gone.status_code == 303
    assert users_hub.webhooks.all() == []


def test_rotate_shows_the_new_secret_once_and_until_when_the_old_one_signs(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    created = users_hub.webhooks.create({"url": PUBLIC_URL})
    endpoint_id = created.endpoint.endpoint_id
    client = signed_in("integrator")
    answer = client.post_form(f"/admin/webhooks/{endpoint_id}/rotate", {"overlapHours": "2"})
    assert answer.status_code == 200
    secret = SECRET.search(answer.text)
    assert secret is not None and secret.group(1) != created.secret
    assert users_hub.webhooks.secret(endpoint_id) == secret.group(1)
    until = users_hub.webhooks.get(endpoint_id).previous_secret_until
    assert until is not None
    assert f'until\n    <time datetime="{until.isoformat()}"' in answer.text
    assert secret.group(1) not in client.get(f"/admin/webhooks/{endpoint_id}").text
    bad = client.post_form(f"/admin/webhooks/{endpoint_id}/rotate", {"overlapHours": "-1"})
    assert bad.status_code == 422 and 'id="overlapHours-error"' in bad.text
    assert users_hub.webhooks.secret(endpoint_id) == secret.group(1)  # not rotated again


def test_ping_shows_the_receivers_answer(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    with receiver_in_thread(Receiver(answer=lambda r: 418)) as receiver:
        endpoint_id = users_hub.webhooks.create({"url": receiver.url}).endpoint.endpoint_id
        answer = client.post_form(f"/admin/webhooks/{endpoint_id}/ping")
        assert [r.payload["type"] for r in receiver.requests] == ["webhook.ping"]
    assert answer.status_code == 200
    assert "answered HTTP 418" in answer.text
    assert "<pre>no</pre>" in answer.text  # the receiver's body
    assert re.search(r"in \d+ ms", answer.text)


def test_ping_to_a_closed_port_shows_the_error(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id = users_hub.webhooks.create({"url": "http://127.0.0.1:9/hook"}).endpoint
    answer = signed_in("admin").post_form(f"/admin/webhooks/{endpoint_id.endpoint_id}/ping")
    assert answer.status_code == 200
    assert "no answer" in answer.text and 'class="error">Error:' in answer.text


@pytest.mark.parametrize(
    "endpoint_id", ["ep_missing", "a%00b", "x" * 5000, "%ff%fe", "..%2F..%2Fetc"]
)
def test_unknown_or_hostile_endpoint_ids_are_a_4xx_page(
    users_hub: Hub, signed_in: Callable[[str], AdminClient], endpoint_id: str
) -> None:
    client = signed_in("integrator")
    page = client.get(f"/admin/webhooks/{endpoint_id}")
    assert 400 <= page.status_code < 500
    posted = client.post_form(f"/admin/webhooks/{endpoint_id}/ping")
    assert 400 <= posted.status_code < 500


def test_a_nul_in_the_form_is_refused_not_a_500(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    answer = signed_in("integrator").post_form(
        "/admin/webhooks/new", {"url": PUBLIC_URL, "description": "a\x00b"}
    )
    assert 400 <= answer.status_code < 500
    assert users_hub.webhooks.all() == []
