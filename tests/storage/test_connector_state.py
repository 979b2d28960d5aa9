"""Connector state in SQL: upserts, claims of remote objects being created, and their expiry."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from pimhub.bootstrap import Hub
from pimhub.connectors.state import ItemState, SectionState
from pimhub.storage import connector_state

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def test_a_claim_is_exclusive_until_its_worker_is_presumed_gone(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = hub.connectors.state
    assert state.claim_id("shop", "category", "men") is True
    assert state.claim_id("shop", "category", "men") is False
    assert state.remote_ids("shop", "category", ["men"]) == {}  # a claim is not an id
    later = time.time() + connector_state.CLAIM_EXPIRES_SECONDS + 5
    monkeypatch.setattr(connector_state.time, "time", lambda: later)
    assert state.claim_id("shop", "category", "men") is True  # taken over
    assert state.claim_id("shop", "category", "men") is False
    state.remember_ids("shop", "category", {"men": 12})
    assert state.remote_ids("shop", "category", ["men"]) == {"men": 12}
    assert state.claim_id("shop", "category", "men") is False  # created: never claimed again
    state.release_claim("shop", "category", "men")
    assert state.all_ids("shop", "category") == {"men": 12}  # a real id is not released
    assert state.claim_id("shop", "category", "women") is True
    state.release_claim("shop", "category", "women")
    assert state.claim_id("shop", "category", "women") is True


def test_items_keep_created_by_hub_and_sections_upsert(hub: Hub) -> None:
    state = hub.connectors.state
    state.save_items("shop", [ItemState("A", "u", None, True, "pending")], NOW)
    state.save_items("shop", [ItemState("A", "u", 7, False, "synced", 3, NOW)], NOW)
    item = state.items("shop", ["A"])["A"]
    assert (item.remote_id, item.created_by_hub, item.state, item.synced_version) == (
        7,
        True,
        "synced",
        3,
    )
    state.save_sections("shop", {"A": {"all": SectionState("h1", {"name": "x"})}}, NOW)
    state.save_sections("shop", {"A": {"all": SectionState("h2", {"name": "y"})}}, NOW)
    assert state.sections("shop", ["A"])["A"]["all"] == SectionState("h2", {"name": "y"})
    assert state.counts("shop") == {"synced": 1}
    state.forget("shop")
    assert state.items("shop", ["A"]) == {} and state.sections("shop", ["A"]) == {}
