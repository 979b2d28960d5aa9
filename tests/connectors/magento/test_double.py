"""The Magento contract double: state in Magento's shapes, schema validation of every body,
OAuth, configurable rules, options, stock, bulks, search criteria and failure injection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256
from oauthlib.oauth1 import Client as OAuth1Signer

from pimhub.connectors.magento.client import MagentoCredentials

from .double import DEFAULT_CREDENTIALS, MagentoDouble
from .schema import body_validator, definition_validator, validate_body, validate_response
from .server import DoubleServer

BASE = "http://magento.test"


class OAuth1(httpx.Auth):
    """Signs each request independently of the connector's client (HMAC-SHA256, query included)."""

    def __init__(self, credentials: MagentoCredentials, nonce: str | None = None) -> None:
        self.credentials = credentials
        self.nonce = nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        signer = OAuth1Signer(
            self.credentials.consumer_key,
            client_secret=self.credentials.consumer_secret,
            resource_owner_key=self.credentials.access_token,
            resource_owner_secret=self.credentials.access_token_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            nonce=self.nonce,
        )
        method = cast(Any, request.method)
        _, headers, _ = signer.sign(str(request.url), http_method=method)
        request.headers["Authorization"] = headers["Authorization"]
        yield request


@asynccontextmanager
async def magento(
    double: MagentoDouble, auth: httpx.Auth | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=double)
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE, auth=auth or OAuth1(double.credentials)
    ) as client:
        yield client


def run(double: MagentoDouble, scenario: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with magento(double) as client:
            await scenario(client)

    asyncio.run(main())


def simple(sku: str, **values: Any) -> dict[str, Any]:
    custom = values.pop("custom", {})
    product: dict[str, Any] = {
        "sku": sku,
        "name": values.pop("name", f"Product {sku}"),
        "attribute_set_id": 4,
        "price": values.pop("price", 10.0),
        "status": 1,
        "visibility": 4,
        "type_id": values.pop("type_id", "simple"),
        **values,
    }
    if custom:
        product["custom_attributes"] = [
            {"attribute_code": code, "value": value} for code, value in custom.items()
        ]
    return {"product": product}


# Where Magento itself answers outside its published schema, and the double does the same.
KNOWN_DEVIATIONS = (
    "low_stock_date: None is not of type 'string'",
    "result_serialized_data: None is not of type 'string'",
    "result_message: None is not of type 'string'",
    "error_code: None is not of type 'integer'",
)


def answer_problems(method: str, route: str, body: Any) -> list[str]:
    problems = validate_response(method, route, body)
    return [p for p in problems if not p.endswith(KNOWN_DEVIATIONS)]


def custom_value(product: dict[str, Any], code: str) -> Any:
    for item in product["custom_attributes"]:
        if item["attribute_code"] == code:
            return item["value"]
    return None


# ---------------------------------------------------------------------------- schema


def test_fast_validator_agrees_with_jsonschema() -> None:
    validator = body_validator("PUT", "/V1/products/{sku}")
    assert validator is not None
    bodies: list[Any] = [
        simple("A"),
        {"product": {"sku": "A", "price": "abc"}},
        {"product": {"sku": "A", "price": True}},
        {"product": {"sku": "A", "status": 1.0}},
        {"product": {"sku": "A", "custom_attributes": [{"attribute_code": "x"}]}},
        {"product": {"sku": "A", "custom_attributes": [{"attribute_code": "x", "value": ["1"]}]}},
        {"product": []},
        {"product": {"name": "no sku"}},
        {"product": {"sku": "A", "extension_attributes": {"stock_item": {"qty": 1}}}},
        {"product": {"sku": "A", "extension_attributes": {"website_ids": ["1"]}}},
        {"product": {"sku": "A", "extension_attributes": {"category_links": [{"position": 1}]}}},
        {"saveOptions": True},
        [],
        None,
    ]
    for body in bodies:
        assert validator.is_valid(body) == validator.jsonschema.is_valid(body), body
    assert validate_body("PUT", "/V1/products/{sku}", {"product": {"sku": "A", "price": "x"}}) == [
        "$.product.price: 'x' is not of type 'number'"
    ]
    assert validate_body("GET", "/V1/products/{sku}", None) == []


# ---------------------------------------------------------------------------- products


def test_valid_put_is_stored_and_read_back(magento_double: MagentoDouble) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        body = simple("MB01", custom={"color": "4", "ean": "4006381333931"})
        put = await client.put("/rest/all/V1/products/MB01", json=body)
        assert put.status_code == 200, put.text
        assert put.json()["id"] == 1
        got = await client.get("/rest/all/V1/products/MB01")
        assert got.status_code == 200
        product = got.json()
        assert product["name"] == "Product MB01"
        assert product["price"] == 10.0
        assert custom_value(product, "color") == "4"
        assert custom_value(product, "ean") == "4006381333931"
        assert answer_problems("GET", "/V1/products/{sku}", product) == []
        missing = await client.get("/rest/all/V1/products/NOPE")
        assert missing.status_code == 404
        assert missing.json()["message"].startswith("The product that was requested doesn't")
        assert (await client.delete("/rest/all/V1/products/MB01")).json() is True
        assert magento_double.product("MB01") is None

    run(magento_double, scenario)
    assert magento_double.writes_for("MB01") == 1
    assert [r.status for r in magento_double.requests] == [200, 200, 404, 200]


def test_post_and_sku_with_a_slash(magento_double: MagentoDouble) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        posted = await client.post("/rest/all/V1/products", json=simple("A/B"))
        assert posted.status_code == 200, posted.text
        got = await client.get("/rest/all/V1/products/A%2FB")
        assert got.json()["sku"] == "A/B"

    run(magento_double, scenario)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"product": {"sku": "X", "price": "abc"}}, "$.product.price"),
        (
            {"product": {"sku": "X", "custom_attributes": [{"attribute_code": "color"}]}},
            "$.product.custom_attributes[0]",
        ),
        ({"product": []}, "$.product"),
    ],
)
def test_invalid_body_is_refused_and_recorded(
    magento_double: MagentoDouble, body: Any, problem: str
) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        answer = await client.put("/rest/all/V1/products/X", json=body)
        assert answer.status_code == 400
        assert "message" in answer.json()

    run(magento_double, scenario)
    assert len(magento_double.violations) >= 1
    assert magento_double.violations[0].startswith(f"PUT /rest/all/V1/products/X: {problem}")
    assert magento_double.product("X") is None
    magento_double.violations.clear()


