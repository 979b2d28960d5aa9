"""GraphQL errors with a stable `extensions.code` (docs/graphql.md lists them)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from pimhub.catalog.errors import (
    BodyTimeout,
    CatalogError,
    Conflict,
    Forbidden,
    InvalidQuery,
    NotFound,
    NulCharacter,
    Unauthorized,
    Unavailable,
)

__all__ = ["PoolTimeout", "coded", "error_code", "from_domain", "request_error"]

# A request that found no free database connection within the pool's timeout (PoolTimeout)
# is answered 503 with this Retry-After: the server is busy and the request may be sent
# again. Writes the request made before are kept (each is its own transaction); an upsert
# batch sent again changes nothing already saved.
RETRY_AFTER_SECONDS = 2

# Filter, sort and cursor problems say which part was wrong.
_QUERY_CODES = {
    "unknown-field": "UNKNOWN_FILTER_FIELD",
    "unknown-operator": "UNKNOWN_FILTER_OPERATOR",
    "invalid-json": "INVALID_FILTER_JSON",
    "invalid-value": "INVALID_FILTER_VALUE",
    "too-large": "FILTER_TOO_LARGE",
    "invalid-cursor": "INVALID_CURSOR",
}


def error_code(exc: CatalogError) -> str:
    if isinstance(exc, NulCharacter):
        return "NUL_CHARACTER"
    if isinstance(exc, BodyTimeout):
        return "REQUEST_TIMEOUT"
    if isinstance(exc, InvalidQuery):
        code = exc.errors[0].code if exc.errors else ""
        if code == "unknown-field" and exc.errors[0].field.startswith("sort"):
            return "UNKNOWN_SORT_FIELD"
        return _QUERY_CODES.get(code, "BAD_USER_INPUT")
    if isinstance(exc, Unauthorized):
        return "UNAUTHENTICATED"
    if isinstance(exc, Forbidden):
        return "FORBIDDEN"
    if isinstance(exc, NotFound):
        return "NOT_FOUND"
    if isinstance(exc, Conflict):
        return "CONFLICT"
    if isinstance(exc, Unavailable):
        return "SERVICE_UNAVAILABLE"
    return "BAD_USER_INPUT"


def coded(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def from_domain(exc: CatalogError) -> GraphQLError:
    extensions: dict[str, Any] = {}
    if exc.errors:
        extensions["errors"] = [e.as_dict() for e in exc.errors]
    return coded(exc.detail, error_code(exc), **extensions)


def request_error(message: str, code: str) -> dict[str, Any]:
    """A whole-request error body (bad HTTP request, authentication, unknown endpoint)."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}
