"""/admin/deliveries: the log's filters each narrow the list, a delivery shows every attempt's
request and answer, dead letters are replayed one at a time or all matching a filter (through
the service REST uses; a second replay finds nothing), hostile filters are a 4xx. Both
backends; deliveries are made by the queue itself with recorded outcomes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest

from pimhub.bootstrap import Hub
from pimhub.events.deliveries import AttemptResult, DeliveryFilter, DeliveryStatus
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from pimhub.events.signing import secret_bytes, sign
from tests.admin.conftest import AdminClient

ROW = re.compile(r'<a href="/admin/deliveries/(\d+)">#')
DEAD = RetryPolicy(schedule=())
RETRY = RetryPolicy(schedule=(timedelta(hours=1),))


def product(hub: Hub, sku: str) -> None:
    body = {"sku": sku, "name": {"en": sku}, "price": {"amount": 1, "currency": "EUR"}}
    hub.catalog.create("Product", body, author="test")


def attempt(hub: Hub, answers: dict[str, int | None], retry: RetryPolicy) -> dict[str, int]:
    """Fans out and sends once: each business key's delivery gets the status in `answers`
    (None: no answer). Returns delivery ids by business key."""
    queue, now = hub.webhooks.queue, hub.webhooks.clock()
    queue.fan_out(now, 1000)
    claimed = queue.claim(now, 1000, now + timedelta(minutes=5))
    records = {r.id: r for r in hub.webhooks.deliveries(DeliveryFilter(), 500)}
    results, ids = [], {}
    for delivery in claimed:
        key = records[delivery.id].business_key
        assert key is not None
        if key not in answers:  # not this round's: handed back untried
            results.append(AttemptResult(delivery, now, 0.0, None, None, None, skipped=True))
            continue
        ids[key] = delivery.id
        code = answers[key]
        results.append(
            AttemptResult(
                delivery,
                now,
                12.0,
                code,
                '{"reason": "stock locked"}' if code else None,
                None if code else "connection refused",
            )
        )
    queue.record(results, retry, CircuitPolicy(), now)
    return ids


@pytest.fixture
def logged(users_hub: Hub) -> dict[str, object]:
    """Two endpoints: A gets D-OK delivered, D-DEAD1/2 dead, D-RETRY retrying; B gets the
    brand's first update dead and its second still untried."""
    hooks = users_hub.webhooks
    a = hooks.create({"url": "http://127.0.0.1:9/a", "eventTypes": ["object.created"]})
    b = hooks.create({"url": "http://127.0.0.1:9/b", "eventTypes": ["object.updated"]})
    for sku in ("D-OK", "D-DEAD1", "D-DEAD2"):
        product(users_hub, sku)
    users_hub.catalog.patch("Brand", "acme", {"name": "Acme 2"}, author="test")
    ids = attempt(users_hub, {"D-OK": 200, "D-DEAD1": 500, "D-DEAD2": None, "acme": 503}, DEAD)
    product(users_hub, "D-RETRY")
    ids |= attempt(users_hub, {"D-RETRY": 502}, RETRY)
    users_hub.catalog.patch("Brand", "acme", {"name": "Acme 3"}, author="test")
    hooks.queue.fan_out(hooks.clock(), 1000)
    return {
        "a": a.endpoint.endpoint_id,
        "b": b.endpoint.endpoint_id,
        "ids": ids,
        "secret": a.secret,
    }


def listed(client: AdminClient, query: str) -> list[int]:
    page = client.get("/admin/deliveries" + query)
    assert page.status_code == 200, page.text
    return [int(i) for i in ROW.findall(page.text)]


def test_each_filter_narrows_the_log(
    users_hub: Hub, logged: dict[str, object], signed_in: Callable[[str], AdminClient]
) -> None:
    ids: dict[str, int] = logged["ids"]  # type: ignore[assignment]
    client = signed_in("integrator")
    everything = listed(client, "")
    assert len(everything) == 6 and everything == sorted(everything, reverse=True)  # newest first
    dead = {ids["D-DEAD1"], ids["D-DEAD2"], ids["acme"]}
    assert set(listed(client, "?status=dead")) == dead
    assert listed(client, "?status=delivered") == [ids["D-OK"]]
    assert listed(client, "?status=retrying") == [ids["D-RETRY"]]
    assert len(listed(client, "?status=pending")) == 2  # the retrying one and the untried one
    assert set(listed(client, "?eventType=object.updated")) == {ids["acme"], max(everything)}
    assert set(listed(client, f"?endpoint={logged['a']}")) == {
        ids[k] for k in ("D-OK", "D-DEAD1", "D-DEAD2", "D-RETRY")
    }
    assert listed(client, "?object=D-DEAD2") == [ids["D-DEAD2"]]
    [record] = users_hub.webhooks.deliveries(DeliveryFilter(business_key="D-OK"))
    assert listed(client, f"?object={record.object_uuid}") == [ids["D-OK"]]
    assert listed(client, "?since=2000-01-01T00:00&until=2000-01-02T00:00") == []
    assert len(listed(client, "?since=2000-01-01T00:00")) == 6
    assert listed(client, "?until=2000-01-01T00:00") == []
    combined = listed(client, f"?status=dead&endpoint={logged['b']}&eventType=object.updated")
    assert combined == [ids["acme"]]


