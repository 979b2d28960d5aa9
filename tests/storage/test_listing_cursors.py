"""Keyset cursors over REST: a cursor is only base64 JSON, so forged ones (made with the
API's own encoder, right sort signature) must come back as 400 invalid-cursor, never a 500,
and well-formed values continue the listing strictly after them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.query import FieldResolver, parse_sort
from pimhub.storage.listing import decode_cursor, encode_cursor, sort_signature

PRODUCT = next(parse_class_definition(c) for c in commerce_model() if c["name"] == "Product")
RESOLVER = FieldResolver(PRODUCT, default_language="en")
URL = "/api/v1/objects/Product"
FOREIGN = "not a cursor this API issued"
MAX_PAGES = 10


@pytest.fixture
def ids(hub: Hub) -> dict[str, int]:
    """A (stock 5, featured), B (stock 4), C (stock 6, featured: false): their internal ids."""
    made = {}
    for sku, values in (
        ("A", {"stock": 5, "featured": True}),
        ("B", {"stock": 4}),
        ("C", {"stock": 6, "featured": False}),
    ):
        obj = hub.catalog.create("Product", {"sku": sku, "name": {"en": sku}, **values}, author="t")
        assert obj.id is not None
        made[sku] = obj.id
    return made


def forged(sort: str, values: list[Any]) -> str:
    return encode_cursor(parse_sort(RESOLVER, sort.split(",")), values)


def raw_cursor(payload: Any) -> str:
    return raw_text(orjson.dumps(payload).decode())


def raw_text(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def listing(client: TestClient, admin: dict[str, str], sort: str, after: str) -> Any:
    params = {"sort": sort, "after": after, "first": "10"}
    return client.get(URL, params=params, headers=admin)


def answer(response: Any) -> tuple[int, str, str, list[dict[str, str]]]:
    body = response.json()
    return response.status_code, body.get("code"), body.get("detail"), body.get("errors")


def refused(message: str = FOREIGN) -> tuple[int, str, str, list[dict[str, str]]]:
    error = {"field": "after", "code": "invalid-cursor", "message": message}
    return 400, "invalid-query", f"cursor: {message}", [error]


STOCK_SIG = sort_signature(parse_sort(RESOLVER, ["stock"]))
FORGED = {
    "no values": ("stock", []),
    "no internal id": ("stock", [5]),
    "a value too many": ("stock", [5, 1, 1]),
    "text for a number": ("stock", ["5", 1]),
    "boolean for a number": ("stock", [True, 1]),
    "list for a number": ("stock", [[5], 1]),
    "number past 64 bits": ("stock", [2**63, 1]),
    "text id": ("stock", [5, "1"]),
    "boolean id": ("stock", [5, True]),
    "fractional id": ("stock", [5, 1.5]),
    "id zero": ("stock", [5, 0]),
    "negative id": ("stock", [5, -1]),
    "id past 64 bits": ("stock", [5, 2**63]),
    "number for text": ("sku", [5, 1]),
    "NUL in text": ("sku", ["A\x00", 1]),
    "number for a boolean": ("featured", [1, 1]),
    "text for a boolean": ("featured", ["true", 1]),
    "number for a time": ("createdAt", [1_700_000_000, 1]),
    "no time": ("createdAt", [None, 1]),
    "not a time": ("createdAt", ["yesterday", 1]),
    "time without zone": ("createdAt", ["2026-01-01T00:00:00", 1]),
    "time past year 9999 in UTC": ("modifiedAt", ["9999-12-31T23:59:59-23:59", 1]),
    "second key missing": ("-stock,sku", [5, 1]),
}


def test_forged_cursors_with_the_right_signature_are_refused(
    client: TestClient, admin: dict[str, str]
) -> None:
    answers = {
        name: answer(listing(client, admin, sort, forged(sort, values)))
        for name, (sort, values) in FORGED.items()
    }
    assert answers == {name: refused() for name in FORGED}


NO_CURSORS = {
    "not base64": "garbage!",
    "not UTF-8": base64.urlsafe_b64encode(b"\xff\xfe{").decode(),
    "empty object": raw_cursor({}),
    "list": raw_cursor([STOCK_SIG, [5, 1]]),
    "string": raw_cursor("text"),
    "number": raw_cursor(7),
    "no values": raw_cursor({"s": STOCK_SIG}),
    "no signature": raw_cursor({"v": [5, 1]}),
    "values an object": raw_cursor({"s": STOCK_SIG, "v": {"0": 5, "1": 1}}),
    "values null": raw_cursor({"s": STOCK_SIG, "v": None}),
    "infinite number": raw_text(f'{{"s": "{STOCK_SIG}", "v": [1e400, 1]}}'),
}


def test_cursors_that_are_no_cursor_are_refused(client: TestClient, admin: dict[str, str]) -> None:
    answers = {name: answer(listing(client, admin, "stock", c)) for name, c in NO_CURSORS.items()}
    assert answers == {name: refused() for name in NO_CURSORS}


def test_cursor_of_another_sort_order_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    cursor = forged("stock", [5, 1])
    message = "the cursor belongs to a different sort order; start again without it"
    for other in ("-stock", "sku", "stock,sku"):
        assert answer(listing(client, admin, other, cursor)) == refused(message)


def keys(response: Any) -> str:
    assert response.status_code == 200, response.text
    return "".join(o["key"] for o in response.json()["items"])


def test_cursor_values_at_the_edges_of_their_range_are_accepted(
    client: TestClient, admin: dict[str, str], ids: dict[str, int]
) -> None:
    # Rows strictly after the cursor's position come back: a later value, or the same
    # value and a larger internal id (smaller, descending).
    a = ids["A"]
    assert keys(listing(client, admin, "stock", forged("stock", [4.5, 1]))) == "AC"
    assert keys(listing(client, admin, "stock", forged("stock", [5, a]))) == "C"
    assert keys(listing(client, admin, "-stock", forged("-stock", [5, a + 1]))) == "AB"
    assert keys(listing(client, admin, "-stock", forged("-stock", [5, a]))) == "B"
    assert keys(listing(client, admin, "stock", forged("stock", [5, 2**63 - 1]))) == "C"
    assert keys(listing(client, admin, "stock", forged("stock", [2**63 - 1, 1]))) == ""
    assert keys(listing(client, admin, "stock", forged("stock", [-(2**63), 1]))) == "BAC"
    # The JSON parser reads a whole number past 64 bits as a float: still comparable.
    below = raw_text(f'{{"s": "{STOCK_SIG}", "v": [-9223372036854775809, 1]}}')
    assert keys(listing(client, admin, "stock", below)) == "BAC"
    assert keys(listing(client, admin, "stock", forged("stock", [None, 1]))) == ""
    assert keys(listing(client, admin, "featured", forged("featured", [False, a]))) == "BCA"
    assert keys(listing(client, admin, "sku", forged("sku", ["Aa", 1]))) == "BC"
    early, late = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
    assert keys(listing(client, admin, "createdAt", forged("createdAt", [early, 1]))) == "ABC"
    assert keys(listing(client, admin, "createdAt", forged("createdAt", [late, 1]))) == ""


def test_rest_paging_with_a_filter_visits_each_matching_row_once(
    client: TestClient, admin: dict[str, str], ids: dict[str, int]
) -> None:
    params = {"filter": '{"stock": {"$gte": 5}}', "sort": "-stock", "first": "1"}
    seen: list[str] = []
    for _ in range(MAX_PAGES):
        body = client.get(URL, params=params, headers=admin).json()
        assert body["total"] == 2
        seen += [o["key"] for o in body["items"]]
        if body["nextCursor"] is None:
            break
        params["after"] = body["nextCursor"]
    else:
        raise AssertionError("paging did not end")
    assert seen == ["C", "A"]


def test_the_cursor_format_is_stable_so_saved_cursors_survive_an_upgrade() -> None:
    # base64url without padding of {"s": sha1("-stock,sku,createdAt")[:8], "v": values}.
    sort = parse_sort(RESOLVER, ["-stock", "sku", "createdAt"])
    moment = datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
    cursor = (
        "eyJzIjoiMDA3YTI2NDkiLCJ2IjpbNSwiVFMtMSIsIjIwMjYtMDEtMDFUMDA6MDA6MDAuMjUwMDAwKzAwOjAw"
        "Iiw3XX0"
    )
    assert encode_cursor(sort, [5, "TS-1", moment, 7]) == cursor
    assert decode_cursor(sort, cursor) == [5, "TS-1", moment, 7]


@pytest.mark.usefixtures("far_east_local_time")
def test_cursor_times_are_checked_in_utc_not_in_local_time() -> None:
    sort = parse_sort(RESOLVER, ["createdAt"])
    late = "9999-12-31T23:00:00Z"
    assert decode_cursor(sort, forged("createdAt", [late, 1])) == [datetime.fromisoformat(late), 1]
