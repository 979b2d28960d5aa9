"""/graphql/{config}: GraphQL over HTTP.

POST with a JSON body `{query, variables, operationName}` (or an `application/graphql` body),
GET with the same as query parameters (queries only). The key comes from
`Authorization: Bearer`, `X-API-Key` or `?apikey=`, read and authenticated by api.guard
only (this endpoint takes the outcome from the request state). A browser asking for HTML
without a query gets the explorer page. Like the product route, this is a bare ASGI
endpoint served outside FastAPI (see HubApp), since it is a hot read path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from pimhub.api.asset_links import base_url, presets_of
from pimhub.api.auth import authentication_of, point_read
from pimhub.api.body import receive_chunks
from pimhub.api.edge import refuse_too_large
from pimhub.api.graphql.errors import (
    RETRY_AFTER_SECONDS,
    PoolTimeout,
    error_code,
    request_error,
)
from pimhub.api.graphql.executor import GraphQLService, RequestFailed
from pimhub.api.graphql.explorer import explorer_page
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import (
    BodyTimeout,
    CatalogError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
)

PREFIX = "/graphql/"
PATH = PREFIX + "{config}"
_STATUS = {Unauthorized: 401, Forbidden: 403, NotFound: 404, BodyTimeout: 408, Unavailable: 503}
log = structlog.get_logger("pimhub.graphql")
_CHALLENGE = [(b"www-authenticate", b'Bearer realm="pimhub"')]  # as REST's 401 (api/errors.py)


class GraphQLEndpoint:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub: Hub = scope["app"].state.hub
        service: GraphQLService = scope["app"].state.graphql
        config: str = scope["path_params"]["config"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        params = _params(scope["query_string"])
        try:
            request = await _request(scope, receive, headers, params)
            if request is None:
                await _send(send, 200, explorer_page(config).encode(), b"text/html; charset=utf-8")
                return
            caller = authentication_of(scope)  # api.guard's: never the headers again
            query, variables, operation = request

            def run() -> dict[str, Any]:
                return service.run(
                    config,
                    caller.principal(),
                    query,
                    variables,
                    operation,
                    allow_mutations=scope["method"] == "POST",
                    presets=presets_of(scope["app"].state),
                    base_url=base_url(hub, scope),
                )

            # Only queries with a compiled plan (about a millisecond) run on the event loop
            # (on SQLite; see point_read). Anything else, the first run of a query included,
            # goes to the thread pool: writes may wait for SQLite's write lock, and
            # graphql-core's field-by-field execution of a big page takes tens of
            # milliseconds that would stall every other request.
            if service.planned(config, query, operation):
                body = await point_read(hub, run)
            else:
                body = await run_in_threadpool(run)
            status = 200
        except RequestFailed as exc:
            status, body = exc.status, request_error(exc.message, exc.code)
        except PoolTimeout:
            log.warning("graphql.pool_exhausted", config=config)
            status = 503
            body = request_error(
                "the server has no free database connection now; retry after "
                f"{RETRY_AFTER_SECONDS} s",
                "SERVICE_UNAVAILABLE",
            )
        except PayloadTooLarge as exc:
            # A chunked body over the limit: the same 413 problem as one whose Content-Length
            # the edge refused, whichever way the client framed it.
            await refuse_too_large(exc, scope, receive, send)
            return
        except CatalogError as exc:
            status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
            body = request_error(exc.detail, error_code(exc))
        await _send(send, status, orjson.dumps(body), b"application/json", _headers(scope, status))


def _headers(scope: Scope, status: int) -> list[tuple[bytes, bytes]]:
    if status == 401:
        return _CHALLENGE
    if status == 503:
        return [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
    if status == 405:
        # A mutation sent with GET may be sent with POST only (RFC 9110 Allow).
        return [(b"allow", b"POST" if scope["method"] == "GET" else b"GET, POST")]
    return []


def _params(query_string: bytes) -> dict[str, str]:
    if not query_string:
        return {}
    return {k: v[-1] for k, v in parse_qs(query_string.decode("latin-1")).items()}


async def _request(
    scope: Scope, receive: Receive, headers: dict[str, str], params: dict[str, str]
) -> tuple[str, dict[str, Any] | None, str | None] | None:
    """(query, variables, operationName), or None when a browser wants the explorer."""
    if scope["method"] == "GET":
        if "query" not in params:
            if "text/html" in headers.get("accept", ""):
                return None
            raise RequestFailed(400, "a GET request needs a 'query' parameter", "BAD_REQUEST")
        variables = _json_object(params.get("variables"), "variables")
        return params["query"], variables, params.get("operationName") or None
    if scope["method"] != "POST":
        raise RequestFailed(405, "use GET or POST", "METHOD_NOT_ALLOWED")
    raw = await _read_body(receive, headers)
    if headers.get("content-type", "").startswith("application/graphql"):
        return raw.decode("utf-8", "replace"), None, None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestFailed(400, f"the body is not valid JSON: {exc}", "BAD_REQUEST") from None
    if isinstance(data, list):
        # Batching would multiply every per-request limit (cost, aliases, tokens) by the
        # length of the array; aliases combine fields in one request instead.
        raise RequestFailed(
            400,
            f"batched requests (a JSON array of {len(data)}) are not supported; send one "
            "request per query, or combine fields in one query with aliases",
            "BATCHING_NOT_SUPPORTED",
        )
    if not isinstance(data, dict) or not isinstance(data.get("query"), str):
        raise RequestFailed(
            400, "the body must be a JSON object with a 'query' string", "BAD_REQUEST"
        )
    variables = data.get("variables")
    if isinstance(variables, str):
        variables = _json_object(variables, "variables")
    if variables is not None and not isinstance(variables, dict):
        raise RequestFailed(400, "'variables' must be a JSON object", "BAD_REQUEST")
    operation = data.get("operationName")
    if operation is not None and not isinstance(operation, str):
        raise RequestFailed(400, "'operationName' must be a string", "BAD_REQUEST")
    return data["query"], variables, operation


def _json_object(text: str | None, name: str) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise RequestFailed(400, f"'{name}' is not valid JSON", "BAD_REQUEST") from None
    if value is not None and not isinstance(value, dict):
        raise RequestFailed(400, f"'{name}' must be a JSON object", "BAD_REQUEST")
    return value


async def _read_body(receive: Receive, headers: dict[str, str]) -> bytes:
    # Its size limit (graphql_max_body_bytes) is the edge's: Content-Length is checked before
    # the endpoint runs, and receive raises PayloadTooLarge once a chunked body passes it
    # (answered as the edge answers, the 413 problem payload-too-large).
    return b"".join([chunk async for chunk in receive_chunks(receive)])


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _route() -> Route:
    route = Route(PATH, GraphQLEndpoint(), methods=["GET", "POST"], name="graphql")
    # Starlette adds HEAD to GET routes; a GraphQL request has no HEAD form, so HEAD is a
    # 405 with the same Allow header as DELETE and PUT.
    assert route.methods is not None
    route.methods.discard("HEAD")
    return route


routes = [_route()]


# FastAPI does not see this route either (see HubApp); create_app merges its description.
# Whole-request failures are GraphQL error bodies (application/json); those the edge and the
# router answer before the endpoint runs (a NUL character, a path that is no route) are
# problem details, so both are documented where both occur.
_GRAPHQL_ERROR = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "locations": {"type": "array", "items": {"type": "object"}},
        "path": {"type": "array", "items": {"type": ["string", "integer"]}},
        "extensions": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "See docs/graphql.md"}},
        },
    },
}
_GRAPHQL_RESPONSE = {
    "type": "object",
    "description": "A GraphQL response: data, and errors with extensions.code",
    "properties": {
        "data": {"type": ["object", "null"]},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/GraphQLError"}},
        "extensions": {"type": "object"},
    },
}
_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/GraphQLResponse"}}}
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _failure(description: str, *, problem: bool = False) -> dict[str, Any]:
    return {"description": description, "content": {**_JSON, **(_PROBLEM if problem else {})}}


_CONFIG = {
    "name": "config",
    "in": "path",
    "required": True,
    "description": "The datahub configuration's name",
    "schema": {"type": "string"},
}
_FAILURES = {
    "400": _failure("The request or the document is malformed", problem=True),
    "401": _failure("Missing or invalid API key (with a WWW-Authenticate challenge)"),
    "403": _failure("The key is not one of this configuration's"),
    "404": _failure("No such configuration (or no such route)", problem=True),
    "503": _failure("No free database connection in time (with Retry-After)"),
}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "GraphQLError": _GRAPHQL_ERROR,
    "GraphQLResponse": _GRAPHQL_RESPONSE,
}
OPENAPI_PATHS: dict[str, Any] = {
    PATH: {
        "get": {
            "tags": ["graphql"],
            "summary": "Run a GraphQL query (mutations need POST); no query: the explorer page",
            "operationId": "graphql_get",
            "parameters": [
                _CONFIG,
                {"name": "query", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "variables",
                    "in": "query",
                    "description": "A JSON object",
                    "schema": {"type": "string"},
                },
                {"name": "operationName", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "apikey",
                    "in": "query",
                    "description": "The key, where no header can carry it",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": {
                    "description": "The result, errors included (or the explorer, for a browser)",
                    "content": {**_JSON, "text/html": {"schema": {"type": "string"}}},
                },
                **_FAILURES,
                "405": _failure("A mutation sent with GET (Allow: POST)"),
            },
        },
        "post": {
            "tags": ["graphql"],
            "summary": "Run a GraphQL query or mutation",
            "operationId": "graphql_post",
            "parameters": [_CONFIG],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["query"],
                            "properties": {
                                "query": {"type": "string"},
                                "variables": {
                                    "description": "An object, or one encoded as a string",
                                    "type": ["object", "string", "null"],
                                },
                                "operationName": {"type": ["string", "null"]},
                            },
                        }
                    },
                    "application/graphql": {"schema": {"type": "string"}},
                },
            },
            "responses": {
                "200": {"description": "The result, errors included", "content": _JSON},
                **_FAILURES,
                "413": _failure(
                    "The body is over graphql_max_body_bytes (1 MiB unless set)", problem=True
                ),
            },
        },
    }
}
