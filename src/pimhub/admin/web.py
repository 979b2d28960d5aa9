"""What every admin page handler uses: the signed-in user, rendering, checked forms,
redirects with a flash message, and running blocking service calls off the event loop.

A handler reads `user_of(request)` / `principal_of(request)` (set by the session middleware
in admin/app.py, which answers for pages nobody signed in to), checks permissions with
`pimhub.api.auth.require` exactly as REST does, and calls the hub's services through
`blocking(...)`. A POST handler starts with `form = await checked_form(request)`, which
refuses a missing or wrong CSRF token and a cross-site Origin with a 403.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote, unquote

from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pimhub.access.keys import ApiKey
from pimhub.admin.nav import visible_nav
from pimhub.api.body import read_form
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import (
    CatalogError,
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NulCharacter,
)
from pimhub.users.model import ROLE_LABELS, Session, User

P = ParamSpec("P")
T = TypeVar("T")

PREFIX = "/admin"
SESSION_COOKIE = "pimhub_session"
FLASH_COOKIE = "pimhub_flash"
CSRF_FIELD = "csrf_token"
# Forms are small; uploads go through imports (their own limits) and assets.
MAX_FORM_FIELDS = 2000
MAX_FORM_FILES = 1
MAX_FIELD_BYTES = 1024 * 1024


class CsrfRefused(Forbidden):
    code = "csrf-refused"
    title = "Form expired or not from this site"


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def user_of(request: Request) -> User:
    user: User = request.scope["state"]["user"]
    return user


def session_of(request: Request) -> Session:
    session: Session = request.scope["state"]["session"]
    return session


def principal_of(request: Request) -> ApiKey:
    """The signed-in user as the permission checks see them (their role's scopes)."""
    key: ApiKey = request.scope["state"]["principal"]
    return key


def author_of(request: Request) -> str:
    """Who a change made in the UI is recorded as in its version: the username."""
    return user_of(request).username


def url(path: str) -> str:
    """An admin address: `url('/objects/Product')` is '/admin/objects/Product'."""
    return PREFIX + (path if path.startswith("/") else "/" + path)


async def blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Runs a service call (database, files) in the thread pool."""
    return await run_in_threadpool(fn, *args, **kwargs)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page `template` with the layout's context (user, navigation, CSRF token, flash)."""
    env: Environment = request.app.state.templates
    state = request.scope.get("state", {})
    user: User | None = state.get("user")
    session: Session | None = state.get("session")
    principal: ApiKey | None = state.get("principal")
    flash = request.cookies.get(FLASH_COOKIE)
    page = env.get_template(template).render(
        request=request,
        user=user,
        role_label=ROLE_LABELS[user.role] if user else "",
        principal=principal,
        nav=visible_nav(principal) if principal else [],
        csrf_token=session.csrf_token if session else state.get("login_csrf", ""),
        flash=unquote(flash)[:500] if flash else None,
        path=request.url.path,
        url=url,
        **(context or {}),
    )
    response = HTMLResponse(page, status_code=status, headers=dict(headers or {}))
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def fragment(
    request: Request, template: str, context: Mapping[str, Any] | None = None
) -> HTMLResponse:
    """A piece of a page for htmx (a table body, a status cell): no layout."""
    return render(request, template, context)


def see_other(path: str, flash: str | None = None) -> RedirectResponse:
    """The answer to a form POST: 303 to `path` (an admin path or a full /admin URL), with a
    one-time message shown on the next page."""
    target = path if path.startswith(PREFIX) else url(path)
    response = RedirectResponse(target, status_code=303)
    if flash:
        response.set_cookie(
            FLASH_COOKIE,
            quote(flash[:500]),
            max_age=120,
            path=PREFIX,
            httponly=True,
            samesite="lax",
        )
    return response


async def checked_form(request: Request, *, max_bytes: int | None = None) -> FormData:
    """The POSTed form, after checking it came from one of our pages: the session's CSRF
    token in the `csrf_token` field and, when the browser sends one, an Origin of this site.
    Refuses with CsrfRefused (403) otherwise. `max_bytes` (an upload form): the whole body's
    limit, PayloadTooLarge (413) as soon as it passes it; files are spooled to disk."""
    _same_origin(request)
    if max_bytes is not None:
        form = await read_form(
            request, max_bytes, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES
        )
    else:
        form = await request.form(
            max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES
        )
    given = form.get(CSRF_FIELD)
    session: Session | None = request.scope.get("state", {}).get("session")
    if session is None:
        raise CsrfRefused("sign in again: this form belongs to a session that has ended")
    if not isinstance(given, str) or not hub_of(request).users.csrf_matches(session, given):
        raise CsrfRefused(
            "this form is out of date or did not come from this site; reload the page and "
            "send it again"
        )
    return form


def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None:  # not every browser sends one on a same-origin POST; the token decides
        return
    host = request.headers.get("host", "")
    if origin.split("://", 1)[-1] != host:
        raise CsrfRefused(f"a form from {origin!r} may not change this site")


def field_errors(error: CatalogError) -> dict[str, str]:
    """An error's per-field messages by field path, for showing next to the inputs."""
    found: dict[str, str] = {}
    for item in error.errors:
        found.setdefault(item.field, item.message)
    return found


def text_field(form: FormData, name: str, default: str = "") -> str:
    """A text field of `form` (a file in its place counts as missing), NULs refused."""
    value = form.get(name)
    if not isinstance(value, str):
        return default
    if "\x00" in value:
        raise NulCharacter("NUL characters are not allowed", [FieldError(name, "contains NUL")])
    return value


def parse_count(text: str, *, field: str, maximum: int) -> int:
    """A whole number from 0 to `maximum` typed into a form field, or InvalidInput naming
    `field`. ASCII digits only: '²' and '٣' pass str.isdigit() but int() refuses them, and
    the length is bounded before int() reads it."""
    significant = text.lstrip("0") or "0"
    if (
        not (text.isascii() and text.isdigit())
        or len(significant) > len(str(maximum))
        or int(significant) > maximum
    ):
        raise InvalidInput(
            f"{field} must be a whole number from 0 to {maximum:,}, in digits 0-9",
            [FieldError(field, f"not a whole number from 0 to {maximum:,}", "type")],
        )
    return int(significant)


def form_status(error: CatalogError) -> int:
    """The status of a form re-rendered with `error` next to the user's input: 409 when it
    conflicts with the stored state (a name taken, a run going), else 422."""
    return 409 if isinstance(error, Conflict) else 422


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