def test_create_needs_attribute_set_name_and_price(magento_double: MagentoDouble) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        answer = await client.put("/rest/all/V1/products/N", json={"product": {"sku": "N"}})
        assert answer.status_code == 400
        assert answer.json()["message"] == (
            'The "%1" attribute value is empty. Set the attribute and try again.'
        )
        ok = await client.put("/rest/all/V1/products/N", json=simple("N"))
        assert ok.status_code == 200
        # an existing product takes partial bodies
        partial = await client.put("/rest/all/V1/products/N", json={"product": {"sku": "N"}})
        assert partial.status_code == 200

    run(magento_double, scenario)


def test_merge_keeps_what_was_not_sent(magento_double: MagentoDouble) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        await client.put("/rest/all/V1/products/M", json=simple("M", custom={"ean": "1"}))
        magento_double.set_value("M", "media_gallery_entries", [{"id": 7, "file": "/m/a.jpg"}])
        magento_double.set_value("M", "description", "written in Magento")
        update = {"product": {"sku": "M", "price": 12.5}}
        await client.put("/rest/all/V1/products/M", json=update)

    run(magento_double, scenario)
    product = magento_double.product("M")
    assert product is not None
    assert product["price"] == 12.5
    assert product["media_gallery_entries"] == [{"id": 7, "file": "/m/a.jpg"}]
    assert custom_value(product, "description") == "written in Magento"
    assert custom_value(product, "ean") == "1"
    assert magento_double.writes_for("M") == 2


def test_store_code_write_becomes_an_override_only() -> None:
    double = MagentoDouble(stores={"default": 1, "de": 1})

    async def scenario(client: httpx.AsyncClient) -> None:
        await client.put("/rest/all/V1/products/S", json=simple("S", name="Shirt"))
        localized = {"product": {"sku": "S", "name": "Hemd", "price": 99.0}}
        assert (await client.put("/rest/de/V1/products/S", json=localized)).status_code == 200
        assert (await client.get("/rest/de/V1/products/S")).json()["name"] == "Hemd"
        assert (await client.get("/rest/default/V1/products/S")).json()["name"] == "Shirt"
        await client.put("/rest/all/V1/products/S", json={"product": {"sku": "S", "name": "Tee"}})
        # the override hides later global changes, as in Magento
        assert (await client.get("/rest/de/V1/products/S")).json()["name"] == "Hemd"
        unknown = await client.get("/rest/fr/V1/products/S")
        assert unknown.status_code == 404
        assert unknown.json()["message"] == "Request does not match any route."

    asyncio.run(_with(double, scenario))
    assert double.store_overrides("S", "de") == {"name": "Hemd"}
    product = double.product("S")
    assert product is not None and product["name"] == "Tee"
    assert product["price"] == 99.0  # price is a global-scope attribute
    assert double.violations == []


