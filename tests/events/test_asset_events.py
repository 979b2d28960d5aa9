"""Asset events for webhook endpoints: the asset.* types can be subscribed to, and a thin
payload leaves the asset's state out as it does an object's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pimhub.catalog.errors import InvalidInput
from pimhub.catalog.events import EventType, asset_event
from pimhub.events.endpoints import PayloadMode, parse_spec, shaped_payload

ASSET = {"uuid": "00000000-0000-7000-8000-000000000001", "path": "/a.png", "version": 2}
AT = datetime(2026, 1, 2, tzinfo=UTC)


def test_endpoints_subscribe_to_asset_events() -> None:
    spec = parse_spec(
        {"url": "https://erp.example/hook", "eventTypes": ["asset.created", "asset.deleted"]}
    )
    assert spec.wants("asset.created", "Asset", ("content",))
    assert not spec.wants("asset.updated", "Asset", ("content",))
    assert parse_spec({"url": "https://erp.example/hook"}).wants("asset.updated", "Asset", ())
    with pytest.raises(InvalidInput):
        parse_spec({"url": "https://erp.example/hook", "eventTypes": ["asset.moved"]})


def test_asset_event_body_and_thin_shape() -> None:
    event = asset_event(EventType.ASSET_UPDATED, ASSET, ["content"], AT, business_key="/a.png")
    assert (event.class_name, event.object_uuid, event.business_key) == (
        "Asset",
        ASSET["uuid"],
        "/a.png",
    )
    data = event.payload["data"]
    assert data == {
        "objectType": "Asset",
        "uuid": ASSET["uuid"],
        "path": "/a.png",
        "version": 2,
        "changedFields": ["content"],
        "asset": ASSET,
    }
    thin = shaped_payload(event.payload, PayloadMode.THIN)
    assert "asset" not in thin["data"] and thin["data"]["path"] == "/a.png"
    gone = asset_event(EventType.ASSET_DELETED, ASSET, [], AT, business_key="/a.png")
    assert "asset" not in gone.payload["data"]
