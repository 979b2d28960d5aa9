"""Maps domain errors to RFC 9457 problem details. The only place that knows HTTP codes."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from pimhub.access.keys import InvalidKey
from pimhub.api.responses import ProblemResponse
from pimhub.brokers.errors import InvalidBroker
from pimhub.catalog import errors as e
from pimhub.connectors.magento.config import InvalidConnector
from pimhub.datahub.config import InvalidDatahubConfig
from pimhub.events.errors import InvalidEndpoint
from pimhub.inbound.errors import InvalidMessage, InvalidSource
from pimhub.transfer.mapping import InvalidMapping
from pimhub.transfer.profiles import InvalidProfile

PROBLEM_BASE = "urn:pimhub:problem:"

# Most specific first: the first class an error is an instance of decides its status.
STATUS_BY_ERROR: list[tuple[type[e.CatalogError], int]] = [
    (e.ValidationFailed, 422),
    (InvalidEndpoint, 422),
    (InvalidConnector, 422),
    (e.InvalidClassDefinition, 422),
    (InvalidDatahubConfig, 422),
    (InvalidMapping, 422),
    (InvalidProfile, 422),
    (InvalidSource, 422),
    (InvalidMessage, 422),
    (InvalidBroker, 422),
    (InvalidKey, 422),
    (e.InvalidQuery, 400),
    (e.PayloadTooLarge, 413),
    (e.UnsupportedMediaType, 415),
    (e.BodyTimeout, 408),
    (e.InvalidInput, 400),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.Unauthorized, 401),
    (e.Forbidden, 403),
    (e.Unavailable, 503),
    (e.SecretUnreadable, 500),
]


# An If-Match header named a version that is no longer current, or If-Match: * /
# If-None-Match: * did not hold. The domain raises it for conditions it checks itself.
PreconditionFailed = e.PreconditionFailed


class MalformedJson(e.InvalidInput):
    code = "malformed-json"
    title = "Malformed JSON"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors or [],
    }
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="pimhub"'} if status == 401 else None
    return ProblemResponse(body, status_code=status, headers=headers)


def status_for(error: e.CatalogError) -> int:
    if isinstance(error, PreconditionFailed):
        return 412
    return next((status for cls, status in STATUS_BY_ERROR if isinstance(error, cls)), 400)


async def _catalog_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, e.CatalogError)
    extra: dict[str, Any] = {"instance": request.url.path}
    if isinstance(exc, e.StaleVersion):
        extra["currentVersion"] = exc.current_version
    answer = problem(
        status_for(exc),
        exc.code,
        exc.title,
        exc.detail,
        [fe.as_dict() for fe in exc.errors],
        **extra,
    )
    if isinstance(exc, e.Unavailable):
        answer.headers["Retry-After"] = str(exc.retry_after)
    return answer


def _location(loc: tuple[Any, ...]) -> str:
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in ("body", "query", "path", "header")
        else [str(p) for p in loc]
    )
    return ".".join(parts) or str(loc[0] if loc else "")


async def _request_invalid(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    items = list(exc.errors())
    broken = next((i for i in items if i.get("type") == "json_invalid"), None)
    if broken is not None:
        reason = (broken.get("ctx") or {}).get("error", "invalid JSON")
        return problem(
            400,
            MalformedJson.code,
            MalformedJson.title,
            f"the request body is not valid JSON: {reason} (at character {broken['loc'][-1]})",
            [{"field": "body", "code": "malformed-json", "message": str(reason)}],
            instance=request.url.path,
        )
    where = {str(i["loc"][0]) for i in items if i.get("loc")}
    errors = [
        {
            "field": _location(tuple(i["loc"])),
            "code": str(i.get("type", "invalid")),
            "message": str(i["msg"]),
        }
        for i in items
    ]
    if where <= {"query", "path", "header"}:
        return problem(
            400,
            "invalid-parameter",
            "Invalid parameter",
            "a request parameter is not valid",
            errors,
            instance=request.url.path,
        )
    return problem(
        422,
        "invalid-body",
        "Invalid request body",
        "the request body does not have the expected shape",
        errors,
        instance=request.url.path,
    )


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "route-not-found", 405: "method-not-allowed"}
    code = codes.get(exc.status_code, f"http-{exc.status_code}")
    response = problem(
        exc.status_code,
        code,
        str(exc.detail),
        f"{request.method} {request.url.path}: {exc.detail}",
        instance=request.url.path,
    )
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        response.headers["Allow"] = allowed_methods(request.scope)
    return response


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def allowed_methods(scope: Scope) -> str:
    """The Allow header (RFC 9110) for a 405: the methods some route serves at the path.
    Starlette names only the first matching route's (GET, not GET and POST); each method is
    asked of every route, since FastAPI nests included routers in routes of its own."""
    routes = scope["app"].router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(r.matches({**scope, "method": method})[0] is Match.FULL for r in routes)
    )


async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    # The exception propagates on to the server, which logs the traceback; the client gets
    # the same problem shape as every other error, without internals.
    return problem(
        500,
        "internal-error",
        "Internal server error",
        "the request failed unexpectedly; the server log has the details",
        instance=request.url.path,
    )


# How long a client should wait when every database connection is in use.
POOL_RETRY_AFTER_SECONDS = 2


async def _pool_exhausted(request: Request, exc: Exception) -> ProblemResponse:
    # Every pooled connection stayed busy for the pool's whole timeout: the server is
    # overloaded, not broken, and the request did not run. A retry later will.
    answer = problem(
        503,
        "service-unavailable",
        "Service unavailable",
        f"the server has no free database connection now; retry after {POOL_RETRY_AFTER_SECONDS} s",
        instance=request.url.path,
    )
    answer.headers["Retry-After"] = str(POOL_RETRY_AFTER_SECONDS)
    return answer


async def _client_gone(request: Request, exc: Exception) -> Response:
    # The client hung up while its body was being read: nobody is left to answer, and it
    # is no server fault. 499 (nginx's "client closed request") is what the log shows.
    return Response(status_code=499)


def install_error_handlers(app: Starlette) -> None:
    app.add_exception_handler(e.CatalogError, _catalog_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(PoolTimeout, _pool_exhausted)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
