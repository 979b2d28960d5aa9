"""The contract comparers tell a removed field (breaking) from an added one (not)."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from pimhub.api.schema_changes import openapi_changes, sdl_changes

SDL = """
type Query {
  getProduct(id: Int, sku: String): Product
}

type Product {
  sku: String!
  name(language: String): String
  stock: Int
  status: Status
}

enum Status { DRAFT PUBLISHED }
"""


def test_sdl_a_removed_field_is_breaking() -> None:
    changes = sdl_changes(SDL, SDL.replace("  stock: Int\n", ""))
    assert changes.breaking == ["Field Product.stock was removed. (FIELD_REMOVED)"]
    assert changes.other == []


def test_sdl_an_added_field_is_not_breaking() -> None:
    changes = sdl_changes(SDL, SDL.replace("  stock: Int\n", "  stock: Int\n  ean: String\n"))
    assert changes.breaking == [] and changes.dangerous == []
    assert changes.other == ["Field Product.ean was added"]


def test_sdl_a_changed_type_a_required_argument_and_a_new_enum_value() -> None:
    new = (
        SDL.replace("stock: Int", "stock: String")
        .replace(
            "getProduct(id: Int, sku: String)", "getProduct(id: Int, sku: String, lang: String!)"
        )
        .replace("DRAFT PUBLISHED", "DRAFT PUBLISHED ARCHIVED")
    )
    changes = sdl_changes(SDL, new)
    assert any("Product.stock changed type from Int to String" in c for c in changes.breaking)
    assert any("lang" in c and "REQUIRED_ARG_ADDED" in c for c in changes.breaking)
    assert any("ARCHIVED" in c for c in changes.dangerous)
    assert sdl_changes(SDL, SDL).breaking == [] and not sdl_changes(SDL, SDL)


def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "paths": {
            "/items": {
                "get": {
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": "string"}},
                        {"name": "first", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "A page",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Page"}
                                }
                            },
                        },
                        "400": {"$ref": "#/components/responses/400"},
                    },
                },
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["sku"],
                                    "properties": {"sku": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": {"201": {"description": "Created"}},
                },
            },
            "/health": {"get": {"responses": {"200": {"description": "ok"}}}},
        },
        "components": {
            "schemas": {
                "Page": {
                    "type": "object",
                    "required": ["items", "total"],
                    "properties": {
                        "items": {"type": "array", "items": {"type": "string"}},
                        "total": {"type": "integer"},
                    },
                }
            },
            "responses": {"400": {"description": "Bad"}},
        },
    }


def test_openapi_a_removed_response_property_is_breaking() -> None:
    old, new = _document(), _document()
    del new["components"]["schemas"]["Page"]["properties"]["total"]
    new["components"]["schemas"]["Page"]["required"] = ["items"]
    changes = openapi_changes(old, new)
    assert changes.breaking == [
        "GET /items: response 200: property 'total' was removed",
    ]


def test_openapi_an_added_response_property_is_not_breaking() -> None:
    old, new = _document(), _document()
    new["components"]["schemas"]["Page"]["properties"]["nextCursor"] = {"type": "string"}
    changes = openapi_changes(old, new)
    assert changes.breaking == []
    assert changes.other == ["GET /items: response 200: property 'nextCursor' was added (optional)"]


def test_openapi_removed_paths_operations_and_parameters_are_breaking() -> None:
    old, new = _document(), _document()
    del new["paths"]["/health"]
    del new["paths"]["/items"]["post"]
    new["paths"]["/items"]["get"]["parameters"] = [
        {"name": "first", "in": "query", "schema": {"type": "integer"}}
    ]
    assert openapi_changes(old, new).breaking == [
        "path /health was removed",
        "GET /items: query parameter 'q' was removed",
        "operation POST /items was removed",
    ]


def test_openapi_new_requirements_and_narrowed_types_are_breaking() -> None:
    old, new = _document(), _document()
    get, post = new["paths"]["/items"]["get"], new["paths"]["/items"]["post"]
    get["parameters"].append({"name": "lang", "in": "query", "required": True, "schema": {}})
    get["parameters"].append({"name": "sort", "in": "query", "schema": {"type": "string"}})
    get["parameters"][0]["schema"] = {"type": "integer"}  # q: string -> integer, narrowed
    get["parameters"][1]["schema"] = {"type": "number"}  # first: integer -> number, widened
    body = post["requestBody"]["content"]["application/json"]["schema"]
    body["properties"]["brand"] = {"type": "string"}
    body["required"] = ["sku", "brand"]
    page = new["components"]["schemas"]["Page"]
    page["properties"]["total"] = {"type": ["integer", "null"]}  # an answer may now be null
    changes = openapi_changes(old, new)
    assert changes.breaking == [
        "GET /items: query parameter 'lang' was added (required)",
        "GET /items: query parameter 'q': type string became integer",
        "GET /items: response 200: property 'total': type integer became integer|null",
        "POST /items request body: property 'brand' was added (required)",
    ]
    assert "GET /items: query parameter 'sort' was added (optional)" in changes.other
    assert "GET /items: query parameter 'first': type integer became number" in changes.other


def test_openapi_the_served_document_against_itself_and_less_one_field(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    assert not openapi_changes(document, copy.deepcopy(document))
    smaller = copy.deepcopy(document)
    del smaller["components"]["schemas"]["CatalogObject"]["properties"]["published"]
    breaking = openapi_changes(document, smaller).breaking
    get = "GET /api/v1/objects/{class_name}/{key}: response 200: property 'published' was removed"
    assert get in breaking  # found through the $ref to components.schemas.CatalogObject
