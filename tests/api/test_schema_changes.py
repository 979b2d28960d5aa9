"""The contract comparers tell a removed field (breaking) from an added one (not)."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from pimhub.api.schema_changes import Changes, openapi_changes, sdl_changes

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


# -- the comparers part by part, each change's sentence and list compared whole ---------------


def test_a_report_lists_each_kind_under_its_title() -> None:
    assert Changes().report() == "no change found in the compared parts"
    assert not Changes()
    assert Changes(dangerous=["d"]) and Changes(other=["o"]) and Changes(breaking=["b"])
    assert Changes(breaking=["b1", "b2"], dangerous=["d"], other=["o"]).report() == (
        "BREAKING changes (clients of the old contract may fail):\n  - b1\n  - b2\n"
        "Dangerous changes (old clients may see something new):\n  - d\n"
        "Other changes (additions):\n  - o"
    )
    assert Changes(other=["o"]).report() == "Other changes (additions):\n  - o"


def test_sdl_additions_of_types_and_of_fields_of_every_fielded_kind() -> None:
    old = """
    type Query { a: Int }
    interface Named { name: String }
    input Filter { name: String }
    type Mid { x: Int }
    """
    new = """
    type Query { a: Int b: Int }
    interface Named { name: String code: String }
    input Filter { name: String code: String }
    type Mid { x: Int }
    type Added { y: Int }
    type zeta { z: Int }
    enum Color { RED }
    """
    changes = sdl_changes(old, new)
    assert changes.breaking == []
    assert changes.dangerous == [
        "An optional field Filter.code was added. (OPTIONAL_INPUT_FIELD_ADDED)"
    ]
    assert changes.other == [
        "Type Added was added",
        "Type Color was added",
        "Field Filter.code was added",
        "Field Named.code was added",
        "Field Query.b was added",
        "Type zeta was added",  # after graphql's own __ types in the sorted order
    ]


def test_sdl_a_type_changing_kind_is_breaking_and_not_an_addition() -> None:
    changes = sdl_changes(
        "type Query { a: T b: Int }\ntype T { x: Int }", "type Query { a: T b: Int }\nenum T { X }"
    )
    assert changes.breaking == [
        "T changed from an Object type to an Enum type. (TYPE_CHANGED_KIND)"
    ]
    assert changes.other == []


def _api(operation: dict[str, Any], **schemas: Any) -> dict[str, Any]:
    return {"paths": {"/x": {"post": operation}}, "components": {"schemas": schemas}}


def _body(
    schema: dict[str, Any], *, required: bool = False, media: str = "application/json"
) -> dict[str, Any]:
    return {"required": required, "content": {media: {"schema": schema}}}


def _answer(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {"responses": {status: {"content": {"application/json": {"schema": schema}}}}}


def test_openapi_added_paths_and_operations_are_additions() -> None:
    old = {"paths": {"/a": {"get": {}}}}
    new = {"paths": {"/a": {"get": {}, "put": {}}, "/b": {"get": {}}}}
    assert openapi_changes(old, new) == Changes(
        other=["operation PUT /a was added", "path /b was added"]
    )
    assert openapi_changes({}, {}) == Changes()


def test_openapi_parameters_without_a_name_are_left_out() -> None:
    ref = {"$ref": "#/components/parameters/Q"}
    assert openapi_changes(_api({"parameters": [ref]}), _api({"parameters": []})) == Changes()


def test_openapi_a_parameter_becoming_required_or_changing_type() -> None:
    old = _api({"parameters": [{"name": "q", "in": "query"}, {"name": "p", "in": "path"}]})
    new = _api(
        {
            "parameters": [
                {"name": "q", "in": "query", "required": True},
                {"name": "p", "in": "path", "schema": {"type": "string"}},
            ]
        }
    )
    assert openapi_changes(old, new) == Changes(
        breaking=[
            "POST /x: path parameter 'p': type any became string",
            "POST /x: query parameter 'q' became required",
        ]
    )
    # Optional again, or any type again, breaks no one.
    assert openapi_changes(new, old) == Changes(
        other=["POST /x: path parameter 'p': type string became any"]
    )


def test_openapi_request_bodies_added_removed_and_required() -> None:
    schema = {"type": "object"}
    none = _api({})
    optional, required = (
        _api({"requestBody": _body(schema)}),
        _api({"requestBody": _body(schema, required=True)}),
    )
    assert openapi_changes(none, optional) == Changes(other=["POST /x: a request body was added"])
    assert openapi_changes(none, required) == Changes(
        breaking=["POST /x: a request body was added"]
    )
    assert openapi_changes(optional, none) == Changes(
        other=["POST /x: the request body was removed"]
    )
    assert openapi_changes(optional, required) == Changes(
        breaking=["POST /x: the request body became required"]
    )
    assert openapi_changes(required, optional) == Changes()


def test_openapi_bodies_are_compared_as_json_or_problem_json_only() -> None:
    def body(media: str, kind: str) -> dict[str, Any]:
        return _api({"requestBody": _body({"type": kind}, media=media)})

    assert openapi_changes(body("text/csv", "string"), body("text/csv", "integer")) == Changes()
    changed = ["POST /x request body: type string became integer"]
    for media in ("application/json", "application/problem+json"):
        assert openapi_changes(body(media, "string"), body(media, "integer")).breaking == changed
    # A body without a schema takes anything.
    no_schema = {"requestBody": {"content": {"application/json": {}}}}
    assert openapi_changes(_api(no_schema), body("application/json", "string")).breaking == [
        "POST /x request body: type any became string"
    ]


def test_openapi_responses_removed_added_and_by_reference() -> None:
    def responses(**by_status: Any) -> dict[str, Any]:
        return {
            "paths": {"/x": {"get": {"responses": by_status}}},
            "components": {
                "responses": {
                    "Err": {"content": {"application/json": {"schema": {"type": "string"}}}}
                }
            },
        }

    ok: dict[str, Any] = {"content": {"application/json": {"schema": {"type": "object"}}}}
    err = {"$ref": "#/components/responses/Err"}
    assert openapi_changes(responses(**{"200": ok, "404": err}), responses()) == Changes(
        breaking=["GET /x: response 200 was removed"], other=["GET /x: response 404 was removed"]
    )
    assert openapi_changes(responses(), responses(**{"201": ok})) == Changes(
        other=["GET /x: response 201 was added"]
    )
    # A referenced response is compared by what it refers to.
    new = responses(**{"404": err})
    new["components"]["responses"]["Err"]["content"]["application/json"]["schema"] = {
        "type": "integer"
    }
    assert openapi_changes(responses(**{"404": err}), new) == Changes(
        breaking=["GET /x: response 404: type string became integer"]
    )
    other_ref = {"$ref": "#/elsewhere/Err"}  # not a response of this document: as written
    assert openapi_changes(responses(**{"404": other_ref}), responses(**{"404": ok})) == Changes()


def test_openapi_types_of_any_of_and_one_of() -> None:
    def answer(schema: dict[str, Any]) -> dict[str, Any]:
        return _api(_answer(schema))

    either = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    one = {"oneOf": [{"type": "string"}, {"type": ["integer", "null"]}]}
    loose = {"anyOf": [{"type": "string"}, {}]}  # one option of any type: any
    assert openapi_changes(answer({"type": "string"}), answer(either)) == Changes(
        breaking=["POST /x: response 200: type string became null|string"]
    )
    assert openapi_changes(answer(either), answer(one)) == Changes(
        breaking=["POST /x: response 200: type null|string became integer|null|string"]
    )
    assert openapi_changes(answer(loose), answer({"anyOf": []})) == Changes()
    assert openapi_changes(answer({"type": "string"}), answer(loose)) == Changes(
        breaking=["POST /x: response 200: type string became any"]
    )
    # An integer is a number: an answer of integers where numbers were is no widening.
    assert openapi_changes(answer({"type": "number"}), answer({"type": "integer"})) == Changes(
        other=["POST /x: response 200: type number became integer"]
    )
    assert openapi_changes(answer({"type": "integer"}), answer({"type": "number"})) == Changes(
        breaking=["POST /x: response 200: type integer became number"]
    )


def test_openapi_enum_values_in_requests_and_answers() -> None:
    def both(values: list[str]) -> dict[str, Any]:
        return _api({"requestBody": _body({"enum": values}), **_answer({"enum": values})})

    assert openapi_changes(both(["a", "b"]), both(["b", "c"])) == Changes(
        breaking=["POST /x request body: values ['a'] were removed"],
        dangerous=["POST /x: response 200: values ['c'] were added"],
        other=[
            "POST /x request body: values ['c'] were added",
            "POST /x: response 200: values ['a'] were removed",
        ],
    )
    assert openapi_changes(both(["a"]), _api({"requestBody": _body({})})) == Changes(
        breaking=["POST /x: response 200 was removed"]
    )


def test_openapi_properties_in_requests_and_answers() -> None:
    def obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
        return {"type": "object", "properties": properties, "required": required}

    def both(schema: dict[str, Any]) -> dict[str, Any]:
        return _api({"requestBody": _body(schema), **_answer(schema)})

    s = {"type": "string"}
    old = both(obj({"a": s, "b": s}, ["b"]))
    new = both(obj({"a": s, "b": s, "c": s, "d": s}, ["a", "c"]))
    assert openapi_changes(old, new) == Changes(
        breaking=[
            "POST /x request body: property 'a' became required",
            "POST /x request body: property 'c' was added (required)",
            "POST /x: response 200: property 'b' is no longer always present",
        ],
        other=[
            "POST /x request body: property 'd' was added (optional)",
            "POST /x: response 200: property 'c' was added (optional)",
            "POST /x: response 200: property 'd' was added (optional)",
        ],
    )


def test_openapi_lists_are_compared_by_their_items() -> None:
    def answer(item: dict[str, Any]) -> dict[str, Any]:
        return _api(_answer({"type": "array", "items": {"$ref": "#/components/schemas/I"}}), I=item)

    assert openapi_changes(answer({"type": "string"}), answer({"type": "integer"})) == Changes(
        breaking=["POST /x: response 200[]: type string became integer"]
    )
    no_items = _api(_answer({"type": "array"}))
    assert openapi_changes(no_items, answer({"type": "integer"})) == Changes()


def test_openapi_a_recursive_schema_is_followed_12_levels_deep() -> None:
    def tree(leaf: str) -> dict[str, Any]:
        node = {"type": "object", "properties": {"kids": {"$ref": "#/components/schemas/Node"}}}
        node["properties"]["leaf"] = {"type": leaf}
        return _api(_answer({"$ref": "#/components/schemas/Node"}), Node=node)

    # The answer's schema is level 0; the leaf of level 11 is the last compared (level 12).
    changes = openapi_changes(tree("string"), tree("integer"))
    assert changes.breaking == [
        "POST /x: response 200"
        + "".join(": property 'kids'" for _ in range(n))
        + ": property 'leaf': type string became integer"
        for n in range(11, -1, -1)
    ]


def test_openapi_a_request_body_no_longer_json_is_not_compared() -> None:
    json_body = _api({"requestBody": _body({"type": "string"})})
    csv_body = _api({"requestBody": _body({"type": "integer"}, media="text/csv")})
    assert openapi_changes(json_body, csv_body) == Changes()
    assert openapi_changes(csv_body, json_body) == Changes()


def test_openapi_nested_request_parts_are_compared_as_requests() -> None:
    def body(item: str, required: list[str]) -> dict[str, Any]:
        inner = {"type": "object", "properties": {"b": {}}, "required": required}
        schema = {
            "type": "object",
            "properties": {"a": inner, "list": {"type": "array", "items": {"type": item}}},
        }
        return _api({"requestBody": _body(schema)})

    # A request that takes numbers where it took integers takes more: no break.
    assert openapi_changes(body("integer", []), body("number", ["b"])) == Changes(
        breaking=["POST /x request body: property 'a': property 'b' became required"],
        other=["POST /x request body: property 'list'[]: type integer became number"],
    )


def test_openapi_references_to_missing_parts_read_as_any_schema() -> None:
    gone = {"$ref": "#/components/schemas/Gone"}
    missing = {"$ref": "#/components/responses/Missing"}

    def doc(components: dict[str, Any] | None) -> dict[str, Any]:
        operation = {"requestBody": _body(gone), "responses": {"400": missing}}
        document: dict[str, Any] = {"paths": {"/x": {"post": operation}}}
        if components is not None:
            document["components"] = components
        return document

    for components in (None, {}, {"schemas": {}, "responses": {}}):
        assert openapi_changes(doc(components), doc(components)) == Changes()
    typed = doc({"schemas": {"Gone": {"type": "string"}}})
    assert openapi_changes(doc(None), typed) == Changes(
        breaking=["POST /x request body: type any became string"]
    )


def test_openapi_each_level_of_a_recursive_list_counts_toward_the_depth_limit() -> None:
    def answer(values: list[str]) -> dict[str, Any]:
        tree = {"type": "array", "enum": values, "items": {"$ref": "#/components/schemas/T"}}
        return _api(_answer({"$ref": "#/components/schemas/T"}), T=tree)

    assert openapi_changes(answer(["a", "b"]), answer(["b"])) == Changes(
        other=[f"POST /x: response 200{'[]' * n}: values ['a'] were removed" for n in range(13)]
    )
