"""The parts of the OpenAPI document (openapi.py) FastAPI cannot know: problem details,
security schemes, page and object schemas, success responses of routes answering a Response
of their own making, request bodies read as free JSON, and header and time parameters."""

from __future__ import annotations

from typing import Any

from pimhub.catalog.classes import CLASS_NAME_PATTERN
from pimhub.catalog.events import EventType
from pimhub.datahub.config import CONFIG_NAME_PATTERN
from pimhub.events.endpoints import PayloadMode

PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details, with a stable `code` and per-field `errors`",
        "required": ["type", "title", "status", "detail", "code", "errors"],
        "properties": {
            "type": {
                "type": "string",
                "description": "urn:pimhub:problem:<code>",
                "examples": ["urn:pimhub:problem:validation-failed"],
            },
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "code": {"type": "string", "description": "Stable; the last part of `type`"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemError"}},
            "instance": {"type": "string", "description": "The request's path"},
            "currentVersion": {
                "type": "integer",
                "description": "With stale-version: the version to read and retry with",
            },
        },
    },
    "ProblemError": {
        "type": "object",
        "description": "One thing wrong with the request, by field (or parameter) name",
        "required": ["field", "code", "message"],
        "properties": {
            "field": {"type": "string"},
            "code": {"type": "string"},
            "message": {"type": "string"},
        },
    },
}

# The error responses, by status; each operation refers to those it can answer.
ERROR_RESPONSES: dict[str, str] = {
    "400": "Malformed request: invalid parameter, JSON or input (invalid-parameter, "
    "malformed-json, invalid-input, invalid-query, nul-character, ambiguous-credentials when "
    "two different credentials or one twice are sent, ...)",
    "401": "Missing or invalid API key (with a WWW-Authenticate challenge)",
    "403": "The key lacks the scope this needs, or is used from an address it is not allowed "
    "from (address-not-allowed)",
    "404": "No such class, object, version or resource, or one the key may not see",
    "409": "Conflicts with stored state (duplicate key, stale version, still referenced, ...)",
    "412": "If-Match names a version that is no longer current (or If-None-Match: * found "
    "an object)",
    "413": "The request body is over its size limit",
    "415": "The uploaded file is not of a type the hub accepts (unsupported-media-type)",
    "422": "The body is well-formed JSON but not acceptable (invalid-body, validation-failed, "
    "invalid-class-definition, ...)",
    "429": "Too many requests from this address or key (rate-limited); Retry-After says when "
    "to try again",
    "503": "Not ready: the database does not answer (/inbound: the source is disabled)",
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An API key: phk_..."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "apiKeyQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "apikey",
        "description": "GraphQL only, as Pimcore's Datahub takes it, for clients that cannot "
        "set a header (the key then shows in logs: prefer a header)",
    },
}

# Successes FastAPI cannot infer from a route returning a Response of its own making.
_CREATED_OR_REPLACED = {
    "201": {
        "description": "Created",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}}}

# The conditional GET header of routes that answer 304 (products, asset files).
IF_NONE_MATCH: dict[str, Any] = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag from an earlier response; 304 when unchanged",
    "schema": {"type": "string"},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: str, *, etag: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}},
    }
    if etag:
        response["headers"] = {
            "ETag": {
                "description": 'The version, e.g. "3": send it as If-Match to write safely',
                "schema": {"type": "string"},
            }
        }
    return response


_TIME = {"type": "string", "description": "ISO 8601, UTC"}


# Every list answers its next page as `nextCursor`, to pass back as `after` (docs/api.md#paging).
# Some once named it `next` or `cursor`: those stay, deprecated, for one release.
def _page(
    properties: dict[str, Any],
    cursor_type: str,
    *,
    old_name: str | None = None,
    optional: dict[str, Any] | None = None,
) -> dict[str, Any]:
    cursor = {
        "type": [cursor_type, "null"],
        "description": "Pass as `after` for the next page; null on the last page",
    }
    old = {old_name: {**cursor, "deprecated": True, "description": "Old name of nextCursor"}}
    return {
        "type": "object",
        "required": [*properties, "nextCursor"],
        "properties": {
            **properties,
            "nextCursor": cursor,
            **(old if old_name else {}),
            **(optional or {}),
        },
    }