async def _with(
    double: MagentoDouble, scenario: Callable[[httpx.AsyncClient], Awaitable[None]]
) -> None:
    async with magento(double) as client:
        await scenario(client)


def test_create_through_a_store_code_copies_every_value(magento_double: MagentoDouble) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        answer = await client.post("/rest/default/V1/products", json=simple("D", name="Desk"))
        assert answer.status_code == 200

    run(magento_double, scenario)
    assert magento_double.store_overrides("D", "default")["name"] == "Desk"


# ---------------------------------------------------------------------------- configurable


def test_configurable_linking_rules(magento_double: MagentoDouble) -> None:
    double = magento_double
    color = double.attribute_id("color")
    black, blue = double.option_id("color", "Black"), double.option_id("color", "Blue")

    async def scenario(client: httpx.AsyncClient) -> None:
        for sku, value in (("C-BK", black), ("C-BK2", black), ("C-BL", blue)):
            await client.put(
                f"/rest/all/V1/products/{sku}", json=simple(sku, custom={"color": str(value)})
            )
        await client.put("/rest/all/V1/products/C-NONE", json=simple("C-NONE"))
        await client.put("/rest/all/V1/products/PLAIN", json=simple("PLAIN"))
        parent = simple("C", type_id="configurable")
        await client.put("/rest/all/V1/products/C", json=parent)

        async def add(parent_sku: str, child: str) -> httpx.Response:
            url = f"/rest/all/V1/configurable-products/{parent_sku}/child"
            return await client.post(url, json={"childSku": child})

        refused = await add("PLAIN", "C-BK")
        assert refused.status_code == 400
        assert (
            refused.json()["message"] == "Parent product does not have configurable product options"
        )
        assert (await add("C", "C-BK")).status_code == 400  # no options yet
        option = {
            "option": {
                "attribute_id": str(color),
                "label": "Color",
                "position": 0,
                "values": [{"value_index": black}, {"value_index": blue}],
            }
        }
        created = await client.post("/rest/all/V1/configurable-products/C/options", json=option)
        assert created.status_code == 200, created.text
        assert (await add("C", "C-BK")).json() is True
        again = await add("C", "C-BK")
        assert again.status_code == 400
        assert again.json()["message"] == "Product has been already attached"
        same = await add("C", "C-BK2")
        assert same.status_code == 400
        assert "same set of attribute values" in same.json()["message"]
        lacking = await add("C", "C-NONE")
        assert lacking.status_code == 400
        assert lacking.json() == {
            "message": "Child product does not have attribute value %1",
            "parameters": ["color"],
        }
        assert (await add("C", "C-BL")).json() is True
        children = await client.get("/rest/all/V1/configurable-products/C/children")
        assert [c["sku"] for c in children.json()] == ["C-BK", "C-BL"]
        removed = await client.delete("/rest/all/V1/configurable-products/C/children/C-BK")
        assert removed.json() is True

    run(double, scenario)
    assert double.children("C") == ["C-BL"]


def test_configurable_options_and_links_in_one_put(magento_double: MagentoDouble) -> None:
    double = magento_double
    size = double.attribute_id("size")
    small, medium = double.option_id("size", "S"), double.option_id("size", "M")
    assert small is not None and medium is not None

    async def scenario(client: httpx.AsyncClient) -> None:
        ids = []
        for sku, value in (("T-S", small), ("T-M", medium)):
            answer = await client.put(
                f"/rest/all/V1/products/{sku}", json=simple(sku, custom={"size": str(value)})
            )
            ids.append(answer.json()["id"])
        parent = simple("T", type_id="configurable")
        parent["product"]["extension_attributes"] = {
            "configurable_product_options": [
                {
                    "attribute_id": str(size),
                    "label": "Size",
                    "position": 0,
                    "values": [{"value_index": small}, {"value_index": medium}],
                }
            ],
            "configurable_product_links": ids,
        }
        answer = await client.put("/rest/all/V1/products/T", json=parent)
        assert answer.status_code == 200, answer.text
        extension = answer.json()["extension_attributes"]
        assert extension["configurable_product_links"] == ids
        links = {"configurable_product_links": [ids[0], ids[0]]}
        duplicate = {"product": {"sku": "T", "extension_attributes": links}}
        assert (await client.put("/rest/all/V1/products/T", json=duplicate)).status_code == 400

    run(double, scenario)
    assert double.children("T") == ["T-S", "T-M"]


