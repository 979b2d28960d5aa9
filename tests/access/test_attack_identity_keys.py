"""Attack findings on /api/v1/keys: a refused field says what is wrong with it (a string
that is too long is not 'not a string'; a list that is too long is not 'not a list')."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_rest_contract import problem


@pytest.mark.parametrize(
    ("body", "detail", "error"),
    [
        (
            {"description": "x" * 2001},
            "description is longer than 2000 characters",
            ("description", "too long"),
        ),
        (
            {"allowedNetworks": [f"10.0.{i // 256}.{i % 256}" for i in range(201)]},
            "allowedNetworks holds more than 200 items",
            ("allowedNetworks", "too many"),
        ),
        (
            {"allowedNetworks": ["10.0.0.0/8", "y" * 2001]},
            "allowedNetworks is longer than 2000 characters",
            ("allowedNetworks", "too long"),
        ),
        ({"description": 7}, "description must be a string", ("description", "not a string")),
        (
            {"allowedNetworks": {"a": 1}},
            "allowedNetworks must be a list of strings",
            ("allowedNetworks", "not a list"),
        ),
    ],
)
def test_a_refused_key_field_says_what_is_wrong(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], detail: str, error: Any
) -> None:
    made = client.post("/api/v1/keys", json={"name": "erp", "scopes": ["read"]}, headers=admin)
    assert made.status_code == 201, made.text
    key_id = made.json()["keyId"]
    for response in (
        client.patch(f"/api/v1/keys/{key_id}", json=body, headers=admin),
        client.post("/api/v1/keys", json={"name": "x", "scopes": ["read"], **body}, headers=admin),
    ):
        refused = problem(response, 422, "invalid-key")
        assert refused["detail"] == detail
        assert [(e["field"], e["message"]) for e in refused["errors"]] == [error]
