"""The admin's refused items filtered by message (kept by the pager), the message page
linking to its refused items, and destinations labelled by kind."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace

import pytest

from pimhub.admin import inbound_audit_views
from pimhub.admin.delivery_labels import label
from pimhub.bootstrap import Hub
from pimhub.catalog.clock import utc_now
from pimhub.inbound.messages import Receipt
from pimhub.inbound.ports import Refusal
from tests.admin.conftest import AdminClient
from tests.admin.test_inbound_pages import refused  # noqa: F401
from tests.api.test_inbound_rest import send, stock


def test_refusals_filter_by_message_and_page_with_it(
    signed_in: Callable[[str], AdminClient],
    users_hub: Hub,
    refused: list[Refusal],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Three more items, of message 2.
    users_hub.feeds.refusals.record([replace(r, message=2, event_id="evt_other") for r in refused])
    others = [r for r in users_hub.feeds.refused("feed") if r.message == 2]
    assert len(others) == 3
    monkeypatch.setattr(inbound_audit_views, "PAGE", 2)
    client = signed_in("integrator")
    first = client.get("/admin/inbound/refusals?message=2")
    assert first.status_code == 200
    assert [f"refusal-{r.id}" in first.text for r in [*refused, *others]] == [
        *[False] * 3,
        True,
        True,
        False,
    ]
    more = re.search(r'href="/admin/inbound/refusals\?([^"]+)">More', first.text)
    assert more is not None and "message=2" in html.unescape(more.group(1))
    second = client.get("/admin/inbound/refusals?" + html.unescape(more.group(1)))
    assert [f"refusal-{r.id}" in second.text for r in others] == [False, False, True]
    none = client.get("/admin/inbound/refusals?message=99")
    assert "No refused items of message #99 are open." in none.text
    assert client.get("/admin/inbound/refusals?message=x").status_code in (400, 422)


def test_the_message_page_links_its_refused_items(
    signed_in: Callable[[str], AdminClient],
    users_hub: Hub,
) -> None:

    _, secret = users_hub.inbound.add_source({"name": "erp", "scheme": "shared-secret"})
    assert secret is not None
    receipt = send(users_hub, secret, "m-1", stock("T-1", 1))
    assert isinstance(receipt, Receipt)
    client = signed_in("integrator")
    page = client.get(f"/admin/inbound/messages/{receipt.message}")
    assert page.status_code == 200 and "Refused items</th><td>none" in page.text
    users_hub.feeds.refusals.record(
        [
            Refusal(0, "erp", receipt.message, "evt_m", n, "K", (), {"sku": "K"}, utc_now(), None)
            for n in range(2)
        ]
    )
    page = client.get(f"/admin/inbound/messages/{receipt.message}")
    assert (
        f'href="/admin/inbound/refusals?message={receipt.message}">2 refused, 2 open' in page.text
    )


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        ("magento", "Magento connector"),
        ("rabbitmq", "RabbitMQ broker"),
        ("catalog-feed", "catalog feed"),
        ("pigeon", "pigeon destination"),
    ],
)
def test_destinations_are_labelled_by_kind(kind: str, shown: str) -> None:
    assert label(SimpleNamespace(kind=kind), "x") == shown  # type: ignore[arg-type]
