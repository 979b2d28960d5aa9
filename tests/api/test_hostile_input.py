"""Hostile input is refused with a 4xx problem, never a 500, on both backends: NUL characters
(U+0000) anywhere in text input, numbers and times out of range."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from tests.api.test_rest_contract import problem

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
