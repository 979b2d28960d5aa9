"""Feed `items` within bounds (inbound.feed_items.extract_items): a multiplying expression
and a message of too many items refuse the whole message with a reason, not gigabytes."""

from __future__ import annotations

import pytest

from pimhub.catalog.errors import FieldError
from pimhub.inbound import feed_items
from pimhub.inbound.feed_items import MAX_ITEMS, build_feed, extract_items
from pimhub.inbound.sources import FeedSpec

MAPPING = {"class": "Product", "fields": {"sku": "sku"}}


def feed(items: str) -> feed_items.Feed:
    return build_feed("erp", FeedSpec(("erp.stock.changed",), MAPPING, items=items))


def test_a_multiplying_expression_refuses_the_message() -> None:
    # 2**22 copies of the payload once flattened: gigabytes without a budget.
    expression = "[@,@][]" * 22
    found = extract_items(feed(expression), {"items": [{"sku": "A" * 100}]})
    assert isinstance(found, FieldError)
    assert found.field == "apply.items" and found.code == "items-too-large"
    assert "more than" in found.message and "bytes of items" in found.message


def test_too_many_items_refuse_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed_items, "MAX_ITEMS", 3)
    found = extract_items(feed("items"), {"items": [{"sku": str(n)} for n in range(4)]})
    assert isinstance(found, FieldError)
    assert found.code == "too-many-items"
    assert "4 items, more than the 3" in found.message
    assert extract_items(feed("items"), {"items": [{"sku": "x"}] * 3}) == [{"sku": "x"}] * 3


def test_the_cap_is_large_enough_for_honest_feeds() -> None:
    assert MAX_ITEMS == 100_000
    items = [{"sku": str(n)} for n in range(2_000)]
    assert extract_items(feed("items"), {"items": items}) == items
