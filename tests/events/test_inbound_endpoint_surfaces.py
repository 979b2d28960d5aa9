"""Sources, transforms and inbound event types on every surface that edits an endpoint (REST,
the CLI, the admin form) with the same refusals; deliveries by eventId over REST. Both
backends (the CLI's on its own SQLite database)."""

from __future__ import annotations

import re
from collections.abc import Callable

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pimhub.bootstrap import Hub
from tests.admin.conftest import AdminClient, signed_in, users_hub
from tests.api.test_rest_contract import problem
from tests.cli.conftest import db_url, runner
from tests.cli.test_cli import init, invoke, one_line_error
from tests.events.test_inbound_routing import fan_out_all, inbound

__all__ = ["db_url", "runner", "signed_in", "users_hub"]  # fixtures, used by name

BASE = "/api/v1/webhooks"
URL = "https://hooks.example.com/in"
PUBLIC_URL = "http://93.184.216.34/hook"


def test_rest_creates_reads_and_patches_sources_and_transforms(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {
        "url": URL,
        "eventTypes": ["magento.order.placed", "erp.*", "object.created"],
        "sources": ["magento"],
        "transform": "{order: data.key}",
    }
    created = client.post(f"{BASE}/endpoints", json=body, headers=admin)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert (shown["eventTypes"], shown["sources"], shown["transform"]) == (
        body["eventTypes"],
        ["magento"],
        "{order: data.key}",
    )
    path = f"{BASE}/endpoints/{shown['id']}"
    assert client.get(path, headers=admin).json()["sources"] == ["magento"]
    patched = client.patch(path, json={"transform": None, "sources": []}, headers=admin)
    assert patched.status_code == 200
    assert (patched.json()["transform"], patched.json()["sources"]) == (None, [])
    assert patched.json()["eventTypes"] == body["eventTypes"]  # untouched


def test_rest_refuses_bad_sources_transforms_and_types_by_field(
    client: TestClient, admin: dict[str, str]
) -> None:
    answer = client.post(
        f"{BASE}/endpoints",
        json={
            "url": URL,
            "eventTypes": ["object.craeted", "magento.*"],
            "sources": ["Magento"],
            "transform": "data.[",
        },
        headers=admin,
    )
    body = problem(answer, 422, "invalid-endpoint")
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("eventTypes[0]", "option"),
        ("sources[0]", "format"),
        ("transform", "syntax"),
    }
    assert client.get(f"{BASE}/endpoints", headers=admin).json()["items"] == []
    # Hostile text: a NUL, a lone surrogate (sent as a JSON escape), huge.
    for transform in ("a\x00", "a.\ud800", "a" * 5000):
        raw = orjson.dumps({"url": URL, "transform": "X"}).replace(b'"X"', _json_string(transform))
        answer = client.post(
            f"{BASE}/endpoints",
            content=raw,
            headers={**admin, "content-type": "application/json"},
        )
        assert 400 <= answer.status_code < 500, answer.text
    assert client.get(f"{BASE}/endpoints", headers=admin).json()["items"] == []


def _json_string(text: str) -> bytes:
    """`text` as a JSON string with every non-ASCII character escaped (lone surrogates too)."""
    return (
        '"'
        + "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else f"\\u{ord(c):04x}" for c in text)
        + '"'
    ).encode()


