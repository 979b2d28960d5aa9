"""An api-key inbound source takes the key the guard authenticated: the key's address
allowlist applies (403 address-not-allowed), and the key is not authenticated a second
time by the source's scheme (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.access.keys import ApiKey
from pimhub.bootstrap import Hub

BODY = b'{"sku": "A"}'
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def erp(hub: Hub) -> Hub:
    hub.inbound.add_source(
        {"name": "erp", "scheme": "api-key", "eventType": {"value": "erp.stock.changed"}}
    )
    return hub


def test_a_key_from_outside_its_networks_is_refused(erp: Hub, client: TestClient) -> None:
    _, token = erp.access.create(
        "office", ["inbound"], environment="test", allowed_networks=("10.0.0.0/8",)
    )
    answer = client.post(
        "/inbound/erp", content=BODY, headers={**JSON, "Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "address-not-allowed"


def test_the_key_is_authenticated_once(
    erp: Hub, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = erp.access.create("sender", ["inbound"], environment="test")
    again: list[Any] = []

    def second_time(given: str | None) -> ApiKey:
        again.append(given)
        raise AssertionError("the source authenticated the key again")

    monkeypatch.setattr(erp.inbound, "authenticate", second_time)
    for headers in ({"Authorization": f"Bearer {token}"}, {"X-API-Key": token}):
        answer = client.post("/inbound/erp", content=BODY, headers={**JSON, **headers})
        assert answer.status_code in (200, 201, 202), answer.text
    refused = client.post("/inbound/erp", content=BODY + b" ", headers=JSON)
    assert refused.status_code == 401, refused.text
    assert again == []
