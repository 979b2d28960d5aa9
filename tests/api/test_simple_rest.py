"""/simple-rest/{config}: search and object reads through the real app, on both databases."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pimhub.bootstrap import Hub
from tests.conftest import bearer

PARTNER: dict[str, Any] = {
    "name": "partner",
    "classes": {
        "Product": {"fields": ["sku", "name", "price", "brand", "category", "color", "material"]},
        "Category": {"fields": ["code", "name"]},
        "Brand": {"fields": ["code", "name"]},
    },
}


@pytest.fixture
def partner(sample: Hub) -> Hub:
    sample.datahub.create(PARTNER, author="test")
    return sample


@pytest.fixture
def key(partner: Hub) -> dict[str, str]:
    return bearer(partner, "datahub:partner", name="partner")


def get(client: TestClient, url: str, headers: dict[str, str], status: int = 200) -> Any:
    response = client.get(url, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def test_search_answers_total_items_and_cursor_with_exposed_fields_only(
    client: TestClient, key: dict[str, str]
) -> None:
    body = get(client, "/simple-rest/partner/search?q=tee", key)
    assert body["total"] == 1 and body["nextCursor"] is None and body["fuzzy"] is False
    item = body["items"][0]
    assert (item["class"], item["key"]) == ("Product", "TS-1")
    assert "id" not in item
    fields = item["fields"]
    assert set(fields) == {"sku", "name", "price", "brand", "category"}  # no ean, no stock
    assert fields["name"] == "Tee"
    assert fields["brand"]["key"] == "acme" and fields["category"]["key"] == "men-tops"
    german = get(client, "/simple-rest/partner/search?q=shirt&lang=de", key)
    assert german["items"][0]["fields"]["name"] == "T-Shirt"


def test_a_write_over_rest_is_searchable_in_the_next_request(
    client: TestClient, key: dict[str, str], admin: dict[str, str]
) -> None:
    response = client.patch(
        "/api/v1/objects/Product/TS-1", json={"fields": {"name": {"en": "Hoodie"}}}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert get(client, "/simple-rest/partner/search?q=hoodie", key)["total"] == 1
    assert get(client, "/simple-rest/partner/search?q=tee", key)["total"] == 0


def test_hidden_text_never_matches(partner: Hub, client: TestClient, key: dict[str, str]) -> None:
    partner.catalog.patch(
        "Product", "TS-1", {"shortDescription": {"en": "from supplier zebracorp"}}, author="t"
    )
    assert get(client, "/simple-rest/partner/search?q=zebracorp", key)["total"] == 0
    partner.datahub.create(
        {"name": "internal", "classes": {"Product": {}, "Category": {}, "Brand": {}}},
        author="t",
    )
    internal = bearer(partner, "datahub:internal", name="internal")
    assert get(client, "/simple-rest/internal/search?q=zebracorp", internal)["total"] == 1


def test_drafts_only_with_a_configuration_that_shows_them(
    partner: Hub, client: TestClient, key: dict[str, str]
) -> None:
    assert get(client, "/simple-rest/partner/search?q=draft", key)["total"] == 0
    get(client, "/simple-rest/partner/objects/TS-2", key, 404)
    partner.datahub.create(
        {"name": "editors", "drafts": True, "classes": {"Product": {"fields": ["sku", "name"]}}},
        author="t",
    )
    editors = bearer(partner, "datahub:editors", name="editors")
    assert get(client, "/simple-rest/editors/search?q=draft", editors)["total"] == 1
    assert get(client, "/simple-rest/editors/objects/TS-2", editors)["published"] is False


def test_facets_filter_and_sort(partner: Hub, client: TestClient, key: dict[str, str]) -> None:
    for i, color in enumerate(["black", "black", "white"]):
        partner.catalog.create(
            "Product",
            {
                "sku": f"H-{i}",
                "name": {"en": f"Hoodie {i}"},
                "color": color,
                "brand": "acme",
                "price": {"amount": 30 + i, "currency": "EUR"},
            },
            author="t",
        )
    url = "/simple-rest/partner/search?q=hoodie&class=Product&facets=color,brand&sort=-price"
    body = get(client, url, key)
    assert [i["key"] for i in body["items"]] == ["H-2", "H-1", "H-0"]
    assert body["facets"]["color"] == [
        {"value": "black", "count": 2},
        {"value": "white", "count": 1},
    ]
    assert body["facets"]["brand"] == [{"value": "acme", "count": 3}]
    filtered = get(client, url + '&filter={"color": "white"}', key)
    assert [i["key"] for i in filtered["items"]] == ["H-2"]
    assert filtered["facets"]["color"] == [{"value": "white", "count": 1}]


def test_cursors_walk_a_search_and_a_listing_without_repeats(
    partner: Hub, client: TestClient, key: dict[str, str]
) -> None:
    for i in range(7):
        partner.catalog.create("Product", {"sku": f"W-{i}", "name": {"en": "Widget"}}, author="t")
    for url in (
        "/simple-rest/partner/search?q=widget&size=3",
        "/simple-rest/partner/search?class=Product&size=3&sort=sku",
        "/simple-rest/partner/search?class=Product&size=3&sort=-published,sku",
    ):
        seen: list[str] = []
        cursor = None
        while True:
            page = get(client, url + (f"&after={cursor}" if cursor else ""), key)
            seen += [i["key"] for i in page["items"]]
            assert page["cursor"] == page["nextCursor"]  # the deprecated name, until it goes
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(set(seen))
        assert {s for s in seen if s.startswith("W-")} == {f"W-{i}" for i in range(7)}
    listing = get(client, "/simple-rest/partner/search?class=Product&size=3&sort=sku", key)
    assert listing["total"] == 8


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("q=x&limit=5", "limit", "unknown-parameter"),
        ("size=0", "size", "out-of-range"),
        ("size=101", "size", "out-of-range"),
        ("size=ten", "size", "out-of-range"),
        ("class=Order", "class", "invalid-value"),
        ('filter={"color":"red"}', "filter", "class-required"),
        ('class=Product&filter={"ean":"1"}', "filter.ean", "unknown-field"),
        ("class=Product&filter={oops", "filter", "invalid-json"),
        ("class=Product&sort=stock", "sort[0]", "unknown-field"),
        ("class=Product&sort=sku,brand", "sort[1]", "invalid-value"),
        ("class=Product&facets=ean", "facets", "unknown-field"),
        ("class=Product&facets=price", "facets", "invalid-value"),
        ("lang=xx", "lang", "invalid-value"),
        ("q=" + "a" * 201, "q", "too-large"),
        ("q=tee&after=bm9wZQ", "after", "invalid-cursor"),
        ("q=tee&cursor=bm9wZQ", "cursor", "invalid-cursor"),
        ("q=tee&after=&cursor=", "cursor", "invalid-value"),
        ("q=tee%00", "q", "nul-character"),
        ("size=%C2%B2", "size", "out-of-range"),
        ("size=" + "1" * 5000, "size", "out-of-range"),
        (
            'class=Product&filter={"modifiedAt":{"$gt":"9999-12-31T23:59:59-01:00"}}',
            "filter.modifiedAt.$gt",
            "invalid-value",
        ),
        (
            'class=Product&filter={"createdAt":{"$lt":1e20}}',
            "filter.createdAt.$lt",
            "invalid-value",
        ),
        ("class=Product&filter=" + "[" * 3000, "filter", "invalid-json"),
        (
            'class=Product&filter={"createdAt":{"$like":"2026%"}}',
            "filter.createdAt.$like",
            "invalid-value",
        ),
        ('class=Product&filter={"price":{"$like":"1%"}}', "filter.price.$like", "invalid-value"),
        ('class=Product&filter={"sku": "a\\u0000"}', "filter.sku", "invalid-value"),
    ],
)
def test_bad_parameters_get_400_problems_naming_them(
    client: TestClient, key: dict[str, str], query: str, field: str, code: str
) -> None:
    body = get(client, f"/simple-rest/partner/search?{query}", key, 400)
    # A NUL is refused at the edge, before the search parses anything.
    expected = "nul-character" if code == "nul-character" else "invalid-query"
    assert body["status"] == 400 and body["code"] == expected
    assert {"field": field, "code": code} == {k: body["errors"][0][k] for k in ("field", "code")}


def test_a_cursor_only_continues_its_own_search(
    partner: Hub, client: TestClient, key: dict[str, str]
) -> None:
    for i in range(3):
        partner.catalog.create("Product", {"sku": f"W-{i}", "name": {"en": "Widget"}}, author="t")
    cursor = get(client, "/simple-rest/partner/search?q=widget&size=1", key)["nextCursor"]
    body = get(client, f"/simple-rest/partner/search?q=tee&size=1&after={cursor}", key, 400)
    assert body["errors"][0] == {
        "field": "after",
        "code": "invalid-cursor",
        "message": "the cursor belongs to a different search; start again without it",
    }


@pytest.mark.parametrize("forged", [[5, 1], ["x", "1"], ["2026-01-01", 1], [None, 1.5]])
def test_a_forged_listing_cursor_is_refused_by_name(
    client: TestClient, key: dict[str, str], forged: list[Any]
) -> None:
    url = "/simple-rest/partner/search?class=Product&sort=modifiedAt&size=1"
    issued = get(client, url, key)["nextCursor"] or ""
    outer = orjson.loads(base64.urlsafe_b64decode(issued + "=" * (-len(issued) % 4)))
    inner = orjson.loads(base64.urlsafe_b64decode(outer["p"] + "=" * (-len(outer["p"]) % 4)))
    outer["p"] = _b64({**inner, "v": forged})
    body = get(client, f"{url}&after={_b64(outer)}", key, 400)
    assert body["errors"][0]["code"] == "invalid-cursor"


def _b64(data: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def test_relations_to_classes_the_configuration_does_not_expose_stay_hidden(
    partner: Hub, client: TestClient, key: dict[str, str]
) -> None:
    # The configuration shows every Product field; Product gains a relation afterwards.
    partner.datahub.create(
        {"name": "all", "classes": {"Product": {}, "Brand": {}, "Category": {}}}, author="t"
    )
    every = bearer(partner, "datahub:all", name="all")
    partner.classes.create(
        {"name": "Supplier", "businessKey": "code", "fields": [{"name": "code", "type": "text"}]},
        author="t",
    )
    raw = partner.classes.get("Product").to_dict(with_version=False)
    raw["fields"].append({"name": "supplier", "type": "relation", "target": "Supplier"})
    partner.classes.replace("Product", raw, author="t")
    partner.catalog.create("Supplier", {"code": "secret-supplier"}, author="t")
    partner.catalog.patch("Product", "TS-1", {"supplier": "secret-supplier"}, author="t")
    item = get(client, "/simple-rest/all/search?q=tee", every)["items"][0]
    assert "supplier" not in item["fields"] and "brand" in item["fields"]
    body = get(client, "/simple-rest/all/search?class=Product&facets=supplier", every, 400)
    assert body["errors"][0]["code"] == "unknown-field"


def test_keys_open_only_their_configuration(
    partner: Hub, client: TestClient, key: dict[str, str]
) -> None:
    assert get(client, "/simple-rest/partner/search", {}, 401)["code"] == "unauthorized"
    other = bearer(partner, "read:*", name="reader")
    assert get(client, "/simple-rest/partner/search", other, 403)["code"] == "forbidden"
    get(client, "/simple-rest/nope/search", key, 404)


def test_objects_by_uuid_or_business_key(
    partner: Hub, client: TestClient, key: dict[str, str]
) -> None:
    by_key = get(client, "/simple-rest/partner/objects/TS-1?lang=de", key)
    assert by_key["fields"]["name"] == "T-Shirt"
    assert get(client, f"/simple-rest/partner/objects/{by_key['uuid']}", key)["key"] == "TS-1"
    get(client, "/simple-rest/partner/objects/nothing", key, 404)
    get(client, "/simple-rest/partner/objects/TS-1%00", key, 400)
    assert (
        get(client, "/simple-rest/partner/objects/TS-1?x=1", key, 400)["errors"][0]["field"] == "x"
    )
    partner.catalog.create("Category", {"code": "acme", "name": {"en": "Acme"}}, author="t")
    ambiguous = get(client, "/simple-rest/partner/objects/acme", key, 400)
    assert ambiguous["errors"][0]["code"] == "ambiguous"
    assert get(client, "/simple-rest/partner/objects/acme?class=Brand", key)["class"] == "Brand"


def test_configuration_changes_apply_to_the_next_request(
    partner: Hub, client: TestClient, key: dict[str, str]
) -> None:
    assert "price" in get(client, "/simple-rest/partner/search?q=tee", key)["items"][0]["fields"]
    narrower = {**PARTNER, "classes": {**PARTNER["classes"], "Product": {"fields": ["sku"]}}}
    partner.datahub.replace("partner", narrower, author="t")
    fields = get(client, "/simple-rest/partner/search?q=TS-1", key)["items"][0]["fields"]
    assert fields == {"sku": "TS-1"}
    # The name is hidden now, so it no longer matches.
    assert get(client, "/simple-rest/partner/search?q=tee", key)["total"] == 0
    partner.datahub.delete("partner")
    get(client, "/simple-rest/partner/search?q=tee", key, 404)


def test_a_feeder_pulls_changes_since_its_last_run(
    partner: Hub, client: TestClient, key: dict[str, str]
) -> None:
    first = get(client, "/simple-rest/partner/search?class=Product&sort=modifiedAt", key)
    since = first["items"][-1]["modifiedAt"]
    partner.catalog.patch("Product", "TS-1", {"stock": 99}, author="t")
    partner.catalog.create("Product", {"sku": "NEW-1", "name": {"en": "New"}}, author="t")
    url = (
        "/simple-rest/partner/search?class=Product&sort=modifiedAt&size=1"
        f'&filter={{"modifiedAt": {{"$gt": "{since}"}}}}'
    )
    page = get(client, url, key)
    assert page["total"] == 2 and [i["key"] for i in page["items"]] == ["TS-1"]
    rest = get(client, f"{url}&cursor={page['cursor']}", key)
    assert [i["key"] for i in rest["items"]] == ["NEW-1"]


ODD_QUERIES = [
    '"',
    "'",
    "tee AND x",
    "NOT tee",
    "NEAR(tee shirt)",
    "*",
    "^tee",
    "name:tee",
    "{sku}: tee",
    "(",
    "&|!:<->",
    "_",
    "foo_bar",
    "東京タワー",
    "🙂",
    "-",
    "tee:*",
    "\\",
    "%",
    "x" * 200,
    "1",
    "TS-1 TS-1 TS-1",
]


@pytest.mark.parametrize("q", ODD_QUERIES)
def test_any_text_is_words_to_find_never_query_syntax(
    client: TestClient, key: dict[str, str], q: str
) -> None:
    response = client.get("/simple-rest/partner/search", params={"q": q}, headers=key)
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["total"], int)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=st.text(max_size=60))
def test_random_text_never_fails_a_search(client: TestClient, key: dict[str, str], q: str) -> None:
    response = client.get("/simple-rest/partner/search", params={"q": q}, headers=key)
    expected = 400 if "\x00" in q else 200  # a NUL is refused by name, never a 500
    assert response.status_code == expected, response.text


def test_each_class_matches_on_what_the_configuration_shows_of_it(
    partner: Hub, client: TestClient
) -> None:
    partner.datahub.create(
        {
            "name": "mixed",
            "classes": {"Product": {"fields": ["sku"]}, "Brand": {}, "Category": {}},
        },
        author="t",
    )
    mixed = bearer(partner, "datahub:mixed", name="mixed")
    partner.catalog.create("Brand", {"code": "nrd", "name": "Nordic"}, author="t")
    found = get(client, "/simple-rest/mixed/search?q=nordic", mixed)  # by the name only
    assert [(i["class"], i["key"]) for i in found["items"]] == [("Brand", "nrd")]
    assert get(client, "/simple-rest/mixed/search?q=tee", mixed)["total"] == 0  # a hidden name
    by_key = get(client, "/simple-rest/mixed/search?q=TS-1", mixed)
    assert [i["key"] for i in by_key["items"]] == ["TS-1"]
    herren = get(client, "/simple-rest/mixed/search?q=herren&lang=de", mixed)
    assert [i["key"] for i in herren["items"]] == ["men"]
