"""The OpenAPI document: what FastAPI generates, completed with what it cannot know.

FastAPI sees neither the bare routes served outside it (api/app.py HubApp) nor the errors the
handlers in api/errors.py answer, and it documents a 422 of its own shape that the API never
sends. complete() adds the hand-written paths, describes the problem details once as a
component and refers every operation to the error responses it can give, so that a
generated client knows them. tests/e2e/test_schemathesis.py holds the server to it.
"""

from __future__ import annotations

import copy
from typing import Any

from pimhub.api.guard import UNLIMITED
from pimhub.api.openapi_schemas import (
    BODY_SCHEMAS,
    ERROR_RESPONSES,
    EXTRA_ERRORS,
    IF_MATCH_SCHEMA,
    IF_NONE_MATCH_SCHEMA,
    OBJECT_SCHEMAS,
    PROBLEM_SCHEMAS,
    SECURITY_SCHEMES,
    SUCCESS_OVERRIDES,
    TIME_SCHEMA,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/assets/{path}"})
_METHODS = ("get", "put", "post", "delete", "patch")

# GraphQL takes the key in the query string too (api/graphql/endpoint.py); REST does not.
_QUERY_KEY_PREFIXES = ("/graphql/",)


def complete(
    document: dict[str, Any], extra_paths: dict[str, Any], extra_schemas: dict[str, Any]
) -> dict[str, Any]:
    """`document` (FastAPI's) with the hand-written `extra_paths` and `extra_schemas` added,
    and every operation's errors."""
    # Copied: completing an operation changes it, and the hand-written paths are module
    # constants that every app built in the process (tests build many) starts from.
    document["paths"].update(copy.deepcopy(extra_paths))
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(PROBLEM_SCHEMAS)
    schemas.update(OBJECT_SCHEMAS)
    schemas.update(extra_schemas)
    components["responses"] = {
        status: {
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, description in ERROR_RESPONSES.items()
    }
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, item in document["paths"].items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is not None:
                _complete_operation(method, path, operation)
    return document


def _complete_operation(method: str, path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's HTTPValidationError: the API answers problems
    for status, response in SUCCESS_OVERRIDES.get((method, path), {}).items():
        responses[status] = response
    if path not in PUBLIC_PATHS:
        operation["security"] = [{"bearer": []}, {"apiKey": []}]
        if path.startswith(_QUERY_KEY_PREFIXES):
            operation["security"].append({"apiKeyQuery": []})
    body = BODY_SCHEMAS.get((method, path))
    if body is not None:
        operation["requestBody"]["content"]["application/json"]["schema"] = body
    for parameter in operation.get("parameters", []):
        header = parameter["name"].lower() if parameter["in"] == "header" else None
        if header == "if-match":
            parameter["schema"] = IF_MATCH_SCHEMA
        elif header == "if-none-match" and method != "get":
            parameter["schema"] = IF_NONE_MATCH_SCHEMA
        elif _is_datetime(parameter["schema"]):
            parameter["schema"] = TIME_SCHEMA
    if "400" in responses:
        return  # a hand-written operation with errors of its own shape (/graphql/{config})
    for status in [*error_statuses(method, path, operation), *EXTRA_ERRORS.get((method, path), [])]:
        responses[status] = {"$ref": f"#/components/responses/{status}"}


def _is_datetime(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(o.get("format") == "date-time" for o in options)


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses `operation` can answer, from what it takes: every request may be
    malformed (a NUL character, a bad parameter); keys are checked outside PUBLIC_PATHS;
    path parameters name things that may not exist; bodies may be too large or invalid;
    writes may conflict; If-Match may be stale; all but the probes are rate-limited."""
    statuses = ["400"]
    if path == "/readyz":
        statuses.append("503")
    if path not in PUBLIC_PATHS:
        statuses += ["401", "403"]
    if "{" in path:
        statuses.append("404")
    if method != "get" and path not in PUBLIC_PATHS:
        statuses.append("409")
    headers = {p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"}
    if method != "get" and headers & {"if-match", "if-none-match"}:
        statuses.append("412")
    if "requestBody" in operation:
        statuses += ["413", "422"]
    if path not in UNLIMITED:
        statuses.append("429")  # api.guard: the address's and the key's rate limits
    return statuses
