"""API key authentication and scope checks for routes, and where their reads run.

Credentials are read from a request in one place, `credentials`, and authenticated once, by
api.guard.AccessGuard, which keeps what it decided (`Authentication`) in the request's state.
Routes take the principal from there (`api_key`, `authentication_of`) and never read the
headers or authenticate again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from pimhub.access.keys import USER_KEY_PREFIX, Action, ApiKey
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import Forbidden

T = TypeVar("T")


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


async def point_read(hub: Hub, read: Callable[[], T]) -> T:
    """Runs `read`, a few single-row point reads, on the event loop when the database is a
    local SQLite file (tens of microseconds: less than the hop to a worker thread and back),
    and in the thread pool otherwise, where a network round trip must not stall the loop."""
    if hub.engine.dialect.name == "sqlite":
        return read()
    return await run_in_threadpool(read)


AUTHENTICATION = "authentication"  # the request state's entry the guard fills
_GRAPHQL = "/graphql/"  # the one surface that takes ?apikey= (as Pimcore's Datahub does)


class AmbiguousCredentials(Exception):
    """The request carries more than one credential: which one counts is not clear."""

    def __init__(self, detail: str, fields: tuple[str, ...]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields


@dataclass(frozen=True, slots=True)
class Authentication:
    """What the guard decided: the principal, or why there is none (the error the route
    raises: Unauthorized, also for no credentials; a 503 when the pool or the OIDC keys
    were out of reach)."""

    key: ApiKey | None
    error: Exception | None = None

    def principal(self) -> ApiKey:
        if self.key is None:
            raise self.error or RuntimeError("no principal and no error")
        return self.key


def token_in(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key from `Authorization: Bearer <key>`, else from `X-API-Key`."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
    return x_api_key


def credentials(scope: Scope) -> str | None:
    """The token a request carries: `Authorization: Bearer`, `X-API-Key`, or `?apikey=` on
    /graphql/ only. AmbiguousCredentials when Authorization, X-API-Key or ?apikey= comes
    more than once, or when two of them carry different values."""
    sent: dict[bytes, list[str]] = {b"authorization": [], b"x-api-key": []}
    for name, value in scope["headers"]:
        if name in sent:
            sent[name].append(value.decode("latin-1"))
    copies = {
        "Authorization": sent[b"authorization"],
        "X-API-Key": sent[b"x-api-key"],
        "?apikey=": _apikeys(scope),
    }
    repeated = tuple(name for name, values in copies.items() if len(values) > 1)
    if repeated:
        raise AmbiguousCredentials(
            f"the request carries {' and '.join(repeated)} more than once; send one credential",
            repeated,
        )
    offered = {name: values[0] for name, values in copies.items() if values}
    if "Authorization" in offered:
        # A non-Bearer Authorization (Basic, from a proxy in front) carries no key of ours.
        bearer = token_in(offered.pop("Authorization"), None)
        if bearer is not None:
            offered = {"Authorization": bearer, **offered}
    if len(set(offered.values())) > 1:
        names = tuple(offered)
        raise AmbiguousCredentials(
            f"the request carries {' and '.join(names)} with different values; send one credential",
            names,
        )
    return next(iter(offered.values()), None)


def _apikeys(scope: Scope) -> list[str]:
    query: bytes = scope.get("query_string", b"")
    if not scope["path"].startswith(_GRAPHQL) or b"apikey" not in query:
        return []
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    return [value for name, value in pairs if name == "apikey"]


def authentication_of(scope: Scope) -> Authentication:
    """What the guard decided for this request. A route reached without the guard in front
    is a wiring mistake: it fails rather than reading credentials itself."""
    found = scope.get("state", {}).get(AUTHENTICATION)
    if not isinstance(found, Authentication):
        raise RuntimeError("no AccessGuard ran in front of this route (api/app.py)")
    return found


def api_key(request: Request) -> ApiKey:
    """The calling key, as the guard authenticated it (its 401 or 503 when there is none)."""
    return authentication_of(request.scope).principal()


def require(key: ApiKey, action: Action, class_name: str | None = None) -> None:
    """403 unless `key` holds `action` on `class_name`."""
    if not key.allows(action, class_name):
        target = f" on {class_name}" if class_name else ""
        whole = action in (Action.ADMIN, Action.INTEGRATE)
        scope = action.value if whole else f"{action.value}:{class_name or '*'}"
        if key.key_id.startswith(USER_KEY_PREFIX):  # an admin UI user: their role decides
            raise Forbidden(
                f"the user '{key.name}' may not {action.value}{target}; "
                f"their role lacks the scope '{scope}'"
            )
        raise Forbidden(
            f"the key '{key.name}' may not {action.value}{target}; it needs the scope '{scope}'"
        )


def writes_some_class(key: ApiKey) -> bool:
    """Whether `key` may write any class at all (an import needs write on its class)."""
    return key.allows(Action.WRITE) or any(s.startswith("write:") for s in key.scopes)


def require_some_write(key: ApiKey) -> None:
    """403 for a key that may write no class at all, before any class is named or looked
    up (or an upload read): its refusal must not tell which classes exist."""
    if not writes_some_class(key):
        raise Forbidden(f"the key '{key.name}' may not write any class; an import needs write")


def may_write_referrers(
    key: ApiKey | None,
    what: str,
    also: Callable[[str], bool] | None = None,
    alternative: str = "",
) -> Callable[[set[str]], None]:
    """The check a forced delete runs on the classes of the objects it changes (removing
    their references to `what`): the key must hold `write` on each, not only `delete` on its
    own class; 403 naming the missing scopes. `also`: another grant per class (a datahub
    configuration's update), named in the refusal by `alternative`. No key: no scopes."""
    who = f"the key '{key.name}'" if key is not None else "this request"

    def check(classes: set[str]) -> None:
        missing = sorted(
            c
            for c in classes
            if not (key is not None and key.allows(Action.WRITE, c))
            and not (also is not None and also(c))
        )
        if missing:
            scopes = ", ".join(f"'write:{c}'" for c in missing)
            raise Forbidden(
                f"{who} may not remove {what} from objects of "
                f"{', '.join(missing)}; forcing the delete needs the scope(s) {scopes}"
                f"{alternative}"
            )

    return check
