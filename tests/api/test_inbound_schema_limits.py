"""Source configurations the gateway cannot safely use, over REST on both backends: nested
too deep (a 500 before), a $ref cycle (every message a 500 before); and a message meeting a
cyclic schema saved before cycles were refused is an audited 422."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.inbound import validation
from tests.conftest import bearer

SOURCES = "/api/v1/inbound/sources"
CYCLE = {"$defs": {"n": {"$ref": "#/$defs/n"}}, "$ref": "#/$defs/n"}


@pytest.fixture
def integrator(hub: Hub) -> dict[str, str]:
    return bearer(hub, "integrate", name="integrator")


def source(schema: Any) -> dict[str, Any]:
    return {"name": "deep", "scheme": "shared-secret", "schemas": {"a.b": schema}}


def refused(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def test_a_schema_nested_400_levels_is_a_422_naming_it(
    client: TestClient, integrator: dict[str, str]
) -> None:
    schema: Any = {"type": "object"}
    for _ in range(400):
        schema = {"allOf": [schema]}
    body = refused(client.post(SOURCES, content=json.dumps(source(schema)), headers=integrator))
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("schemas.a.b", "too-deep")]
    assert "schemas.a.b: is nested deeper than 64 levels" in body["detail"]
    mapping: Any = "sku"
    for _ in range(900):
        mapping = {"x": mapping}
    feed = {"eventTypes": ["a.b"], "mapping": {"class": "Product", "fields": mapping}}
    deep = {"name": "deep", "scheme": "shared-secret", "apply": feed}
    body = refused(client.post(SOURCES, content=json.dumps(deep), headers=integrator))
    assert body["errors"][0]["field"] == "apply.mapping"
    assert client.get(f"{SOURCES}/deep", headers=integrator).status_code == 404


def test_a_ref_cycle_is_a_422_at_save(client: TestClient, integrator: dict[str, str]) -> None:
    body = refused(client.post(SOURCES, json=source(CYCLE), headers=integrator))
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("schemas.a.b", "ref-cycle")]
    assert "#/$defs/n -> #/$defs/n" in body["detail"]


def test_a_message_meeting_a_cyclic_schema_is_an_audited_422(
    client: TestClient, integrator: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Saved before cycles were refused (loading does not check again: see
    # test_inbound_stored_sources.py, which turns the checks back on after the save).
    monkeypatch.setattr(validation, "_cycle_problems", lambda *_: [])
    created = client.post(SOURCES, json=source(CYCLE), headers=integrator)
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    headers = {"content-type": "application/json", "x-webhook-secret": secret}
    sent = client.post("/inbound/deep", content=b'{"type": "a.b"}', headers=headers)
    assert sent.status_code == 422, sent.text
    assert "references recurse without end" in sent.json()["detail"]
    audit = client.get("/api/v1/inbound/messages?source=deep", headers=integrator).json()["items"]
    assert [(m["outcome"], m["problem"]) for m in audit] == [("rejected", "invalid-message")]
