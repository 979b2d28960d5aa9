"""Rate limits and network allowlists through the app (api/guard.py), on SQLite (memory
store, checks on the loop) and PostgreSQL (database store, checks in the thread pool)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pimhub.access.audit import current_actor
from pimhub.access.keys import ApiKey
from pimhub.access.rate_limits import Rate, RateLimiter
from pimhub.access.service import KeyChanges
from pimhub.api.app import HubApp, create_app
from pimhub.bootstrap import Hub, rate_limiter
from pimhub.storage.rate_limit_store import SqlRateLimitStore
from pimhub.users.passwords import Argon2Passwords
from tests.e2e.processes import PIMHUB, init, printed_key, serving

PRODUCT = "/api/v1/products/SKU-1"
LISTING = "/api/v1/objects/Product"
OFFICE_NETWORK = ("--allow-from", "10.0.0.0/8")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def limited_app(hub: Hub, *, per_address: str = "off", per_key: str = "off") -> HubApp:
    """The app with these limits on the hub's own store choice (the database on PostgreSQL)."""
    settings = hub.settings.model_copy(
        update={"rate_limit_per_address": per_address, "rate_limit_per_key": per_key}
    )
    hub.limiter = rate_limiter(settings, hub.engine)
    return create_app(hub)


def key(hub: Hub, name: str, **options: Any) -> tuple[ApiKey, dict[str, str]]:
    made, token = hub.access.create(name, ["read"], environment="test", **options)
    return made, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def product(hub: Hub) -> None:
    hub.catalog.create(
        "Product",
        {"sku": "SKU-1", "name": {"en": "One"}, "price": {"amount": 1, "currency": "EUR"}},
        author="test",
    )


def assert_rate_limited(answer: Any, who: str, limit: int) -> None:
    assert answer.status_code == 429, answer.text
    body = answer.json()
    assert body["code"] == "rate-limited" and body["status"] == 429
    assert who in body["detail"] and "retry after" in body["detail"]
    assert answer.headers["content-type"] == "application/problem+json"
    retry = int(answer.headers["retry-after"])  # whole seconds, rounded up
    assert 1 <= retry <= 60
    assert answer.headers["ratelimit-limit"] == str(limit)
    assert answer.headers["ratelimit-remaining"] == "0"


def test_the_store_is_the_database_on_postgresql(hub: Hub) -> None:
    limited_app(hub, per_address="5/minute")
    if hub.engine.dialect.name == "postgresql":
        assert isinstance(hub.limiter.store, SqlRateLimitStore)


def test_address_limit_on_both_apps_and_probes_exempt(hub: Hub, product: None) -> None:
    client = TestClient(limited_app(hub, per_address="3/minute"))
    _, headers = key(hub, "reader")
    assert client.get(PRODUCT, headers=headers).status_code == 200  # the bare route
    assert client.get(LISTING, headers=headers).status_code == 200  # a FastAPI route
    assert client.get("/api/v1/classes").status_code == 401  # no key: the address counts
    assert_rate_limited(client.get(PRODUCT, headers=headers), "the address testclient", 3)
    assert_rate_limited(client.get(LISTING, headers=headers), "the address testclient", 3)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    other = TestClient(client.app, client=("10.0.0.7", 4000))
    assert other.get(PRODUCT, headers=headers).status_code == 200  # another address


def test_a_refused_token_still_counts_against_the_address(hub: Hub) -> None:
    client = TestClient(limited_app(hub, per_address="2/minute", per_key="100/minute"))
    wrong = {"Authorization": "Bearer phk_000000000000_" + "x" * 43}
    first, second = (client.get(LISTING, headers=wrong) for _ in range(2))
    assert first.status_code == second.status_code == 401
    assert first.json()["detail"] == "the API key is not valid"  # the route's own answer
    assert_rate_limited(client.get(LISTING, headers=wrong), "the address testclient", 2)


def test_key_limit_leaves_other_keys_alone(hub: Hub, product: None) -> None:
    client = TestClient(limited_app(hub, per_key="2/minute"))
    busy, busy_headers = key(hub, "busy")
    _, calm_headers = key(hub, "calm")
    assert [client.get(PRODUCT, headers=busy_headers).status_code for _ in range(2)] == [200] * 2
    refused = client.get(LISTING, headers=busy_headers)
    assert_rate_limited(refused, f"the key 'busy' ({busy.key_id})", 2)
    assert "2/minute" in refused.json()["detail"]
    assert client.get(PRODUCT, headers=calm_headers).status_code == 200
    assert client.get(LISTING, headers=calm_headers).status_code == 200


def test_a_keys_own_rate_wins(hub: Hub, product: None) -> None:
    client = TestClient(limited_app(hub, per_key="1/minute"))
    _, roomy = key(hub, "roomy", rate_limit="4/minute")
    _, plain = key(hub, "plain")
    assert [client.get(PRODUCT, headers=roomy).status_code for _ in range(5)] == [200] * 4 + [429]
    assert [client.get(PRODUCT, headers=plain).status_code for _ in range(2)] == [200, 429]


def test_graphql_refusal_is_a_graphql_error_and_apikey_counts(hub: Hub) -> None:
    client = TestClient(limited_app(hub, per_key="1/minute"))
    made, headers = key(hub, "gql")
    token = headers["Authorization"].removeprefix("Bearer ")
    client.get("/graphql/nothing", params={"query": "{a}", "apikey": token})
    refused = client.post("/graphql/nothing", json={"query": "{a}"}, headers=headers)
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert made.key_id in refused.json()["errors"][0]["message"]
    assert int(refused.headers["retry-after"]) >= 1


