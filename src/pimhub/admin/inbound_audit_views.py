"""/inbound/messages: every request to /inbound/{source} as audited, filtered by the query
string (source, type, key, outcome, time) and paged by cursor, newest first; one message with
everything audited, its body and its fate (the deliveries of its event, linked to the delivery
pages). /inbound/refusals: feed items the catalog refused, by source with their reasons,
applied again one at a time or all of a source after a confirmation with the count. Thin over
InboundService, FeedService and WebhookService, checked with Action.INTEGRATE as REST is."""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.delivery_labels import label
from pimhub.admin.inbound_forms import (
    SOURCE_NAME,
    checked_message_id,
    checked_refusal_id,
    parse_audit_filter,
    parse_cursor,
)
from pimhub.admin.web import (
    blocking,
    checked_form,
    hub_of,
    principal_of,
    render,
    see_other,
)
from pimhub.api.auth import require
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.events.deliveries import DeliveryFilter, DeliveryRecord
from pimhub.inbound.errors import RefusalNotFound
from pimhub.inbound.messages import InboundMessage, Outcome
from pimhub.inbound.ports import Refusal

PAGE = 50
MAX_FATE = 100  # deliveries of one event: one per destination that heard it
MAX_BODY_SHOWN = 20_000  # characters of a body on the detail page
COUNT_PAGE = 500
MAX_COUNTED = 10_000  # open refused items counted for a confirmation; beyond: "at least"


def _hub(request: Request) -> Hub:
    require(principal_of(request), Action.INTEGRATE)
    return hub_of(request)


async def messages_page(request: Request) -> Response:
    hub = _hub(request)
    chosen = parse_audit_filter(request.query_params)
    sources = await blocking(hub.inbound.all_sources)
    context: dict[str, Any] = {
        "filter": chosen,
        "errors": {e.field: e.message for e in chosen.errors},
        "outcomes": [o.value for o in Outcome],
        "sources": sorted(s.spec.name for s in sources),
        "items": [],
        "next_query": None,
    }
    if chosen.errors:
        return render(request, "inbound_messages.html", context, status=422)
    before = parse_cursor(request.query_params.get("before"), "before")
    items = await blocking(hub.inbound.messages, chosen.where, limit=PAGE, before_id=before)
    context["items"] = items
    if len(items) == PAGE:
        context["next_query"] = chosen.query(before=items[-1].id)
    return render(request, "inbound_messages.html", context)


async def message_page(request: Request) -> Response:
    hub = _hub(request)
    message_id = checked_message_id(request.path_params["id"])
    message = await blocking(hub.inbound.message, message_id)
    body = await blocking(hub.inbound.message_body, message_id)
    fate = await blocking(_fate, hub, message)
    destinations = await blocking(hub.webhooks.destinations) if fate else {}
    # Past the feed: its items the catalog refused (listed on the refusals page by message).
    refused, still_open = await blocking(hub.feeds.refused_of_message, message_id)
    context = {
        "m": message,
        "refused": refused,
        "refused_open": still_open,
        "body": _shown_body(body),
        "fate": fate,
        "destination": lambda i: destinations.get(i),
        "label": label,
    }
    return render(request, "inbound_message.html", context)


async def refusals_page(request: Request) -> Response:
    hub = _hub(request)
    source = _source_param(request.query_params.get("source"))
    after = parse_cursor(request.query_params.get("after"), "after")
    message = parse_cursor(request.query_params.get("message"), "message")
    items = await blocking(
        hub.feeds.refused, source, open_only=True, limit=PAGE, after_id=after, message=message
    )
    sources = await blocking(hub.inbound.all_sources)
    by_source = sorted(items, key=lambda r: (r.source, r.id))
    groups = [(name, list(found)) for name, found in groupby(by_source, key=lambda r: r.source)]
    context = {
        "source": source,
        "message": message,
        # The filter as a query string, which the pager's links keep.
        "filter_query": urlencode(
            {k: v for k, v in (("source", source), ("message", message)) if v is not None}
        ),
        "groups": groups,
        "items": items,
        "sources": sorted(s.spec.name for s in sources if s.spec.apply is not None),
        "next_after": items[-1].id if len(items) == PAGE else None,
        "shown_item": _shown_item,
    }
    return render(request, "inbound_refusals.html", context)


