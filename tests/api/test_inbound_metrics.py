"""/metrics for inbound sources, on both backends: messages by outcome and rejections by problem
counted as they are audited, and the backlog per source read from the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from pimhub.api.app import create_app
from pimhub.api.metrics import CountingInbox, count_inbound
from pimhub.bootstrap import Hub
from pimhub.events.deliveries import AttemptResult
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from pimhub.inbound.messages import MessageFilter, Outcome
from pimhub.inbound.ports import Inbox
from tests.api.test_inbound_rest import send, stock
from tests.api.test_rest_contract import TEE

SOURCE = {"scheme": "shared-secret", "key": {"path": "data.sku"}}


def samples(client: TestClient, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of the metric family `name`, by their labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name in (name, f"{name}_total"):
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def zeros(source: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {(("outcome", o.value), ("source", source)): 0.0 for o in Outcome}


def add_source(hub: Hub, name: str) -> str:
    _, secret = hub.inbound.add_source({"name": name, **SOURCE})
    assert secret is not None
    return secret


def test_messages_and_rejections_are_counted_by_source_outcome_and_problem(
    hub: Hub, client: TestClient
) -> None:
    secret = add_source(hub, "erp")
    add_source(hub, "shop")
    send(hub, secret, "m-1", stock("T-1", 1))
    send(hub, secret, "m-2", stock("T-2", 1))
    send(hub, secret, "m-1", stock("T-1", 1))  # a duplicate
    send(hub, "wrong", "m-3", stock("T-3", 1))
    send(
        hub, secret, "m-4", stock("T-3", 1), source="nobody"
    )  # unknown: neither audited nor counted

    messages = samples(client, "pimhub_inbound_messages")
    assert messages == {
        (("outcome", "accepted"), ("source", "erp")): 2.0,
        (("outcome", "duplicate"), ("source", "erp")): 1.0,
        (("outcome", "rejected"), ("source", "erp")): 1.0,
        **zeros("shop"),  # configured, nothing came
    }
    [refused] = hub.inbound.messages(MessageFilter(outcome=Outcome.REJECTED))
    assert refused.problem
    rejections = samples(client, "pimhub_inbound_rejections")
    assert rejections == {(("problem", refused.problem), ("source", "erp")): 1.0}


def test_the_counting_inbox_defines_every_method_of_the_inbox() -> None:
    """So that a method the protocol gains is counted or passed on deliberately, not by the
    catch-all (which would leave messages it stores uncounted)."""
    methods = {n for n in vars(Inbox) if not n.startswith("_")}
    assert methods >= {"accept", "submit", "reject"}
    assert methods <= set(vars(CountingInbox)), methods - set(vars(CountingInbox))


def test_messages_posted_over_http_are_counted(hub: Hub, client: TestClient) -> None:
    secret = add_source(hub, "erp")
    headers = {"content-type": "application/json", "x-webhook-secret": secret}
    body = orjson.dumps(stock("T-1", 1))
    for message_id, status in (("m-1", 202), ("m-1", 200), ("m-2", 202)):
        answer = client.post(
            "/inbound/erp", content=body, headers={**headers, "idempotency-key": message_id}
        )
        assert answer.status_code == status, answer.text
    refused = client.post(
        "/inbound/erp", content=body, headers={**headers, "x-webhook-secret": "no"}
    )
    assert refused.status_code == 401
    assert samples(client, "pimhub_inbound_messages") == {
        (("outcome", "accepted"), ("source", "erp")): 2.0,
        (("outcome", "duplicate"), ("source", "erp")): 1.0,
        (("outcome", "rejected"), ("source", "erp")): 1.0,
    }
    assert samples(client, "pimhub_inbound_rejections") == {
        (("problem", "inbound-unverified"), ("source", "erp")): 1.0
    }


def test_counting_is_installed_once_per_hub(hub: Hub) -> None:
    first = create_app(hub)
    second = create_app(hub)
    assert first is not second
    assert isinstance(hub.inbound.inbox, CountingInbox)
    assert not isinstance(hub.inbound.inbox.inner, CountingInbox)
    assert count_inbound(hub) is hub.inbound.inbox.counters
    secret = add_source(hub, "erp")
    send(hub, secret, "m-1", stock("T-1", 1))
    counted = samples(TestClient(second), "pimhub_inbound_messages")
    assert counted == {**zeros("erp"), (("outcome", "accepted"), ("source", "erp")): 1.0}


def test_counters_exist_from_app_start_at_zero_per_known_source(hub: Hub) -> None:
    add_source(hub, "erp")
    app = create_app(hub)
    # Built with the app: nothing waits for a first scrape to start counting.
    assert isinstance(app.state.metrics, CollectorRegistry)
    client = TestClient(app)
    assert samples(client, "pimhub_inbound_messages") == zeros("erp")
    secret = add_source(hub, "shop")  # added after the app started
    send(hub, secret, "m-1", stock("T-1", 1), source="shop")
    assert samples(client, "pimhub_inbound_messages") == {
        **zeros("erp"),
        **zeros("shop"),
        (("outcome", "accepted"), ("source", "shop")): 1.0,
    }


def test_the_backlog_counts_open_deliveries_and_unrouted_events_per_source(
    hub: Hub, client: TestClient
) -> None:
    secret = add_source(hub, "erp")
    add_source(hub, "shop")
    assert samples(client, "pimhub_inbound_backlog") == {
        (("source", "erp"),): 0.0,
        (("source", "shop"),): 0.0,
    }
    for n in range(2):
        hub.webhooks.create(
            {"url": f"https://hooks.example.com/{n}", "eventTypes": ["erp.stock.changed"]}
        )
    send(hub, secret, "m-1", stock("T-1", 1))
    send(hub, secret, "m-2", stock("T-2", 1))
    hub.catalog.create("Product", TEE, author="t")  # a catalog event: never inbound backlog
    # Not fanned out yet (no worker ran): each event counts once.
    assert samples(client, "pimhub_inbound_backlog")[(("source", "erp"),)] == 2.0

    now = datetime.now(UTC)
    queue = hub.webhooks.queue
    queue.fan_out(now, 100)
    backlog = samples(client, "pimhub_inbound_backlog")
    assert backlog == {(("source", "erp"),): 4.0, (("source", "shop"),): 0.0}  # 2 events x 2

    # Delivered and dead-lettered deliveries are no longer backlog.
    claimed = queue.claim(now, 100, now + timedelta(minutes=1))
    assert len(claimed) == 4 and {d.class_name for d in claimed} == {"erp"}
    inbound = claimed[:2]
    results = [
        AttemptResult(inbound[0], now, 3.0, 204, None, None),
        AttemptResult(inbound[1], now, 3.0, 500, "boom", None),
    ]
    queue.record(results, RetryPolicy(schedule=()), CircuitPolicy(), now)
    # The other two are claimed (being delivered): still open.
    assert samples(client, "pimhub_inbound_backlog")[(("source", "erp"),)] == 2.0
