"""The OpenAPI document tells a generated client every error an operation can answer, in the
shape the API really sends (tests/e2e/test_schemathesis.py checks it against a server)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pimhub.api.openapi import PUBLIC_PATHS

PROBLEM = "#/components/schemas/Problem"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    ]


def _resolve(document: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    ref = response.get("$ref")
    if ref is None:
        return response
    resolved: dict[str, Any] = document["components"]["responses"][ref.rsplit("/", 1)[1]]
    return resolved


def test_every_operation_documents_its_errors_as_problem_details(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "errors"}
    operations = _operations(document)
    assert len(operations) > 40
    for method, path, operation in operations:
        if path.startswith("/graphql/"):
            continue  # GraphQL errors: test_graphql_is_documented_with_its_own_errors
        responses = operation["responses"]
        assert "400" in responses, (method, path)
        if path not in PUBLIC_PATHS:
            assert {"401", "403"} <= set(responses), (method, path)
            assert operation["security"], (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in operation:
            assert {"413", "422"} <= set(responses), (method, path)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                content = _resolve(document, response)["content"]
                assert content == {"application/problem+json": {"schema": {"$ref": PROBLEM}}}


def test_the_400_response_names_ambiguous_credentials(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/classes"]["get"]
    assert (
        "ambiguous-credentials" in _resolve(document, operation["responses"]["400"])["description"]
    )


def test_conditional_writes_and_creating_puts_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    put = paths["/api/v1/objects/{class_name}/{key}"]["put"]
    assert {"200", "201", "409", "412"} <= set(put["responses"])
    if_match = next(p for p in put["parameters"] if p["name"].lower() == "if-match")
    assert if_match["schema"]["pattern"]
    if_none_match = next(p for p in put["parameters"] if p["name"].lower() == "if-none-match")
    assert if_none_match["schema"]["pattern"] == r"^\s*\*\s*$"
    assert "201" in paths["/api/v1/datahub/{name}"]["put"]["responses"]
    sdl = paths["/api/v1/datahub/{name}/schema.graphql"]["get"]["responses"]["200"]
    assert list(sdl["content"]) == ["text/plain"]


def test_a_real_error_has_the_documented_shape(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    problem = document["components"]["schemas"]["Problem"]
    field_error = document["components"]["schemas"]["ProblemError"]
    for response in (
        client.get("/api/v1/classes"),
        client.get("/api/v1/objects/Product", params={"first": "0"}, headers=_admin(client)),
    ):
        body = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert set(problem["required"]) <= set(body)
        assert set(body) <= set(problem["properties"])
        for error in body["errors"]:
            assert set(field_error["required"]) <= set(error) <= set(field_error["properties"])


def _admin(client: TestClient) -> dict[str, str]:
    hub = client.app.state.hub  # type: ignore[attr-defined]
    _, token = hub.access.create("openapi-test", ["admin"], environment="test")
    return {"Authorization": f"Bearer {token}"}


def test_graphql_is_documented_with_its_own_errors(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    item = document["paths"]["/graphql/{config}"]
    graphql = {"$ref": "#/components/schemas/GraphQLResponse"}
    for method in ("get", "post"):
        responses = item[method]["responses"]
        assert responses["401"]["content"] == {"application/json": {"schema": graphql}}
        assert "application/problem+json" in responses["400"]["content"]  # the edge's
        assert item[method]["security"]
    assert "405" in item["get"]["responses"] and "413" in item["post"]["responses"]
    assert item["post"]["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "query"
    ]
    assert {"GraphQLError", "GraphQLResponse"} <= set(document["components"]["schemas"])


def test_objects_are_documented_as_they_are_answered(
    client: TestClient, sample: object, admin: dict[str, str]
) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    get = document["paths"]["/api/v1/objects/{class_name}/{key}"]["get"]["responses"]["200"]
    assert get["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CatalogObject"
    }
    assert "ETag" in get["headers"]
    answers = {
        "CatalogObject": client.get("/api/v1/objects/Product/TS-1", headers=admin).json(),
        "ObjectPage": client.get("/api/v1/objects/Product", headers=admin).json(),
        "ObjectVersion": client.get(
            "/api/v1/objects/Product/TS-1/versions/1", headers=admin
        ).json(),
    }
    for name, body in answers.items():
        assert set(schemas[name]["required"]) <= set(body) <= set(schemas[name]["properties"])


def test_graphql_documents_every_way_to_send_a_key(client: TestClient) -> None:
    """/graphql/{config} takes the key as a bearer token, X-API-Key or ?apikey= (for clients
    that cannot set headers), for GET and POST alike; REST takes no ?apikey=."""
    document = client.get("/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["apiKeyQuery"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "query", "apikey")
    item = document["paths"]["/graphql/{config}"]
    for method in ("get", "post"):
        assert {"bearer": []} in item[method]["security"]
        assert {"apiKeyQuery": []} in item[method]["security"]
    rest = document["paths"]["/api/v1/classes"]["get"]["security"]
    assert {"apiKeyQuery": []} not in rest


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def test_every_list_names_its_next_page_next_cursor(client: TestClient) -> None:
    """One convention (docs/api.md#paging): a list takes `after` and answers `nextCursor`;
    the old names (`next`, `cursor`) are marked deprecated until they go."""
    document = client.get("/openapi.json").json()
    lists = [
        (path, operation)
        for method, path, operation in _operations(document)
        if method == "get"
        and any(p["name"] == "after" for p in operation.get("parameters", []))
        and not path.startswith("/graphql/")
    ]
    assert {path for path, _ in lists} >= {
        "/api/v1/objects/{class_name}",
        "/api/v1/webhooks/deliveries",
        "/api/v1/connectors/{name}/items",
        "/api/v1/connectors/{name}/ledger",
        "/simple-rest/{config}/search",
    }
    for path, operation in lists:
        content = operation["responses"]["200"]["content"]["application/json"]
        page = _schema(document, content["schema"])
        assert "nextCursor" in page["required"], path
        assert "null" in page["properties"]["nextCursor"]["type"], path
        for old in ("next", "cursor"):
            if old in page["properties"]:
                assert page["properties"][old]["deprecated"] is True, (path, old)
        for parameter in operation["parameters"]:
            if parameter["name"] == "cursor":
                assert parameter["deprecated"] is True, path
