"""Signing in and out.

The sign-in form has no session yet, so its CSRF token is a double submit: a random value in
a short-lived cookie and in the form, which must agree.

Failed sign-ins are counted in three ways within `FAILURE_WINDOW`: per username and client
address together (`MAX_FAILURES`: one guesser at one account), per address (`MAX_SPRAY`: one
guesser trying many names) and per username (`MAX_SPRAY`: many addresses at one account).
Past a limit the form refuses to check passwords for that pair, address or name until the
window passes. The address and name limits are ten times the pair's, so one person's
guessing neither locks everyone behind the same proxy out nor lets anyone lock a named
colleague out with ten wrong passwords.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from threading import Lock
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.admin.web import (
    PREFIX,
    SESSION_COOKIE,
    CsrfRefused,
    blocking,
    checked_form,
    hub_of,
    render,
    see_other,
    text_field,
)
from pimhub.catalog.errors import Unauthorized

LOGIN_CSRF_COOKIE = "pimhub_login_csrf"
MAX_FAILURES = 10
MAX_SPRAY = 100
FAILURE_WINDOW = 15 * 60.0


def limit_of(who: str) -> int:
    """The failures `who` (pair:<name>|<address>, ip:<address> or user:<name>) may have."""
    return MAX_FAILURES if who.startswith("pair:") else MAX_SPRAY


def sign_in_keys(username: str, address: str) -> tuple[str, str, str]:
    """What one sign-in attempt counts against: the pair, the address and the name."""
    return f"pair:{username}|{address}", f"ip:{address}", f"user:{username}"


class FailedSignIns:
    """Recent failed sign-ins by username and by client address (in this process)."""

    LIMIT = 100_000  # names and addresses remembered; a spray of names must not grow it forever

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._seen: dict[str, deque[float]] = {}
        self._lock = Lock()
        self._clock = clock

    def blocked(self, *who: str) -> bool:
        now = self._clock()
        with self._lock:
            return any(len(self._recent(w, now)) >= limit_of(w) for w in who)

    def failed(self, *who: str) -> None:
        now = self._clock()
        with self._lock:
            for w in who:
                times = self._recent(w, now)
                times.append(now)
                self._seen[w] = times
            if len(self._seen) > self.LIMIT:
                self._forget(now)

    def _forget(self, now: float) -> None:
        """Drops what no longer counts, then, if still too many, the names that are not
        blocked: forgetting a blocked one would hand a sprayer fresh guesses at it."""
        self._seen = {k: v for k, v in self._seen.items() if self._recent(k, now)}
        if len(self._seen) > self.LIMIT:
            self._seen = {k: v for k, v in self._seen.items() if len(v) >= limit_of(k)}

    def clear(self, who: str) -> None:
        with self._lock:
            self._seen.pop(who, None)

    def _recent(self, who: str, now: float) -> deque[float]:
        times = self._seen.get(who)
        if times is None:
            return deque()  # not stored: asking about a name must not grow the table
        while times and times[0] <= now - FAILURE_WINDOW:
            times.popleft()
        return times


FAILURES = FailedSignIns()


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: only a path inside the admin, never another site."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return PREFIX + "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return PREFIX + "/"
    return PREFIX + raw


async def login_form(request: Request) -> Response:
    if request.scope.get("state", {}).get("user") is not None:
        return see_other(safe_next(request.query_params.get("next")))
    return _form(request, next_=request.query_params.get("next", ""))


def _form(
    request: Request,
    *,
    next_: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(32)
    request.scope.setdefault("state", {})["login_csrf"] = token
    response = render(
        request,
        "login.html",
        {"next": next_, "username": username, "error": error},
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path=PREFIX + "/login",
        httponly=True,
        samesite="strict",
    )
    return response


async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10, max_part_size=8192)
    given, cookie = form.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE)
    if not (isinstance(given, str) and cookie and _same_text(given, cookie)):
        raise CsrfRefused("the sign-in form expired; reload it and sign in again")
    username = text_field(form, "username").strip().lower()[:64]
    password = text_field(form, "password")
    next_ = text_field(form, "next")
    keys = sign_in_keys(username, request.client.host if request.client else "?")
    if FAILURES.blocked(*keys):
        return _form(
            request,
            next_=next_,
            username=username,
            status=429,
            error="Too many failed sign-ins; wait a quarter of an hour and try again.",
        )
    hub = hub_of(request)
    try:
        user = await blocking(hub.users.authenticate, username, password)
    except Unauthorized as exc:
        FAILURES.failed(*keys)
        return _form(request, next_=next_, username=username, error=exc.detail, status=401)
    FAILURES.clear(keys[0])
    # A browser signing in again leaves no session behind it.
    await blocking(hub.users.end_session, request.cookies.get(SESSION_COOKIE))
    _, token = await blocking(hub.users.start_session, user)
    response = see_other(safe_next(next_))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(hub.users.absolute.total_seconds()),
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX + "/login")
    return response


async def logout(request: Request) -> Response:
    await checked_form(request)
    await blocking(hub_of(request).users.end_session, request.cookies.get(SESSION_COOKIE))
    response = see_other("/login", "You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def _same_text(given: str, expected: str) -> bool:
    """Constant-time equality of any two texts (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _secure(request: Request) -> bool:
    setting = hub_of(request).settings.admin_secure_cookies
    return setting == "always" or (setting == "auto" and request.url.scheme == "https")


routes: list[BaseRoute] = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
