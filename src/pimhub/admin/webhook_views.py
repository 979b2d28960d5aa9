"""/webhooks: endpoints with their health and a delivery-rate sparkline; create and edit
(filters, payload, rate), the secret shown once after creation and after a rotation, a test
ping, enable/disable and delete. Thin over WebhookService, checked with Action.INTEGRATE as
the REST routes are."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.once import FormAlreadySent, SentForms, new_token, token_of
from pimhub.admin.sparkline import sparkline_svg, sparkline_text
from pimhub.admin.web import (
    blocking,
    checked_form,
    field_errors,
    hub_of,
    principal_of,
    render,
    see_other,
)
from pimhub.admin.webhook_forms import (
    EndpointForm,
    checked_endpoint_id,
    errors_by_input,
    overlap_hours,
)
from pimhub.api.auth import require
from pimhub.catalog.errors import CatalogError, InvalidInput
from pimhub.catalog.events import EventType
from pimhub.events.endpoints import WebhookEndpoint
from pimhub.events.errors import EndpointChanged
from pimhub.events.service import WebhookService

SPARK_HOURS = 24
# Create and rotate forms already sent: sending one again makes or rotates nothing.
CREATED = SentForms()
ROTATED = SentForms()


def _hooks(request: Request) -> WebhookService:
    require(principal_of(request), Action.INTEGRATE)
    return hub_of(request).webhooks


async def endpoints_page(request: Request) -> Response:
    hooks = _hooks(request)
    endpoints = await blocking(hooks.all)
    activity = await blocking(hooks.activity, SPARK_HOURS)
    rows = []
    for endpoint in endpoints:
        found = activity.get(endpoint.endpoint_id)
        good = found.succeeded if found else (0,) * SPARK_HOURS
        bad = found.failed if found else (0,) * SPARK_HOURS
        rows.append(
            {
                "endpoint": endpoint,
                "spark": sparkline_svg(good, bad),
                "spark_text": sparkline_text(good, bad),
                "last": found.last_attempt if found else None,
            }
        )
    return render(request, "webhooks.html", {"rows": rows, "hours": SPARK_HOURS})


async def new_form(request: Request) -> Response:
    _hooks(request)
    return await _form_page(request, None, EndpointForm())


async def create(request: Request) -> Response:
    hooks = _hooks(request)
    form = await checked_form(request)
    values = EndpointForm.posted(form)
    token = token_of(form)
    earlier = CREATED.reserve(token) if token else None
    if earlier is not None:
        sent = FormAlreadySent(
            f"this form was already sent: it made the endpoint {earlier}, whose signing "
            "secret was shown once and is not shown again. Rotate the secret if it was lost."
        )
        return await _form_page(request, None, values, error=sent, status=409, made=earlier)
    try:
        created = await blocking(hooks.create, values.body())
    except InvalidInput as exc:
        if token:
            CREATED.release(token)
        return await _form_page(request, None, values, error=exc)
    if token:
        CREATED.record(token, created.endpoint.endpoint_id)
    # The secret is in this answer only (pages are no-store); never in an address or cookie.
    return await _form_page(
        request,
        created.endpoint,
        EndpointForm.of(created.endpoint),
        secret=created.secret,
        status=201,
        notice="Endpoint created. Copy its signing secret now: it is not shown again.",
    )


async def endpoint_page(request: Request) -> Response:
    hooks = _hooks(request)
    endpoint = await blocking(hooks.get, checked_endpoint_id(request.path_params["id"]))
    return await _form_page(request, endpoint, EndpointForm.of(endpoint))


async def save(request: Request) -> Response:
    hooks = _hooks(request)
    form = await checked_form(request)
    endpoint_id = checked_endpoint_id(request.path_params["id"])
    endpoint = await blocking(hooks.get, endpoint_id)
    values = EndpointForm.posted(form)
    try:
        expected = values.required_expected()
        await blocking(hooks.update, endpoint_id, values.body(), expected=expected)
    except InvalidInput as exc:
        if values.expected() is None:
            # No stamp to keep: the form takes the stored one, with the stored values
            # beside the input, so saving again is a choice made having seen them.
            stored = EndpointForm.of(endpoint)
            kept = replace(values, updated_at=stored.updated_at)
            theirs = values.differences(stored)
            return await _form_page(request, endpoint, kept, error=exc, theirs=theirs)
        return await _form_page(request, endpoint, values, error=exc)
    except EndpointChanged:
        return await _conflict(request, hooks, endpoint_id, values)
    return see_other(f"/webhooks/{endpoint_id}", "Endpoint saved.")


async def _conflict(
    request: Request, hooks: WebhookService, endpoint_id: str, mine: EndpointForm
) -> Response:
    """The form again (409) with the user's input kept and the stored newer values beside
    the inputs where they differ. The form now carries the newer stamp: saving again is a
    choice made having seen their change."""
    fresh = await blocking(hooks.get, endpoint_id)
    stored = EndpointForm.of(fresh)
    conflict = {
        "at": fresh.updated_at,
        "expected": mine.expected(),
        "theirs": mine.differences(stored),
    }
    kept = replace(mine, updated_at=stored.updated_at)
    return await _form_page(request, fresh, kept, conflict=conflict, status=409)


async def rotate(request: Request) -> Response:
    hooks = _hooks(request)
    form = await checked_form(request)
    endpoint_id = checked_endpoint_id(request.path_params["id"])
    endpoint = await blocking(hooks.get, endpoint_id)
    try:
        hours = overlap_hours(form)
    except InvalidInput as exc:
        return await _form_page(request, endpoint, EndpointForm.of(endpoint), error=exc)
    token = token_of(form)
    if token and ROTATED.reserve(token) is not None:
        sent = FormAlreadySent(
            "this form was already sent: the secret was rotated then, and the new secret was "
            "shown once and is not shown again. Rotate again if it was lost."
        )
        return await _form_page(
            request, endpoint, EndpointForm.of(endpoint), error=sent, status=409
        )
    overlap = timedelta(hours=hours) if hours is not None else None
    try:
        secret = await blocking(hooks.rotate_secret, endpoint_id, overlap)
    except Exception:
        if token:
            ROTATED.release(token)
        raise
    if token:
        ROTATED.record(token, endpoint_id)
    endpoint = await blocking(hooks.get, endpoint_id)
    return await _form_page(
        request,
        endpoint,
        EndpointForm.of(endpoint),
        secret=secret,
        notice="New signing secret. Copy it now: it is not shown again.",
    )


async def ping(request: Request) -> Response:
    hooks = _hooks(request)
    await checked_form(request)
    endpoint_id = checked_endpoint_id(request.path_params["id"])
    # The reads and the address check (DNS) block: off the event loop; only the send waits here.
    endpoint = await blocking(hooks.get, endpoint_id)
    prepared = await blocking(hooks.prepare_ping, endpoint_id)
    sender = hub_of(request).ping_sender()
    try:
        result = await hooks.send_ping(prepared, sender)
    finally:
        await sender.close()
    return await _form_page(request, endpoint, EndpointForm.of(endpoint), ping=result)


async def resume(request: Request) -> Response:
    hooks = _hooks(request)
    await checked_form(request)
    endpoint_id = checked_endpoint_id(request.path_params["id"])
    await blocking(hooks.resume, endpoint_id)
    return see_other(
        f"/webhooks/{endpoint_id}", "Endpoint resumed: its waiting deliveries go out now."
    )


async def enable(request: Request) -> Response:
    return await _switch(request, True)


async def disable(request: Request) -> Response:
    return await _switch(request, False)


async def _switch(request: Request, enable: bool) -> Response:
    hooks = _hooks(request)
    await checked_form(request)
    endpoint_id = checked_endpoint_id(request.path_params["id"])
    await blocking(hooks.set_enabled, endpoint_id, enable)
    message = "Endpoint enabled; its failure record is cleared." if enable else "Endpoint disabled."
    return see_other(f"/webhooks/{endpoint_id}", message)


async def delete_page(request: Request) -> Response:
    hooks = _hooks(request)
    endpoint = await blocking(hooks.get, checked_endpoint_id(request.path_params["id"]))
    return render(request, "webhook_delete.html", {"endpoint": endpoint})


async def delete(request: Request) -> Response:
    hooks = _hooks(request)
    await checked_form(request)
    endpoint_id = checked_endpoint_id(request.path_params["id"])
    await blocking(hooks.delete, endpoint_id)
    return see_other("/webhooks", f"Endpoint {endpoint_id} deleted with its deliveries.")


async def _form_page(
    request: Request,
    endpoint: WebhookEndpoint | None,
    values: EndpointForm,
    *,
    error: CatalogError | None = None,
    secret: str | None = None,
    ping: Any = None,
    notice: str | None = None,
    conflict: dict[str, Any] | None = None,
    theirs: dict[str, str] | None = None,
    status: int = 200,
    made: str | None = None,
) -> Response:
    hub = hub_of(request)
    classes = [c.name for c in await blocking(hub.classes.all)]
    context = {
        "endpoint": endpoint,
        "values": values,
        "event_types": [t.value for t in EventType],
        "class_names": sorted({*classes, *values.classes}),
        "error": error,
        "errors": errors_by_input(field_errors(error)) if error else {},
        "conflict": conflict,
        "theirs": conflict["theirs"] if conflict else theirs or {},
        "secret": secret,
        "ping": ping,
        "notice": notice,
        "overlap_hours": hub.webhooks.rotation_overlap / timedelta(hours=1),
        # A fresh one-time token per form shown (admin/once.py), and the endpoint a resent
        # create form made.
        "form_token": new_token(),
        "now": hub.webhooks.clock(),
        "made": made,
    }
    if error is not None and status < 400:
        status = 422
    return render(request, "webhook.html", context, status=status)


routes: list[BaseRoute] = [
    Route("/webhooks", endpoints_page, methods=["GET"]),
    Route("/webhooks/new", new_form, methods=["GET"]),
    Route("/webhooks/new", create, methods=["POST"]),
    Route("/webhooks/{id}", endpoint_page, methods=["GET"]),
    Route("/webhooks/{id}", save, methods=["POST"]),
    Route("/webhooks/{id}/rotate", rotate, methods=["POST"]),
    Route("/webhooks/{id}/ping", ping, methods=["POST"]),
    Route("/webhooks/{id}/resume", resume, methods=["POST"]),
    Route("/webhooks/{id}/enable", enable, methods=["POST"]),
    Route("/webhooks/{id}/disable", disable, methods=["POST"]),
    Route("/webhooks/{id}/delete", delete_page, methods=["GET"]),
    Route("/webhooks/{id}/delete", delete, methods=["POST"]),
]
