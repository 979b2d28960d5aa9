"""Filters and sorts run against a few known products on each database: exactly the
expected rows come back, in the expected order, and cursor paging visits each row once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pimhub.bootstrap import Hub
from pimhub.catalog.service import ListQuery

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S0 = int(T0.timestamp())
MAX_PAGES = 20  # more than any walk below needs: a cursor that never ends fails the test


@dataclass(frozen=True)
class Catalog:
    hub: Hub
    men: str  # category uuids
    women: str


@pytest.fixture
def catalog(hub: Hub) -> Catalog:
    """Products A-D (published) and E (a draft), created 100 seconds apart from T0; A is
    changed at T0 + 1000 s, so it is at version 2. Gaps (no stock, no German name...) are
    deliberate: they are the NULLs filters and sorts must handle."""
    c = hub.catalog
    now = [T0]
    c.clock = lambda: now[0]
    men = c.create("Category", {"code": "men", "name": {"en": "Men"}}, author="t").uuid
    women = c.create("Category", {"code": "women", "name": {"en": "Women"}}, author="t").uuid
    products: list[dict[str, Any]] = [
        {
            "sku": "A",
            "name": {"en": "Anchor", "de": "Anker"},
            "stock": 5,
            "price": {"amount": 10.5, "currency": "EUR"},
            "featured": True,
            "releasedOn": "2024-01-01",
            "availableFrom": "2024-01-01T08:00:00Z",
            "category": men,
            "color": "red",
        },
        {
            "sku": "B",
            "name": {"en": "bolt", "de": "Bolzen"},
            "stock": 4,
            "price": {"amount": 5, "currency": "USD"},
            "featured": False,
            "releasedOn": "2024-06-30",
            "availableFrom": "2024-06-30T12:00:00Z",
            "category": women,
            "color": "blue",
        },
        {
            "sku": "C",
            "name": {"en": "Cable"},
            "stock": 6,
            "price": {"amount": 99.99, "currency": "EUR"},
            "releasedOn": "2025-01-01",
        },
        {
            "sku": "D",
            "name": {"en": "Drill", "de": "Bohrer"},
            "featured": True,
            "category": men,
            "color": "red",
        },
    ]
    for i, values in enumerate(products):
        now[0] = T0 + timedelta(seconds=100 * i)
        c.create("Product", values, author="t")
    now[0] = T0 + timedelta(seconds=400)
    c.create(
        "Product", {"sku": "E", "name": {"en": "Eel"}, "stock": 5}, published=False, author="t"
    )
    now[0] = T0 + timedelta(seconds=1000)
    c.patch("Product", "A", {"weight": 1.5}, author="t")
    return Catalog(hub, men, women)


def skus(catalog: Catalog, filter: Any, *, drafts: bool = False) -> str:
    """The skus the filter selects, in sku order, as one string ("ABD")."""
    query = ListQuery(filter=json.dumps(filter), sort=["sku"], first=100, include_drafts=drafts)
    page = catalog.hub.catalog.list_objects("Product", query)
    assert page.next_cursor is None
    assert page.total == len(page.items)
    return "".join(o.key for o in page.items)


def selected(catalog: Catalog, cases: list[tuple[Any, str]]) -> dict[str, str]:
    return {json.dumps(f): skus(catalog, f) for f, _ in cases}


def expected(cases: list[tuple[Any, str]]) -> dict[str, str]:
    return {json.dumps(f): rows for f, rows in cases}


def test_number_operators_select_exactly_the_matching_rows(catalog: Catalog) -> None:
    # stock: A 5, B 4, C 6, D none. A comparison with NULL is not true, so D only ever
    # matches $null / $notnull: false.
    cases: list[tuple[Any, str]] = [
        ({"stock": 5}, "A"),
        ({"stock": {"$eq": 5.0}}, "A"),
        ({"stock": {"$ne": 5}}, "BC"),
        ({"stock": {"$gt": 5}}, "C"),
        ({"stock": {"$gte": 5}}, "AC"),
        ({"stock": {"$lt": 5}}, "B"),
        ({"stock": {"$lte": 5}}, "AB"),
        ({"stock": {"$gt": 4.5, "$lt": 5.5}}, "A"),
        ({"stock": {"$in": [4, 6, 7]}}, "BC"),
        ({"stock": [4, 6]}, "BC"),
        ({"stock": {"$nin": [4, 6]}}, "A"),
        ({"stock": {"$null": True}}, "D"),
        ({"stock": None}, "D"),
        ({"stock": {"$null": False}}, "ABC"),
        ({"stock": {"$notnull": True}}, "ABC"),
        ({"stock": {"$notnull": False}}, "D"),
        ({"stock": {"$not": 5}}, "BC"),
        ({"stock": {"$not": {"$gt": 4}}}, "B"),
        ({"stock": {"$lt": 2**63 - 1}}, "ABC"),
        ({"stock": {"$gt": -(2**63)}}, "ABC"),
        ({"price.amount": {"$gt": 10.5}}, "C"),
        ({"price.amount": {"$gte": 10.5}}, "AC"),
        ({"price.amount": {"$lte": 10.5}}, "AB"),
        ({"price": {"$lt": 10.5}}, "B"),
        ({"price.amount": {"$gte": 99.99}}, "C"),
    ]
    assert selected(catalog, cases) == expected(cases)


def test_text_operators_select_exactly_the_matching_rows(catalog: Catalog) -> None:
    # sku A-D; color: A red, B blue, C none, D red; currency: A EUR, B USD, C EUR.
    cases: list[tuple[Any, str]] = [
        ({"sku": "B"}, "B"),
        ({"sku": {"$ne": "B"}}, "ACD"),
        ({"sku": {"$gt": "B"}}, "CD"),
        ({"sku": {"$gte": "B"}}, "BCD"),
        ({"sku": {"$lt": "B"}}, "A"),
        ({"sku": {"$lte": "B"}}, "AB"),
        ({"sku": {"$in": ["A", "D", "Z"]}}, "AD"),
        ({"sku": {"$nin": ["A", "D"]}}, "BC"),
        ({"color": "red"}, "AD"),
        ({"color": {"$ne": "red"}}, "B"),
        ({"color": {"$null": True}}, "C"),
        ({"color": {"$notnull": True}}, "ABD"),
        ({"color": {"$like": "R%"}}, "AD"),
        ({"color": {"$notlike": "r%"}}, "B"),
        ({"price.currency": "EUR"}, "AC"),
        ({"price.currency": {"$like": "%s%"}}, "B"),
        ({"sku": {"$not": {"$in": ["A", "B"]}}}, "CD"),
    ]
    assert selected(catalog, cases) == expected(cases)


def test_localized_text_compares_in_the_named_or_default_language(catalog: Catalog) -> None:
    # en: Anchor, bolt, Cable, Drill; de: Anker, Bolzen, (none), Bohrer. $like ignores case.
    cases: list[tuple[Any, str]] = [
        ({"name": "bolt"}, "B"),
        ({"name.en": "bolt"}, "B"),
        ({"name.de": "Bolzen"}, "B"),
        ({"name": "Bolzen"}, ""),
        ({"name.de": {"$null": True}}, "C"),
        ({"name.de": {"$notnull": True}}, "ABD"),
        ({"name.de": {"$gte": "Bohrer"}}, "BD"),
        ({"name.de": {"$lt": "Bohrer"}}, "A"),
        ({"name": {"$like": "b%"}}, "B"),
        ({"name": {"$like": "B%"}}, "B"),
        ({"name": {"$like": "%L%"}}, "BCD"),
        ({"name": {"$like": "_able"}}, "C"),
        ({"name": {"$notlike": "%l%"}}, "A"),
        ({"name.de": {"$like": "bo%"}}, "BD"),
        ({"name.de": {"$notlike": "bo%"}}, "A"),
        ({"name": {"$in": ["Anchor", "Cable"]}}, "AC"),
        ({"name.de": {"$nin": ["Anker"]}}, "BD"),
    ]
    assert selected(catalog, cases) == expected(cases)


def test_boolean_operators_select_exactly_the_matching_rows(catalog: Catalog) -> None:
    # featured: A true, B false, C none, D true.
    cases: list[tuple[Any, str]] = [
        ({"featured": True}, "AD"),
        ({"featured": False}, "B"),
        ({"featured": {"$ne": True}}, "B"),
        ({"featured": {"$not": True}}, "B"),
        ({"featured": {"$in": [False]}}, "B"),
        ({"featured": {"$nin": [False]}}, "AD"),
        ({"featured": None}, "C"),
        ({"featured": {"$notnull": False}}, "C"),
    ]
    assert selected(catalog, cases) == expected(cases)


def test_dates_and_date_times_compare_in_time_order(catalog: Catalog) -> None:
    # releasedOn: A 2024-01-01, B 2024-06-30, C 2025-01-01; availableFrom: A, B only.
    cases: list[tuple[Any, str]] = [
        ({"releasedOn": "2024-06-30"}, "B"),
        ({"releasedOn": {"$gt": "2024-06-30"}}, "C"),
        ({"releasedOn": {"$gte": "2024-06-30"}}, "BC"),
        ({"releasedOn": {"$lt": "2024-06-30"}}, "A"),
        ({"releasedOn": {"$lte": "2024-06-30"}}, "AB"),
        ({"releasedOn": {"$null": True}}, "D"),
        ({"availableFrom": {"$gte": "2024-06-30T12:00:00Z"}}, "B"),
        ({"availableFrom": {"$lt": "2024-06-30T12:00:00Z"}}, "A"),
        ({"availableFrom": {"$notnull": True}}, "AB"),
    ]
    assert selected(catalog, cases) == expected(cases)


def test_relations_compare_by_the_target_uuid(catalog: Catalog) -> None:
    # category: A men, B women, C none, D men.
    men, women = catalog.men, catalog.women
    cases: list[tuple[Any, str]] = [
        ({"category": men}, "AD"),
        ({"category": {"$ne": men}}, "B"),
        ({"category": {"$in": [men, women]}}, "ABD"),
        ({"category": {"$nin": [women]}}, "AD"),
        ({"category": None}, "C"),
        ({"category": {"$notnull": True}}, "ABD"),
    ]
    assert selected(catalog, cases) == expected(cases)


def test_created_and_modified_at_compare_as_unix_seconds_or_iso(catalog: Catalog) -> None:
    # createdAt: A S0, B S0+100, C S0+200, D S0+300; modifiedAt the same, but A S0+1000.
    cases: list[tuple[Any, str]] = [
        ({"createdAt": S0 + 100}, "B"),
        ({"createdAt": {"$ne": S0 + 100}}, "ACD"),
        ({"createdAt": {"$gt": S0 + 100}}, "CD"),
        ({"createdAt": {"$gte": S0 + 100}}, "BCD"),
        ({"createdAt": {"$lt": S0 + 100}}, "A"),
        ({"createdAt": {"$lte": S0 + 100}}, "AB"),
        ({"createdAt": {"$lte": S0 + 99.5}}, "A"),
        ({"createdAt": {"$in": [S0, S0 + 300]}}, "AD"),
        ({"createdAt": {"$nin": [S0, S0 + 300]}}, "BC"),
        ({"createdAt": {"$gte": "2026-01-01T00:01:40Z"}}, "BCD"),
        ({"creationDate": {"$lt": "2026-01-01T01:01:40+01:00"}}, "A"),
        ({"modifiedAt": {"$gt": S0 + 300}}, "A"),
        ({"modificationDate": {"$lte": S0 + 300}}, "BCD"),
        ({"o_modificationDate": S0 + 1000}, "A"),
        ({"modifiedAt": {"$notnull": True}}, "ABCD"),
    ]
    assert selected(catalog, cases) == expected(cases)


def test_system_fields_select_exactly_the_matching_rows(catalog: Catalog) -> None:
    a = catalog.hub.catalog.get_object("Product", "A", include_drafts=False)
    cases: list[tuple[Any, str]] = [
        ({"key": "C"}, "C"),
        ({"o_key": {"$in": ["C", "D"]}}, "CD"),
        ({"uuid": a.uuid}, "A"),
        ({"version": {"$gte": 2}}, "A"),
        ({"version": 1}, "BCD"),
        ({"published": True}, "ABCD"),
    ]
    assert selected(catalog, cases) == expected(cases)
    assert skus(catalog, {"published": False}, drafts=True) == "E"
    assert skus(catalog, {"o_published": {"$ne": False}}, drafts=True) == "ABCD"
    assert skus(catalog, {"stock": 5}, drafts=True) == "AE"


def test_and_or_not_combine_conditions(catalog: Catalog) -> None:
    cases: list[tuple[Any, str]] = [
        ({"featured": True, "stock": 5}, "A"),
        ({"$and": [{"featured": True}, {"color": "red"}]}, "AD"),
        ({"$and": [{"featured": True}, {"stock": {"$notnull": True}}]}, "A"),
        ({"$or": [{"stock": 4}, {"sku": "C"}]}, "BC"),
        ({"$or": [{"stock": 4}]}, "B"),
        ({"$not": {"sku": "A"}}, "BCD"),
        # D: sku = 'A' is false, stock = 6 unknown (no stock), so neither is NOT(... OR ...).
        ({"$not": {"$or": [{"sku": "A"}, {"stock": 6}]}}, "B"),
        ({"$not": {"$or": [{"sku": "A"}, {"sku": "C"}]}}, "BD"),
        ({"$not": {"$and": [{"sku": "A"}, {"stock": 5}]}}, "BCD"),
        ({"$or": [{"$not": {"featured": True}}, {"$and": [{"sku": "D"}, {"color": "red"}]}]}, "BD"),
        ({"sku": {"$in": ["A", "B", "C"]}, "$not": {"stock": {"$lte": 4}}}, "AC"),
    ]
    assert selected(catalog, cases) == expected(cases)


def walk(catalog: Catalog, sort: list[str], first: int) -> list[str]:
    """Every page in turn, following nextCursor; the keys in the order they came."""
    keys: list[str] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        query = ListQuery(sort=sort, first=first, after=after)
        page = catalog.hub.catalog.list_objects("Product", query)
        assert page.total == 4
        assert 0 < len(page.items) <= first
        keys += [o.key for o in page.items]
        after = page.next_cursor
        if after is None:
            return keys
    raise AssertionError(f"paging {sort} by {first} did not end after {MAX_PAGES} pages")


# stock: A 5, B 4, C 6, D none; featured: A, D true, B false, C none; name.de: C none;
# color: A, D red, B blue, C none. A missing value sorts first ascending, last descending,
# and ties are broken by creation order (A, B, C, D), in the direction of the last key.
SORTS = [
    (["stock"], "DBAC"),
    (["-stock"], "CABD"),
    (["+stock"], "DBAC"),
    (["price.amount"], "DBAC"),
    (["name.de"], "CADB"),
    (["-name.de"], "BDAC"),
    (["featured"], "BCAD"),
    (["-featured"], "DACB"),
    (["-featured", "stock"], "DABC"),
    (["color", "-stock"], "CBAD"),
    (["-color", "sku"], "ADBC"),
    (["createdAt"], "ABCD"),
    (["-createdAt"], "DCBA"),
    (["modifiedAt"], "BCDA"),
    (["-version", "sku"], "ABCD"),
    (["key"], "ABCD"),
    ([], "ABCD"),
]


def test_every_page_in_turn_gives_each_row_once_in_sort_order(catalog: Catalog) -> None:
    sizes = (1, 2, 3, 4)
    walked = {",".join(sort): ["".join(walk(catalog, sort, n)) for n in sizes] for sort, _ in SORTS}
    assert walked == {",".join(sort): [order] * len(sizes) for sort, order in SORTS}