def test_rest_lists_one_events_deliveries_by_event_id(
    hub: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    for name in ("a", "b"):
        hub.webhooks.create({"url": URL + name, "eventTypes": ["magento.*"]})
    mine = inbound(hub, "magento", "magento.order.placed", "1", {})
    inbound(hub, "magento", "magento.order.placed", "2", {})
    fan_out_all(hub)
    listed = client.get(f"{BASE}/deliveries", params={"eventId": mine}, headers=admin).json()
    assert len(listed["items"]) == 2
    assert {d["webhookId"] for d in listed["items"]} == {mine}
    assert {d["eventType"] for d in listed["items"]} == {"magento.order.placed"}
    nul = client.get(f"{BASE}/deliveries", params={"eventId": "evt\x00"}, headers=admin)
    problem(nul, 400, "nul-character")
    # Longer than any event id, or not ASCII: no such event, on both backends.
    for other in ("e" * 5000, "évt_①"):
        found = client.get(f"{BASE}/deliveries", params={"eventId": other}, headers=admin)
        assert found.status_code == 200 and found.json()["items"] == []


def test_cli_adds_and_updates_sources_and_transforms(runner: CliRunner, db_url: str) -> None:
    init(runner)
    code, out, err = invoke(
        runner,
        "webhooks",
        "create",
        "--url",
        URL,
        "--event-type",
        "magento.*",
        "--source",
        "magento",
        "--source",
        "shop-b",
        "--transform",
        "{order: data.key}",
    )
    assert code == 0, err
    endpoint_id = out.strip().splitlines()[0].split()[2]
    code, out, _ = invoke(runner, "webhooks", "list", "--json")
    [shown] = orjson.loads(out)
    assert shown["sources"] == ["magento", "shop-b"] and shown["transform"] == "{order: data.key}"
    code, out, err = invoke(
        runner, "webhooks", "update", endpoint_id, "--source", "erp", "--transform", ""
    )
    assert code == 0, err
    updated = orjson.loads(out)
    assert updated["sources"] == ["erp"] and updated["transform"] is None
    assert updated["eventTypes"] == ["magento.*"]
    code, _, err = invoke(runner, "webhooks", "update", endpoint_id, "--transform", "lenght(@)")
    line = one_line_error(code, err)
    assert "transform" in line and "lenght(), which is not a JMESPath function" in line
    code, _, err = invoke(runner, "webhooks", "update", endpoint_id, "--source", "Bad Name")
    assert "sources[0]" in one_line_error(code, err)


def test_the_admin_form_edits_sources_transform_and_inbound_types(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    answer = client.post_form(
        "/admin/webhooks/new",
        {
            "url": PUBLIC_URL,
            "eventTypes": ["object.updated"],
            "inboundTypes": "magento.order.placed, erp.*",
            "sources": "magento, erp",
            "transform": "{order: data.key}",
        },
    )
    assert answer.status_code == 201, answer.text
    [endpoint] = users_hub.webhooks.all()
    spec = endpoint.spec
    assert spec.event_types == ("object.updated", "magento.order.placed", "erp.*")
    assert spec.sources == ("magento", "erp") and spec.transform == "{order: data.key}"
    page = client.get(f"/admin/webhooks/{endpoint.endpoint_id}").text
    assert 'name="inboundTypes" value="magento.order.placed, erp.*"' in page
    assert 'name="sources" value="magento, erp"' in page
    assert ">{order: data.key}</textarea>" in page  # escaped once by the template
    assert 'value="object.updated" checked' in page
    # Saving the form as shown keeps everything (the typed types are not lost).
    stamp = users_hub.webhooks.get(endpoint.endpoint_id).updated_at.isoformat()
    saved = client.post_form(
        f"/admin/webhooks/{endpoint.endpoint_id}",
        {
            "url": PUBLIC_URL,
            "eventTypes": ["object.updated"],
            "inboundTypes": "magento.order.placed, erp.*",
            "sources": "",
            "transform": "",
            "updatedAt": stamp,
        },
    )
    assert saved.status_code == 303
    spec = users_hub.webhooks.get(endpoint.endpoint_id).spec
    assert spec.event_types == ("object.updated", "magento.order.placed", "erp.*")
    assert spec.sources == () and spec.transform is None


@pytest.mark.parametrize(
    ("field", "given", "message"),
    [
        ("transform", "data.[", "is not valid JMESPath: the expression is incomplete"),
        ("transform", "lenght(@)", "lenght(), which is not a JMESPath function"),
        ("sources", "magento, Bad Name", "is not a source name"),
        ("inboundTypes", "object.craeted", "is not one of"),
        ("inboundTypes", "magento", "dotted lower-case"),
    ],
)
def test_the_admin_form_names_bad_sources_transforms_and_types_inline(
    users_hub: Hub,
    signed_in: Callable[[str], AdminClient],
    field: str,
    given: str,
    message: str,
) -> None:
    client = signed_in("integrator")
    answer = client.post_form("/admin/webhooks/new", {"url": PUBLIC_URL, field: given})
    assert answer.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', answer.text)
    assert error is not None and message in error.group(1).replace("&#39;", "'")
    assert f'aria-describedby="{field}-error"' in answer.text
    assert users_hub.webhooks.all() == []


def test_the_admin_form_refuses_a_ticked_type_that_is_no_checkbox(
    users_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("integrator")
    answer = client.post_form(
        "/admin/webhooks/new", {"url": PUBLIC_URL, "eventTypes": ["magento.order.placed"]}
    )
    assert answer.status_code == 422 and 'id="eventTypes-error"' in answer.text
    assert users_hub.webhooks.all() == []
