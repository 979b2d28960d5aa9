"""A paused endpoint (after failures in a row) is shown as such: the delivery log and detail
say a delivery waits for the pause instead of a 'next' time already past, a replayed dead
letter too; the endpoint page offers 'Resume now' (also after a successful ping), which ends
the pause so the waiting deliveries are due at once; REST resumes as well. The log
names endpoints by description or URL, and a connector's delivery links no webhook page.
Both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from pimhub.bootstrap import Hub
from pimhub.events.deliveries import AttemptResult, DeliveryFilter, DeliveryStatus
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from tests.admin.conftest import AdminClient
from tests.events.receiver import Receiver, receiver_in_thread

# Retry at once, but pause the endpoint for an hour after the first failure.
AT_ONCE = RetryPolicy(schedule=(timedelta(0),), jitter=0.0)
DEAD = RetryPolicy(schedule=())
PAUSE = CircuitPolicy(threshold=1, first_pause=timedelta(hours=1), max_pause=timedelta(hours=1))
RESUME_FORM = 'action="/admin/webhooks/{}/resume"'


def fail_once(hub: Hub, retry: RetryPolicy) -> list[int]:
    """Fans out and fails every due delivery once; returns their ids."""
    queue, now = hub.webhooks.queue, hub.webhooks.clock()
    queue.fan_out(now, 1000)
    claimed = queue.claim(now, 1000, now + timedelta(minutes=5))
    results = [AttemptResult(d, now, 5.0, 503, "busy", None) for d in claimed]
    queue.record(results, retry, PAUSE, now)
    return [d.id for d in claimed]


@pytest.fixture
def paused(users_hub: Hub) -> tuple[str, int]:
    """An endpoint paused for an hour with one delivery due (retry at once) behind the pause."""
    hooks = users_hub.webhooks
    created = hooks.create({"url": "http://127.0.0.1:9/p", "description": "Shop ERP"})
    users_hub.catalog.patch("Brand", "acme", {"name": "Acme P"}, author="test")
    [delivery_id] = fail_once(users_hub, AT_ONCE)
    endpoint = hooks.get(created.endpoint.endpoint_id)
    assert endpoint.paused_until is not None and endpoint.paused_until > hooks.clock()
    return created.endpoint.endpoint_id, delivery_id


def test_the_log_and_detail_say_the_delivery_waits_for_the_pause(
    users_hub: Hub, paused: tuple[str, int], signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id, delivery_id = paused
    until = users_hub.webhooks.get(endpoint_id).paused_until
    assert until is not None
    said = f"waits: endpoint paused until {until:%H:%M:%S} UTC"
    client = signed_in("integrator")
    log = client.get("/admin/deliveries")
    assert said in log.text
    assert "<small>next " not in log.text  # no 'next' time that is already past
    detail = client.get(f"/admin/deliveries/{delivery_id}")
    assert said in detail.text
    assert said in client.get(f"/admin/deliveries/{delivery_id}/status").text


def test_a_replayed_dead_letter_waits_for_the_pause_too(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    hooks = users_hub.webhooks
    endpoint_id = hooks.create({"url": "http://127.0.0.1:9/d"}).endpoint.endpoint_id
    users_hub.catalog.patch("Brand", "acme", {"name": "Acme D"}, author="test")
    [delivery_id] = fail_once(users_hub, DEAD)
    client = signed_in("integrator")
    assert client.post_form(f"/admin/deliveries/{delivery_id}/replay").status_code == 303
    [record] = hooks.deliveries(DeliveryFilter(endpoint_id=endpoint_id))
    assert record.status == DeliveryStatus.PENDING
    assert "waits: endpoint paused until" in client.get("/admin/deliveries").text


def test_resume_now_ends_the_pause_and_the_delivery_goes_at_once(
    users_hub: Hub, paused: tuple[str, int], signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id, delivery_id = paused
    hooks = users_hub.webhooks
    # Retries waiting far ahead are due at once after resuming too.
    hooks.queue.replay(DeliveryFilter(), [delivery_id], hooks.clock() + timedelta(hours=5))
    client = signed_in("integrator")
    page = client.get(f"/admin/webhooks/{endpoint_id}")
    assert "paused until" in page.text and RESUME_FORM.format(endpoint_id) in page.text
    now = hooks.clock()
    assert hooks.queue.claim(now, 10, now + timedelta(minutes=1)) == []  # held by the pause
    answer = client.post_form(f"/admin/webhooks/{endpoint_id}/resume")
    assert answer.status_code == 303
    endpoint = hooks.get(endpoint_id)
    assert endpoint.paused_until is None and endpoint.consecutive_failures == 0
    now = hooks.clock()
    claimed = hooks.queue.claim(now, 10, now + timedelta(minutes=1))
    assert [d.id for d in claimed] == [delivery_id]
    after = client.get(f"/admin/webhooks/{endpoint_id}")
    assert RESUME_FORM.format(endpoint_id) not in after.text and "paused until" not in after.text


def test_a_successful_ping_of_a_paused_endpoint_offers_resume(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    hooks = users_hub.webhooks
    client = signed_in("integrator")
    with receiver_in_thread(Receiver(answer=lambda r: 200)) as receiver:
        endpoint_id = hooks.create({"url": receiver.url}).endpoint.endpoint_id
        users_hub.catalog.patch("Brand", "acme", {"name": "Acme R"}, author="test")
        fail_once(users_hub, AT_ONCE)
        answer = client.post_form(f"/admin/webhooks/{endpoint_id}/ping")
    assert answer.status_code == 200 and "answered HTTP 200" in answer.text
    ping_card = answer.text.split('id="ping-heading"', 1)[1].split("</section>", 1)[0]
    assert RESUME_FORM.format(endpoint_id) in ping_card


def test_a_failed_ping_offers_no_resume_in_its_result(
    users_hub: Hub, paused: tuple[str, int], signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id, _ = paused  # its URL is a closed port
    answer = signed_in("integrator").post_form(f"/admin/webhooks/{endpoint_id}/ping")
    ping_card = answer.text.split('id="ping-heading"', 1)[1].split("</section>", 1)[0]
    assert "no answer" in ping_card and "/resume" not in ping_card


def test_resume_is_refused_to_viewers_and_for_unknown_endpoints(
    users_hub: Hub, paused: tuple[str, int], signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id, _ = paused
    refused = signed_in("viewer").post_form(f"/admin/webhooks/{endpoint_id}/resume")
    assert refused.status_code == 403
    assert users_hub.webhooks.get(endpoint_id).paused_until is not None
    client = signed_in("integrator")
    for bad in ("ep_missing", "a%00b", "x" * 300):
        assert 400 <= client.post_form(f"/admin/webhooks/{bad}/resume").status_code < 500


def test_rest_resumes(
    users_hub: Hub, paused: tuple[str, int], signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id, _ = paused
    client = signed_in("integrator")
    key = users_hub.access.create("ops", ["integrate"], environment="test")[1]
    answer = client.post(
        f"/api/v1/webhooks/endpoints/{endpoint_id}/resume",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["health"]["pausedUntil"] is None
    assert users_hub.webhooks.get(endpoint_id).paused_until is None
    missing = client.post(
        "/api/v1/webhooks/endpoints/ep_nope/resume", headers={"Authorization": f"Bearer {key}"}
    )
    assert missing.status_code == 404


def test_the_log_names_endpoints_by_description_or_url(
    users_hub: Hub, paused: tuple[str, int], signed_in: Callable[[str], AdminClient]
) -> None:
    endpoint_id, delivery_id = paused
    hooks = users_hub.webhooks
    bare = hooks.create({"url": "http://127.0.0.1:9/orders/in"}).endpoint.endpoint_id
    users_hub.catalog.patch("Brand", "acme", {"name": "Acme N"}, author="test")
    hooks.queue.fan_out(hooks.clock(), 1000)
    client = signed_in("integrator")
    log = client.get("/admin/deliveries").text
    assert f'title="{endpoint_id}">Shop ERP</a>' in log
    assert f'title="{bare}">127.0.0.1/orders/in</a>' in log
    detail = client.get(f"/admin/deliveries/{delivery_id}").text
    assert f'<a href="/admin/webhooks/{endpoint_id}">Shop ERP</a>' in detail


def test_a_connectors_delivery_is_named_as_one_and_links_no_webhook_page(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    credentials = {"consumerKey": "k", "consumerSecret": "s", "accessToken": "t"}
    credentials["accessTokenSecret"] = "ts"
    config = {"name": "shop", "baseUrl": "https://shop.example.com", "stores": {"de": "german"}}
    users_hub.connectors.add(config, credentials)
    body = {"sku": "C-1", "name": {"en": "C-1"}, "price": {"amount": 1, "currency": "EUR"}}
    users_hub.catalog.create("Product", body, author="test")
    hooks = users_hub.webhooks
    hooks.queue.fan_out(hooks.clock(), 1000)
    [record] = hooks.deliveries(DeliveryFilter())
    client = signed_in("integrator")
    log = client.get("/admin/deliveries").text
    assert f'title="{record.endpoint_id}">Magento connector</a>' in log
    detail = client.get(f"/admin/deliveries/{record.id}")
    assert detail.status_code == 200 and "Magento connector" in detail.text
    assert f'href="/admin/webhooks/{record.endpoint_id}"' not in detail.text
