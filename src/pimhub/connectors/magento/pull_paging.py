"""The pull's reads of Magento's product list: paging by updated_at, and look-ups by a list
of values."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pimhub.connectors.magento.client import search_criteria
from pimhub.connectors.magento.push import Pusher


async def pages(
    pusher: Pusher, since: str | None, page_size: int
) -> AsyncIterator[list[Mapping[str, Any]]]:
    """Products by (updated_at, entity_id). After each page the filter moves up to the page's
    highest updated_at and paging starts again at page 1 (skipping the products already
    seen at exactly that time): page numbers over a moving catalog would skip a product
    whenever one before it is saved meanwhile and moves to the end. Paged by total_count:
    Magento answers a page past the end with the last page again."""
    cursor, number = since, 1
    seen_at_cursor: set[int] = set()
    while True:
        filters = [("updated_at", cursor, "gteq")] if cursor else []
        params = search_criteria(
            filters,
            page_size=page_size,
            current_page=number,
            sort=[("updated_at", "ASC"), ("entity_id", "ASC")],
        )
        reply = await pusher.client.request("GET", "/V1/products", params=params)
        data = reply.data if isinstance(reply.data, Mapping) else {}
        total = data.get("total_count")
        total = total if isinstance(total, int) else 0
        if (number - 1) * page_size >= total:
            return
        items = [p for p in data.get("items") or [] if isinstance(p, Mapping) and p.get("sku")]
        fresh = [p for p in items if p.get("id") not in seen_at_cursor]
        if fresh:
            yield fresh
        if number >= math.ceil(total / page_size) or not items:
            return
        top = max(str(p.get("updated_at") or "") for p in items)
        at_top = {p["id"] for p in items if str(p.get("updated_at") or "") == top}
        if top and top != cursor:
            cursor, number, seen_at_cursor = top, 1, at_top
        else:
            # A whole page at one time: the filter cannot move, the page number does.
            number += 1
            seen_at_cursor |= at_top


async def list_products(pusher: Pusher, store: str, name: str, values: Sequence[str]) -> list[Any]:
    """Products whose `name` is one of `values` (one call), in the given store view."""
    params = search_criteria([(name, ",".join(values), "in")], page_size=len(values))
    reply = await pusher.client.request("GET", "/V1/products", store=store, params=params)
    data = reply.data if isinstance(reply.data, Mapping) else {}
    return [p for p in data.get("items") or [] if isinstance(p, Mapping)]
