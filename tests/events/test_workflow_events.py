"""A transition writes two events with the same object version (the object's and
workflow.transitioned): delivery keeps them in outbox order per object and endpoint, and an
endpoint may subscribe to workflow.transitioned alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from pimhub.bootstrap import Hub
from pimhub.events.deliveries import AttemptResult, Delivery
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from tests.catalog.workflow_fixtures import install

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


@pytest.fixture
def wf(bare_hub: Hub) -> Hub:
    hub = install(bare_hub)
    hub.catalog.create("Article", {"code": "a1"}, author="w")
    for name in ("submit", "approve"):
        hub.catalog.transition("Article", "a1", name, may_run=lambda _s: True, author="w")
    return hub


def body(delivery: Delivery) -> dict[str, object]:
    data: dict[str, object] = orjson.loads(delivery.body)
    return data


def test_both_events_of_one_version_are_delivered_in_order(wf: Hub) -> None:
    wf.webhooks.create({"url": "https://hooks.example.com/all", "eventTypes": []})
    queue = wf.webhooks.queue
    queue.fan_out(T0, 100)
    for _ in range(30):  # drain what the setup wrote
        claimed = queue.claim(T0, 100, T0 + LEASE)
        if not claimed:
            break
        ok = [AttemptResult(d, T0, 1.0, 200, "ok", None) for d in claimed]
        queue.record(ok, RetryPolicy(), CircuitPolicy(), T0)
    wf.catalog.transition("Article", "a1", "publish", may_run=lambda _s: True, author="pub")
    queue.fan_out(T0, 100)
    [first] = queue.claim(T0, 100, T0 + LEASE)  # the second waits for the first
    assert body(first)["type"] == "object.published"
    assert queue.claim(T0, 100, T0 + LEASE) == []
    queue.record(
        [AttemptResult(first, T0, 1.0, 200, "ok", None)], RetryPolicy(), CircuitPolicy(), T0
    )
    [second] = queue.claim(T0, 100, T0 + LEASE)
    sent = body(second)
    assert sent["type"] == "workflow.transitioned"
    data = sent["data"]
    assert isinstance(data, dict)
    assert (data["version"], data["from"], data["to"], data["actor"]) == (
        4,
        "approved",
        "published",
        "pub",
    )


def test_an_endpoint_can_subscribe_to_transitions_only(wf: Hub) -> None:
    wf.webhooks.create(
        {"url": "https://hooks.example.com/wf", "eventTypes": ["workflow.transitioned"]}
    )
    wf.catalog.transition("Article", "a1", "publish", may_run=lambda _s: True, author="pub")
    queue = wf.webhooks.queue
    queue.fan_out(T0, 100)
    claimed = queue.claim(T0, 100, T0 + LEASE)
    assert [body(d)["type"] for d in claimed] == ["workflow.transitioned"]