async def replay_one(request: Request) -> Response:
    hub = _hub(request)
    await checked_form(request)
    refusal_id = checked_refusal_id(request.path_params["id"])
    refusal = await blocking(hub.feeds.refusals.get, refusal_id)
    if refusal is None:
        raise RefusalNotFound(f"no refused item {refusal_id}")
    if refusal.resolved_at is not None:
        return see_other(
            f"/inbound/refusals?source={refusal.source}",
            f"Item {refusal_id} was applied already; nothing to replay.",
        )
    done = await blocking(hub.feeds.replay, refusal.source, [refusal_id])
    if done.applied:
        message = f"Item {refusal_id} applied."
    elif done.superseded:
        message = (
            f"Item {refusal_id} not applied: superseded, {refusal.source} has written "
            "this object since (the newer value stays)."
        )
    else:
        message = f"Item {refusal_id} is still refused: see its reasons."
    return see_other(f"/inbound/refusals?source={refusal.source}", message)


async def replay_source(request: Request) -> Response:
    """First the confirmation (how many open items the source has), then, confirmed, the
    replay of all of them."""
    hub = _hub(request)
    form = await checked_form(request)
    raw = form.get("source")
    source = _source_param(raw if isinstance(raw, str) else None)
    if source is None:
        raise InvalidInput(
            "say which source's refused items to apply again",
            [FieldError("source", "is required", "required")],
        )
    await blocking(hub.inbound.get_source, source)  # 404 for a source that is gone
    if form.get("confirm") != "yes":
        count, more = await blocking(_open_count, hub, source)
        context = {"source": source, "count": count, "more": more}
        return render(request, "inbound_replay.html", context)
    done = await blocking(hub.feeds.replay, source)
    return see_other(
        f"/inbound/refusals?source={source}",
        f"{source}: {done.applied} applied, {done.refused} still refused, "
        f"{done.superseded} superseded (written by {source} since; not applied).",
    )


def _fate(hub: Hub, message: InboundMessage) -> list[DeliveryRecord]:
    """The deliveries of the message's event: one per destination that heard it. A duplicate
    names the original's event; its fate is shown on the original's page."""
    if message.event_id is None or message.outcome != Outcome.ACCEPTED:
        return []
    return hub.webhooks.deliveries(DeliveryFilter(event_id=message.event_id), MAX_FATE)


def _open_count(hub: Hub, source: str) -> tuple[int, bool]:
    """How many open refused items the source has, counted up to MAX_COUNTED (True: more)."""
    count, after = 0, None
    while count < MAX_COUNTED:
        page = hub.feeds.refused(source, open_only=True, limit=COUNT_PAGE, after_id=after)
        count += len(page)
        if len(page) < COUNT_PAGE:
            return count, False
        after = page[-1].id
    return count, True


def _source_param(raw: str | None) -> str | None:
    """A source name from the query string or a form: absent or empty is none, anything
    that cannot be a source's name is refused (400) naming the parameter."""
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if not SOURCE_NAME.fullmatch(value):
        raise InvalidInput(
            "source must be the name of an inbound source",
            [FieldError("source", "is not a source name", "format")],
        )
    return value


def _shown_body(body: str | None) -> dict[str, Any] | None:
    """The body as indented JSON (as received when it is not JSON), cut when long; the
    template escapes it."""
    if body is None:
        return None
    try:
        text = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        text = body
    return {"text": text[:MAX_BODY_SHOWN], "cut": len(text) > MAX_BODY_SHOWN, "size": len(body)}


def _shown_item(refusal: Refusal) -> str:
    try:
        text = orjson.dumps(refusal.item, option=orjson.OPT_INDENT_2).decode()
    except TypeError:  # an integer past 64 bits: orjson has no form for it, json has
        text = json.dumps(refusal.item, indent=2, ensure_ascii=False)
    return text[:MAX_BODY_SHOWN]


routes: list[BaseRoute] = [
    Route("/inbound/messages", messages_page, methods=["GET"]),
    Route("/inbound/messages/{id}", message_page, methods=["GET"]),
    Route("/inbound/refusals", refusals_page, methods=["GET"]),
    Route("/inbound/refusals/replay", replay_source, methods=["POST"]),
    Route("/inbound/refusals/{id}/replay", replay_one, methods=["POST"]),
]
