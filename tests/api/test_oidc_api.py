"""OIDC bearer tokens through the real app on both databases: REST (the products fast path
and FastAPI routes), the GraphQL datahub and simple REST, with tokens signed by a stand-in
issuer whose key set is served on a loopback port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from pimhub.access.audit import AuditQuery
from pimhub.access.jwks import JwksCache
from pimhub.api.app import create_app
from pimhub.bootstrap import Hub, bootstrap
from pimhub.catalog.commerce import commerce_model
from pimhub.settings import Settings
from tests.access import oidc_issuer
from tests.access.oidc_issuer import (
    AUDIENCE,
    EC,
    RSA,
    Issuer,
    hmac_token,
    rsa_key,
    unsigned_token,
    wait_for,
)
from tests.conftest import bearer, empty_database

SCOPES = {
    "groups": {
        "pim-readers": ["read"],
        "pim-editors": ["read", "write:Product"],
        "pim-admins": ["admin"],
        "shop": ["datahub:storefront", "datahub:partner"],
    }
}


served = oidc_issuer.served
issuer = oidc_issuer.issuer


def oidc_hub(engine: Engine, tmp_path: Path, issuer: Issuer) -> Hub:
    empty_database(engine)
    settings = Settings(
        database_url=str(engine.url),
        secret_key="test-passphrase",
        assets_dir=tmp_path / "assets",
        oidc_issuer=issuer.url,
        oidc_audience=AUDIENCE,
        oidc_scope_claims=SCOPES,
    )
    return bootstrap(settings, engine=engine, oidc_prefetch=True)


@pytest.fixture
def hub(engine: Engine, tmp_path: Path, issuer: Issuer) -> Hub:
    hub = oidc_hub(engine, tmp_path, issuer)
    hub.classes.apply(commerce_model(), author="test")
    hub.catalog.create("Brand", {"code": "acme", "name": "Acme"}, author="test")
    hub.catalog.create(
        "Product",
        {"sku": "TS-1", "name": {"en": "Tee"}, "price": {"amount": 9, "currency": "EUR"}},
        author="test",
    )
    hub.datahub.create(
        {"name": "storefront", "classes": {"Product": {"fields": ["sku", "name"]}}}, author="t"
    )
    hub.datahub.create(
        {"name": "partner", "classes": {"Product": {"fields": ["sku", "name"]}}}, author="t"
    )
    # bootstrap started fetching the keys on a background thread; a server's first token
    # usually comes later, here it is waited for.
    wait_for(lambda: keys_of(hub).current is not None)
    return hub


@pytest.fixture
def client(hub: Hub) -> TestClient:
    return TestClient(create_app(hub))


def keys_of(hub: Hub) -> JwksCache:
    keys = hub.access.tokens.keys  # type: ignore[union-attr]
    assert isinstance(keys, JwksCache)
    return keys


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def test_rest_reads_and_writes_with_tokens(client: TestClient, issuer: Issuer) -> None:
    reader = auth(issuer.token(RSA))
    response = client.get("/api/v1/products/TS-1", headers=reader)  # the fast path
    assert response.status_code == 200, response.text
    assert response.json()["sku"] == "TS-1"
    response = client.get("/api/v1/objects/Product/TS-1", headers=reader)  # a FastAPI route
    assert response.status_code == 200, response.text
    body = {"fields": {"sku": "TS-9", "name": {"en": "New"}}}
    refused = client.post("/api/v1/objects/Product", json=body, headers=reader)
    assert problem(refused, 403, "forbidden")["detail"] == (
        "the key 'ada' may not write on Product; it needs the scope 'write:Product'"
    )
    editor = auth(issuer.token(EC, groups=["pim-editors"], preferred_username="eve"))
    created = client.post("/api/v1/objects/Product", json=body, headers=editor)
    assert created.status_code == 201, created.text


def test_an_admin_action_with_a_token_is_audited_under_the_subject(
    hub: Hub, client: TestClient, issuer: Issuer
) -> None:
    admin = auth(issuer.token(groups=["pim-admins"], sub="okta|00u1"))
    response = client.post("/api/v1/keys", json={"name": "erp", "scopes": ["read"]}, headers=admin)
    assert response.status_code == 201, response.text
    entries = hub.audit.query(AuditQuery(action="key.created"))
    assert [(e.actor, e.target) for e in entries] == [("oidc:okta|00u1", response.json()["keyId"])]


def test_api_keys_keep_working_beside_tokens(hub: Hub, client: TestClient) -> None:
    response = client.get("/api/v1/products/TS-1", headers=bearer(hub, "read"))
    assert response.status_code == 200, response.text


REFUSALS: list[tuple[dict[str, Any], str]] = [
    ({"exp": 1_000_000_000, "iat": 999_999_000}, "the token expired at 2001-09-09T01:46:40+00:00"),
    ({"aud": "crm"}, "wrong audience: the token is for 'crm', this hub is 'pimhub'"),
    ({"iss": "https://evil.example"}, "issuer mismatch: the token was issued by"),
    ({"groups": ["visitors"]}, "no scopes mapped: the token of 'ada' grants no hub scope"),
]


def test_refused_tokens_are_401_problems_saying_why(client: TestClient, issuer: Issuer) -> None:
    for claims, detail in REFUSALS:
        token = issuer.token(**claims)
        for path in ("/api/v1/products/TS-1", "/api/v1/objects/Product/TS-1"):
            response = client.get(path, headers=auth(token))
            body = problem(response, 401, "invalid-token")
            assert body["detail"].startswith(detail)
            assert response.headers["www-authenticate"] == 'Bearer realm="pimhub"'
            _, payload, signature = token.split(".")
            assert payload not in response.text and signature not in response.text


def test_forged_tokens_are_refused(client: TestClient, issuer: Issuer) -> None:
    none = unsigned_token(issuer.claims(groups=["pim-admins"]), {"alg": "none", "kid": "rsa-1"})
    confused = hmac_token(issuer.claims(groups=["pim-admins"]), RSA.public_pem(), RSA.kid)
    stranger = issuer.token(rsa_key("not-published"), groups=["pim-admins"])
    expected = {
        none: "the token's algorithm 'none' is not allowed; this hub accepts RS256, ES256",
        confused: "the token's algorithm 'HS256' is not allowed; this hub accepts RS256, ES256",
        stranger: "unknown key id: the token names key id 'not-published'",
    }
    for token, detail in expected.items():
        response = client.get("/api/v1/objects/Product/TS-1", headers=auth(token))
        assert problem(response, 401, "invalid-token")["detail"].startswith(detail)


def test_graphql_datahub_with_a_token_mapped_to_its_scope(
    client: TestClient, issuer: Issuer
) -> None:
    query = {"query": '{ getProduct(sku: "TS-1") { sku name } }'}
    shop = auth(issuer.token(groups=["shop"], sub="storefront-app"))
    for _ in range(2):  # the second run is planned and authenticates on the loop on SQLite
        response = client.post("/graphql/storefront", json=query, headers=shop)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["getProduct"] == {"sku": "TS-1", "name": "Tee"}
    reader = client.post("/graphql/storefront", json=query, headers=auth(issuer.token()))
    assert reader.status_code == 403
    assert reader.json()["errors"][0]["message"] == (
        "the key 'ada' is not a key of datahub configuration 'storefront'; "
        "it needs the scope 'datahub:storefront'"
    )
    expired = client.post(
        "/graphql/storefront",
        json=query,
        headers=auth(issuer.token(groups=["shop"], exp=1_000_000_000, iat=999_999_000)),
    )
    assert expired.status_code == 401
    error = expired.json()["errors"][0]
    assert error["message"] == "the token expired at 2001-09-09T01:46:40+00:00"
    via_param = client.get(
        "/graphql/storefront",
        params={"query": query["query"], "apikey": issuer.token(groups=["shop"])},
    )
    assert via_param.status_code == 200, via_param.text


def test_simple_rest_with_a_token(client: TestClient, issuer: Issuer) -> None:
    shop = auth(issuer.token(EC, groups=["shop"]))
    response = client.get("/simple-rest/partner/search?q=tee", headers=shop)
    assert response.status_code == 200, response.text
    assert [item["key"] for item in response.json()["items"]] == ["TS-1"]
    refused = client.get("/simple-rest/partner/search?q=tee", headers=auth(issuer.token()))
    assert problem(refused, 403, "forbidden")["detail"].startswith(
        "the key 'ada' may not use datahub configuration 'partner'"
    )


def test_issuer_down_before_any_key_set_is_a_503_with_retry_after(
    engine: Engine, tmp_path: Path, issuer: Issuer
) -> None:
    issuer.status = 500
    hub = oidc_hub(engine, tmp_path, issuer)
    hub.classes.apply(commerce_model(), author="test")
    hub.datahub.create(
        {"name": "storefront", "classes": {"Product": {"fields": ["sku"]}}}, author="t"
    )
    keys = keys_of(hub)
    wait_for(lambda: keys.last_error is not None)  # the prefetch failed
    # A failed fetch is retried after 5 s at the soonest: the requests below come sooner.
    keys.refresh()
    client = TestClient(create_app(hub))
    for path in ("/api/v1/products/TS-1", "/api/v1/objects/Product/TS-1"):
        response = client.get(path, headers=auth(issuer.token()))
        body = problem(response, 503, "oidc-keys-unavailable")
        assert body["detail"] == "the sign-in issuer's keys cannot be fetched now; retry shortly"
        assert response.headers["retry-after"] == "1"
    response = client.post(
        "/graphql/storefront", json={"query": "{ __typename }"}, headers=auth(issuer.token())
    )
    assert response.status_code == 503, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "retry-after" in response.headers


def test_a_key_set_fetched_once_survives_the_issuer_going_down(
    hub: Hub, client: TestClient, issuer: Issuer
) -> None:
    keys = keys_of(hub)
    issuer.status = 500
    keys.ttl = 0.001  # every request now finds the set stale and refreshes it in the background
    keys.refetch_interval = 0.001
    for n in range(3):  # different tokens: a verified one is remembered for a minute
        token = issuer.token(jti=str(n))
        response = client.get("/api/v1/objects/Product/TS-1", headers=auth(token))
        assert response.status_code == 200, response.text
    wait_for(lambda: keys.last_error is not None)
    response = client.get("/api/v1/products/TS-1", headers=auth(issuer.token(EC, jti="4")))
    assert response.status_code == 200, response.text