# ---------------------------------------------------------------------------- options


def test_option_creation_and_duplicate_label(magento_double: MagentoDouble) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        url = "/rest/all/V1/products/attributes/color/options"
        option = {
            "option": {
                "label": "Green",
                "value": "",
                "store_labels": [
                    {"store_id": 0, "label": "Green"},
                    {"store_id": 1, "label": "Grün"},
                ],
            }
        }
        created = await client.post(url, json=option)
        assert created.status_code == 200, created.text
        new_id = created.json()
        assert isinstance(new_id, str) and new_id.isdigit()
        listed = await client.get(url)
        assert {"label": "Green", "value": new_id} in listed.json()
        duplicate = await client.post(url, json=option)
        assert duplicate.status_code == 400
        assert duplicate.json() == {
            "message": 'Admin store attribute option label "%1" is already exists.',
            "parameters": ["Green"],
        }
        text = await client.post(
            "/rest/all/V1/products/attributes/ean/options",
            json={"option": {"label": "x", "value": ""}},
        )
        assert text.status_code == 400
        attribute = await client.get("/rest/all/V1/products/attributes/color")
        assert attribute.json()["attribute_id"] == magento_double.attribute_id("color")
        assert (
            answer_problems("GET", "/V1/products/attributes/{attributeCode}", attribute.json())
            == []
        )
        missing = await client.get("/rest/all/V1/products/attributes/nope")
        assert missing.status_code == 404

    run(magento_double, scenario)
    green = magento_double.option_id("color", "Green")
    assert green is not None
    assert magento_double.option_labels("color", green) == {0: "Green", 1: "Grün"}


# ---------------------------------------------------------------------------- stock


def test_source_items_and_legacy_stock_leave_updated_at_alone() -> None:
    stamps = iter(datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in range(0, 60))
    now = [next(stamps)]
    double = MagentoDouble(clock=lambda: now[0])

    async def scenario(client: httpx.AsyncClient) -> None:
        await client.put("/rest/all/V1/products/ST", json=simple("ST"))
        now[0] = next(stamps)
        items = {
            "sourceItems": [{"sku": "ST", "source_code": "default", "quantity": 5, "status": 1}]
        }
        saved = await client.post("/rest/all/V1/inventory/source-items", json=items)
        assert saved.status_code == 200, saved.text
        query = {
            "searchCriteria[filter_groups][0][filters][0][field]": "sku",
            "searchCriteria[filter_groups][0][filters][0][value]": "ST",
        }
        listed = await client.get("/rest/all/V1/inventory/source-items", params=query)
        assert listed.json()["items"] == [
            {"sku": "ST", "source_code": "default", "quantity": 5, "status": 1}
        ]
        bad = {"sourceItems": [{"sku": "ST", "source_code": "default", "quantity": "many"}]}
        assert (
            await client.post("/rest/all/V1/inventory/source-items", json=bad)
        ).status_code == 400
        stock_item = definition_validator("catalog-inventory-data-stock-item-interface")
        full = (await client.get("/rest/all/V1/products/ST")).json()["extension_attributes"]
        legacy = {**full["stock_item"], "qty": 7.0, "is_in_stock": True, "low_stock_date": ""}
        assert stock_item.errors(legacy) == []
        answer = await client.put(
            "/rest/all/V1/products/ST/stockItems/1", json={"stockItem": legacy}
        )
        assert answer.status_code == 200, answer.text

    asyncio.run(_with(double, scenario))
    assert double.stock("ST") == {
        "sku": "ST",
        "source_code": "default",
        "quantity": 7.0,
        "status": 1,
    }
    product = double.product("ST")
    assert product is not None
    assert product["updated_at"] == "2026-01-01 00:00:00"
    assert len(double.violations) == 1 and "quantity" in double.violations[0]


# ---------------------------------------------------------------------------- bulk


