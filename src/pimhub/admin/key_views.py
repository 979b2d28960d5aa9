"""API keys (admins only): the list, creating, changing, rotating and revoking a key.

A new key's secret (made or rotated) is in the answer to the POST and nowhere else: not in a
cookie, an address, a redirect or a log, and the page is not cached. Each create and rotate
form carries a one-time token, so sending it again (a reload of the answer) makes no second
key or rotation and shows no secret: it answers that it was done. Revoking asks first, then
POSTs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import ENVIRONMENTS, Action, ApiKey, parse_scopes
from pimhub.access.service import MAX_OVERLAP, KeyChanges
from pimhub.admin.durations import ago, stamp
from pimhub.admin.once import FormAlreadySent, SentForms, new_token
from pimhub.admin.web import (
    blocking,
    checked_form,
    field_errors,
    hub_of,
    no_store,
    parse_count,
    principal_of,
    render,
    see_other,
    text_field,
)
from pimhub.api.auth import require
from pimhub.bootstrap import Hub
from pimhub.catalog.clock import utc_now
from pimhub.catalog.errors import CatalogError, FieldError, InvalidInput, NotFound

# The scopes offered as checkboxes; anything else parse_scopes takes goes in "other scopes".
COMMON_SCOPES = (
    ("read:*", "Read published objects of every class"),
    ("read-drafts:*", "Read drafts too"),
    ("write:*", "Create and change objects"),
    ("delete:*", "Delete objects"),
    ("publish:*", "Publish (workflow transitions that need publish)"),
    ("integrate", "Webhooks, deliveries, datahub, connectors, import profiles"),
    ("admin", "Everything, including classes, keys and users"),
)
MAX_EXPIRY_DAYS = 3650
# Create forms already sent (admin/once.py): a second POST of the same form (a reload, a double
# click) must not make a second key.
SENT = SentForms()


async def keys_page(request: Request) -> Response:
    require(principal_of(request), Action.ADMIN)
    wanted = request.query_params.get("scope", "")
    preset = {"scopes": [wanted]} if wanted else {}
    return await _page(request, preset)


async def create_key(request: Request) -> Response:
    form = await checked_form(request)
    require(principal_of(request), Action.ADMIN)
    values = _values(form)
    token = values["form_token"]
    earlier = SENT.reserve(token) if token else None
    if earlier is not None:
        sent = FormAlreadySent(
            f"the key {earlier} was made from this form already; its secret was shown once "
            "and is not shown again. Revoke it and make a new one if the secret was lost."
        )
        return await _page(request, values, error=sent, status=409)
    try:
        name, scopes, environment, days = _checked(values)
        key, secret = await blocking(
            hub_of(request).access.create,
            name,
            scopes,
            environment=environment,
            expires_in_days=days,
            allowed_networks=_lines(values["allowed_networks"]),
            rate_limit=values["rate_limit"] or None,
        )
    except CatalogError as exc:
        if token:
            SENT.release(token)
        return await _page(request, values, error=exc, status=422)
    if token:
        SENT.record(token, key.key_id)
    context = {"key": key, "secret": secret, "stamp": stamp, "rotated": False}
    page = render(request, "keys_created.html", context)
    return no_store(page)


async def revoke_page(request: Request) -> Response:
    require(principal_of(request), Action.ADMIN)
    key = await blocking(_active_key, hub_of(request), request.path_params["key_id"])
    return render(request, "keys_revoke.html", {"key": key, "stamp": stamp})


async def revoke_key(request: Request) -> Response:
    await checked_form(request)
    require(principal_of(request), Action.ADMIN)
    hub = hub_of(request)
    key = await blocking(_active_key, hub, request.path_params["key_id"])
    await blocking(hub.access.revoke, key.key_id)
    return see_other("/keys", f"Key {key.key_id} ({key.name}) revoked; it is refused from now on.")


async def rotate_page(request: Request) -> Response:
    require(principal_of(request), Action.ADMIN)
    hub = hub_of(request)
    key = await blocking(_active_key, hub, request.path_params["key_id"])
    hours = f"{hub.settings.key_rotation_overlap_hours:g}"
    return render(request, "keys_rotate.html", _rotate_context(key, hours))


async def rotate_key(request: Request) -> Response:
    form = await checked_form(request)
    require(principal_of(request), Action.ADMIN)
    hub = hub_of(request)
    key = await blocking(_active_key, hub, request.path_params["key_id"])
    token = text_field(form, "form_token")[:64]
    hours_text = text_field(form, "overlap_hours").strip()
    if token and SENT.reserve(token) is not None:
        sent = FormAlreadySent(
            f"the key {key.key_id} was rotated from this form already; its new secret was "
            "shown once and is not shown again. Rotate again if it was lost."
        )
        return render(
            request, "keys_rotate.html", _rotate_context(key, hours_text, sent), status=409
        )
    try:
        overlap = _overlap(hours_text)
        rotated, secret = await blocking(hub.access.rotate, key.key_id, overlap)
    except CatalogError as exc:
        if token:
            SENT.release(token)
        context = _rotate_context(key, hours_text, exc)
        return render(request, "keys_rotate.html", context, status=422)
    if token:
        SENT.record(token, key.key_id)
    context = {"key": rotated, "secret": secret, "stamp": stamp, "rotated": True}
    return no_store(render(request, "keys_created.html", context))


def _rotate_context(key: ApiKey, hours: str, error: CatalogError | None = None) -> dict[str, Any]:
    return {
        "key": key,
        "stamp": stamp,
        "overlap_hours": hours,
        "max_hours": int(MAX_OVERLAP.total_seconds() // 3600),
        "error": error,
        "errors": field_errors(error) if error else {},
        "form_token": new_token(),
    }


def _overlap(text: str) -> timedelta:
    limit = int(MAX_OVERLAP.total_seconds() // 3600)
    refused = InvalidInput(
        f"the overlap is a number of hours from 0 to {limit}",
        [FieldError("overlap_hours", f"0 to {limit} hours")],
    )
    try:
        hours = float(text) if text.isascii() else -1.0
    except ValueError:
        raise refused from None
    if not 0 <= hours <= limit:  # also NaN
        raise refused
    return timedelta(hours=hours)


async def edit_page(request: Request) -> Response:
    require(principal_of(request), Action.ADMIN)
    key = await blocking(_active_key, hub_of(request), request.path_params["key_id"])
    values = {
        "allowed_networks": "\n".join(key.allowed_networks),
        "rate_limit": key.rate_limit or "",
        "description": key.description or "",
        "expires_in_days": "",
    }
    return render(request, "keys_edit.html", _edit_context(key, values))


async def edit_key(request: Request) -> Response:
    form = await checked_form(request)
    require(principal_of(request), Action.ADMIN)
    hub = hub_of(request)
    key = await blocking(_active_key, hub, request.path_params["key_id"])
    values: dict[str, Any] = {
        "allowed_networks": text_field(form, "allowed_networks"),
        "rate_limit": text_field(form, "rate_limit").strip(),
        "description": text_field(form, "description").strip(),
        "expires_in_days": text_field(form, "expires_in_days").strip(),
        "no_expiry": text_field(form, "no_expiry") == "on",
    }
    try:
        changes = KeyChanges(
            allowed_networks=_lines(values["allowed_networks"]),
            rate_limit=values["rate_limit"] or None,
            description=values["description"] or None,
            **_expiry_change(values),
        )
        await blocking(hub.access.update, key.key_id, changes)
    except CatalogError as exc:
        context = _edit_context(key, values, exc)
        return render(request, "keys_edit.html", context, status=422)
    return see_other("/keys", f"Key {key.key_id} ({key.name}) changed.")


def _expiry_change(values: dict[str, Any]) -> dict[str, Any]:
    """Leave the expiry alone unless a number of days or "never" was given."""
    if values["no_expiry"]:
        return {"expires_in_days": None}
    if values["expires_in_days"]:
        return {"expires_in_days": _days(values["expires_in_days"])}
    return {}


def _edit_context(
    key: ApiKey, values: dict[str, Any], error: CatalogError | None = None
) -> dict[str, Any]:
    return {
        "key": key,
        "stamp": stamp,
        "values": values,
        "error": error,
        "errors": field_errors(error) if error else {},
    }


def _lines(text: str) -> list[str]:
    """Networks typed one a line or comma-separated."""
    return [line for line in text.replace(",", "\n").splitlines() if line.strip()]


def _active_key(hub: Hub, key_id: str) -> ApiKey:
    """The active key with this id. Revoking by id only: AccessService.revoke also takes a
    name (every key of that name), which a form must never do by accident."""
    found = next((k for k in hub.access.all() if k.key_id == key_id), None)
    if found is None:
        raise NotFound(f"there is no API key '{key_id[:40]}'")
    if found.revoked_at is not None:
        raise NotFound(f"the key {key_id} is already revoked")
    return found


async def _page(
    request: Request,
    values: dict[str, Any],
    *,
    error: CatalogError | None = None,
    status: int = 200,
) -> Response:
    keys = await blocking(hub_of(request).access.all)
    chosen = list(values.get("scopes", []))
    common = {s for s, _ in COMMON_SCOPES}
    context = {
        "keys": keys,
        "now": utc_now(),
        "warn_within": timedelta(days=hub_of(request).settings.key_expiry_warning_days),
        "ago": ago,
        "stamp": stamp,
        "common_scopes": COMMON_SCOPES,
        "environments": ENVIRONMENTS,
        "chosen": set(chosen),
        "other_scopes": values.get("other_scopes", ", ".join(s for s in chosen if s not in common)),
        "values": values,
        "error": error,
        "errors": field_errors(error) if error else {},
        # A fresh one-time token per form shown (see SentForms).
        "form_token": new_token(),
    }
    return render(request, "keys.html", context, status=status)


def _values(form: FormData) -> dict[str, Any]:
    """What the user sent, as the form shows it again (NULs refused by text_field)."""
    return {
        "name": text_field(form, "name").strip(),
        "scopes": [s for s in form.getlist("scope") if isinstance(s, str) and "\x00" not in s],
        "other_scopes": text_field(form, "other_scopes"),
        "environment": text_field(form, "environment", "production"),
        "expires_in_days": text_field(form, "expires_in_days").strip(),
        "allowed_networks": text_field(form, "allowed_networks"),
        "rate_limit": text_field(form, "rate_limit").strip(),
        "form_token": text_field(form, "form_token")[:64],
    }


def _checked(values: dict[str, Any]) -> tuple[str, list[str], str, int | None]:
    raw = [*values["scopes"], values["other_scopes"]]
    try:
        scopes = list(parse_scopes(raw))
    except InvalidInput as exc:
        # One field on the form holds the typed scopes: name it, so the message sits there.
        errors = [FieldError("other_scopes", e.message) for e in exc.errors]
        raise InvalidInput(exc.detail, errors) from None
    days_text = values["expires_in_days"]
    days = _days(days_text) if days_text else None
    return values["name"], scopes, values["environment"], days


def _days(days_text: str) -> int:
    refused = InvalidInput(
        f"expiry is a whole number of days from 1 to {MAX_EXPIRY_DAYS}",
        [FieldError("expires_in_days", f"1 to {MAX_EXPIRY_DAYS} days, or empty")],
    )
    try:
        days = parse_count(days_text, field="expires_in_days", maximum=MAX_EXPIRY_DAYS)
    except InvalidInput:
        raise refused from None  # the form's own wording, next to the field
    if days < 1:
        raise refused
    return days


routes: list[BaseRoute] = [
    Route("/keys", keys_page, methods=["GET"]),
    Route("/keys", create_key, methods=["POST"]),
    Route("/keys/{key_id}/revoke", revoke_page, methods=["GET"]),
    Route("/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
    Route("/keys/{key_id}/rotate", rotate_page, methods=["GET"]),
    Route("/keys/{key_id}/rotate", rotate_key, methods=["POST"]),
    Route("/keys/{key_id}/edit", edit_page, methods=["GET"]),
    Route("/keys/{key_id}/edit", edit_key, methods=["POST"]),
]
