"""The `integrate` scope: webhooks, datahub configurations, connectors and import profiles
without admin; classes, keys and users stay admin's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from pimhub.access.keys import Action, ApiKey, parse_scopes
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import InvalidInput
from tests.conftest import bearer


def _key(*scopes: str) -> ApiKey:
    return ApiKey("k", "k", "test", scopes, datetime.now(UTC))


def test_integrate_names_no_class() -> None:
    assert parse_scopes(["integrate", "read"]) == ("integrate", "read:*")
    with pytest.raises(InvalidInput):
        parse_scopes(["integrate:Product"])


def test_integrate_allows_integration_work_only() -> None:
    key = _key("integrate")
    assert key.allows(Action.INTEGRATE)
    assert not key.allows(Action.ADMIN)
    assert not key.allows(Action.WRITE, "Product")
    assert _key("admin").allows(Action.INTEGRATE)
    assert not _key("write:*", "read-drafts:*").allows(Action.INTEGRATE)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/webhooks/endpoints",
        "/api/v1/datahub",
        "/api/v1/import-profiles",
        "/api/v1/connectors",
    ],
)
def test_rest_integration_routes_take_integrate_and_name_it_when_missing(
    client: TestClient, hub: Hub, path: str
) -> None:
    assert client.get(path, headers=bearer(hub, "integrate")).status_code == 200
    refused = client.get(path, headers=bearer(hub, "write:*"))
    assert refused.status_code == 403
    assert "'integrate'" in refused.json()["detail"]


def test_class_changes_stay_admin_only(client: TestClient, hub: Hub) -> None:
    answer = client.post(
        "/api/v1/classes",
        json={"name": "Thing", "fields": [{"name": "code", "type": "text"}], "businessKey": "code"},
        headers=bearer(hub, "integrate"),
    )
    assert answer.status_code == 403