def test_bulk_with_one_operation_failing() -> None:
    double = MagentoDouble(bulk_delay=0.01)
    double.bulk_outcome("B2", 3, message='The value of attribute "ean" must be unique')
    double.bulk_outcome("B3", 4)

    async def scenario(client: httpx.AsyncClient) -> None:
        bodies = [simple(f"B{i}") for i in range(4)]
        accepted = await client.post("/rest/all/async/bulk/V1/products", json=bodies)
        assert accepted.status_code == 202, accepted.text
        answer = accepted.json()
        assert answer["errors"] is False
        assert [item["status"] for item in answer["request_items"]] == ["accepted"] * 4
        bulk_uuid = answer["bulk_uuid"]
        url = f"/rest/all/V1/bulk/{bulk_uuid}/detailed-status"
        assert {op["status"] for op in (await client.get(url)).json()["operations_list"]} == {4}
        await double.wait_for_bulks()
        detailed = (await client.get(url)).json()
        assert answer_problems("GET", "/V1/bulk/{bulkUuid}/detailed-status", detailed) == []
        statuses = {op["id"]: op["status"] for op in detailed["operations_list"]}
        assert statuses == {0: 1, 1: 1, 2: 3, 3: 4}
        failed = detailed["operations_list"][2]
        assert failed["result_message"] == 'The value of attribute "ean" must be unique'
        assert (
            failed["topic_name"] == "async.magento.catalog.api.productrepositoryinterface.save.post"
        )
        count = await client.get(f"/rest/all/V1/bulk/{bulk_uuid}/operation-status/1")
        assert count.json() == 2
        double.release_open()
        summary = (await client.get(f"/rest/all/V1/bulk/{bulk_uuid}/status")).json()
        assert [op["status"] for op in summary["operations_list"]] == [1, 1, 3, 1]
        by_sku = [{"product": {"sku": "B0", "price": 3.5}}]
        put = await client.put("/rest/all/async/bulk/V1/products/bySku", json=by_sku)
        assert put.status_code == 202
        invalid = await client.put(
            "/rest/all/async/bulk/V1/products/bySku",
            json=[{"product": {"sku": "B0", "price": "x"}}],
        )
        assert invalid.status_code == 400
        await double.wait_for_bulks()
        missing = await client.get("/rest/all/V1/bulk/nope/detailed-status")
        assert missing.status_code == 404

    asyncio.run(_with(double, scenario))
    assert double.product("B2") is None
    assert double.product("B3") is not None
    b0 = double.product("B0")
    assert b0 is not None and b0["price"] == 3.5
    assert double.writes_for("B0") == 2
    assert double.violations == [
        "PUT /rest/all/async/bulk/V1/products/bySku: "
        "$[0].product.price: 'x' is not of type 'number'"
    ]


# ---------------------------------------------------------------------------- auth


def test_oauth_refusals() -> None:
    double = MagentoDouble()
    wrong = MagentoCredentials("double-consumer-key", "wrong", "double-access-token", "x")

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=double)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as bare:
            unsigned = await bare.get("/rest/all/V1/products/A")
            assert unsigned.status_code == 401
            assert unsigned.json() == {
                "message": "The consumer isn't authorized to access %resources.",
                "parameters": {"resources": "Magento_Catalog::products"},
            }
            bearer = {"Authorization": f"Bearer {DEFAULT_CREDENTIALS.access_token}"}
            assert (await bare.get("/rest/all/V1/products/A", headers=bearer)).status_code == 401
        async with magento(double, OAuth1(wrong)) as forged:
            assert (await forged.get("/rest/all/V1/products/A")).status_code == 401
        async with magento(double, OAuth1(DEFAULT_CREDENTIALS, nonce="fixed-nonce")) as replay:
            query = {"searchCriteria[pageSize]": "5"}
            assert (await replay.get("/rest/all/V1/products", params=query)).status_code == 200
            assert (await replay.get("/rest/all/V1/products", params=query)).status_code == 401

    asyncio.run(scenario())
    bearer_double = MagentoDouble(allow_bearer=True)

    async def with_bearer() -> None:
        transport = httpx.ASGITransport(app=bearer_double)
        headers = {"Authorization": f"Bearer {DEFAULT_CREDENTIALS.access_token}"}
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers) as c:
            assert (await c.get("/rest/all/V1/products/A")).status_code == 404

    asyncio.run(with_bearer())


# ---------------------------------------------------------------------------- search


