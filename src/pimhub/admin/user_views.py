"""Users (admin only): the list with a create form, one user's role, status and password;
and every signed-in user's own account page (their password).

Thin adapters over UserService: it refuses bad names and passwords (field errors shown next
to the inputs), a taken name (409), and disabling or demoting the last active admin (409).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin import auth_views
from pimhub.admin.web import (
    SESSION_COOKIE,
    blocking,
    checked_form,
    field_errors,
    form_status,
    hub_of,
    principal_of,
    render,
    see_other,
    text_field,
    user_of,
)
from pimhub.api.auth import require
from pimhub.catalog.errors import (
    CatalogError,
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    Unauthorized,
)
from pimhub.users.model import ROLE_LABELS, Role, User

ROLES = [(role.value, ROLE_LABELS[role]) for role in Role]
ROLE_HELP = {
    Role.ADMIN: "everything, including users, API keys and class definitions",
    Role.CATALOG_MANAGER: "edits, reviews, publishes and deletes catalog objects; runs imports",
    Role.INTEGRATOR: "edits objects and runs imports, webhooks, datahub and connectors",
    Role.VIEWER: "reads the catalog, drafts included",
}


def _status(error: CatalogError | None) -> int:
    """A refused form's status: 409 when it collides with the hub's state, else 422."""
    return 200 if error is None else form_status(error)


def _admin_only(request: Request) -> None:
    """The same check as REST's (the admin scope), told in the UI's words."""
    try:
        require(principal_of(request), Action.ADMIN)
    except Forbidden:
        me = user_of(request)
        raise Forbidden(
            f"only administrators manage users; you are signed in as {me.username} "
            f"({ROLE_LABELS[me.role].lower()})"
        ) from None


def _user_path(user: User | str) -> str:
    return "/users/" + (user if isinstance(user, str) else user.username)


# -- the list and create ------------------------------------------------------------------------


async def users_page(request: Request) -> Response:
    _admin_only(request)
    return await _list(request)


async def _list(
    request: Request,
    form: Mapping[str, str] | None = None,
    error: CatalogError | None = None,
) -> Response:
    users = await blocking(hub_of(request).users.all)
    context: dict[str, Any] = {
        "users": users,
        "roles": ROLES,
        "role_help": ROLE_HELP,
        "form": form or {"role": Role.VIEWER.value},
        "error": error,
        "errors": field_errors(error) if error else {},
    }
    return render(request, "users.html", context, status=_status(error))


async def create_user(request: Request) -> Response:
    form = await checked_form(request)
    _admin_only(request)
    typed = {name: text_field(form, name) for name in ("username", "display_name", "role")}
    try:
        user = await blocking(
            hub_of(request).users.create,
            typed["username"],
            _password(form, "password"),
            typed["role"],
            display_name=typed["display_name"],
        )
    except (InvalidInput, Conflict) as exc:
        return await _list(request, typed, exc)
    return see_other(_user_path(user), f"Created user {user.username}.")


# -- one user --------------------------------------------------------------------------------------


async def user_page(request: Request) -> Response:
    _admin_only(request)
    return await _one(request, request.path_params["username"])


async def _one(
    request: Request,
    username: str,
    error: CatalogError | None = None,
    failed: str = "",
) -> Response:
    target = await blocking(hub_of(request).users.get, username)
    context: dict[str, Any] = {
        "target": target,
        "roles": ROLES,
        "role_help": ROLE_HELP,
        "is_me": target.id == user_of(request).id,
        "error": error,
        "errors": field_errors(error) if error else {},
        "failed": failed,  # which form the error belongs to
    }
    return render(request, "user.html", context, status=_status(error))


async def change_role(request: Request) -> Response:
    form = await checked_form(request)
    _admin_only(request)
    username = request.path_params["username"]
    try:
        user = await blocking(hub_of(request).users.set_role, username, text_field(form, "role"))
    except (InvalidInput, Conflict) as exc:
        return await _one(request, username, exc, "role")
    flash = f"{user.username} is now {ROLE_LABELS[user.role].lower()}."
    if user.id == user_of(request).id and user.role != Role.ADMIN:
        return see_other("/account", flash)  # the users pages are no longer theirs
    return see_other(_user_path(user), flash)


async def disable_user(request: Request) -> Response:
    await checked_form(request)
    _admin_only(request)
    username = request.path_params["username"]
    try:
        user = await blocking(hub_of(request).users.disable, username, by=user_of(request).username)
    except Conflict as exc:
        return await _one(request, username, exc, "status")
    return see_other(_user_path(user), f"{user.username} is disabled and signed out everywhere.")


async def enable_user(request: Request) -> Response:
    await checked_form(request)
    _admin_only(request)
    user = await blocking(hub_of(request).users.enable, request.path_params["username"])
    return see_other(_user_path(user), f"{user.username} may sign in again.")


async def reset_password(request: Request) -> Response:
    form = await checked_form(request)
    _admin_only(request)
    username = request.path_params["username"]
    users = hub_of(request).users
    mine = (await blocking(users.get, username)).id == user_of(request).id
    try:
        user = await blocking(
            users.set_password,
            username,
            _new_password(form),
            keep_session=request.cookies.get(SESSION_COOKIE) if mine else None,
        )
    except InvalidInput as exc:
        return await _one(request, username, exc, "password")
    return see_other(
        _user_path(user), f"New password set for {user.username}; their sessions have ended."
    )


# -- the signed-in user's own account -------------------------------------------------------------


async def account_page(request: Request) -> Response:
    return _account(request)


def _account(request: Request, error: CatalogError | None = None) -> Response:
    me = user_of(request)
    context: dict[str, Any] = {
        "me": me,
        "role_help": ROLE_HELP,
        "error": error,
        "errors": field_errors(error) if error else {},
    }
    return render(request, "account.html", context, status=_status(error))


async def change_own_password(request: Request) -> Response:
    form = await checked_form(request)
    me = user_of(request)
    users = hub_of(request).users
    # Counted like sign-ins of this name from this address (the session's owner guessing).
    who = auth_views.sign_in_keys(me.username, request.client.host if request.client else "?")[0]
    try:
        if auth_views.FAILURES.blocked(who):
            raise InvalidInput(
                "too many wrong passwords; wait a quarter of an hour and try again",
                [FieldError("current_password", "too many wrong tries")],
            )
        try:
            await blocking(users.authenticate, me.username, _password(form, "current_password"))
        except Unauthorized:
            auth_views.FAILURES.failed(who)
            raise InvalidInput(
                "your current password is not right; nothing was changed",
                [FieldError("current_password", "is not right")],
            ) from None
        await blocking(
            users.set_password,
            me.username,
            _new_password(form),
            keep_session=request.cookies.get(SESSION_COOKIE),
        )
    except InvalidInput as exc:
        return _account(request, exc)
    return see_other(
        "/account", "Your password is changed; your sessions elsewhere have been signed out."
    )


def _password(form: FormData, name: str) -> str:
    """A password field as typed (a NUL in it is refused by the service, named by field)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _new_password(form: FormData) -> str:
    password = _password(form, "password")
    if password != _password(form, "confirm"):
        raise InvalidInput(
            "the two new passwords differ; type the same one twice",
            [FieldError("confirm", "does not match the new password")],
        )
    return password


routes: list[BaseRoute] = [
    Route("/users", users_page, methods=["GET"]),
    Route("/users", create_user, methods=["POST"]),
    Route("/users/{username}", user_page, methods=["GET"]),
    Route("/users/{username}/role", change_role, methods=["POST"]),
    Route("/users/{username}/disable", disable_user, methods=["POST"]),
    Route("/users/{username}/enable", enable_user, methods=["POST"]),
    Route("/users/{username}/password", reset_password, methods=["POST"]),
    Route("/account", account_page, methods=["GET"]),
    Route("/account/password", change_own_password, methods=["POST"]),
]
