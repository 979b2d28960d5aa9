"""Source configurations the gateway cannot safely use, over REST on both backends: nested
too deep (a 500 before)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.conftest import bearer

SOURCES = "/api/v1/inbound/sources"


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
