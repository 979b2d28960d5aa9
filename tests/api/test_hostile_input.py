"""Hostile input is refused with a 4xx problem, never a 500, on both backends: NUL characters
(U+0000) anywhere in text input, numbers and times out of range."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import ObjectNotFound, ValidationFailed
from pimhub.catalog.query import FieldResolver, parse_sort
from pimhub.catalog.service import ListQuery
from pimhub.storage.listing import sort_signature
from pimhub.transfer.importer import ImportOptions, RowError, run_import
from pimhub.transfer.sources import Format, from_text
from tests.api.graphql.conftest import STOREFRONT
from tests.api.test_imports_api import MAPPING as UPLOAD_MAPPING
from tests.api.test_imports_api import finished
from tests.api.test_rest_contract import TEE, problem
from tests.transfer.test_import import PATHS, csv_rows, run

NUL_PATHS = [
    "/api/v1/objects/Product/T%00-1",
    "/api/v1/objects/Pro%00duct",
    "/api/v1/objects/Product/TS-1/versions",
    "/api/v1/products/TS%001",
    "/api/v1/classes/Pro%00duct",
    "/api/v1/datahub/sto%00re",
    "/api/v1/datahub/sto%00re/schema.graphql",
    "/api/v1/imports/job%00",
    "/api/v1/import-profiles/nightly%00",
    "/api/v1/webhooks/endpoints/ep%00",
    "/graphql/store%00front",
    "/simple-rest/store%00front/search",
    "/simple-rest/storefront/objects/TS%001",
]


@pytest.mark.parametrize("path", [p for p in NUL_PATHS if "%00" in p])
def test_nul_in_a_path_segment(
    client: TestClient, admin: dict[str, str], sample: Hub, path: str
) -> None:
    body = problem(client.get(path, headers=admin), 400, "nul-character")
    assert body["errors"][0]["field"] == "path"
    assert "\x00" not in body["detail"]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/objects/Product", {"filter": '{"sku": "T\x00"}'}),
        ("/api/v1/objects/Product", {"after": "abc\x00"}),
        ("/api/v1/objects/Product", {"sort": "sku\x00"}),
        ("/api/v1/products/TS-1", {"lang": "e\x00"}),
        ("/api/v1/webhooks/deliveries", {"businessKey": "TS\x00"}),
        ("/api/v1/webhooks/deliveries", {"eventType": "object.created\x00"}),
        ("/api/v1/webhooks/deliveries", {"uuid": "\x00"}),
        ("/api/v1/webhooks/deliveries", {"endpoint": "ep\x00"}),
        ("/graphql/storefront", {"query": "{ __typename }", "variables": '{"a": "\x00"}'}),
        ("/simple-rest/storefront/search", {"q": "tee\x00"}),
        ("/api/v1/classes", {"na\x00me": "x"}),
    ],
)
def test_nul_in_a_query_parameter(
    client: TestClient,
    admin: dict[str, str],
    sample: Hub,
    path: str,
    query: dict[str, str],
) -> None:
    body = problem(client.get(path, params=query, headers=admin), 400, "nul-character")
    name = next(n for n, v in query.items() if "\x00" in n + v)
    assert body["errors"][0]["field"] == name.replace("\x00", "\\u0000")
    assert name.replace("\x00", "\\u0000") in body["detail"]


def test_nul_in_a_header_value(client: TestClient, admin: dict[str, str], sample: Hub) -> None:
    headers = {**admin, "If-Match": '"1\x00"'}
    body = problem(
        client.get("/api/v1/objects/Product/TS-1", headers=headers), 400, "nul-character"
    )
    assert body["errors"][0]["field"] == "if-match"
    response = client.get("/api/v1/products/TS-1", headers={**admin, "Accept-Language": "\x00"})
    problem(response, 400, "nul-character")


def test_clean_requests_pass_the_edge(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    assert client.get("/api/v1/objects/Product/TS-1", headers=admin).status_code == 200
    assert client.get("/api/v1/products/TS-1", headers=admin).status_code == 200
    response = client.get("/api/v1/objects/Product", params={"filter": "{}"}, headers=admin)
    assert response.status_code == 200


NUL_BODIES = [
    ("post", "/api/v1/objects/Product", {"fields": {**TEE, "name": {"en": "T\x00ee"}}}),
    ("patch", "/api/v1/objects/Product/TS-1", {"fields": {"name": {"de": "\x00"}}}),
    ("put", "/api/v1/objects/Product/TS-1", {"fields": {**TEE, "sku": "TS-1\x00"}}),
    ("post", "/api/v1/classes", {"name": "Gad\x00get", "fields": []}),
    ("put", "/api/v1/classes/Brand", {"name": "Brand", "fields": [{"name": "c\x00"}]}),
    ("post", "/api/v1/datahub", {"name": "shop\x00", "classes": {}}),
    ("put", "/api/v1/datahub/shop", {"name": "shop", "classes": {"Pro\x00duct": {}}}),
    ("post", "/api/v1/webhooks/endpoints", {"url": "https://hooks.example.com/\x00"}),
    ("put", "/api/v1/import-profiles/nightly", {"class": "Product", "mapping\x00": 1}),
]


@pytest.mark.parametrize(("method", "path", "payload"), NUL_BODIES)
def test_nul_in_a_json_body(
    client: TestClient,
    admin: dict[str, str],
    sample: Hub,
    method: str,
    path: str,
    payload: dict[str, Any],
) -> None:
    response = client.request(method, path, json=payload, headers=admin)
    body = problem(response, 400, "nul-character")
    where = body["errors"][0]["field"]
    assert body["errors"][0]["code"] == "nul-character"
    assert where and where in body["detail"] and "\x00" not in response.text
    assert client.get("/api/v1/objects/Product/TS-1", headers=admin).json()["version"] == 1


def test_an_import_refuses_only_the_rows_with_a_nul_cell(sample: Hub) -> None:
    lines = csv_rows(9).splitlines()
    lines[2] = lines[2].replace("Item 1", "Item\x001")  # batch 1 of 3
    lines[5] = lines[5].replace("I-00004", "I-0\x00004")  # batch 2, a business key
    summary, errors = run(sample, from_text("\n".join(lines) + "\n", Format.CSV), batch_size=3)
    assert (summary.rows, summary.created, summary.failed) == (9, 7, 2)
    assert [(e.row, e.column, e.code) for e in errors] == [
        (2, "name", "nul-character"),
        (5, "sku", "nul-character"),
    ]
    assert all("\x00" not in e.message and "\\u0000" in str(e.to_dict()) for e in errors)
    stored = {o.key for o in sample.catalog.list_objects("Product", ListQuery()).items}
    assert {f"I-{i:05}" for i in (0, 2, 3, 5, 6, 7, 8)} <= stored


def test_an_uploaded_import_with_a_nul_cell_keeps_the_other_rows(
    sample: Hub, client: TestClient, admin: dict[str, str], tmp_path: Path
) -> None:
    sample.imports.folder = tmp_path / "imports"
    data = {"mapping": UPLOAD_MAPPING}
    csv = "sku,name,price\nU-1,One,10\nU-2,T\x00wo,11\nU-3,Three,12\n"
    files = {"file": ("products.csv", csv.encode(), "text/csv")}
    response = client.post("/api/v1/imports", data=data, files=files, headers=admin)
    assert response.status_code == 202, response.text
    done = finished(client, response.json()["id"], admin)
    assert done["status"] == "completed-with-errors", done
    assert (done["summary"]["created"], done["summary"]["failed"]) == (2, 1)
    error = done["summary"]["errors"][0]
    assert (error["row"], error["column"], error["code"]) == (2, "name", "nul-character")
    assert error["value"] == "T\\u0000wo"


BIG = "99999999999999999999999"
LIST = "/api/v1/objects/Product"
OUT_OF_RANGE = [
    (
        "get",
        "/api/v1/objects/Product",
        {"filter": f'{{"stock": {{"$gt": {BIG}}}}}'},
        "filter.stock.$gt",
    ),
    ("get", LIST, {"filter": f'{{"stock": {BIG}}}'}, "filter.stock"),
    ("get", LIST, {"filter": f'{{"stock": [1, -{BIG}]}}'}, "filter.stock"),
    (
        "get",
        "/api/v1/objects/Product",
        {"filter": f'{{"price": {{"$lt": {BIG}}}}}'},
        "filter.price.$lt",
    ),
    ("get", LIST, {"filter": f'{{"version": {2**40}}}'}, "filter.version"),
    ("get", LIST, {"filter": '{"stock": NaN}'}, "filter.stock"),
    (
        "get",
        "/api/v1/objects/Product",
        {"filter": '{"stock": {"$gte": 1e400}}'},
        "filter.stock.$gte",
    ),
    ("get", LIST, {"filter": '{"price": -Infinity}'}, "filter.price"),
    ("get", LIST, {"first": BIG}, "first"),
    ("get", f"/api/v1/objects/Product/TS-1/versions/{BIG}", None, "version"),
    ("get", f"/api/v1/objects/Product/TS-1/versions/{2**40}", None, "version"),
    ("get", f"/api/v1/webhooks/deliveries/{BIG}", None, "delivery_id"),
    ("post", f"/api/v1/webhooks/deliveries/{BIG}/replay", None, "delivery_id"),
    ("get", "/api/v1/webhooks/deliveries", {"after": BIG}, "after"),
    ("get", "/api/v1/webhooks/deliveries", {"limit": BIG}, "limit"),
    ("get", "/api/v1/webhooks/deliveries", {"since": "9999-12-31T23:59:59-23:59"}, "since"),
    ("get", "/api/v1/webhooks/deliveries", {"until": "0001-01-01T00:00:00+23:59"}, "until"),
    ("post", "/api/v1/webhooks/replay", {"since": "9999-12-31T23:59:59-23:59"}, "since"),
    ("get", "/simple-rest/storefront/search", {"size": BIG}, "size"),
]


@pytest.mark.parametrize(("method", "path", "query", "field"), OUT_OF_RANGE)
def test_numbers_and_times_out_of_range_are_refused(
    client: TestClient,
    admin: dict[str, str],
    sample: Hub,
    method: str,
    path: str,
    query: dict[str, str] | None,
    field: str,
) -> None:
    sample.datahub.create(STOREFRONT, author="test")
    response = client.request(method, path, params=query, headers=admin)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] in ("invalid-query", "invalid-parameter", "invalid-input"), body
    assert body["errors"][0]["field"] == field, body


@pytest.mark.parametrize("hours", ["1e20", "inf", "-inf", "nan", "1000000000", "-1"])
def test_a_rotation_overlap_out_of_range_is_refused(
    client: TestClient, admin: dict[str, str], hours: str
) -> None:
    created = client.post(
        "/api/v1/webhooks/endpoints", json={"url": "https://hooks.example.com/in"}, headers=admin
    ).json()
    path = f"/api/v1/webhooks/endpoints/{created['id']}/rotate-secret"
    body = problem(
        client.post(path, params={"overlapHours": hours}, headers=admin), 400, "invalid-parameter"
    )
    assert body["errors"][0]["field"] == "overlapHours"
    response = client.post(path, params={"overlapHours": "48"}, headers=admin)
    assert response.status_code == 200, response.text


def forged(hub: Hub, sort: list[str], values: list[Any]) -> str:
    resolver = FieldResolver(hub.classes.get("Product"), default_language="en")
    signature = sort_signature(parse_sort(resolver, sort))
    raw = json.dumps({"s": signature, "v": values}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "values"),
    [
        (["stock"], [2**63, 1]),
        (["stock"], [2**64 - 1, 1]),
        (["stock"], [5, 2**63]),
        (["stock"], [5, 0]),
        ([], [2**64 - 1]),
        (["modifiedAt"], ["9999-12-31T23:59:59-23:59", 1]),
        (["modifiedAt"], ["0001-01-01T00:00:00+23:59", 1]),
    ],
)
def test_cursors_carrying_values_out_of_range_are_refused(
    client: TestClient, admin: dict[str, str], sample: Hub, sort: list[str], values: list[Any]
) -> None:
    query = {"after": forged(sample, sort, values), "sort": ",".join(sort)}
    body = problem(
        client.get("/api/v1/objects/Product", params=query, headers=admin), 400, "invalid-query"
    )
    assert body["errors"][0] == {
        "field": "after",
        "code": "invalid-cursor",
        "message": "not a cursor this API issued",
    }


def test_the_largest_values_in_range_are_answered(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    for value in (str(2**63 - 1), str(-(2**63)), "1e300", "-1e300"):
        query = {"filter": f'{{"stock": {{"$lt": {value}}}, "price": {{"$gt": {value}}}}}'}
        response = client.get("/api/v1/objects/Product", params=query, headers=admin)
        assert response.status_code == 200, response.text
    query = {"sort": "stock", "after": forged(sample, ["stock"], [2**63 - 1, 2**63 - 1])}
    response = client.get("/api/v1/objects/Product", params=query, headers=admin)
    assert response.status_code == 200 and response.json()["items"] == []
    response = client.get(f"/api/v1/objects/Product/TS-1/versions/{2**31 - 1}", headers=admin)
    assert problem(response, 404, "version-not-found")
    for path in (f"/api/v1/webhooks/deliveries/{2**63 - 1}", "/api/v1/webhooks/deliveries"):
        response = client.get(path, params={"after": str(2**63 - 1)}, headers=admin)
        assert response.status_code in (200, 404), response.text


@pytest.mark.parametrize("field", ["class", "mapping", "delimiter", "sheet", "encoding"])
def test_nul_in_an_import_form_field(
    sample: Hub, client: TestClient, admin: dict[str, str], tmp_path: Path, field: str
) -> None:
    sample.imports.folder = tmp_path / "imports"
    data = {"mapping": UPLOAD_MAPPING, "class": "Product", field: "x\x00"}
    files = {"file": ("products.csv", b"sku,name,price\nU-1,One,10\n", "text/csv")}
    response = client.post("/api/v1/imports", data=data, files=files, headers=admin)
    body = problem(response, 400, "nul-character")
    assert body["errors"][0]["field"] == field
    assert client.get("/api/v1/imports", headers=admin).json()["items"] == []


def test_an_import_whose_header_holds_a_nul_fails_and_says_so(
    sample: Hub, client: TestClient, admin: dict[str, str], tmp_path: Path
) -> None:
    sample.imports.folder = tmp_path / "imports"
    files = {"file": ("products.csv", b"sku,na\x00me,price\nU-1,One,10\n", "text/csv")}
    data = {"mapping": UPLOAD_MAPPING}
    response = client.post("/api/v1/imports", data=data, files=files, headers=admin)
    assert response.status_code == 202, response.text
    done = finished(client, response.json()["id"], admin)
    assert done["status"] == "failed"
    assert "na\\u0000me" in done["error"]


def test_the_catalog_refuses_a_nul_in_a_business_key_as_a_field_error(sample: Hub) -> None:
    catalog = sample.catalog
    for write in (
        lambda: catalog.create("Product", {**TEE, "sku": "T\x00"}, author="t"),
        lambda: catalog.upsert("Product", {**TEE, "sku": "T\x00"}, author="t"),
        lambda: catalog.put("Product", "T\x00", TEE | {"sku": "T\x00"}, author="t"),
    ):
        with pytest.raises(ValidationFailed) as raised:
            write()
        assert [(e.field, e.code) for e in raised.value.errors] == [("sku", "nul-character")]
    with pytest.raises(ObjectNotFound):
        catalog.get_object("Product", "TS\x001", include_drafts=True)
    with pytest.raises(ObjectNotFound):
        catalog.patch("Product", "TS\x001", {"stock": 1}, author="t")


def test_a_cursor_carrying_a_nul_is_refused(
    client: TestClient, admin: dict[str, str], sample: Hub
) -> None:
    query = {"after": forged(sample, ["sku"], ["TS\x00", 1]), "sort": "sku"}
    body = problem(
        client.get("/api/v1/objects/Product", params=query, headers=admin), 400, "invalid-query"
    )
    assert body["errors"][0]["code"] == "invalid-cursor"


def test_an_import_refuses_only_the_row_whose_category_path_holds_a_nul(hub: Hub) -> None:
    text = (
        "sku,name,categories\n"
        "K-1,One,Default Category/Men\n"
        "K-2,Two,Default Category/M\x00en\n"
        "K-3,Three,Default Category/Women\n"
    )

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="t")

    errors: list[RowError] = []
    summary = run_import(
        writer, from_text(text, Format.CSV), PATHS, ImportOptions(), on_row_error=errors.append
    )
    assert (summary.created, summary.failed) == (2, 1)
    assert [(e.row, e.column) for e in errors] == [(2, "categories")]
    shown = errors[0].to_dict()
    assert all("\x00" not in str(v) for v in shown.values()) and "M\\u0000en" in shown["message"]


def test_a_row_error_shows_a_refused_value_with_its_nuls_spelled_out() -> None:
    error = RowError(3, "na\x00me", {"e\x00n": ["a\x00"]}, "na\x00me: bad", "nul-character")
    assert error.to_dict() == {
        "row": 3,
        "column": "na\\u0000me",
        "value": {"e\\u0000n": ["a\\u0000"]},
        "message": "na\\u0000me: bad",
        "code": "nul-character",
    }


@pytest.mark.parametrize(
    ("path", "filter_json"),
    [
        ("/api/v1/objects/Product", '{"sku": "\\ud800"}'),
        ("/api/v1/objects/Product", '{"name.de": {"$like": "\\ud800"}}'),
        ("/api/v1/objects/Product", '{"sku": {"$in": ["a", "\\udfff"]}}'),
        ("/simple-rest/storefront/search", '{"sku": "\\ud800"}'),
    ],
)
def test_a_lone_surrogate_in_a_filter_is_refused(
    client: TestClient, admin: dict[str, str], sample: Hub, path: str, filter_json: str
) -> None:
    sample.datahub.replace("storefront", STOREFRONT, author="test")
    params = {"filter": filter_json, "q": "x", "class": "Product"}
    response = client.get(path, params=params, headers=admin)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] in ("invalid-query", "invalid-value"), body
    assert "surrogate" in body["detail"]


DEEP_MAPPINGS = {
    "lists": "class: Product\nfields:\n  name.en: " + "[" * 10_000,
    "mappings": "{a: " * 3_000 + "1" + "}" * 3_000,
}


@pytest.mark.parametrize("shape", sorted(DEEP_MAPPINGS))
def test_a_deeply_nested_import_mapping_is_refused(
    sample: Hub, client: TestClient, admin: dict[str, str], tmp_path: Path, shape: str
) -> None:
    sample.imports.folder = tmp_path / "imports"
    data = {"mapping": DEEP_MAPPINGS[shape]}
    files = {"file": ("products.csv", b"sku,name,price\nU-1,One,10\n", "text/csv")}
    response = client.post("/api/v1/imports", data=data, files=files, headers=admin)
    body = problem(response, 422, "invalid-mapping")
    assert body["errors"][0]["field"] == "mapping"
    assert "nested deeper than 64 levels" in body["errors"][0]["message"]
    assert client.get("/api/v1/imports", headers=admin).json()["items"] == []


@pytest.mark.parametrize("shape", sorted(DEEP_MAPPINGS))
def test_an_import_profile_with_a_deeply_nested_mapping_is_refused(
    sample: Hub, client: TestClient, admin: dict[str, str], tmp_path: Path, shape: str
) -> None:
    sample.imports.folder = tmp_path / "imports"
    body = {
        "source": "https://erp.example.com/products.csv",
        "mapping": DEEP_MAPPINGS[shape],
        "cron": "0 2 * * *",
    }
    response = client.put("/api/v1/import-profiles/deep", json=body, headers=admin)
    assert "nested deeper than 64" in problem(response, 422, "invalid-mapping")["detail"] + str(
        response.json()["errors"]
    )
    assert client.get("/api/v1/import-profiles", headers=admin).json()["items"] == []


UNBUILDABLE_MAPPINGS = {
    "long integer": "class: Product\nfields: {sku: {column: sku}}\nx: " + "9" * 4_301,
    "long integer in map": "class: Product\nfields:\n  sku: {column: sku, map: {a: "
    + "9" * 4_301
    + "}}",
}


@pytest.mark.parametrize("shape", sorted(UNBUILDABLE_MAPPINGS))
def test_an_import_mapping_with_a_value_yaml_cannot_build_is_refused(
    sample: Hub, client: TestClient, admin: dict[str, str], tmp_path: Path, shape: str
) -> None:
    sample.imports.folder = tmp_path / "imports"
    files = {"file": ("products.csv", b"sku\nU-1\n", "text/csv")}
    data = {"mapping": UNBUILDABLE_MAPPINGS[shape]}
    response = client.post("/api/v1/imports", data=data, files=files, headers=admin)
    body = problem(response, 422, "invalid-mapping")
    assert body["errors"][0]["field"] == "mapping"
    assert "4300 digits" in body["errors"][0]["message"]
    body = {"source": "https://erp.example.com/p.csv", "mapping": data["mapping"], "cron": "@daily"}
    response = client.put("/api/v1/import-profiles/long", json=body, headers=admin)
    assert "4300 digits" in str(problem(response, 422, "invalid-mapping"))
    assert client.get("/api/v1/imports", headers=admin).json()["items"] == []
    assert client.get("/api/v1/import-profiles", headers=admin).json()["items"] == []


@pytest.mark.parametrize("extra", ["x: 2020-99-99", "x: 2020-01-01 25:61:61", "2020-02-30: a"])
def test_impossible_dates_in_a_mapping_are_text_not_a_500(
    sample: Hub, client: TestClient, admin: dict[str, str], tmp_path: Path, extra: str
) -> None:
    sample.imports.folder = tmp_path / "imports"
    mapping = f"class: Product\nfields: {{sku: {{column: sku}}}}\n{extra}"
    files = {"file": ("products.csv", b"sku\nU-1\n", "text/csv")}
    response = client.post("/api/v1/imports", data={"mapping": mapping}, files=files, headers=admin)
    body = problem(response, 422, "invalid-mapping")  # an unknown key, named as written
    assert extra.split(":")[0] in str(body["errors"]), body
    body = {"source": "https://erp.example.com/p.csv", "mapping": mapping, "cron": "@daily"}
    response = client.put("/api/v1/import-profiles/dates", json=body, headers=admin)
    assert extra.split(":")[0] in str(problem(response, 422, "invalid-mapping")["errors"])


def test_a_name_too_long_is_one_problem_not_also_a_missing_name(
    sample: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    body = {"fields": {"sku": "R-1", "name": {"en": "x" * 300}}}
    response = client.post("/api/v1/objects/Product", json=body, headers=admin)
    errors = problem(response, 422, "validation-failed")["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("name.en", "too-long")]
