"""Attack: a credential header sent twice. The guard read the last copy, the FastAPI routes the
first (Starlette's Headers.get), so `X-API-Key: <key>` then `X-API-Key: junk` had the guard
see a token that does not authenticate (no allowlist, no key bucket) while the route served
the key: allowlists and per-key limits were bypassed. Now a repeated Authorization or
X-API-Key is refused 400 before any route runs (on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.api.app import HubApp, create_app
from pimhub.bootstrap import Hub, rate_limiter

LISTING = "/api/v1/classes"


def limited_app(hub: Hub, per_key: str = "off") -> HubApp:
    settings = hub.settings.model_copy(
        update={"rate_limit_per_address": "off", "rate_limit_per_key": per_key}
    )
    hub.limiter = rate_limiter(settings, hub.engine)
    return create_app(hub)


def twice(name: str, first: str, second: str) -> list[tuple[str, str]]:
    return [(name, first), (name, second)]


SHOWN = {"x-api-key": "X-API-Key", "authorization": "Authorization"}


def assert_repeated(answer: Any, header: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == "ambiguous-credentials"
    shown = SHOWN[header]
    assert body["detail"] == f"the request carries {shown} more than once; send one credential"
    assert body["errors"] == [
        {"field": shown, "code": "ambiguous-credentials", "message": body["detail"]}
    ]
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "value"), [("x-api-key", "{token}"), ("authorization", "Bearer {token}")]
)
def test_a_repeated_credential_header_cannot_skip_the_allowlist(
    hub: Hub, name: str, value: str
) -> None:
    client = TestClient(limited_app(hub))
    _, token = hub.access.create(
        "office", ["read"], environment="test", allowed_networks=("10.0.0.0/8",)
    )
    good = value.format(token=token)
    refused = client.get(LISTING, headers=[(name, good)])
    assert refused.status_code == 403 and refused.json()["code"] == "address-not-allowed"
    for first, second in ((good, "junk"), ("junk", good), (good, good)):
        assert_repeated(client.get(LISTING, headers=twice(name, first, second)), name)


def test_a_repeated_credential_header_cannot_skip_the_key_bucket(hub: Hub) -> None:
    client = TestClient(limited_app(hub, per_key="2/minute"))
    _, token = hub.access.create("busy", ["read"], environment="test")
    for _ in range(2):
        assert client.get(LISTING, headers={"X-API-Key": token}).status_code == 200
    assert client.get(LISTING, headers={"X-API-Key": token}).status_code == 429
    mixed = [("authorization", f"Bearer {token}"), ("authorization", "Basic Zm9vOmJhcg==")]
    assert_repeated(client.get(LISTING, headers=mixed), "authorization")
    assert_repeated(client.get(LISTING, headers=twice("x-api-key", token, "junk")), "x-api-key")


def test_graphql_answers_a_repeated_header_as_a_graphql_error(hub: Hub) -> None:
    client = TestClient(limited_app(hub))
    answer = client.post(
        "/graphql/anything",
        json={"query": "{__typename}"},
        headers=twice("x-api-key", "a", "b"),
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["message"] == "the request carries X-API-Key more than once; send one credential"


def test_one_header_of_each_kind_still_works(hub: Hub) -> None:
    client = TestClient(limited_app(hub))
    _, token = hub.access.create("plain", ["read"], environment="test")
    both = {"Authorization": f"Bearer {token}", "X-API-Key": token}
    assert client.get(LISTING, headers=both).status_code == 200
    # Two different credentials: ambiguous (tests/api/test_guard_credentials.py).
    both["X-API-Key"] = "other"
    assert client.get(LISTING, headers=both).status_code == 400
