"""Credentials are read in one place and authenticated once, by the guard (api/guard.py,
api/auth.py credentials); routes use only what it decided. Through the app on SQLite and
PostgreSQL: two credentials are refused 400 ambiguous-credentials, a GraphQL ?apikey= cannot
slip past an empty bearer, a failed authentication is never retried by the route (a 503
stays a 503), changes are audited under the key, and the 403 keeps the networks to the log."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import TimeoutError as PoolTimeout

from pimhub.access.audit import AuditQuery
from pimhub.access.jwks import KeysUnavailable
from pimhub.access.keys import ApiKey
from pimhub.api import guard
from pimhub.api.app import HubApp, create_app
from pimhub.api.edge import EdgeGuard
from pimhub.bootstrap import Hub, rate_limiter

KEYS = "/api/v1/keys"
LISTING = "/api/v1/objects/Product"
PRODUCT = "/api/v1/products/SKU-1"
GRAPHQL = "/graphql/nothing"
OUTSIDE = ("192.168.1.9", 5000)


def app_of(hub: Hub, *, per_address: str = "off") -> HubApp:
    settings = hub.settings.model_copy(
        update={"rate_limit_per_address": per_address, "rate_limit_per_key": "off"}
    )
    hub.limiter = rate_limiter(settings, hub.engine)
    return create_app(hub)


def office_admin(hub: Hub) -> tuple[ApiKey, str]:
    """An admin key allowed from 10.0.0.0/8 only."""
    return hub.access.create(
        "office", ["admin"], environment="test", allowed_networks=("10.0.0.0/8",)
    )


def ambiguous(answer: Any, detail: str, field: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == "ambiguous-credentials"
    assert body["detail"] == detail
    assert body["errors"] == [{"field": field, "code": "ambiguous-credentials", "message": detail}]


@pytest.mark.parametrize(
    "headers",
    [
        [("authorization", "Bearer {token}"), ("authorization", "Bearer junk")],
        [("authorization", "Bearer junk"), ("authorization", "Bearer {token}")],
        [("x-api-key", "{token}"), ("x-api-key", "junk")],
    ],
    ids=["authorization-first", "authorization-last", "x-api-key"],
)
def test_a_second_header_cannot_skip_the_allowlist(
    hub: Hub, headers: list[tuple[str, str]]
) -> None:
    client = TestClient(app_of(hub), client=OUTSIDE)
    _, token = office_admin(hub)
    before = len(hub.access.all())
    sent = [(name, value.format(token=token)) for name, value in headers]
    answer = client.post(KEYS, json={"name": "stolen", "scopes": ["admin"]}, headers=sent)
    shown = "Authorization" if headers[0][0] == "authorization" else "X-API-Key"
    ambiguous(answer, f"the request carries {shown} more than once; send one credential", shown)
    assert len(hub.access.all()) == before  # no key made
    # One copy: the allowlist answers.
    alone = client.post(KEYS, json={"name": "x", "scopes": ["read"]}, headers=[sent[0]])
    assert alone.status_code in (401, 403), alone.text


def test_both_headers_must_agree(hub: Hub) -> None:
    client = TestClient(app_of(hub))
    _, token = hub.access.create("reader", ["read"], environment="test")
    different = {"Authorization": f"Bearer {token}", "X-API-Key": "junk"}
    ambiguous(
        client.get(LISTING, headers=different),
        "the request carries Authorization and X-API-Key with different values; "
        "send one credential",
        "Authorization, X-API-Key",
    )
    same = {"Authorization": f"Bearer {token}", "X-API-Key": token}
    assert client.get(LISTING, headers=same).status_code == 200
    # A non-Bearer Authorization (a proxy's Basic) carries no key: X-API-Key counts.
    basic = {"Authorization": "Basic Zm9vOmJhcg==", "X-API-Key": token}
    assert client.get(LISTING, headers=basic).status_code == 200


def test_graphql_apikey_cannot_slip_past_an_empty_bearer(hub: Hub) -> None:
    client = TestClient(app_of(hub), client=OUTSIDE)
    _, token = office_admin(hub)
    answer = client.get(
        GRAPHQL,
        params={"query": "{__typename}", "apikey": token},
        headers={"Authorization": "Bearer "},
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "Authorization and ?apikey=" in error["message"]
    # ?apikey= alone is the guard's like any header: its allowlist holds.
    alone = client.get(GRAPHQL, params={"query": "{__typename}", "apikey": token})
    assert alone.status_code == 403 and "192.168.1.9" in alone.text
    empty = client.get(
        GRAPHQL, params={"query": "{__typename}"}, headers={"Authorization": "Bearer "}
    )
    assert empty.status_code == 401, empty.text


def counting(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, failure: Exception | None = None
) -> list[Any]:
    """Counts authentications; with `failure`, the first one raises it."""
    calls: list[Any] = []
    authenticate = hub.access.authenticate

    def counted(token: str | None) -> ApiKey:
        calls.append(token)
        if failure is not None and len(calls) == 1:
            raise failure
        return authenticate(token)

    monkeypatch.setattr(hub.access, "authenticate", counted)
    return calls


@pytest.fixture
def product(hub: Hub) -> None:
    hub.catalog.create(
        "Product",
        {"sku": "SKU-1", "name": {"en": "One"}, "price": {"amount": 1, "currency": "EUR"}},
        author="test",
    )


def test_routes_never_authenticate_again(
    hub: Hub, product: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TestClient(app_of(hub))
    calls = counting(hub, monkeypatch)
    bad = {"X-API-Key": "phk_nothing_here"}
    for answer in (
        client.get(LISTING, headers=bad),
        client.get(PRODUCT, headers=bad),
        client.post(GRAPHQL, json={"query": "{__typename}"}, headers=bad),
        client.get(LISTING),
    ):
        assert answer.status_code == 401, answer.text
    assert len(calls) == 4  # the guard's, once each; no route tried again


@pytest.mark.parametrize("path", [LISTING, PRODUCT, GRAPHQL])
@pytest.mark.parametrize(
    "failure",
    [PoolTimeout("pool"), KeysUnavailable("the issuer's keys cannot be fetched now")],
    ids=["pool", "oidc-keys"],
)
def test_a_failed_authentication_is_not_retried_by_the_route(
    hub: Hub, product: None, monkeypatch: pytest.MonkeyPatch, path: str, failure: Exception
) -> None:
    client = TestClient(app_of(hub), client=OUTSIDE)
    _, token = office_admin(hub)
    calls = counting(hub, monkeypatch, failure)
    headers = {"Authorization": f"Bearer {token}"}
    if path == GRAPHQL:
        answer = client.post(path, json={"query": "{__typename}"}, headers=headers)
    else:
        answer = client.get(path, headers=headers)
    assert answer.status_code == 503, answer.text  # not the route's own 200
    assert len(calls) == 1
    if path == GRAPHQL:
        assert answer.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    else:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == 503


def test_a_change_over_rest_is_audited_under_the_key(hub: Hub) -> None:
    client = TestClient(app_of(hub))
    made, token = hub.access.create("ops", ["admin"], environment="test")
    answer = client.post(
        KEYS, json={"name": "erp", "scopes": ["read"]}, headers={"X-API-Key": token}
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()["keyId"]
    entries = hub.audit.query(AuditQuery(target=created))
    assert [(e.action, e.actor) for e in entries] == [("key.created", f"key:{made.key_id} (ops)")]


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.events.append({"event": event, **fields})


def test_address_not_allowed_names_no_networks(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(app_of(hub), client=OUTSIDE)
    made, token = office_admin(hub)
    logs = Recorder()
    monkeypatch.setattr(guard, "log", logs)
    answer = client.get(LISTING, headers={"X-API-Key": token})
    assert answer.status_code == 403
    detail = answer.json()["detail"]
    assert detail == (
        f"the key 'office' ({made.key_id}) may not be used from the address 192.168.1.9"
    )
    logged = [e for e in logs.events if e["event"] == "guard.address_not_allowed"]
    assert logged and logged[0]["allowed"] == ["10.0.0.0/8"]
    assert logged[0]["address"] == "192.168.1.9"


def test_the_edge_always_holds_bodies_to_a_limit() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        pass

    with pytest.raises(TypeError):
        EdgeGuard(inner)  # type: ignore[call-arg]