def test_allowlist(hub: Hub, product: None) -> None:
    app = limited_app(hub)
    made, headers = key(hub, "office", allowed_networks=["10.0.0.0/8", "2001:db8::/32"])
    inside = TestClient(app, client=("10.1.2.3", 5000))
    assert inside.get(PRODUCT, headers=headers).status_code == 200
    assert (
        TestClient(app, client=("2001:db8::5", 5000)).get(LISTING, headers=headers).status_code
        == 200
    )
    for address in ("192.168.1.9", "testclient"):
        refused = TestClient(app, client=(address, 5000)).get(PRODUCT, headers=headers)
        assert refused.status_code == 403, refused.text
        body = refused.json()
        assert body["code"] == "address-not-allowed"
        assert address in body["detail"] and made.key_id in body["detail"]
        assert "10.0.0.0/8" not in body["detail"]  # no map for the holder of a stolen key
    # Widened to anywhere, the same key works from the other address at once.
    hub.access.update(made.key_id, KeyChanges(allowed_networks=()))
    assert (
        TestClient(app, client=("192.168.1.9", 5000)).get(PRODUCT, headers=headers).status_code
        == 200
    )


def test_principal_is_authenticated_once_and_names_the_actor(hub: Hub, product: None) -> None:
    app = limited_app(hub, per_key="100/minute")
    app.add_api_route("/test-actor", lambda: {"actor": current_actor()})
    made, headers = key(hub, "actor")
    client = TestClient(app)
    assert client.get("/test-actor", headers=headers).json() == {
        "actor": f"key:{made.key_id} ({made.name})"
    }
    assert client.get("/test-actor").json() == {"actor": "system"}
    calls = []
    authenticate = hub.access.authenticate

    def counted(token: str | None) -> ApiKey:
        calls.append(token)
        return authenticate(token)

    hub.access.authenticate = counted  # type: ignore[method-assign]
    assert client.get(PRODUCT, headers=headers).status_code == 200
    assert client.get(LISTING, headers=headers).status_code == 200
    assert len(calls) == 2  # once per request, by the guard


def test_expiring_key_gets_a_warning_header(hub: Hub, product: None) -> None:
    client = TestClient(limited_app(hub))
    soon, soon_headers = key(hub, "soon", expires_in_days=3)
    _, later_headers = key(hub, "later", expires_in_days=60)
    answer = client.get(PRODUCT, headers=soon_headers)
    assert answer.status_code == 200
    assert soon.expires_at is not None
    expected = soon.expires_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    assert answer.headers["pimhub-key-expires"] == expected
    assert "pimhub-key-expires" not in client.get(PRODUCT, headers=later_headers).headers


def test_a_failing_store_lets_requests_through(hub: Hub, product: None) -> None:
    class Down:
        blocking = True

        def take(self, bucket: str, rate: Rate, now: float) -> float:
            raise ConnectionError("redis is down")

    failures: list[Exception] = []
    hub.limiter = RateLimiter(
        Down(), per_address=Rate(1, 60), per_principal=Rate(1, 60), on_failure=failures.append
    )
    client = TestClient(create_app(hub))
    _, headers = key(hub, "through")
    assert [client.get(PRODUCT, headers=headers).status_code for _ in range(3)] == [200] * 3
    assert len(failures) == 1


def test_admin_users_have_a_bucket_each(hub: Hub) -> None:
    hub.users.passwords = Argon2Passwords(time_cost=1, memory_cost=64)
    for name in ("ann", "bob"):
        hub.users.create(name, "a-long-test-password", "viewer", display_name=name)
    app = limited_app(hub, per_key="3/minute")

    def signed_in(name: str) -> TestClient:
        client = TestClient(app)
        page = client.get("/admin/login")
        form = {"csrf_token": CSRF.search(page.text).group(1)}  # type: ignore[union-attr]
        form |= {"username": name, "password": "a-long-test-password", "next": ""}
        assert client.post("/admin/login", data=form, follow_redirects=False).status_code == 303
        return client

    ann, bob = signed_in("ann"), signed_in("bob")
    assert [ann.get("/admin/").status_code for _ in range(3)] == [200] * 3
    refused = ann.get("/admin/")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Too many requests" in refused.text
    assert bob.get("/admin/").status_code == 200


@pytest.mark.e2e
def test_behind_a_trusted_proxy_the_forwarded_address_counts(tmp_path: Path) -> None:
    """`pimhub serve` hands forwarded_allow_ips to uvicorn: X-Forwarded-For from the trusted
    proxy (loopback here) is the address the buckets and allowlists see."""
    env = {**os.environ, "PIMHUB_DATA_DIR": str(tmp_path / "data")}
    env.pop("PIMHUB_DATABASE_URL", None)
    env.update(PIMHUB_FORWARDED_ALLOW_IPS="127.0.0.1", PIMHUB_RATE_LIMIT_PER_ADDRESS="2/minute")
    init(env, tmp_path)
    made = subprocess.run(
        [*PIMHUB, "keys", "create", "--name", "office", "--scope", "read", *OFFICE_NETWORK],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    office = {"Authorization": f"Bearer {printed_key(made.stdout)}"}
    with serving(env, tmp_path) as base, httpx.Client(base_url=base, headers=office) as http:

        def get(address: str) -> httpx.Response:
            return http.get(LISTING, headers={"X-Forwarded-For": address})

        assert get("10.9.8.7").status_code == 200
        refused = get("192.168.5.5")
        assert refused.status_code == 403 and "192.168.5.5" in refused.json()["detail"]
        assert get("10.9.8.7").status_code == 200
        assert get("10.9.8.7").status_code == 429  # that address's third request
        assert get("10.9.8.6").status_code == 200  # another client behind the same proxy
