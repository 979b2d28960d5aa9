"""API key authentication and scope checks for routes, and where their reads run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

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


def token_in(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key from `Authorization: Bearer <key>`, else from `X-API-Key`."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
    return x_api_key


def token_from(request: Request) -> str | None:
    return token_in(request.headers.get("authorization"), request.headers.get("x-api-key"))


def api_key(request: Request) -> ApiKey:
    """The calling key (401 when missing or not valid). Cached per request."""
    cached: ApiKey | None = getattr(request.state, "api_key", None)
    if cached is None:
        cached = hub_of(request).access.authenticate(token_from(request))
        request.state.api_key = cached
    return cached


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
