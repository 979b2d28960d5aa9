"""/api/v1/inbound through the ASGI app, on both backends: sources (secrets shown once,
If-Match), the audit with its filters and each message's fate, refused feed items and replay,
the integrate scope, hostile input, parallel writers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub, build_dispatcher
from pimhub.catalog.errors import CatalogError
from pimhub.inbound.messages import Receipt
from tests.api.test_rest_contract import TEE, problem
from tests.conftest import bearer
from tests.storage.test_parallel_writers import in_parallel

BASE = "/api/v1/inbound"
ERP = {"name": "erp", "scheme": "shared-secret", "key": {"path": "data.sku"}}
WRITERS = 12
FEED = {
    "eventTypes": ["erp.stock.changed"],
    "items": "items",
    "mapping": {
        "class": "Product",
        "fields": {"sku": "sku", "stock": {"column": "qty", "number": True}},
    },
}


@pytest.fixture
def integrator(hub: Hub) -> dict[str, str]:
    return bearer(hub, "integrate", name="integrator")


def add(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(f"{BASE}/sources", json={**ERP, **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def send(
    hub: Hub,
    secret: str,
    message_id: str,
    body: Any,
    source: str = "erp",
) -> Receipt | CatalogError:
    """One message to the source as its route hands it to the service."""
    headers = {
        "content-type": "application/json",
        "x-webhook-secret": secret,
        "idempotency-key": message_id,
    }
    try:
        return hub.inbound.receive(source, headers, orjson.dumps(body), "192.0.2.7")
    except CatalogError as exc:  # a refusal: audited, answered with its problem
        return exc


def stock(sku: str, qty: int) -> dict[str, Any]:
    return {"type": "erp.stock.changed", "data": {"sku": sku, "qty": qty}}


# -- sources -----------------------------------------------------------------------------


def test_create_shows_the_secret_once_and_reads_never_do(
    client: TestClient, integrator: dict[str, str]
) -> None:
    response = client.post(f"{BASE}/sources", json=ERP, headers=integrator)
    assert response.status_code == 201, response.text
    created = response.json()
    assert isinstance(created["secret"], str) and len(created["secret"]) >= 16
    assert created["url"] == "/inbound/erp" and created["version"] == 1
    assert response.headers["location"] == f"{BASE}/sources/erp"
    assert response.headers["etag"] == '"1"'
    read = client.get(f"{BASE}/sources/erp", headers=integrator)
    assert read.status_code == 200 and read.headers["etag"] == '"1"'
    assert "secret" not in read.json() and created["secret"] not in read.text
    assert read.json()["scheme"] == "shared-secret"
    listed = client.get(f"{BASE}/sources", headers=integrator)
    assert [s["name"] for s in listed.json()["items"]] == ["erp"]
    assert created["secret"] not in listed.text


def test_a_given_secret_is_the_one_the_sender_must_use(
    hub: Hub, client: TestClient, integrator: dict[str, str]
) -> None:
    created = add(client, integrator, secret="the-erp-knows-this-one")
    assert created["secret"] == "the-erp-knows-this-one"
    receipt = send(hub, "the-erp-knows-this-one", "m-1", stock("T-1", 3))
    assert isinstance(receipt, Receipt) and receipt.outcome == "accepted"
    assert isinstance(send(hub, "another-secret", "m-2", stock("T-1", 4)), CatalogError)


def test_invalid_sources_name_the_problem_and_create_nothing(
    client: TestClient, integrator: dict[str, str]
) -> None:
    for body in (
        {**ERP, "scheme": "carrier-pigeon"},
        {**ERP, "name": "Not A Name"},
        {**ERP, "colour": "blue"},
        {**ERP, "secret": 12},
        [ERP],
        "erp",
    ):
        response = client.post(f"{BASE}/sources", json=body, headers=integrator)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"], body
    assert client.get(f"{BASE}/sources", headers=integrator).json()["items"] == []
    add(client, integrator)
    response = client.post(f"{BASE}/sources", json=ERP, headers=integrator)
    problem(response, 409, "source-exists")


def test_put_changes_what_it_names_and_if_match_guards_it(
    client: TestClient, integrator: dict[str, str]
) -> None:
    add(client, integrator, description="first")
    path = f"{BASE}/sources/erp"
    changed = client.put(path, json={"description": "second"}, headers=integrator)
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] == "second" and changed.json()["version"] == 2
    assert changed.json()["key"] == {"path": "data.sku"}  # untouched
    assert changed.headers["etag"] == '"2"'
    # A stale If-Match: 412, nothing written; the current one: written.
    stale = client.put(path, json={"description": "x"}, headers={**integrator, "If-Match": '"1"'})
    problem(stale, 412, "precondition-failed")
    current = client.put(
        path, json={"description": "third"}, headers={**integrator, "If-Match": '"2"'}
    )
    assert current.status_code == 200 and current.json()["version"] == 3
    # A stale version in the body: 409 with the current version.
    body = problem(
        client.put(path, json={"description": "x", "version": 1}, headers=integrator),
        409,
        "stale-version",
    )
    assert body["currentVersion"] == 3
    problem(
        client.put(path, json={"description": "x"}, headers={**integrator, "If-Match": "soon"}),
        400,
        "invalid-input",
    )
    for version in ("3", 0, -1, 2**31, 2**62, True):
        body = {"description": "x", "version": version}
        problem(client.put(path, json=body, headers=integrator), 422, "invalid-source")
    for tag in ('"99999999999999999999999"', '"2147483648"', '"0"', '"3.x"', "3"):
        refused = client.put(
            path, json={"description": "x"}, headers={**integrator, "If-Match": tag}
        )
        assert [e["field"] for e in problem(refused, 400, "invalid-input")["errors"]] == [
            "If-Match"
        ], tag
    problem(client.put(path, json={"scheme": "nope"}, headers=integrator), 422, "invalid-source")
    read = client.get(path, headers=integrator).json()
    assert read["description"] == "third" and read["version"] == 3


def test_delete_and_names_no_source_can_have(
    client: TestClient, integrator: dict[str, str]
) -> None:
    add(client, integrator)
    assert client.delete(f"{BASE}/sources/erp", headers=integrator).status_code == 204
    problem(client.get(f"{BASE}/sources/erp", headers=integrator), 404, "source-not-found")
    problem(client.delete(f"{BASE}/sources/erp", headers=integrator), 404, "source-not-found")
    for name in ("ERP", "x" * 31, "%F0%9F%98%80", "a%20b"):
        problem(client.get(f"{BASE}/sources/{name}", headers=integrator), 404, "source-not-found")
    put = client.put(f"{BASE}/sources/ERP", json={"description": "x"}, headers=integrator)
    problem(put, 404, "source-not-found")
    # A NUL anywhere in a path is refused before any route (api.edge).
    nul = client.get(f"{BASE}/sources/a%00b", headers=integrator)
    problem(nul, 400, "nul-character")


def test_rotate_secret_shows_the_new_one_once(
    hub: Hub, client: TestClient, integrator: dict[str, str]
) -> None:
    first = add(client, integrator)["secret"]
    path = f"{BASE}/sources/erp/rotate-secret"
    rotated = client.post(path, headers=integrator)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["secret"]
    assert second != first and isinstance(second, str)
    until = datetime.fromisoformat(rotated.json()["previousSecretValidUntil"])
    assert until > datetime.now(UTC) + timedelta(hours=1)  # the default overlap
    # During the overlap both are accepted.
    assert isinstance(send(hub, first, "m-1", stock("T-1", 1)), Receipt)
    assert isinstance(send(hub, second, "m-2", stock("T-1", 2)), Receipt)

    given = client.post(
        path, json={"secret": "chosen-by-the-erp", "overlapHours": 0}, headers=integrator
    )
    assert given.status_code == 200 and given.json()["secret"] == "chosen-by-the-erp"
    assert isinstance(send(hub, "chosen-by-the-erp", "m-3", stock("T-1", 3)), Receipt)
    assert isinstance(send(hub, second, "m-4", stock("T-1", 4)), CatalogError)  # no overlap
    assert "chosen-by-the-erp" not in client.get(f"{BASE}/sources/erp", headers=integrator).text

    for body, field in (
        ({"overlapHours": -1}, "overlapHours"),
        ({"overlapHours": 1e300}, "overlapHours"),
        ({"overlapHours": 24 * 367}, "overlapHours"),
        ({"overlapHours": "2"}, "overlapHours"),
        ({"overlapHours": True}, "overlapHours"),
        ({"secret": ""}, "secret"),
        ({"secret": ["x"]}, "secret"),
        ({"colour": 1}, "colour"),
    ):
        response = client.post(path, content=orjson.dumps(body), headers=integrator)
        refused = problem(response, 422, "invalid-source")
        assert [e["field"] for e in refused["errors"]] == [field], body
    problem(client.post(path, json=[1], headers=integrator), 422, "invalid-source")
    problem(client.post(path, content=b"{", headers=integrator), 400, "malformed-json")
    huge = b'{"overlapHours": 1' + b"0" * 400 + b"}"
    problem(client.post(path, content=huge, headers=integrator), 400, "malformed-json")
    missing = client.post(f"{BASE}/sources/nope/rotate-secret", headers=integrator)
    problem(missing, 404, "source-not-found")


def test_every_route_needs_the_integrate_scope(hub: Hub, client: TestClient) -> None:
    reader = bearer(hub, "read", "write", "delete", name="editor")
    routes = [
        ("GET", "/sources"),
        ("POST", "/sources"),
        ("GET", "/sources/erp"),
        ("PUT", "/sources/erp"),
        ("DELETE", "/sources/erp"),
        ("POST", "/sources/erp/rotate-secret"),
        ("GET", "/messages"),
        ("GET", "/messages/1"),
        ("GET", "/refusals"),
        ("POST", "/refusals/replay"),
    ]
    for method, path in routes:
        problem(client.request(method, BASE + path, json=ERP), 401, "unauthorized")
        answer = client.request(method, BASE + path, json=ERP, headers=reader)
        problem(answer, 403, "forbidden")
    admin = bearer(hub, "admin", name="admin")
    assert client.get(f"{BASE}/sources", headers=admin).status_code == 200


# -- the audit ---------------------------------------------------------------------------


@pytest.fixture
def audited(hub: Hub, client: TestClient, integrator: dict[str, str]) -> dict[str, Any]:
    """erp: two accepted messages (T-1 then T-2), a duplicate of the first, one refused for
    its secret; shop: one accepted. A webhook endpoint hears erp.stock.changed."""
    secret = add(client, integrator)["secret"]
    shop = add(client, integrator, name="shop")["secret"]
    endpoint = hub.webhooks.create(
        {"url": "https://hooks.example.com/stock", "eventTypes": ["erp.stock.changed"]}
    ).endpoint.endpoint_id
    receipts = [
        send(hub, secret, "m-1", stock("T-1", 1)),
        send(hub, secret, "m-2", stock("T-2", 2)),
        send(hub, secret, "m-1", stock("T-1", 1)),
        send(hub, "wrong", "m-3", stock("T-3", 3)),
        send(hub, shop, "s-1", {"type": "shop.order.placed", "data": {"sku": "T-9"}}, "shop"),
    ]
    assert [getattr(r, "outcome", "refused") for r in receipts] == [
        "accepted",
        "accepted",
        "duplicate",
        "refused",
        "accepted",
    ]
    hub.webhooks.queue.fan_out(datetime.now(UTC), 100)
    return {"secret": secret, "endpoint": endpoint, "receipts": receipts}


def listed(client: TestClient, headers: dict[str, str], query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"{BASE}/messages{query}", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_messages_are_listed_newest_first_and_filtered(
    client: TestClient, integrator: dict[str, str], audited: dict[str, Any]
) -> None:
    everything = listed(client, integrator)
    assert [m["outcome"] for m in everything] == [
        "accepted",
        "rejected",
        "duplicate",
        "accepted",
        "accepted",
    ]
    ids = [m["id"] for m in everything]
    assert ids == sorted(ids, reverse=True)
    erp = listed(client, integrator, "?source=erp")
    assert len(erp) == 4 and {m["source"] for m in erp} == {"erp"}
    assert [m["key"] for m in listed(client, integrator, "?source=erp&outcome=accepted")] == [
        "T-2",
        "T-1",
    ]
    [refused] = listed(client, integrator, "?outcome=rejected")
    assert refused["verification"] == "failed" and refused["problem"] and refused["reason"]
    assert [m["messageId"] for m in listed(client, integrator, "?key=T-1")] == ["m-1", "m-1"]
    assert {m["source"] for m in listed(client, integrator, "?type=shop.order.placed")} == {"shop"}
    now = datetime.now(UTC)
    assert (
        len(listed(client, integrator, f"?since={(now - timedelta(hours=1)):%Y-%m-%dT%H:%M}Z")) == 5
    )
    assert listed(client, integrator, f"?since={(now + timedelta(hours=1)):%Y-%m-%dT%H:%M}") == []
    assert listed(client, integrator, f"?until={(now - timedelta(hours=1)):%Y-%m-%dT%H:%M}") == []


def test_messages_page_backwards_with_the_cursor(
    client: TestClient, integrator: dict[str, str], audited: dict[str, Any]
) -> None:
    seen: list[int] = []
    query = "?limit=2"
    while True:
        page = client.get(f"{BASE}/messages{query}", headers=integrator).json()
        seen += [m["id"] for m in page["items"]]
        if page["nextCursor"] is None:
            break
        assert page["nextCursor"] == page["items"][-1]["id"]
        query = f"?limit=2&before={page['nextCursor']}"
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 5


def test_bad_filters_are_400s_naming_the_parameter(
    client: TestClient, integrator: dict[str, str]
) -> None:
    for query, field in (
        ("outcome=maybe", "outcome"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("since=99999999999999999999", "since"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=%D9%A1", "limit"),  # an Arabic-Indic one
        ("before=-1", "before"),
        ("before=99999999999999999999999", "before"),
        ("key=a%00b", "key"),
        ("source=" + "s" * 31, "source"),
        ("type=" + "t" * 41, "type"),
    ):
        response = client.get(f"{BASE}/messages?{query}", headers=integrator)
        assert response.status_code == 400, (query, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], query
    unknown = client.get(f"{BASE}/messages?outcom=rejected&source=erp", headers=integrator)
    body = problem(unknown, 400, "invalid-query")
    assert [e["field"] for e in body["errors"]] == ["outcom"]


def test_a_message_shows_its_body_and_its_fate(
    hub: Hub, client: TestClient, integrator: dict[str, str], audited: dict[str, Any]
) -> None:
    [_, first] = listed(client, integrator, "?source=erp&outcome=accepted")
    detail = client.get(f"{BASE}/messages/{first['id']}", headers=integrator)
    assert detail.status_code == 200, detail.text
    shown = detail.json()
    assert shown["body"] == stock("T-1", 1)  # the JSON as the sender posted it
    assert shown["eventId"] == audited["receipts"][0].event_id
    [fate] = shown["fate"]
    assert fate["endpoint"] == audited["endpoint"]
    assert fate["status"] == "pending" and fate["attempts"] == 0 and fate["lastError"] is None
    # The duplicate points at the original's event; the refused one went nowhere.
    [duplicate] = listed(client, integrator, "?outcome=duplicate")
    assert duplicate["duplicateOf"] == first["id"]
    [refused] = listed(client, integrator, "?outcome=rejected")
    refused_detail = client.get(f"{BASE}/messages/{refused['id']}", headers=integrator).json()
    assert refused_detail["body"] is None and refused_detail["fate"] == []
    # A shop event has no subscriber here: no deliveries.
    [shop] = listed(client, integrator, "?source=shop")
    assert client.get(f"{BASE}/messages/{shop['id']}", headers=integrator).json()["fate"] == []

    problem(client.get(f"{BASE}/messages/999999", headers=integrator), 404, "message-not-found")
    for bad in ("0", "x", "99999999999999999999999", "%D9%A1"):
        response = client.get(f"{BASE}/messages/{bad}", headers=integrator)
        assert response.status_code in (400, 404), bad
        assert response.headers["content-type"] == "application/problem+json"


# -- refused feed items ------------------------------------------------------------------


def test_refusals_list_and_replay_validate_their_input(
    client: TestClient, integrator: dict[str, str]
) -> None:
    add(client, integrator, apply=FEED)
    add(client, integrator, name="shop")
    page = client.get(f"{BASE}/refusals?source=erp", headers=integrator)
    assert page.status_code == 200, page.text
    assert page.json()["items"] == [] and page.json()["nextCursor"] is None
    assert client.get(f"{BASE}/refusals?open=false", headers=integrator).status_code == 200
    for query, field in (
        ("open=perhaps", "open"),
        ("limit=0", "limit"),
        ("after=-2", "after"),
        ("source=a%00b", "source"),
        ("sauce=erp", "sauce"),
    ):
        response = client.get(f"{BASE}/refusals?{query}", headers=integrator)
        assert response.status_code == 400, (query, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], query

    replayed = client.post(f"{BASE}/refusals/replay", json={"source": "erp"}, headers=integrator)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {"source": "erp", "applied": 0, "refused": 0, "superseded": 0}
    none = client.post(f"{BASE}/refusals/replay", json={"source": "shop"}, headers=integrator)
    problem(none, 422, "invalid-source")  # shop applies nothing to the catalog
    gone = client.post(f"{BASE}/refusals/replay", json={"source": "nope"}, headers=integrator)
    problem(gone, 404, "source-not-found")
    missing = client.post(
        f"{BASE}/refusals/replay", json={"source": "erp", "ids": [12345]}, headers=integrator
    )
    problem(missing, 404, "refusal-not-found")
    for body, field in (
        ({}, "source"),
        ({"source": 7}, "source"),
        ({"source": "erp", "ids": []}, "ids"),
        ({"source": "erp", "ids": [0]}, "ids"),
        ({"source": "erp", "ids": ["1"]}, "ids"),
        ({"source": "erp", "ids": [True]}, "ids"),
        ({"source": "erp", "ids": [2**70]}, "ids"),
        ({"source": "erp", "ids": list(range(1, 1100))}, "ids"),
        ({"source": "erp", "all": True}, "all"),
    ):
        response = client.post(f"{BASE}/refusals/replay", json=body, headers=integrator)
        refused = problem(response, 422, "invalid-source")
        assert [e["field"] for e in refused["errors"]] == [field], body
    nul = client.post(
        f"{BASE}/refusals/replay", content=b'{"source": "e\\u0000rp"}', headers=integrator
    )
    problem(nul, 400, "nul-character")


def drain(hub: Hub) -> None:
    """Runs the delivery pipeline until nothing is left to do (here: the catalog feed)."""
    dispatcher = build_dispatcher(hub)

    async def run() -> None:
        while await dispatcher.run_once():
            pass
        for target in list(dispatcher._targets.values()):
            if target.destination is not None:
                await target.destination.aclose()

    asyncio.run(run())


def test_a_refused_feed_item_is_listed_and_replayed_after_a_fix(
    hub: Hub, client: TestClient, integrator: dict[str, str]
) -> None:
    secret = add(client, integrator, apply=FEED)["secret"]
    body = {"type": "erp.stock.changed", "items": [{"sku": "T-404", "qty": 7}]}
    receipt = send(hub, secret, "m-1", body)
    assert isinstance(receipt, Receipt), receipt
    drain(hub)
    page = client.get(f"{BASE}/refusals?source=erp", headers=integrator).json()
    [item] = page["items"]
    assert item["message"] == receipt.message and item["key"] == "T-404"
    assert item["value"] == {"sku": "T-404", "qty": 7} and item["errors"]
    assert item["resolvedAt"] is None
    # The message's fate: the feed took it (a refused item does not fail the delivery).
    fate = client.get(f"{BASE}/messages/{receipt.message}", headers=integrator).json()["fate"]
    assert [(f["endpoint"], f["status"]) for f in fate] == [("feed-erp", "delivered")]

    still = client.post(f"{BASE}/refusals/replay", json={"source": "erp"}, headers=integrator)
    assert still.json() == {"source": "erp", "applied": 0, "refused": 1, "superseded": 0}
    hub.catalog.create("Product", {**TEE, "sku": "T-404"}, author="t")
    replayed = client.post(
        f"{BASE}/refusals/replay", json={"source": "erp", "ids": [item["id"]]}, headers=integrator
    )
    assert replayed.json() == {"source": "erp", "applied": 1, "refused": 0, "superseded": 0}
    assert hub.catalog.get_object("Product", "T-404", include_drafts=True).values["stock"] == 7
    assert client.get(f"{BASE}/refusals", headers=integrator).json()["items"] == []
    closed = client.get(f"{BASE}/refusals?open=false", headers=integrator).json()["items"]
    assert [r["id"] for r in closed] == [item["id"]] and closed[0]["resolvedAt"]


# -- hostile bodies ----------------------------------------------------------------------


def test_hostile_source_bodies_are_4xx(client: TestClient, integrator: dict[str, str]) -> None:
    path = f"{BASE}/sources"
    problem(client.post(path, content=b"[" * 100_000, headers=integrator), 400, "malformed-json")
    problem(client.post(path, content=b"", headers=integrator), 400, "malformed-json")
    nul = client.post(
        path, content=b'{"name": "erp", "scheme": "shared-\\u0000"}', headers=integrator
    )
    problem(nul, 400, "nul-character")
    big = client.post(path, content=b'{"d": "' + b"x" * (17 << 20) + b'"}', headers=integrator)
    problem(big, 413, "payload-too-large")
    surrogate = client.post(
        path,
        content=b'{"name": "erp", "scheme": "shared-secret", "description": "\\ud800"}',
        headers=integrator,
    )
    assert 400 <= surrogate.status_code < 500
    huge = client.post(
        path,
        content=b'{"name": "erp", "scheme": "shared-secret", "maxBytes": 1' + b"0" * 400 + b"}",
        headers=integrator,
    )
    assert 400 <= huge.status_code < 500


# -- parallel writers --------------------------------------------------------------------


def test_parallel_puts_naming_no_version_all_succeed(
    client: TestClient, integrator: dict[str, str]
) -> None:
    add(client, integrator)
    outcomes = in_parallel(
        WRITERS,
        lambda n: (
            client.put(
                f"{BASE}/sources/erp", json={"description": f"writer {n}"}, headers=integrator
            ).status_code
        ),
    )
    assert outcomes == [200] * WRITERS
    read = client.get(f"{BASE}/sources/erp", headers=integrator).json()
    assert read["version"] == 1 + WRITERS


def test_parallel_puts_with_one_if_match_let_one_win(
    client: TestClient, integrator: dict[str, str]
) -> None:
    add(client, integrator)
    headers = {**integrator, "If-Match": '"1"'}
    outcomes = in_parallel(
        WRITERS,
        lambda n: (
            client.put(
                f"{BASE}/sources/erp", json={"description": f"writer {n}"}, headers=headers
            ).status_code
        ),
    )
    assert sorted(outcomes) == [200] + [412] * (WRITERS - 1)
    assert client.get(f"{BASE}/sources/erp", headers=integrator).json()["version"] == 2


def test_parallel_creates_of_one_name_make_one_source(
    client: TestClient, integrator: dict[str, str]
) -> None:
    outcomes = in_parallel(
        WRITERS,
        lambda n: client.post(f"{BASE}/sources", json=ERP, headers=integrator).status_code,
    )
    assert sorted(outcomes) == [201] + [409] * (WRITERS - 1)
    assert len(client.get(f"{BASE}/sources", headers=integrator).json()["items"]) == 1


def test_parallel_rotations_all_succeed_and_one_secret_wins(
    hub: Hub, client: TestClient, integrator: dict[str, str]
) -> None:
    add(client, integrator)
    outcomes = in_parallel(
        WRITERS,
        lambda n: client.post(f"{BASE}/sources/erp/rotate-secret", headers=integrator),
    )
    assert [o.status_code for o in outcomes] == [200] * WRITERS
    secrets = {o.json()["secret"] for o in outcomes}
    assert len(secrets) == WRITERS
    accepted = [s for s in secrets if isinstance(send(hub, s, f"m-{s}", stock("T-1", 1)), Receipt)]
    assert accepted  # the last rotation's secret (and the one it replaced) are accepted


def test_parallel_deletes_remove_once(client: TestClient, integrator: dict[str, str]) -> None:
    add(client, integrator, apply=FEED)
    outcomes = in_parallel(
        WRITERS,
        lambda n: client.delete(f"{BASE}/sources/erp", headers=integrator).status_code,
    )
    assert sorted(outcomes) == [204] + [404] * (WRITERS - 1)
    assert client.get(f"{BASE}/sources", headers=integrator).json()["items"] == []