_OBJECTS = {"type": "array", "items": {"type": "object"}}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
PAGE_SCHEMAS: dict[str, Any] = {
    "DeliveryPage": _page({"items": _OBJECTS}, "integer", old_name="next"),
    "ConnectorItemPage": _page(
        {"connector": {"type": "string"}, "counts": _COUNTS, "items": _OBJECTS},
        "string",
        old_name="next",
    ),
    "LedgerPage": _page({"counts": _COUNTS, "items": _OBJECTS}, "integer", old_name="next"),
    "InboundMessagePage": _page({"items": _OBJECTS}, "integer"),
    "RefusalPage": _page({"items": _OBJECTS}, "integer"),
    "SearchPage": _page(
        {"total": {"type": "integer", "minimum": 0}, "items": _OBJECTS},
        "string",
        old_name="cursor",
        optional={
            "facets": {"type": "object"},
            "fuzzy": {"type": "boolean", "description": "With q: only near matches were found"},
        },
    ),
}
# Objects as CatalogObject.to_dict, ObjectVersion.to_dict and FieldChange.to_dict give them.
OBJECT_SCHEMAS: dict[str, Any] = {
    "CatalogObject": {
        "type": "object",
        "required": ["uuid", "class", "key", "published", "version", "createdAt", "modifiedAt"],
        "properties": {
            "uuid": {"type": "string"},
            "class": {"type": "string"},
            "key": {"type": "string", "description": "The business key"},
            "published": {"type": "boolean"},
            "version": {"type": "integer", "minimum": 1},
            "createdAt": _TIME,
            "modifiedAt": _TIME,
            "fields": {
                "type": "object",
                "description": "Values by field name; a variant's include what it inherits",
            },
            "parent": {
                "type": "object",
                "description": "A variant's parent",
                "required": ["uuid"],
                "properties": {"uuid": {"type": "string"}, "key": {"type": "string"}},
            },
            "inherited": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The fields whose values a variant takes from its parent",
            },
            "workflow": {
                "type": "object",
                "description": "Classes with a workflow (docs/workflows.md): the object's "
                "state, and the transitions the calling key may run from it",
                "required": ["state"],
                "properties": {
                    "state": {"type": "string"},
                    "transitions": {"type": "array", "items": {"type": "string"}},
                },
            },
            "completeness": {
                "type": "object",
                "description": "Per completeness channel of the class, per language: "
                "{ratio: whole percent of the required fields filled, rounded down; missing: "
                "the required fields not filled}; {} when the class has no channels",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["ratio", "missing"],
                        "properties": {
                            "ratio": {"type": "integer", "minimum": 0, "maximum": 100},
                            "missing": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        },
    },
    "ObjectPage": {
        "type": "object",
        "required": ["total", "items", "nextCursor"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "items": {"type": "array", "items": _ref("CatalogObject")},
            "nextCursor": {"type": ["string", "null"], "description": "Pass as `after`"},
        },
    },
    **PAGE_SCHEMAS,
    "ObjectVersion": {
        "type": "object",
        "required": ["version", "action", "author", "createdAt", "published", "changedFields"],
        "properties": {
            "version": {"type": "integer", "minimum": 1},
            "action": {"type": "string"},
            "author": {"type": ["string", "null"]},
            "createdAt": _TIME,
            "published": {"type": "boolean"},
            "changedFields": {"type": "array", "items": {"type": "string"}},
            "fields": {"type": "object"},
            "changes": {
                "type": "array",
                "description": "With one version: its diff to the version before",
                "items": {
                    "type": "object",
                    "required": ["field"],
                    "properties": {"field": {"type": "string"}, "before": {}, "after": {}},
                },
            },
        },
    },
    "ObjectVersionList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("ObjectVersion")}},
    },
    # As api/rest/assets.py shows an asset: Asset.to_dict with its URLs (docs/assets.md).
    "Asset": {
        "type": "object",
        "required": [
            *("uuid", "path", "folder", "filename", "mimetype", "filesize", "checksum"),
            *("width", "height", "metadata", "version", "createdAt", "modifiedAt"),
            *("url", "thumbnails"),
        ],
        "properties": {
            "uuid": {"type": "string"},
            "path": {"type": "string", "examples": ["/products/shirt.jpg"]},
            "folder": {"type": "string"},
            "filename": {"type": "string"},
            "mimetype": {"type": "string", "description": "Detected from the content"},
            "filesize": {"type": "integer", "minimum": 0},
            "checksum": {"type": "string", "description": "SHA-256 of the content, hex"},
            "width": {"type": ["integer", "null"]},
            "height": {"type": ["integer", "null"]},
            "metadata": {"type": "object", "description": 'e.g. {"alt": {"en": "..."}}'},
            "version": {"type": "integer", "minimum": 1},
            "createdAt": _TIME,
            "modifiedAt": _TIME,
            "url": {"type": "string", "description": "The file, cacheable for good"},
            "thumbnails": {
                "type": "object",
                "description": "Raster images: each preset's URL by name; else empty",
                "additionalProperties": {"type": "string"},
            },
        },
    },
    "AssetPage": _page(
        {
            "total": {"type": "integer", "minimum": 0},
            "items": {"type": "array", "items": _ref("Asset")},
        },
        "string",
    ),
}
_OBJECT = "/api/v1/objects/{class_name}/{key}"
_ASSET = "/api/v1/assets/{path}"
# A key that may write but not read the object as it now is gets no body (api/rest/objects.py
# written_response): 204 for a change, and 201 with only the ETag for a creation.
_UNREADABLE = {
    "204": {
        "description": "Changed, for a key that may not read the result: no body, the ETag only",
        "headers": {"ETag": {"schema": {"type": "string"}}},
    }
}
_CREATED = "Created (for a key that may not read it: no body, the ETag only)"
SUCCESS_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/api/v1/objects/{class_name}"): {"200": _json("A page", "ObjectPage")},
    ("get", _OBJECT + "/variants"): {"200": _json("A page of its variants", "ObjectPage")},
    ("get", "/api/v1/webhooks/deliveries"): {"200": _json("A page", "DeliveryPage")},
    ("get", "/api/v1/inbound/messages"): {
        "200": _json("A page, newest first; nextCursor goes into `before`", "InboundMessagePage")
    },
    ("get", "/api/v1/inbound/refusals"): {"200": _json("A page", "RefusalPage")},
    ("get", "/api/v1/connectors/{name}/items"): {
        "200": _json("Counts and a page of SKUs", "ConnectorItemPage")
    },
    ("get", "/api/v1/connectors/{name}/ledger"): {
        "200": _json("Counts and a page of entries", "LedgerPage")
    },
    ("get", "/simple-rest/{config}/search"): {"200": _json("A page of matches", "SearchPage")},
    ("post", "/api/v1/objects/{class_name}"): {"201": _json(_CREATED, "CatalogObject", etag=True)},
    ("get", _OBJECT): {"200": _json("The object", "CatalogObject", etag=True)},
    ("put", _OBJECT): {
        "200": _json("Replaced", "CatalogObject", etag=True),
        "201": _json(_CREATED, "CatalogObject", etag=True),
        **_UNREADABLE,
    },
    ("patch", _OBJECT): {"200": _json("Changed", "CatalogObject", etag=True), **_UNREADABLE},
    ("post", _OBJECT + "/transitions/{name}"): {
        "200": _json("The object in its new state", "CatalogObject", etag=True),
        **_UNREADABLE,
    },
    ("get", _OBJECT + "/versions"): {"200": _json("Newest first", "ObjectVersionList")},
    ("get", _OBJECT + "/versions/{version}"): {
        "200": _json("The version, its values and its changes", "ObjectVersion")
    },
    ("post", "/api/v1/assets"): {
        "201": _json("Created", "Asset", etag=True),
        "200": _json("Replaced, or the same content was there", "Asset", etag=True),
    },
    ("put", _ASSET): {
        "201": _json("Created", "Asset", etag=True),
        "200": _json("Replaced, or the same content was there", "Asset", etag=True),
    },
    ("get", "/api/v1/assets"): {"200": _json("A page, by path", "AssetPage")},
    ("get", _ASSET): {"200": _json("The asset", "Asset", etag=True)},
    ("patch", _ASSET): {"200": _json("Changed", "Asset", etag=True)},
    ("get", "/api/v1/asset-uuids/{uuid}"): {"200": _json("The asset", "Asset", etag=True)},
    ("get", "/api/v1/asset-versions/{path}"): {"200": _json("Newest first", "ObjectVersionList")},
    ("put", "/api/v1/datahub/{name}"): _CREATED_OR_REPLACED,
    ("put", "/api/v1/import-profiles/{name}"): _CREATED_OR_REPLACED,
    ("get", "/metrics"): {"200": {"description": "Prometheus text format", **_TEXT}},
    ("get", "/api/v1/datahub/{name}/schema.graphql"): {
        "200": {"description": "The schema in GraphQL SDL", **_TEXT}
    },
}


