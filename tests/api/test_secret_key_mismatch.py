"""A webhook secret sealed under another secret key: the REST secret route answers a 500
problem with the stable code secret-key-mismatch, never an unhandled error."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.events.secret_box import SecretBox
from tests.conftest import bearer


def test_the_secret_route_names_the_key_mismatch(hub: Hub, client: TestClient) -> None:
    made = hub.webhooks.create({"url": "https://hooks.example.com/a"})
    hub.webhooks.sealer = SecretBox("another key")
    path = f"/api/v1/webhooks/endpoints/{made.endpoint.endpoint_id}/secret"
    answer = client.get(path, headers=bearer(hub, "admin"))
    assert answer.status_code == 500, answer.text
    body = answer.json()
    assert body["code"] == "secret-key-mismatch"
    assert "PIMHUB_SECRET_KEY" in body["detail"]