def test_search_criteria_paging_and_updated_at_filter() -> None:
    start = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    now = [start]
    double = MagentoDouble(clock=lambda: now[0])

    async def scenario(client: httpx.AsyncClient) -> None:
        for i in range(7):
            now[0] = start + timedelta(minutes=i)
            await client.put(f"/rest/all/V1/products/P{i}", json=simple(f"P{i}"))
        missing = await client.get("/rest/all/V1/products")
        assert missing.status_code == 400
        page = await client.get(
            "/rest/all/V1/products",
            params={"searchCriteria[pageSize]": "3", "searchCriteria[currentPage]": "2"},
        )
        body = page.json()
        assert [p["sku"] for p in body["items"]] == ["P3", "P4", "P5"]
        assert body["total_count"] == 7
        assert body["search_criteria"]["current_page"] == 2
        assert answer_problems("GET", "/V1/products", body) == []
        past = await client.get(
            "/rest/all/V1/products",
            params={"searchCriteria[pageSize]": "3", "searchCriteria[currentPage]": "9"},
        )
        assert [p["sku"] for p in past.json()["items"]] == ["P6"]  # Magento clamps to the last page
        camel = {
            "searchCriteria[filterGroups][0][filters][0][field]": "updated_at",
            "searchCriteria[filterGroups][0][filters][0][value]": "2026-03-01 12:04:00",
            "searchCriteria[filterGroups][0][filters][0][conditionType]": "gteq",
            "searchCriteria[sortOrders][0][field]": "updated_at",
            "searchCriteria[sortOrders][0][direction]": "DESC",
        }
        recent = await client.get("/rest/all/V1/products", params=camel)
        assert [p["sku"] for p in recent.json()["items"]] == ["P6", "P5", "P4"]
        snake = {
            "searchCriteria[filter_groups][0][filters][0][field]": "sku",
            "searchCriteria[filter_groups][0][filters][0][value]": "P1,P2",
            "searchCriteria[filter_groups][0][filters][0][condition_type]": "in",
            "searchCriteria[filter_groups][1][filters][0][field]": "type_id",
            "searchCriteria[filter_groups][1][filters][0][value]": "simple",
        }
        chosen = await client.get("/rest/all/V1/products", params=snake)
        assert [p["sku"] for p in chosen.json()["items"]] == ["P1", "P2"]
        like = {
            "searchCriteria[filter_groups][0][filters][0][field]": "sku",
            "searchCriteria[filter_groups][0][filters][0][value]": "p%",
            "searchCriteria[filter_groups][0][filters][0][condition_type]": "like",
            "searchCriteria[filter_groups][0][filters][1][field]": "status",
            "searchCriteria[filter_groups][0][filters][1][value]": "2",
        }
        assert (await client.get("/rest/all/V1/products", params=like)).json()["total_count"] == 7

    asyncio.run(_with(double, scenario))


def test_categories(magento_double: MagentoDouble) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        root = (await client.get("/rest/all/V1/categories/2")).json()
        assert root["name"] == "Default Category"
        created = await client.post(
            "/rest/all/V1/categories",
            json={"category": {"name": "Bags", "parent_id": 2, "is_active": True}},
        )
        assert created.status_code == 200, created.text
        bags = created.json()
        assert bags["path"] == "1/2/" + str(bags["id"])
        query = {
            "searchCriteria[filter_groups][0][filters][0][field]": "parent_id",
            "searchCriteria[filter_groups][0][filters][0][value]": "2",
        }
        listed = (await client.get("/rest/all/V1/categories/list", params=query)).json()
        assert [c["name"] for c in listed["items"]] == ["Bags"]
        orphan = {"category": {"name": "X", "parent_id": 999}}
        assert (await client.post("/rest/all/V1/categories", json=orphan)).status_code == 404
        assert (await client.get("/rest/all/V1/categories/999")).status_code == 404

    run(magento_double, scenario)
    assert magento_double.categories[2]["children"] != ""


# ---------------------------------------------------------------------------- failures


