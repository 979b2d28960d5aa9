"""/deliveries: the delivery log with its filters in the query string, newest first; each
delivery with every attempt's request, answer and error; dead letters replayed one at a time
or all that match the filter. Thin over WebhookService (the same replay REST and the CLI
use), checked with Action.INTEGRATE as REST is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.delivery_filters import (
    STATUSES,
    parse_cursor,
    parse_delivery_id,
    parse_filter,
)
from pimhub.admin.delivery_labels import label, waiting_for
from pimhub.admin.web import (
    blocking,
    checked_form,
    fragment,
    hub_of,
    principal_of,
    render,
    see_other,
)
from pimhub.api.auth import require
from pimhub.catalog.events import EventType
from pimhub.events.deliveries import DeliveryFilter, DeliveryRecord, DeliveryStatus
from pimhub.events.endpoints import WebhookEndpoint
from pimhub.events.errors import DeliveryNotFound
from pimhub.events.service import WebhookService

PAGE = 50
MAX_BODY_SHOWN = 20_000  # characters of a request body on the detail page


def _hooks(request: Request) -> WebhookService:
    require(principal_of(request), Action.INTEGRATE)
    return hub_of(request).webhooks


async def log_page(request: Request) -> Response:
    hooks = _hooks(request)
    chosen = parse_filter(request.query_params)
    destinations = await blocking(hooks.destinations)
    endpoints = [e for e in destinations.values() if e.kind == "webhook"]
    context: dict[str, Any] = {
        **_about(destinations, hooks.clock()),
        "filter": chosen,
        "errors": {e.field: e.message for e in chosen.errors},
        "statuses": list(STATUSES),
        "event_types": [t.value for t in EventType],
        "endpoints": endpoints,
        "items": [],
        "next_query": None,
        "replayable": 0,
    }
    if chosen.errors:
        return render(request, "deliveries.html", context, status=422)
    after = parse_cursor(request.query_params.get("after"))
    items = await blocking(hooks.deliveries, chosen.where, PAGE, after, newest_first=True)
    context["items"] = items
    if len(items) == PAGE:
        context["next_query"] = chosen.query(after=items[-1].id)
    if chosen.where.status == DeliveryStatus.DEAD:
        context["replayable"] = await blocking(hooks.replayable, chosen.where)
    return render(request, "deliveries.html", context)


async def detail_page(request: Request) -> Response:
    hooks = _hooks(request)
    delivery_id = _delivery_id(request)
    record, attempts = await blocking(hooks.delivery, delivery_id)
    requests = await blocking(hooks.sent_requests, record, attempts)
    destinations = await blocking(hooks.destinations)
    shown = {r.attempt_id: _shown_request(r.headers, r.body) for r in requests or []}
    sent = {r.attempt_id: r for r in requests or []}
    context = {
        "record": record,
        "attempts": list(reversed(attempts)),  # the latest first: usually the question
        "sent": sent,
        "shown": shown,
        "connector": requests is None,
        **_about(destinations, hooks.clock()),
    }
    return render(request, "delivery.html", context)


async def status_fragment(request: Request) -> Response:
    """The detail page's status line, polled by htmx while the delivery is still open."""
    hooks = _hooks(request)
    record, _ = await blocking(hooks.delivery, _delivery_id(request))
    destinations = await blocking(hooks.destinations)
    context = {"record": record, "polled": True, **_about(destinations, hooks.clock())}
    return fragment(request, "delivery_status.html", context)


async def replay_one(request: Request) -> Response:
    hooks = _hooks(request)
    form = await checked_form(request)
    delivery_id = _delivery_id(request)
    count = await blocking(hooks.replay_one, delivery_id)
    back = form.get("back")
    target = back if isinstance(back, str) and back.startswith("/deliveries") else None
    message = (
        f"Delivery {delivery_id} queued again."
        if count
        else f"Delivery {delivery_id} is already on its way; nothing to replay."
    )
    return see_other(target or f"/deliveries/{delivery_id}", message)


async def replay_matching(request: Request) -> Response:
    """First the confirmation (how many match), then, confirmed, the replay."""
    hooks = _hooks(request)
    form = await checked_form(request)
    chosen = parse_filter(form)
    if chosen.errors:
        raise chosen.refused()
    # Only dead letters are replayed in bulk here, whatever status the log showed.
    chosen.given["status"] = "dead"
    where = _dead(chosen.where)
    if form.get("confirm") != "yes":
        count = await blocking(hooks.replayable, where)
        return render(request, "deliveries_replay.html", {"filter": chosen, "count": count})
    count = await blocking(hooks.replay, where)
    noun = "delivery" if count == 1 else "deliveries"
    return see_other(f"/deliveries?{chosen.query()}", f"{count} {noun} queued again.")


def _about(destinations: dict[str, WebhookEndpoint], now: datetime) -> dict[str, Any]:
    """What the delivery templates say about a delivery's destination: its name, and what
    an open delivery is waiting for."""

    def waits(record: DeliveryRecord) -> str | None:
        found = destinations.get(record.endpoint_id)
        if record.status != DeliveryStatus.PENDING:
            return None
        return waiting_for(record, found, now)

    return {"waits": waits, "destination": lambda i: destinations.get(i), "label": label}


def _dead(where: DeliveryFilter) -> DeliveryFilter:
    return DeliveryFilter(
        endpoint_id=where.endpoint_id,
        status=DeliveryStatus.DEAD,
        event_type=where.event_type,
        object_uuid=where.object_uuid,
        business_key=where.business_key,
        since=where.since,
        until=where.until,
    )


def _delivery_id(request: Request) -> int:
    raw = request.path_params["id"]
    found = parse_delivery_id(raw)
    if found is None:
        raise DeliveryNotFound(f"no delivery {raw[:40]!r}")
    return found


def _shown_request(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """Headers in order and the body as indented JSON, cut when long."""
    try:
        text = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace")
    cut = len(text) > MAX_BODY_SHOWN
    return {
        "headers": sorted(headers.items()),
        "body": text[:MAX_BODY_SHOWN],
        "cut": cut,
        "size": len(body),
    }


routes: list[BaseRoute] = [
    Route("/deliveries", log_page, methods=["GET"]),
    Route("/deliveries/replay", replay_matching, methods=["POST"]),
    Route("/deliveries/{id}", detail_page, methods=["GET"]),
    Route("/deliveries/{id}/status", status_fragment, methods=["GET"]),
    Route("/deliveries/{id}/replay", replay_one, methods=["POST"]),
]
