"""Datahub configuration pages on both backends: integrators and admins only, the schema as
REST serves it, the keys that open a configuration, and edit/create/delete through the
service with REST's validation; hostile YAML gets a 4xx page."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient
from tests.admin.test_class_pages import HOSTILE, summary_on_top
from tests.conftest import bearer

SHOP: dict[str, Any] = {
    "name": "shop",
    "description": "The shop front",
    "classes": {"Product": {"fields": ["sku", "name", "price"], "operations": ["read"]}},
}
EDITED = """name: shop
description: The shop front, with stock
classes:
  Product:
    fields: [sku, name, price, stock]
    operations: [read]
"""


@pytest.fixture
def shop(users_hub: Hub) -> Hub:
    users_hub.datahub.create(SHOP, author="test")
    return users_hub


def _rest(hub: Hub) -> TestClient:
    client = TestClient(create_app(hub))
    client.headers.update(bearer(hub, "admin", name="rest-check"))
    return client


def _textarea(page: str) -> str:
    found = re.search(r'<textarea id="configuration"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "no configuration textarea"
    return found[1]


@pytest.mark.parametrize("role", ["admin", "manager", "integrator", "viewer"])
def test_integrators_and_admins_see_the_pages_others_get_403(
    shop: Hub, signed_in: Callable[[str], AdminClient], role: str
) -> None:
    client = signed_in(role)
    allowed = role in ("admin", "integrator")
    expected = 200 if allowed else 403
    assert client.get("/admin/datahub").status_code == expected
    assert client.get("/admin/datahub/shop").status_code == expected
    assert client.get("/admin/datahub/shop/delete").status_code == expected
    if not allowed:
        assert client.post_form("/admin/datahub/shop", {"configuration": EDITED}).status_code == 403
        assert client.post_form("/admin/datahub/shop/delete").status_code == 403
        assert shop.datahub.get("shop").version == 1


def test_the_page_shows_what_it_exposes_and_the_schema_rest_serves(
    shop: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    page = signed_in("integrator").get("/admin/datahub/shop").text
    row = re.search(r'<tr id="exposed-Product">(.*?)</tr>', page, re.S)
    assert row and "sku, name, price" in row[1] and ">read<" in row[1]
    sdl = re.search(r'<pre id="schema-sdl"[^>]*>(.*?)</pre>', page, re.S)
    assert sdl
    served = _rest(shop).get("/api/v1/datahub/shop/schema.graphql")
    assert served.status_code == 200
    assert html.unescape(sdl[1]) == served.text
    assert "type Query" in served.text


def test_admins_see_the_keys_that_open_it_integrators_a_count(
    shop: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    key, _ = shop.access.create("storefront", ["datahub:shop"], environment="test")
    other, _ = shop.access.create("elsewhere", ["read"], environment="test")
    admin_page = signed_in("admin").get("/admin/datahub/shop").text
    assert f"<code>{key.key_id}</code>" in admin_page and "storefront" in admin_page
    assert other.key_id not in admin_page
    assert 'href="/admin/keys?scope=datahub:shop"' in admin_page
    integrator_page = signed_in("integrator").get("/admin/datahub/shop").text
    assert key.key_id not in integrator_page
    assert "1 active key(s) are made for this configuration" in integrator_page


def test_an_edit_is_validated_by_the_service_and_an_accepted_one_is_what_rest_reads(
    shop: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    bad = EDITED.replace("stock]", "stock, nope]")
    refused = client.post_form("/admin/datahub/shop", {"configuration": bad, "version": "1"})
    assert refused.status_code == 422
    error = re.search(r'id="configuration-error">(.*?)</div>', refused.text, re.S)
    assert error and "nope" in error[1]
    assert _textarea(refused.text) == str(escape(bad))
    assert shop.datahub.get("shop").version == 1

    saved = client.post_form("/admin/datahub/shop", {"configuration": EDITED, "version": "1"})
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/datahub/shop"
    rest = _rest(shop).get("/api/v1/datahub/shop").json()
    assert rest["version"] == 2
    assert rest["classes"]["Product"]["fields"] == ["sku", "name", "price", "stock"]
    assert rest["description"] == "The shop front, with stock"

    stale = client.post_form("/admin/datahub/shop", {"configuration": EDITED, "version": "1"})
    assert stale.status_code == 409 and "is at version 2, not 1" in stale.text
    renamed = EDITED.replace("name: shop", "name: other")
    answer = client.post_form("/admin/datahub/shop", {"configuration": renamed})
    assert answer.status_code == 422 and "differs from the URL" in answer.text


def test_a_configuration_is_created_refused_twice_and_deleted(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    text = _textarea(client.get("/admin/datahub").text)  # the example the page offers
    created = client.post_form("/admin/datahub", {"configuration": html.unescape(text)})
    assert created.status_code == 303 and created.headers["location"] == "/admin/datahub/shop"
    rest = _rest(users_hub)
    assert rest.get("/api/v1/datahub/shop").json()["version"] == 1
    again = client.post_form("/admin/datahub", {"configuration": html.unescape(text)})
    assert again.status_code == 409 and "already exists" in again.text
    assert _textarea(again.text) == text
    assert client.get("/admin/datahub").text.count('<tr id="config-shop">') == 1

    deleted = client.post_form("/admin/datahub/shop/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/admin/datahub"
    assert rest.get("/api/v1/datahub/shop").status_code == 404
    assert client.get("/admin/datahub/shop").status_code == 404
    assert client.post_form("/admin/datahub/shop/delete").status_code == 404


@pytest.mark.parametrize("case", ["nul", "deep", "alias bomb", "binary", "2 MB", "a list"])
def test_hostile_yaml_gets_a_4xx_page_never_a_500(
    shop: Hub, signed_in: Callable[[str], AdminClient], case: str
) -> None:
    text, status, message = HOSTILE[case]
    client = signed_in("admin")
    for path in ("/admin/datahub", "/admin/datahub/shop"):
        answer = client.post_form(path, {"configuration": text})
        assert answer.status_code == status, (path, answer.text[:500])
        assert message in answer.text
    assert [c.name for c in shop.datahub.all()] == ["shop"]
    assert shop.datahub.get("shop").version == 1


def test_a_refused_save_shows_a_summary_at_the_top(
    shop: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("admin")
    bad = EDITED.replace("stock]", "stock, nope]")
    for path in ("/admin/datahub/shop", "/admin/datahub"):
        refused = client.post_form(path, {"configuration": bad})
        assert refused.status_code in (409, 422), path
        summary_on_top(refused.text, "configuration")
        assert 'id="configuration-error"' in refused.text
    stale = client.post_form("/admin/datahub/shop", {"configuration": EDITED, "version": "7"})
    assert stale.status_code == 409
    assert "not 7" in summary_on_top(stale.text, "configuration")


@pytest.mark.parametrize(
    "text", ['name: "\\ud800"\n', EDITED.replace("The shop front, with stock", '"shop \\udc00"')]
)
def test_a_lone_surrogate_is_refused_with_a_422_never_a_500(
    shop: Hub, signed_in: Callable[[str], AdminClient], text: str
) -> None:
    client = signed_in("admin")
    for path in ("/admin/datahub", "/admin/datahub/shop"):
        answer = client.post_form(path, {"configuration": text, "version": "1"})
        assert answer.status_code == 422, path
        assert "lone surrogate" in summary_on_top(answer.text, "configuration")
    assert shop.datahub.get("shop").version == 1
    bad = client.post_form("/admin/datahub/shop", {"configuration": EDITED, "version": "²"})
    assert 400 <= bad.status_code < 500
    assert shop.datahub.get("shop").version == 1
