"""CORS per datahub configuration: its `cors` section (datahub/limits.py) and the preflight
and answer headers on /graphql/{config} and /simple-rest/{config}/... (api/cors.py), through
the app on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pimhub.bootstrap import Hub
from pimhub.datahub.config import InvalidDatahubConfig, parse_datahub_config
from tests.admin import conftest as admin_fixtures
from tests.admin.conftest import AdminClient
from tests.cli import conftest as cli_fixtures
from tests.cli.test_cli import init, invoke
from tests.conftest import bearer

# The admin's and the CLI's fixtures, for the tests at the end.
users_hub, signed_in = admin_fixtures.users_hub, admin_fixtures.signed_in
db_url, runner = cli_fixtures.db_url, cli_fixtures.runner

SHOP = "https://shop.example.com"
OTHER = "https://evil.example.net"
CLASSES = {"Product": {"fields": ["sku", "name"]}}


def config(**cors: Any) -> dict[str, Any]:
    return {"name": "shop", "classes": CLASSES, "cors": {"origins": [SHOP], **cors}}


# -- the configuration's cors section ---------------------------------------------------


def test_a_cors_section_round_trips() -> None:
    parsed = parse_datahub_config(config(allowCredentials=True, maxAge=60), None)
    assert parsed.cors is not None and parsed.cors.allows(SHOP) and not parsed.cors.allows(OTHER)
    assert parsed.to_dict()["cors"] == {"origins": [SHOP], "allowCredentials": True, "maxAge": 60}
    assert parse_datahub_config(parsed.to_dict(), None) == parsed
    bare = parse_datahub_config({"name": "shop", "classes": CLASSES}, None)
    assert bare.cors is None and "cors" not in bare.to_dict()


@pytest.mark.parametrize(
    ("cors", "field", "words"),
    [
        ({"origins": ["*"], "allowCredentials": True}, "cors.allowCredentials", "origin '*'"),
        ({"origins": [SHOP + "/"]}, "cors.origins[0]", "is not an origin"),
        ({"origins": [SHOP + "/app"]}, "cors.origins[0]", "without a path"),
        ({"origins": ["HTTPS://Shop.example.com"]}, "cors.origins[0]", "lower case"),
        ({"origins": ["shop.example.com"]}, "cors.origins[0]", "scheme://host"),
        ({"origins": [SHOP + ":443"]}, "cors.origins[0]", f"write '{SHOP}'"),
        ({"origins": []}, "cors.origins", "1 to 100"),
        ({"origins": [SHOP], "maxAge": -1}, "cors.maxAge", "0..86400"),
        ({"origins": [SHOP], "allowCredentials": "yes"}, "cors.allowCredentials", "true or"),
        ({"origins": [SHOP], "methods": ["GET"]}, "cors.methods", "unknown attribute"),
        (["https://a.example"], "cors", "must be an object"),
    ],
)
def test_a_bad_cors_section_is_refused_with_its_path(cors: Any, field: str, words: str) -> None:
    with pytest.raises(InvalidDatahubConfig) as caught:
        parse_datahub_config({"name": "shop", "classes": CLASSES, "cors": cors}, None)
    messages = {e.field: e.message for e in caught.value.errors}
    assert field in messages and words in messages[field], messages


def test_any_origin_without_credentials_is_allowed() -> None:
    parsed = parse_datahub_config(config(origins=["*"]), None)
    assert parsed.cors is not None and parsed.cors.allows(OTHER)


# -- through the app ----------------------------------------------------------------------


@pytest.fixture
def shop(hub: Hub) -> Hub:
    hub.datahub.create(config(), author="test")
    return hub


@pytest.fixture
def key(shop: Hub) -> dict[str, str]:
    return bearer(shop, "datahub:shop", name="shop")


def preflight(
    client: TestClient, path: str, origin: str, method: str = "POST"
) -> Any:  # httpx.Response
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_a_preflight_from_a_listed_origin_is_allowed(shop: Hub, client: TestClient) -> None:
    response = preflight(client, "/graphql/shop", SHOP)
    assert response.status_code == 204, response.text
    h = response.headers
    assert h["access-control-allow-origin"] == SHOP
    assert h["access-control-allow-methods"] == "GET, POST"
    assert h["access-control-allow-headers"] == "Authorization, Content-Type, X-API-Key"
    assert h["access-control-max-age"] == "600"
    assert h["vary"] == "Origin"
    assert "access-control-allow-credentials" not in h
    simple = preflight(client, "/simple-rest/shop/search", SHOP, "GET")
    assert simple.status_code == 204
    assert simple.headers["access-control-allow-methods"] == "GET"


def test_a_preflight_from_another_origin_gets_no_cors_headers(
    shop: Hub, client: TestClient
) -> None:
    for path in ("/graphql/shop", "/simple-rest/shop/objects/TS-1"):
        response = preflight(client, path, OTHER)
        assert response.status_code == 403, response.text
        assert not any(k.startswith("access-control-") for k in response.headers)
        problem = response.json()
        assert problem["code"] == "origin-not-allowed"
        assert problem["detail"] == (
            f"the origin '{OTHER}' may not call datahub configuration 'shop' from a browser: "
            "its cors.origins does not list it"
        )


def test_a_preflight_for_a_configuration_without_cors_or_none_at_all(
    hub: Hub, client: TestClient
) -> None:
    hub.datahub.create({"name": "closed", "classes": CLASSES}, author="test")
    closed = preflight(client, "/graphql/closed", SHOP)
    assert closed.status_code == 403 and "lists no origins" in closed.json()["detail"]
    missing = preflight(client, "/graphql/nowhere", SHOP)
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown-datahub-config"
    assert "access-control-allow-origin" not in missing.headers


def test_answers_carry_the_origin_only_when_listed(
    shop: Hub, client: TestClient, key: dict[str, str]
) -> None:
    query = {"query": "{ getProductListing(first: 1) { totalCount } }"}
    allowed = client.post("/graphql/shop", json=query, headers={**key, "Origin": SHOP})
    assert allowed.status_code == 200 and "errors" not in allowed.json(), allowed.text
    assert allowed.headers["access-control-allow-origin"] == SHOP
    assert "Retry-After" in allowed.headers["access-control-expose-headers"]
    assert allowed.headers["vary"] == "Origin"
    other = client.post("/graphql/shop", json=query, headers={**key, "Origin": OTHER})
    assert other.status_code == 200
    assert not any(k.startswith("access-control-") for k in other.headers)
    assert other.headers["vary"] == "Origin"
    plain = client.post("/graphql/shop", json=query, headers=key)
    assert "vary" not in plain.headers and "access-control-allow-origin" not in plain.headers
    search = client.get("/simple-rest/shop/search", headers={**key, "Origin": SHOP})
    assert search.status_code == 200, search.text
    assert search.headers["access-control-allow-origin"] == SHOP


def test_refusals_are_readable_by_a_listed_origin(shop: Hub, client: TestClient) -> None:
    response = client.post("/graphql/shop", json={"query": "{ a }"}, headers={"Origin": SHOP})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == SHOP


def test_credentials_are_allowed_only_when_configured(hub: Hub, client: TestClient) -> None:
    hub.datahub.create(config(allowCredentials=True, maxAge=30), author="test")
    response = preflight(client, "/graphql/shop", SHOP)
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-max-age"] == "30"


def test_a_changed_configuration_applies_at_once(
    shop: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    assert preflight(client, "/graphql/shop", SHOP).status_code == 204
    changed = config(origins=[OTHER])
    response = client.put("/api/v1/datahub/shop", json=changed, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["cors"]["origins"] == [OTHER]
    assert preflight(client, "/graphql/shop", SHOP).status_code == 403
    assert preflight(client, "/graphql/shop", OTHER).status_code == 204


def test_other_paths_and_same_origin_pages_are_untouched(
    shop: Hub, client: TestClient, admin: dict[str, str], key: dict[str, str]
) -> None:
    classes = client.get("/api/v1/classes", headers={**admin, "Origin": SHOP})
    assert classes.status_code == 200
    assert "access-control-allow-origin" not in classes.headers and "vary" not in classes.headers
    # The explorer page posts to its own origin: no CORS check, no lookup.
    query = {"query": "{ getProductListing(first: 1) { totalCount } }"}
    own = client.post("/graphql/shop", json=query, headers={**key, "Origin": "http://testserver"})
    assert own.status_code == 200 and "vary" not in own.headers
    # OPTIONS without Access-Control-Request-Method is no preflight: the route answers it.
    assert client.options("/graphql/shop", headers={"Origin": SHOP}).status_code == 405


# -- the other ways a configuration is written ------------------------------------------

CORS_YAML = """name: shop
classes:
  Product: {fields: [sku, name]}
