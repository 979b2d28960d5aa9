"""A created object's Location header is percent-encoded, whatever its business key holds."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub


@pytest.mark.parametrize("key", ["日本15", "Gü6", "G?2", "G#3", "a%2Fb c"])
def test_location_of_any_key(hub: Hub, client: TestClient, admin: dict[str, str], key: str) -> None:
    hub.classes.create(
        {"name": "Gadget", "businessKey": "code", "fields": [{"name": "code", "type": "text"}]},
        author="t",
    )
    created = client.post("/api/v1/objects/Gadget", json={"fields": {"code": key}}, headers=admin)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location.isascii() and "?" not in location and "#" not in location
    assert unquote(location) == f"/api/v1/objects/Gadget/{key}"
