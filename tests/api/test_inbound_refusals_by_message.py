"""A message's fate past the feed, on both backends: refused items listed by message
(store, REST ?message=) and counted in GET /messages/{id} with a link to them."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.catalog.clock import utc_now
from pimhub.inbound.messages import Receipt
from pimhub.storage.inbound_refusals import SqlRefusalStore
from tests.api.test_inbound_rest import BASE, send, stock
from tests.conftest import bearer
from tests.inbound.test_refusals_storage import refusal


def refused_items(hub: Hub, message: int, event_id: str, indexes: range) -> list[int]:
    store = SqlRefusalStore(hub.engine)
    store.record([replace(refusal(event_id, n), message=message) for n in indexes])
    mine = store.page(None, open_only=False, limit=100, after_id=None, message=message)
    return [r.id for r in mine]


def test_refusals_by_message_and_counted(bare_hub: Hub) -> None:
    store = SqlRefusalStore(bare_hub.engine)
    first = refused_items(bare_hub, 11, "evt_a", range(3))
    other = refused_items(bare_hub, 12, "evt_b", range(2))
    assert len(first) == 3 and len(other) == 2
    store.resolve([first[0]], utc_now())
    assert store.count_of_message(11) == (3, 2)
    assert store.count_of_message(12) == (2, 2)
    assert store.count_of_message(13) == (0, 0)
    assert [r.id for r in bare_hub.feeds.refused(None, message=11)] == first[1:]
    assert bare_hub.feeds.refused_of_message(12) == (2, 2)


def test_rest_lists_a_messages_refusals_and_its_fate_counts_them(
    hub: Hub, client: TestClient
) -> None:
    headers = bearer(hub, "integrate", name="integrator")
    _, secret = hub.inbound.add_source({"name": "erp", "scheme": "shared-secret"})
    assert secret is not None
    receipt = send(hub, secret, "m-1", stock("T-1", 1))
    assert isinstance(receipt, Receipt)
    message = receipt.message
    ids = refused_items(hub, message, "evt_x", range(2))
    refused_items(hub, message + 1000, "evt_y", range(1))

    listed = client.get(f"{BASE}/refusals?message={message}&open=false", headers=headers)
    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()["items"]] == ids

    shown = client.get(f"{BASE}/messages/{message}", headers=headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["refusedItems"] == {
        "count": 2,
        "open": 2,
        "href": f"{BASE}/refusals?message={message}&open=false",
    }
    bad = client.get(f"{BASE}/refusals?message=0", headers=headers)
    assert bad.status_code == 400 and "message" in bad.text
