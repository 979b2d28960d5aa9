"""create_app serves /api/v1/products/ outside FastAPI (HubApp); both halves must keep the
same contract: problem+json errors, request ids, request logs, OpenAPI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from tests.api.graphql.conftest import STOREFRONT


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/products/a/b", 404, "route-not-found"),
        ("POST", "/api/v1/products/TS-1", 405, "method-not-allowed"),
        ("GET", "/api/v1/nothing-here", 404, "route-not-found"),
    ],
)
def test_routing_errors_are_problems_on_both_paths(
    client: TestClient, admin: dict[str, str], method: str, path: str, status: int, code: str
) -> None:
    response = client.request(method, path, headers=admin)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.headers["x-request-id"]


def test_unexpected_errors_are_problems_without_internals(
    sample: Hub, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(sample.catalog, "product", explode)
    monkeypatch.setattr(sample.catalog, "get_object", explode)
    client = TestClient(create_app(sample), raise_server_exceptions=False)
    for path in ("/api/v1/products/TS-1", "/api/v1/objects/Product/TS-1"):
        response = client.get(path, headers=admin)
        assert response.status_code == 500
        body = response.json()
        assert body["code"] == "internal-error"
        assert "secret" not in response.text


def test_request_id_is_echoed_on_the_fast_path(sample: Hub, admin: dict[str, str]) -> None:
    client = TestClient(create_app(sample))
    response = client.get("/api/v1/products/TS-1", headers={**admin, "X-Request-ID": "abc-1"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "abc-1"


def test_openapi_documents_the_product_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    operation = paths["/api/v1/products/{sku}"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"sku", "lang", "If-None-Match"}
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"sku", "price", "currency", "category", "brand", "stock", "updatedAt"} <= set(
        schema["properties"]
    )
    assert "/api/v1/objects/{class_name}/{key}" in paths


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/api/v1/classes", "GET, POST"),
        ("POST", "/api/v1/classes/Product", "DELETE, GET, PUT"),
        ("POST", "/api/v1/products/TS-1", "GET, HEAD"),
        ("DELETE", "/graphql/storefront", "GET, POST"),
        ("HEAD", "/graphql/storefront", "GET, POST"),
    ],
)
def test_a_405_names_every_method_of_the_path(
    client: TestClient, admin: dict[str, str], method: str, path: str, allow: str
) -> None:
    response = client.request(method, path, headers=admin)
    assert response.status_code == 405
    assert response.headers["allow"] == allow


def test_graphql_answers_401_with_a_challenge_and_a_get_mutation_with_allow(
    client: TestClient, sample: Hub, admin: dict[str, str]
) -> None:
    sample.datahub.create(STOREFRONT, author="test")
    query = {"query": "{ __typename }"}
    for headers in ({}, {"Authorization": "Bearer phk_wrong"}):
        response = client.post("/graphql/storefront", json=query, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="pimhub"'
    rest = client.get("/api/v1/classes")
    assert rest.headers["www-authenticate"] == response.headers["www-authenticate"]
    mutation = client.get(
        "/graphql/storefront",
        params={"query": 'mutation { deleteProduct(sku: "TS-1") { success } }'},
        headers=admin,
    )
    assert (mutation.status_code, mutation.headers.get("allow")) == (405, "POST")


def test_a_problem_quoting_a_lone_surrogate_is_still_a_problem(
    client: TestClient, admin: dict[str, str]
) -> None:
    """YAML reads "\\ud899" as a lone surrogate, which UTF-8 cannot encode; the problem that
    names the field shows it escaped (it was a 500 when rendering failed)."""
    mapping = '{"class": "Product", "fields": {"a\\ud899": 1}}'
    profile = {"source": "http://example.com/a.csv", "cron": "0 * * * *", "mapping": mapping}
    response = client.put("/api/v1/import-profiles/x", json=profile, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "fields.a\\ud899"