def test_down_up_and_injected_failures(magento_double: MagentoDouble) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        magento_double.down()
        answer = await client.get("/rest/all/V1/products/A")
        assert answer.status_code == 503
        assert answer.headers["content-type"].startswith("text/html")
        magento_double.up()
        assert (await client.get("/rest/all/V1/products/A")).status_code == 404
        magento_double.fail_next(2, 429, path_contains="/V1/products/A", retry_after=3)
        first = await client.get("/rest/all/V1/products/A")
        assert (first.status_code, first.headers["retry-after"]) == (429, "3")
        assert (await client.get("/rest/all/V1/categories/2")).status_code == 200
        assert (await client.get("/rest/all/V1/products/A")).status_code == 429
        assert (await client.get("/rest/all/V1/products/A")).status_code == 404
        magento_double.delay(0.2)
        started = time.monotonic()
        assert (await client.get("/rest/all/V1/categories/2")).status_code == 200
        assert time.monotonic() - started >= 0.2
        magento_double.delay(0)
        other = await client.get("/rest/all/V2/nothing")
        assert other.status_code == 404

    run(magento_double, scenario)


def test_server_stop_and_start_on_the_same_port(
    magento_double: MagentoDouble, magento_server: DoubleServer
) -> None:
    url = magento_server.base_url
    auth = OAuth1(magento_double.credentials)
    with httpx.Client(base_url=url, auth=auth, timeout=2) as client:
        assert client.put("/rest/all/V1/products/SRV", json=simple("SRV")).status_code == 200
        magento_server.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/rest/all/V1/products/SRV")
        magento_server.start()
        assert magento_server.base_url == url
        assert client.get("/rest/all/V1/products/SRV").json()["sku"] == "SRV"
        magento_double.delay(0.5)
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.get("/rest/all/V1/products/SRV", timeout=0.1)
        assert time.monotonic() - started < 0.5
        magento_double.delay(0)
        magento_double.bulk_outcome("SRV-1", 4)
        bodies = [simple("SRV-0"), simple("SRV-1")]
        accepted = client.post("/rest/all/async/bulk/V1/products", json=bodies)
        assert accepted.status_code == 202
        magento_double.wait_for_bulks_sync()
        magento_double.release_open()
        bulk = magento_double.bulks[accepted.json()["bulk_uuid"]]
        assert [op["status"] for op in bulk["operations_list"]] == [1, 1]


def test_refused_save_changes_nothing_and_url_keys_are_unique(
    magento_double: MagentoDouble,
) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        await client.put("/rest/all/V1/products/U1", json=simple("U1", name="Same Name"))
        clash = await client.put("/rest/all/V1/products/U2", json=simple("U2", name="Same Name"))
        assert clash.status_code == 400
        assert clash.json()["message"] == "URL key for specified store already exists."
        own_key = simple("U2", name="Same Name", custom={"url_key": "same-name-2"})
        assert (await client.put("/rest/all/V1/products/U2", json=own_key)).status_code == 200
        refused = {
            "product": {
                "sku": "U1",
                "price": 1.0,
                "extension_attributes": {"configurable_product_links": [999]},
            }
        }
        assert (await client.put("/rest/all/V1/products/U1", json=refused)).status_code == 404
        unknown = simple("U3", name="Third", custom={"no_such_attribute": "x"})
        assert (await client.put("/rest/V1/products/U3", json=unknown)).status_code == 200

    run(magento_double, scenario)
    product = magento_double.product("U1")
    assert product is not None and product["price"] == 10.0
    assert magento_double.writes_for("U1") == 1
    third = magento_double.product("U3")
    assert third is not None and custom_value(third, "no_such_attribute") is None
    assert magento_double.store_overrides("U3", "default")["name"] == "Third"


def test_source_item_refusals_and_double_errors() -> None:
    double = MagentoDouble(validate=False)

    async def scenario(client: httpx.AsyncClient) -> None:
        items = {"sourceItems": [{"sku": "", "source_code": "eu", "quantity": 1, "status": 1}]}
        refused = await client.post("/rest/all/V1/inventory/source-items", json=items)
        assert refused.status_code == 400
        assert refused.json()["message"] == "Validation Failed"
        assert len(refused.json()["errors"]) == 2
        double.add_source("eu")
        items["sourceItems"][0]["sku"] = "EU1"
        saved = await client.post("/rest/all/V1/inventory/source-items", json=items)
        assert saved.json() == []
        broken = await client.put("/rest/all/V1/products/X", json={"product": []})
        assert broken.status_code == 500

    asyncio.run(_with(double, scenario))
    assert double.stock("EU1", "eu") == {
        "sku": "EU1",
        "source_code": "eu",
        "quantity": 1,
        "status": 1,
    }
    assert len(double.violations) == 1 and "double error" in double.violations[0]
