"""/api/v1/brokers through the ASGI app on both backends: management, credentials never shown,
refusals naming what and where, versions, parallel writers, and the test against RabbitMQ."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from pimhub.bootstrap import Hub
from pimhub.storage.tables import brokers as broker_rows
from pimhub.storage.tables import webhook_endpoints
from tests.api.test_rest_contract import problem
from tests.conftest import bearer

from .conftest import Rabbit

BASE = "/api/v1/brokers"
CREDENTIALS = {"username": "pimhub-user", "password": "pw-5e0b17a4c9"}
CONFIG: dict[str, Any] = {
    "name": "mq",
    "url": "amqp://rabbit.example.com:5672/shop",
    "exchange": "pimhub.events",
    "eventTypes": ["object.created", "object.updated"],
    "classes": ["Product"],
}


def no_secret_in(text: str) -> None:
    assert CREDENTIALS["password"] not in text


def add(client: TestClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    body = {"config": {**CONFIG, **changes}, "credentials": CREDENTIALS}
    response = client.post(BASE, json=body, headers=headers)
    assert response.status_code == 201, response.text
    no_secret_in(response.text)
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def integrate(hub: Hub) -> dict[str, str]:
    return bearer(hub, "integrate", name="integrator")


def test_add_list_read_update_remove(
    hub: Hub, client: TestClient, integrate: dict[str, str]
) -> None:
    created = add(client, integrate)
    assert created["name"] == "mq" and created["kind"] == "rabbitmq"
    assert created["endpoint"] == "broker-mq" and created["version"] == 1
    config = created["config"]
    assert config["exchangeType"] == "topic" and config["declare"] is True
    assert config["mandatory"] is True and config["routingKeyPrefix"] is None
    assert config["eventTypes"] == ["object.created", "object.updated"]
    listed = client.get(BASE, headers=integrate)
    assert [b["name"] for b in listed.json()["items"]] == ["mq"]
    no_secret_in(listed.text)
    read = client.get(f"{BASE}/mq", headers=integrate)
    assert read.status_code == 200 and read.headers["etag"] == '"1"'
    no_secret_in(read.text)

    changed = {**CONFIG, "exchangeType": "direct", "routingKeyPrefix": "eu.shop"}
    put = client.put(f"{BASE}/mq", json={"config": changed}, headers=integrate)
    assert put.status_code == 200, put.text
    assert put.json()["config"]["exchangeType"] == "direct" and put.json()["version"] == 2
    assert hub.brokers.credentials("mq").password == CREDENTIALS["password"]  # kept
    fresh = {"username": "other", "password": "pw-rotated-42"}
    put = client.put(
        f"{BASE}/mq", json={"config": changed, "credentials": fresh}, headers=integrate
    )
    assert put.status_code == 200 and "pw-rotated-42" not in put.text
    assert hub.brokers.credentials("mq").username == "other"

    assert client.delete(f"{BASE}/mq", headers=integrate).status_code == 204
    assert client.get(BASE, headers=integrate).json()["items"] == []
    problem(client.get(f"{BASE}/mq", headers=integrate), 404, "broker-not-found")
    with hub.engine.connect() as conn:
        assert conn.execute(select(webhook_endpoints.c.id)).all() == []


def test_the_pipeline_row_carries_the_subscription_and_the_sealed_credentials(
    hub: Hub, client: TestClient, integrate: dict[str, str]
) -> None:
    add(client, integrate)
    endpoint = hub.webhooks.endpoints.get("broker-mq")
    assert endpoint is not None and endpoint.kind == "rabbitmq"
    assert endpoint.spec.url == CONFIG["url"]
    assert endpoint.spec.event_types == ("object.created", "object.updated")
    assert endpoint.spec.classes == ("Product",)
    sealed = hub.brokers.repository.sealed_secret("mq")
    assert sealed is not None
    no_secret_in(sealed)
    with hub.engine.connect() as conn:
        row = conn.execute(select(broker_rows)).one()
    assert row.kind == "rabbitmq"
    no_secret_in(str(row.config))


def test_disabling_keeps_it_off_until_enabled_again(
    hub: Hub, client: TestClient, integrate: dict[str, str]
) -> None:
    add(client, integrate)
    off = client.put(f"{BASE}/mq", json={"config": {**CONFIG, "enabled": False}}, headers=integrate)
    assert off.json()["enabled"] is False
    # A change that does not name `enabled` leaves it off.
    again = client.put(
        f"{BASE}/mq", json={"config": {**CONFIG, "exchange": "x"}}, headers=integrate
    )
    assert again.json()["enabled"] is False and again.json()["config"]["exchange"] == "x"
    on = client.put(f"{BASE}/mq", json={"config": {**CONFIG, "enabled": True}}, headers=integrate)
    assert on.json()["enabled"] is True
    endpoint = hub.webhooks.endpoints.get("broker-mq")
    assert endpoint is not None and endpoint.spec.enabled


def test_a_configuration_with_several_problems_names_each_and_saves_nothing(
    client: TestClient, integrate: dict[str, str]
) -> None:
    bad = {
        "name": "Bad Name",
        "url": "amqp://guest:guest@rabbit.example.com/",
        "exchangeType": "fan",
        "declare": "yes",
        "routingKeyPrefix": "a..b",
        "eventTypes": ["object.nope"],
        "transform": "data.[",
        "colour": "red",
    }
    response = client.post(
        BASE, json={"config": bad, "credentials": CREDENTIALS}, headers=integrate
    )
    answer = problem(response, 422, "invalid-broker")
    fields = {e["field"] for e in answer["errors"]}
    named = {"name", "url", "exchangeType", "declare", "routingKeyPrefix", "transform", "colour"}
    assert named <= fields
    assert any(f.startswith("eventTypes") for f in fields)
    url_error = next(e for e in answer["errors"] if e["field"] == "url")
    assert "credentials" in url_error["message"]
    no_secret_in(response.text)
    assert client.get(BASE, headers=integrate).json()["items"] == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://rabbit.example.com", "amqp://"),
        ("amqp://rabbit.example.com:99999/", "port"),
        ("amqp://rabbit.example.com:\uff15\uff16\uff17\uff12/", "ASCII"),
        ("amqp://rabbit.example.com/a/b", "virtual host"),
        ("amqp://rabbit.example.com/?heartbeat=5", "query"),
        ("amqp://rabbit example.com/", "spaces"),
        ("amqp://" + "a" * 2050, "longer"),
        ("amqp://:pw@rabbit.example.com/", "credentials"),
    ],
)
def test_urls_that_cannot_be_used_are_refused(
    client: TestClient, integrate: dict[str, str], url: str, words: str
) -> None:
    body = {"config": {**CONFIG, "url": url}, "credentials": CREDENTIALS}
    answer = problem(client.post(BASE, json=body, headers=integrate), 422, "invalid-broker")
    [error] = answer["errors"]
    assert error["field"] == "url" and words in error["message"]


def test_credentials_are_required_and_checked(
    client: TestClient, integrate: dict[str, str]
) -> None:
    for credentials, fields in (
        ({}, {"credentials.username", "credentials.password"}),
        ({"username": "u", "password": "p\x07w"}, {"credentials.password"}),
        (
            {"username": "u" * 300, "password": "p", "token": "t"},
            {"credentials.username", "credentials.token"},
        ),
        ("guest:guest", {"credentials"}),
    ):
        body = {"config": CONFIG, "credentials": credentials}
        answer = problem(client.post(BASE, json=body, headers=integrate), 422, "invalid-broker")
        assert {e["field"] for e in answer["errors"]} == fields, credentials
    assert client.get(BASE, headers=integrate).json()["items"] == []


def test_hostile_bodies_are_4xx_naming_the_problem(
    client: TestClient, integrate: dict[str, str]
) -> None:
    nul = b'{"config": {"name": "m\\u0000q", "url": "amqp://r.example.com"}}'
    problem(client.post(BASE, content=nul, headers=integrate), 400, "nul-character")
    surrogate = b'{"config": {"name": "mq"}, "credentials": {"password": "\\ud800"}}'
    problem(client.post(BASE, content=surrogate, headers=integrate), 400, "malformed-json")
    deep = b'{"config": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    problem(client.post(BASE, content=deep, headers=integrate), 400, "malformed-json")
    huge = b'{"config": {"name": "mq", "url": "amqp://r.example.com:1' + b"0" * 400 + b'"}}'
    answer = problem(client.post(BASE, content=huge, headers=integrate), 422, "invalid-broker")
    assert answer["errors"][0]["field"] == "url"
    big = client.post(
        BASE, content=b'{"config": "' + b"x" * (17 * 2**20) + b'"}', headers=integrate
    )
    assert big.status_code == 413
    shapes: list[Any] = [[], {"credentials": CREDENTIALS}, {"config": CONFIG, "secret": "x"}]
    for shape in shapes:
        problem(client.post(BASE, json=shape, headers=integrate), 422, "invalid-broker")
    problem(client.post(BASE, json={"config": "mq"}, headers=integrate), 422, "invalid-broker")
    assert client.get(BASE, headers=integrate).json()["items"] == []


def test_hostile_versions_are_refused(client: TestClient, integrate: dict[str, str]) -> None:
    add(client, integrate)
    for version in (True, -1, 0, 2**40, "1", 1.5):
        body = {"config": CONFIG, "version": version}
        answer = problem(
            client.put(f"{BASE}/mq", json=body, headers=integrate), 422, "invalid-broker"
        )
        assert answer["errors"][0]["field"] == "version"
    huge = b'{"config": {}, "version": 1e999}'
    problem(client.put(f"{BASE}/mq", content=huge, headers=integrate), 400, "malformed-json")
    for header in ("3", '"\u0663"', "W/x"):
        response = client.put(
            f"{BASE}/mq",
            json={"config": CONFIG},
            headers={**integrate, "If-Match": header.encode()},
        )
        assert response.status_code in (400, 412), (header, response.text)
    assert client.get(f"{BASE}/mq", headers=integrate).json()["version"] == 1


def test_a_stale_version_conflicts_and_none_never_does(
    client: TestClient, integrate: dict[str, str]
) -> None:
    add(client, integrate)
    ok = client.put(f"{BASE}/mq", json={"config": CONFIG}, headers={**integrate, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = client.put(
        f"{BASE}/mq", json={"config": CONFIG}, headers={**integrate, "If-Match": '"1"'}
    )
    problem(stale, 412, "precondition-failed")
    stale = client.put(f"{BASE}/mq", json={"config": CONFIG, "version": 1}, headers=integrate)
    assert problem(stale, 409, "stale-broker")["detail"].startswith("broker 'mq' is at version 2")
    assert client.put(f"{BASE}/mq", json={"config": CONFIG}, headers=integrate).status_code == 200


def test_a_second_broker_of_the_same_name_conflicts(
    client: TestClient, integrate: dict[str, str]
) -> None:
    add(client, integrate)
    body = {"config": CONFIG, "credentials": CREDENTIALS}
    problem(client.post(BASE, json=body, headers=integrate), 409, "broker-exists")


NAMES = ("..%2F..%2Fetc", "mq%00", "MQ", "a" * 31, "%2E%2E", "m%20q", "nowhere")


def test_impossible_and_unknown_names_are_404(
    client: TestClient, integrate: dict[str, str]
) -> None:
    for name in NAMES:
        for method, path, body in (
            ("GET", f"{BASE}/{name}", None),
            ("PUT", f"{BASE}/{name}", {"config": CONFIG}),
            ("DELETE", f"{BASE}/{name}", None),
            ("POST", f"{BASE}/{name}/test", None),
        ):
            response = client.request(method, path, json=body, headers=integrate)
            # A NUL anywhere in a path is refused at the edge, before any route.
            expected = 400 if "%00" in path else 404
            assert response.status_code == expected, (method, path, response.text)


def test_brokers_need_the_integrate_scope(hub: Hub, client: TestClient) -> None:
    reader = bearer(hub, "read", name="reader")
    body = {"config": CONFIG, "credentials": CREDENTIALS}
    assert client.post(BASE, json=body, headers=reader).status_code == 403
    assert client.get(BASE, headers=reader).status_code == 403
    assert client.get(BASE).status_code == 401


def test_a_broker_inside_the_network_is_refused_unless_allowed(
    hub: Hub, client: TestClient, integrate: dict[str, str]
) -> None:
    hub.brokers.allow_private = False
    body = {"config": {**CONFIG, "url": "amqp://127.0.0.1:5672/"}, "credentials": CREDENTIALS}
    answer = problem(client.post(BASE, json=body, headers=integrate), 422, "invalid-broker")
    assert answer["errors"][0]["field"] == "url"
    assert "not a public address" in answer["errors"][0]["message"]


def test_parallel_writers_on_one_broker(
    hub: Hub, client: TestClient, integrate: dict[str, str]
) -> None:
    """Twelve adds of one name at once: one wins, the rest conflict; then twelve changes at
    once naming no version: none conflicts, each is a version; then twelve removes: one
    removes it (with its pipeline row), the rest find nothing."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("parallel writers: PostgreSQL (SQLite serialises its writers)")
    body = {"config": CONFIG, "credentials": CREDENTIALS}
    statuses: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        response = TestClient(client.app).post(BASE, json=body, headers=integrate)
        with lock:
            statuses.append(response.status_code)

    def put(n: int) -> None:
        config = {**CONFIG, "routingKeyPrefix": f"p{n}"}
        response = TestClient(client.app).put(
            f"{BASE}/mq", json={"config": config}, headers=integrate
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 11
    statuses.clear()
    threads = [threading.Thread(target=put, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 12
    assert client.get(f"{BASE}/mq", headers=integrate).json()["version"] == 13
    statuses.clear()

    def delete() -> None:
        response = TestClient(client.app).delete(f"{BASE}/mq", headers=integrate)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=delete) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [204] + [404] * 11
    with hub.engine.connect() as conn:
        assert conn.execute(select(webhook_endpoints.c.id)).all() == []


def test_the_test_round_trips_a_ping_through_rabbitmq(
    hub: Hub, client: TestClient, integrate: dict[str, str], rabbit: Rabbit
) -> None:
    body = {"config": rabbit.config(), "credentials": rabbit.credentials()}
    assert client.post(BASE, json=body, headers=integrate).status_code == 201
    answer = client.post(f"{BASE}/mq/test", headers=integrate)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["ok"] is True and result["error"] is None
    assert [s.split(" ")[0] for s in result["steps"]] == ["connected", "declared", "published"]
    assert rabbit.exchange in result["steps"][1]

    wrong = {
        "config": rabbit.config("wrong"),
        "credentials": {**rabbit.credentials(), "password": "nope-7c1"},
    }
    assert client.post(BASE, json=wrong, headers=integrate).status_code == 201
    result = client.post(f"{BASE}/wrong/test", headers=integrate).json()
    assert result["ok"] is False and result["steps"] == [] and "nope-7c1" not in str(result)

    missing = rabbit.config("missing", exchange=rabbit.exchange + ".none", declare=False)
    body = {"config": missing, "credentials": rabbit.credentials()}
    assert client.post(BASE, json=body, headers=integrate).status_code == 201
    result = client.post(f"{BASE}/missing/test", headers=integrate).json()
    assert result["ok"] is False and len(result["steps"]) == 1
    assert rabbit.exchange + ".none" in result["error"]


def test_enabling_clears_the_circuits_pause_and_other_changes_keep_it(
    hub: Hub, client: TestClient, integrate: dict[str, str]
) -> None:
    add(client, integrate)
    paused = datetime.now(UTC) + timedelta(minutes=10)
    with hub.engine.begin() as conn:
        conn.execute(update(webhook_endpoints).values(consecutive_failures=7, paused_until=paused))
    kept = client.put(f"{BASE}/mq", json={"config": {**CONFIG, "exchange": "x"}}, headers=integrate)
    assert kept.json()["health"]["consecutiveFailures"] == 7
    assert kept.json()["health"]["pausedUntil"] is not None
    on = client.put(f"{BASE}/mq", json={"config": {**CONFIG, "enabled": True}}, headers=integrate)
    assert on.json()["health"] == {
        "consecutiveFailures": 0,
        "pausedUntil": None,
        "disabledReason": None,
    }
