"""/api/v1/webhooks and /metrics through the ASGI app, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.events.deliveries import AttemptResult
from pimhub.events.policy import CircuitPolicy, RetryPolicy
from tests.api.test_rest_contract import TEE, problem
from tests.conftest import bearer

BASE = "/api/v1/webhooks"


def create(client: TestClient, admin: dict[str, str], **body: object) -> dict[str, object]:
    response = client.post(
        f"{BASE}/endpoints", json={"url": "https://hooks.example.com/in", **body}, headers=admin
    )
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_create_shows_the_secret_once_and_reads_never_do(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = create(client, admin, eventTypes=["object.updated"], classes=["Product"])
    assert str(created["secret"]).startswith("whsec_")
    assert created["eventTypes"] == ["object.updated"] and created["payload"] == "full"
    endpoint_id = created["id"]
    read = client.get(f"{BASE}/endpoints/{endpoint_id}", headers=admin).json()
    assert "secret" not in read and read["url"] == "https://hooks.example.com/in"
    listed = client.get(f"{BASE}/endpoints", headers=admin).json()["items"]
    assert [e["id"] for e in listed] == [endpoint_id]
    secret = client.get(f"{BASE}/endpoints/{endpoint_id}/secret", headers=admin).json()
    assert secret == {"secret": created["secret"]}


def test_secrets_are_encrypted_at_rest(hub: Hub, client: TestClient, admin: dict[str, str]) -> None:
    created = create(client, admin)
    stored = hub.webhooks.endpoints.secrets(str(created["id"]))
    assert stored is not None
    assert str(created["secret"]) not in stored.sealed
    assert hub.webhooks.sealer.decrypt(stored.sealed) == created["secret"]


def test_invalid_endpoint_names_every_problem_and_creates_nothing(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.post(
        f"{BASE}/endpoints",
        json={"url": "ftp://x", "eventTypes": ["object.moved"], "payload": "fat", "colour": 1},
        headers=admin,
    )
    body = problem(response, 422, "invalid-endpoint")
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("url", "format"),
        ("eventTypes[0]", "option"),
        ("payload", "option"),
        ("colour", "unknown-field"),
    }
    assert client.get(f"{BASE}/endpoints", headers=admin).json()["items"] == []
    problem(client.post(f"{BASE}/endpoints", content=b"{", headers=admin), 400, "malformed-json")


def test_private_destinations_are_refused_unless_allowed(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    hub.webhooks.allow_private = False
    for url in ("http://127.0.0.1:9000/hook", "http://10.1.2.3/hook", "http://[::1]/hook"):
        response = client.post(f"{BASE}/endpoints", json={"url": url}, headers=admin)
        body = problem(response, 422, "invalid-endpoint")
        assert body["errors"][0]["code"] == "private-address", url
    create(client, admin)  # a public name is fine


def test_webhook_routes_need_an_admin_key(hub: Hub, client: TestClient) -> None:
    problem(client.get(f"{BASE}/endpoints"), 401, "unauthorized")
    reader = bearer(hub, "read", "write")
    problem(client.get(f"{BASE}/endpoints", headers=reader), 403, "forbidden")
    problem(client.post(f"{BASE}/replay?status=dead", headers=reader), 403, "forbidden")


def test_patch_rotate_and_delete(client: TestClient, admin: dict[str, str]) -> None:
    created = create(client, admin)
    path = f"{BASE}/endpoints/{created['id']}"
    patched = client.patch(path, json={"enabled": False, "payload": "thin"}, headers=admin).json()
    assert patched["enabled"] is False and patched["payload"] == "thin"
    assert patched["url"] == created["url"]  # untouched
    rotated = client.post(f"{path}/rotate-secret?overlapHours=2", headers=admin).json()
    assert rotated["secret"] != created["secret"]
    until = datetime.fromisoformat(rotated["previousSecretValidUntil"].replace("Z", "+00:00"))
    assert timedelta(hours=1.9) < until - datetime.now(UTC) < timedelta(hours=2.1)
    assert client.get(f"{path}/secret", headers=admin).json()["secret"] == rotated["secret"]
    assert client.delete(path, headers=admin).status_code == 204
    problem(client.get(path, headers=admin), 404, "endpoint-not-found")
    problem(client.patch(path, json={}, headers=admin), 404, "endpoint-not-found")


def dead_letter(hub: Hub) -> None:
    """Fails the one pending delivery with a schedule of no retries: straight to dead."""
    now = datetime.now(UTC)
    queue = hub.webhooks.queue
    queue.fan_out(now, 100)
    [delivery] = queue.claim(now, 10, now + timedelta(minutes=1))
    failed = AttemptResult(delivery, now, 12.5, 500, "boom", None)
    queue.record([failed], RetryPolicy(schedule=()), CircuitPolicy(), now)


def test_dead_letters_list_replay_and_show_in_metrics(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    endpoint_id = create(client, admin)["id"]
    hub.catalog.create("Product", TEE, author="t")
    dead_letter(hub)
    dead = client.get(f"{BASE}/deliveries?status=dead", headers=admin).json()
    [item] = dead["items"]
    assert item["businessKey"] == "T-1" and item["lastError"] == "HTTP 500"
    assert item["endpoint"] == endpoint_id and item["webhookId"].startswith("evt_")
    one = client.get(f"{BASE}/deliveries/{item['id']}", headers=admin).json()
    assert [(a["statusCode"], a["responseExcerpt"]) for a in one["attempts"]] == [(500, "boom")]

    metrics = client.get("/metrics").text
    assert f'pimhub_webhook_deliveries{{endpoint="{endpoint_id}",status="dead"}} 1.0' in metrics
    assert f'pimhub_webhook_failed_attempts{{endpoint="{endpoint_id}"}} 1.0' in metrics

    replayed = client.post(f"{BASE}/deliveries/{item['id']}/replay", headers=admin).json()
    assert replayed == {"replayed": 1}
    again = client.get(f"{BASE}/deliveries/{item['id']}", headers=admin).json()
    assert again["status"] == "pending" and again["webhookId"] == item["webhookId"]
    assert client.post(f"{BASE}/replay?status=dead", headers=admin).json() == {"replayed": 0}
    problem(client.post(f"{BASE}/replay", headers=admin), 400, "invalid-input")
    problem(client.get(f"{BASE}/deliveries?status=lost", headers=admin), 400, "invalid-parameter")
    problem(client.get(f"{BASE}/deliveries/999999", headers=admin), 404, "delivery-not-found")


def test_deliveries_are_paged_by_next_cursor(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    create(client, admin)
    for i in range(3):
        hub.catalog.create("Product", {**TEE, "sku": f"T-{i}"}, author="t")
    hub.webhooks.queue.fan_out(datetime.now(UTC), 100)
    seen: list[int] = []
    after: int | None = None
    while True:
        params = {"limit": 2} if after is None else {"limit": 2, "after": after}
        page = client.get(f"{BASE}/deliveries", params=params, headers=admin).json()
        assert page["next"] == page["nextCursor"]  # the deprecated name, until it goes
        seen += [d["id"] for d in page["items"]]
        after = page["nextCursor"]
        if after is None:
            break
    assert len(seen) == 3 == len(set(seen))


def test_bulk_replay_by_filter(hub: Hub, client: TestClient, admin: dict[str, str]) -> None:
    endpoint_id = create(client, admin)["id"]
    hub.catalog.create("Product", TEE, author="t")
    dead_letter(hub)
    hub.catalog.create("Product", {**TEE, "sku": "T-2"}, author="t")
    dead_letter(hub)
    response = client.post(
        f"{BASE}/replay?endpoint={endpoint_id}&businessKey=T-2", headers=admin
    ).json()
    assert response == {"replayed": 1}
    states = {
        d["businessKey"]: d["status"]
        for d in client.get(f"{BASE}/deliveries", headers=admin).json()["items"]
    }
    assert states == {"T-1": "dead", "T-2": "pending"}


def test_ping_sends_a_signed_webhook_ping_and_reports_the_answer(
    client: TestClient, admin: dict[str, str]
) -> None:
    from standardwebhooks.webhooks import Webhook

    from tests.events.receiver import Receiver, receiver_in_thread

    with receiver_in_thread(Receiver(answer=lambda r: 202)) as receiver:
        created = client.post(f"{BASE}/endpoints", json={"url": receiver.url}, headers=admin).json()
        answer = client.post(f"{BASE}/endpoints/{created['id']}/ping", headers=admin).json()
    assert answer["ok"] is True and answer["statusCode"] == 202
    assert answer["responseExcerpt"] == "ok" and answer["error"] is None
    [got] = receiver.delivered
    headers = {
        "webhook-id": got.webhook_id,
        "webhook-timestamp": got.timestamp,
        "webhook-signature": got.signature,
    }
    payload = Webhook(str(created["secret"])).verify(got.body, headers)
    assert payload["type"] == "webhook.ping" and payload["data"] == {"endpoint": created["id"]}
    assert answer["webhookId"] == got.webhook_id
    # A ping is not an event: nothing was queued.
    assert client.get(f"{BASE}/deliveries", headers=admin).json()["items"] == []


def test_ping_reports_refusals_and_private_destinations(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    from tests.e2e.processes import free_port

    dead = create(client, admin, url=f"http://127.0.0.1:{free_port()}/hook")
    answer = client.post(f"{BASE}/endpoints/{dead['id']}/ping", headers=admin).json()
    assert answer["ok"] is False and answer["statusCode"] is None and answer["error"]
    hub.webhooks.allow_private = False
    answer = client.post(f"{BASE}/endpoints/{dead['id']}/ping", headers=admin).json()
    assert answer["error"].startswith("destination refused:")
    problem(client.post(f"{BASE}/endpoints/ep_nope/ping", headers=admin), 404, "endpoint-not-found")