# Errors the general rule in error_statuses() does not foresee.
EXTRA_ERRORS: dict[tuple[str, str], list[str]] = {
    # An `endpoint` filter naming no endpoint is a 404, as for the endpoint's own routes.
    ("get", "/api/v1/webhooks/deliveries"): ["404"],
    ("post", "/api/v1/webhooks/replay"): ["404"],
    ("post", "/api/v1/assets"): ["415"],
    ("put", "/api/v1/assets/{path}"): ["415"],
    ("get", "/assets/{path}"): ["415"],  # a thumbnail of a type that has none
    # A body without a JSON Content-Type; a source switched off (with Retry-After).
    ("post", "/inbound/{source}"): ["415", "503"],
}

# An ETag this API issued ("3", or "3.<hash>" from the product route), weak or not, or "*".
IF_MATCH_SCHEMA = {"type": "string", "pattern": r'^\s*(\*|(W/)?"[0-9]+(\.[0-9a-f]+)?")\s*$'}
# On a write, If-None-Match takes only "*": create, but only if there is no such object.
IF_NONE_MATCH_SCHEMA = {"type": "string", "pattern": r"^\s*\*\s*$"}

# pydantic reads a time as an ISO 8601 date-time or date (seconds optional) or as Unix
# seconds; "format: date-time" alone would say that the other forms are refused.
TIME_SCHEMA = {
    "type": "string",
    "description": "ISO 8601 date-time or date (UTC unless a zone is given), or Unix seconds",
    "examples": ["2026-01-31T12:00:00Z"],
}