cors:
  origins: [https://shop.example.com]
  maxAge: 120
"""


def test_the_admin_page_saves_a_cors_section(
    signed_in: Callable[[str], AdminClient], users_hub: Hub
) -> None:
    users_hub.datahub.create({"name": "shop", "classes": CLASSES}, author="test")
    client = signed_in("integrator")
    saved = client.post_form("/admin/datahub/shop", {"configuration": CORS_YAML, "version": "1"})
    assert saved.status_code == 303, saved.text
    cors = users_hub.datahub.get("shop").cors
    assert cors is not None and cors.origins == (SHOP,) and cors.max_age == 120
    bad = CORS_YAML.replace("https://shop.example.com]", "https://shop.example.com/]")
    refused = client.post_form("/admin/datahub/shop", {"configuration": bad, "version": "2"})
    assert refused.status_code == 422 and "cors.origins[0]" in refused.text


def test_the_cli_applies_and_exports_a_cors_section(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    init(runner)
    file = tmp_path / "datahub.yaml"
    indented = CORS_YAML.replace("\n", "\n    ").rstrip()
    file.write_text(f"datahub:\n  - {indented}\n")
    code, out, err = invoke(runner, "graphql", "apply", str(file))
    assert code == 0 and "shop: created" in out, err
    code, exported, _ = invoke(runner, "graphql", "export")
    assert yaml.safe_load(exported)["datahub"][0]["cors"] == {
        "origins": [SHOP],
        "allowCredentials": False,
        "maxAge": 120,
    }