def test_the_log_pages_by_cursor(
    users_hub: Hub, logged: dict[str, object], signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    import pimhub.admin.delivery_views as views

    everything = listed(client, "")
    old, views.PAGE = views.PAGE, 4
    try:
        first = client.get("/admin/deliveries?status=")
        assert [int(i) for i in ROW.findall(first.text)] == everything[:4]
        link = re.search(r'href="/admin/deliveries\?(after=\d+)">Older', first.text)
        assert link is not None
        assert listed(client, "?" + link.group(1)) == everything[4:]
    finally:
        views.PAGE = old


def test_detail_shows_each_attempt_with_request_and_answer(
    users_hub: Hub, logged: dict[str, object], signed_in: Callable[[str], AdminClient]
) -> None:
    ids: dict[str, int] = logged["ids"]  # type: ignore[assignment]
    delivery_id = ids["D-DEAD1"]
    users_hub.webhooks.replay(DeliveryFilter(), [delivery_id])
    attempt(users_hub, {"D-DEAD1": 500}, DEAD)  # a second attempt
    page = signed_in("integrator").get(f"/admin/deliveries/{delivery_id}")
    assert page.status_code == 200
    text = page.text
    assert text.count("HTTP 500</span>") == 2
    assert "Attempt 2 at" in text and "Attempt 1 at" in text
    assert "stock locked" in text
    record, attempts = users_hub.webhooks.delivery(delivery_id)
    assert f"<code>{record.event_id}</code>" in text
    assert "POST http://127.0.0.1:9/a" in text
    stamp = int(attempts[0].attempted_at.timestamp())
    assert f"<code>webhook-timestamp</code></td><td><code>{stamp}</code>" in text
    body = users_hub.webhooks.queue.sent_body(delivery_id)
    assert body is not None
    expected = sign(secret_bytes(str(logged["secret"])), record.event_id, stamp, body)
    assert expected in text  # the signature the receiver was sent
    assert "&#34;sku&#34;: &#34;D-DEAD1&#34;" in text  # the body, indented JSON
    assert "Replay this dead letter" in text


def test_replay_one_requeues_that_delivery_only(
    users_hub: Hub, logged: dict[str, object], signed_in: Callable[[str], AdminClient]
) -> None:
    ids: dict[str, int] = logged["ids"]  # type: ignore[assignment]
    client = signed_in("integrator")
    answer = client.post_form(
        f"/admin/deliveries/{ids['D-DEAD2']}/replay", {"back": "/deliveries?status=dead"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/deliveries?status=dead"
    record, _ = users_hub.webhooks.delivery(ids["D-DEAD2"])
    assert record.status == DeliveryStatus.PENDING and record.attempts == 0
    dead = users_hub.webhooks.deliveries(DeliveryFilter(status=DeliveryStatus.DEAD))
    assert {d.id for d in dead} == {ids["D-DEAD1"], ids["acme"]}
    page = client.get("/admin/deliveries?status=dead")
    assert f"Delivery {ids['D-DEAD2']} queued again." in page.text


def test_replay_all_matching_confirms_the_count_then_requeues_exactly_those(
    users_hub: Hub, logged: dict[str, object], signed_in: Callable[[str], AdminClient]
) -> None:
    ids: dict[str, int] = logged["ids"]  # type: ignore[assignment]
    client = signed_in("integrator")
    listing = client.get(f"/admin/deliveries?status=dead&endpoint={logged['a']}")
    assert "Replay all 2 matching" in listing.text
    form = {"status": "dead", "endpoint": str(logged["a"])}
    confirm = client.post_form("/admin/deliveries/replay", form)
    assert confirm.status_code == 200 and "Replay 2 dead letters?" in confirm.text
    still = users_hub.webhooks.deliveries(DeliveryFilter(status=DeliveryStatus.DEAD))
    assert len(still) == 3  # asking changes nothing
    done = client.post_form("/admin/deliveries/replay", {**form, "confirm": "yes"})
    assert done.status_code == 303
    pending = users_hub.webhooks.deliveries(DeliveryFilter(status=DeliveryStatus.PENDING))
    requeued = {d.id for d in pending if d.attempts == 0} - {max(d.id for d in pending)}
    assert requeued == {ids["D-DEAD1"], ids["D-DEAD2"]}
    [left] = users_hub.webhooks.deliveries(DeliveryFilter(status=DeliveryStatus.DEAD))
    assert left.id == ids["acme"]  # the other endpoint's dead letter stays
    assert "2 deliveries queued again." in client.get(done.headers["location"]).text
    again = client.post_form("/admin/deliveries/replay", {**form, "confirm": "yes"})
    assert "0 deliveries queued again." in client.get(again.headers["location"]).text
    assert len(users_hub.webhooks.deliveries(DeliveryFilter(status=DeliveryStatus.PENDING))) == 4


@pytest.mark.parametrize(
    "query",
    [
        "?status=nonsense",
        "?status=dead%00",
        "?since=yesterday",
        "?until=2026-13-45T99:99",
        "?since=9999-12-31T23:59:59-23:59",
        "?eventType=%00",
        "?endpoint=" + "9" * 500,
        "?object=" + "x" * 300,
        "?after=99999999999999999999999",
        "?after=-1",
        "?endpoint=ep_unknown",
    ],
)
def test_hostile_filters_are_a_4xx_page(
    logged: dict[str, object], signed_in: Callable[[str], AdminClient], query: str
) -> None:
    page = signed_in("integrator").get("/admin/deliveries" + query)
    assert 400 <= page.status_code < 500, page.status_code


@pytest.mark.parametrize("delivery_id", ["0", "99999999999", "9" * 30, "abc", "1%00"])
def test_unknown_or_hostile_delivery_ids_are_a_4xx_page(
    logged: dict[str, object], signed_in: Callable[[str], AdminClient], delivery_id: str
) -> None:
    client = signed_in("integrator")
    assert client.get(f"/admin/deliveries/{delivery_id}").status_code in (400, 404)
    assert client.post_form(f"/admin/deliveries/{delivery_id}/replay").status_code in (400, 404)


def test_a_hostile_replay_filter_is_refused_and_replays_nothing(
    users_hub: Hub, logged: dict[str, object], signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    answer = client.post_form(
        "/admin/deliveries/replay", {"since": "garbage", "confirm": "yes", "status": "dead"}
    )
    assert 400 <= answer.status_code < 500
    assert len(users_hub.webhooks.deliveries(DeliveryFilter(status=DeliveryStatus.DEAD))) == 3


def test_the_invalid_filter_is_named_next_to_its_field(
    logged: dict[str, object], signed_in: Callable[[str], AdminClient]
) -> None:
    page = signed_in("integrator").get("/admin/deliveries?since=garbage&object=D-OK")
    assert page.status_code == 422
    assert 'aria-invalid="true" aria-describedby="f-since-error"' in page.text
    assert 'value="garbage"' in page.text and 'value="D-OK"' in page.text
    assert ROW.findall(page.text) == []


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_others_may_not_read_or_replay(
    users_hub: Hub,
    logged: dict[str, object],
    signed_in: Callable[[str], AdminClient],
    role: str,
) -> None:
    ids: dict[str, int] = logged["ids"]  # type: ignore[assignment]
    client = signed_in(role)
    assert client.get(f"/admin/deliveries/{ids['D-DEAD1']}").status_code == 403
    assert client.post_form(f"/admin/deliveries/{ids['D-DEAD1']}/replay").status_code == 403
    form = {"status": "dead", "confirm": "yes"}
    assert client.post_form("/admin/deliveries/replay", form).status_code == 403
    assert len(users_hub.webhooks.deliveries(DeliveryFilter(status=DeliveryStatus.DEAD))) == 3


def test_the_endpoint_list_shows_the_last_attempt_and_the_sparkline(
    logged: dict[str, object], signed_in: Callable[[str], AdminClient]
) -> None:
    page = signed_in("admin").get("/admin/webhooks")
    assert "last 24 hours: 1 delivered, 3 failed" in page.text  # endpoint a
    assert "last 24 hours: 0 delivered, 1 failed" in page.text  # endpoint b
    assert page.text.count('<svg class="sparkline"') == 2
    assert "HTTP 502" in page.text  # a's latest attempt