# What the services check first, for bodies read as free JSON (the rest of their checks,
# such as a field definition's options, is in docs/ and answered as 422 problems).
_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}}
_ENDPOINT_PROPERTIES: dict[str, Any] = {
    "url": {"type": "string", "minLength": 1, "maxLength": 2048},
    "description": {"type": "string", "maxLength": 1000},
    "eventTypes": {"type": "array", "items": {"enum": [t.value for t in EventType]}},
    "classes": _NAMES,
    "changedFields": _NAMES,
    "payload": {"enum": [m.value for m in PayloadMode]},
    "enabled": {"type": "boolean"},
    "rateLimit": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}]},
}
_CLASS = {
    "type": "object",
    "required": ["name", "businessKey", "fields"],
    "properties": {
        "name": {"type": "string", "pattern": CLASS_NAME_PATTERN.pattern},
        "businessKey": {"type": "string"},
        "fields": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        "version": {"type": "integer", "description": "The version you read; refused if stale"},
    },
}
_CONFIG = {
    "type": "object",
    "required": ["name", "classes"],
    "properties": {
        "name": {"type": "string", "pattern": CONFIG_NAME_PATTERN.pattern},
        "classes": {"type": "object", "minProperties": 1},
        "version": {"type": "integer", "description": "The version you read; refused if stale"},
    },
}
_PROFILE = {
    "type": "object",
    "required": ["source", "mapping", "cron"],
    "properties": {
        "source": {"type": "string"},
        "mapping": {"type": "string"},
        "cron": {"type": "string"},
        "class": {"type": "string"},
        "options": {"type": "object"},
        "enabled": {"type": "boolean"},
    },
}
BODY_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/classes"): _CLASS,
    ("put", "/api/v1/classes/{name}"): _CLASS,
    ("post", "/api/v1/datahub"): _CONFIG,
    ("put", "/api/v1/datahub/{name}"): _CONFIG,
    ("put", "/api/v1/import-profiles/{name}"): _PROFILE,
    ("post", "/api/v1/webhooks/endpoints"): {
        "type": "object",
        "required": ["url"],
        "properties": _ENDPOINT_PROPERTIES,
        "additionalProperties": False,
    },
    ("patch", "/api/v1/webhooks/endpoints/{endpoint_id}"): {
        "type": "object",
        "properties": _ENDPOINT_PROPERTIES,
        "additionalProperties": False,
    },
}
