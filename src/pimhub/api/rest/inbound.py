"""/api/v1/inbound: inbound sources (who may post to /inbound/{name}), the audit of what they
sent with each message's fate downstream, and the feed items the catalog refused (integrate)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from pimhub.access.keys import Action
from pimhub.api.auth import api_key, hub_of, require
from pimhub.api.body import object_doc, read_json
from pimhub.api.preconditions import expected_version, guarded
from pimhub.api.responses import OrjsonResponse
from pimhub.api.rest.webhooks import MAX_OVERLAP_HOURS, TIME
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import FieldError, InvalidInput, InvalidQuery
from pimhub.catalog.query import INT64_MAX
from pimhub.events.deliveries import DeliveryFilter, DeliveryRecord
from pimhub.events.delivery_query import InvalidParameter, parse_time
from pimhub.inbound.errors import InvalidSource, SourceNotFound
from pimhub.inbound.messages import InboundMessage, MessageFilter, Outcome
from pimhub.inbound.sources import NAME_PATTERN, StoredSource

router = APIRouter(prefix="/api/v1/inbound", tags=["inbound"])

# Another name in the path than a source can have is a 404 without a lookup.
SOURCE_NAME = re.compile(NAME_PATTERN)
MAX_PAGE = 500
MAX_REPLAY_IDS = 1000
MAX_FATE = 100
MAX_VERSION = 2**31 - 1  # deliveries shown per message: one per subscribed destination
SOURCE_DOC = object_doc(
    "An inbound source: name, scheme (standard-webhooks | mageos | shared-secret | api-key), "
    "description, enabled, header, tolerance, maxBytes, dedupeDays, messageId, eventType, "
    "eventTypes[], key, schemas, apply; on create also `secret` (else one is generated). "
    "See docs/inbound.md"
)
UPDATE_DOC = object_doc(
    'The settings to change (the others stay), optionally `version`; If-Match: "<version>" '
    "makes a stale write 412"
)
ROTATE_DOC = object_doc(
    "Optional: {secret?: the new secret (else generated), overlapHours?: how long the old one "
    "stays valid}"
)
REPLAY_DOC = object_doc("{source (required), ids?: [refused item ids]; default all open ones}")


def operator(request: Request) -> Hub:
    """Every inbound management route needs the integrate scope (or admin): secrets and the
    messages senders posted are operator matters."""
    require(api_key(request), Action.INTEGRATE)
    return hub_of(request)


Operator = Annotated[Hub, Depends(operator)]


def source_name(name: str, _: Operator) -> str:
    """The path's name, or 404 when no source could have it; the key is checked first."""
    if not SOURCE_NAME.fullmatch(name):
        shown = name.replace("\0", "\\0")
        raise SourceNotFound(f"no inbound source '{shown}'")
    return name


Name = Annotated[str, Depends(source_name)]


def known_query(*allowed: str) -> Callable[[Request], None]:
    """A dependency refusing query parameters the route does not take: a misspelled filter
    (`?outcom=rejected`) would otherwise list everything as if it matched."""

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:
            raise InvalidQuery(
                f"unknown query parameter(s) {', '.join(map(repr, unknown))}; "
                f"this route takes {', '.join(allowed)}",
                [FieldError(p, "unknown query parameter", "unknown-parameter") for p in unknown],
            )

    return check


def no_nul(**given: str | None) -> None:
    errors = [
        FieldError(name, "contains a NUL character", "nul")
        for name, value in given.items()
        if value is not None and "\x00" in value
    ]
    if errors:
        raise InvalidParameter("a filter parameter is not valid", errors)


def fields_of(body: Any, allowed: Sequence[str], required: Sequence[str] = ()) -> Mapping[str, Any]:
    """`body` when it is an object with the `required` keys and no others than `allowed`."""
    if not isinstance(body, Mapping):
        message = "must be an object: " + ", ".join(allowed)
        raise InvalidSource(f"the request body {message}", [FieldError("body", message, "type")])
    errors = [FieldError(k, "is required", "required") for k in required if k not in body]
    errors += [
        FieldError(str(k), "unknown field", "unknown-field") for k in body if k not in allowed
    ]
    if errors:
        raise InvalidSource("the request body is not as expected", errors)
    return body


def given_secret(body: Mapping[str, Any]) -> str | None:
    secret = body.get("secret")
    if secret is not None and (not isinstance(secret, str) or not secret.strip()):
        message = "must be text (the secret the sender uses), or left out to generate one"
        raise InvalidSource(f"secret {message}", [FieldError("secret", message, "type")])
    return secret


def source_response(stored: StoredSource, status: int = 200, **extra: Any) -> OrjsonResponse:
    return OrjsonResponse(
        {**stored.to_dict(), **extra},
        status_code=status,
        headers={"ETag": f'"{stored.version}"'},
    )


# -- sources -----------------------------------------------------------------------------


@router.get("/sources", summary="List inbound sources (never their secrets)")
def list_sources(hub: Operator) -> OrjsonResponse:
    return OrjsonResponse({"items": [s.to_dict() for s in hub.inbound.all_sources()]})


@router.post(
    "/sources",
    status_code=201,
    summary="Add an inbound source; the answer carries its secret, shown only here",
    openapi_extra=SOURCE_DOC,
)
async def create_source(request: Request, hub: Operator) -> OrjsonResponse:
    body = await read_json(request)
    config = dict(body) if isinstance(body, Mapping) else body
    secret = given_secret(config) if isinstance(config, dict) else None
    if isinstance(config, dict):
        config.pop("secret", None)
    stored, issued = await run_in_threadpool(hub.inbound.add_source, config, secret)
    answer = source_response(stored, 201, secret=issued)
    answer.headers["Location"] = f"{router.prefix}/sources/{stored.spec.name}"
    return answer


@router.get("/sources/{name}", summary="Read an inbound source (ETag: its version)")
def get_source(name: Name, hub: Operator) -> OrjsonResponse:
    return source_response(hub.inbound.get_source(name))


@router.put(
    "/sources/{name}",
    summary='Change a source\'s settings; If-Match: "<version>" guards against lost updates',
    openapi_extra=UPDATE_DOC,
)
async def put_source(
    name: Name,
    request: Request,
    hub: Operator,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> OrjsonResponse:
    body = await read_json(request)
    config = dict(body) if isinstance(body, Mapping) else body
    body_version = None
    if isinstance(config, dict) and "version" in config:
        body_version = config.pop("version")
        if not is_version(body_version):
            message = "must be the whole number the source was read with"
            raise InvalidSource(f"version {message}", [FieldError("version", message, "type")])
    version, from_header = expected_version(if_match, body_version)
    if version is not None and not is_version(version):
        message = f"names version {version}, which no source can have"
        raise InvalidInput(f"If-Match {message}", [FieldError("If-Match", message, "range")])
    stored = await run_in_threadpool(
        guarded,
        from_header,
        lambda: hub.inbound.update_source(name, config, expected_version=version),
    )
    return source_response(stored)


@router.delete(
    "/sources/{name}",
    status_code=204,
    summary="Remove a source and its feed; its audited messages stay until pruned",
)
def delete_source(name: Name, hub: Operator) -> Response:
    hub.inbound.remove_source(name)
    return Response(status_code=204)


def is_version(value: Any) -> bool:
    # inbound_sources.version is a 32-bit column: a larger number never matches, and the
    # drivers refuse to compare it at all.
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_VERSION


async def optional_json(request: Request) -> Any:
    """The JSON body, or {} when none was sent (a bare POST)."""
    headers = request.headers
    if headers.get("content-length", "0").strip() == "0" and "transfer-encoding" not in headers:
        return {}
    return await read_json(request)


def overlap_of(value: Any) -> timedelta | None:
    if value is None:
        return None
    # Compared before any float conversion: 10**400 hours must be refused, not overflow.
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not (isinstance(value, float) and math.isnan(value))
        and 0 <= value <= MAX_OVERLAP_HOURS
    )
    if not ok:
        message = f"must be a number of hours from 0 to {MAX_OVERLAP_HOURS}"
        raise InvalidSource(
            f"overlapHours {message}", [FieldError("overlapHours", message, "range")]
        )
    return timedelta(hours=value)


@router.post(
    "/sources/{name}/rotate-secret",
    summary="A new secret, shown only here; the old one stays valid during the overlap",
    openapi_extra=ROTATE_DOC,
)
async def rotate_secret(name: Name, request: Request, hub: Operator) -> OrjsonResponse:
    body = fields_of(await optional_json(request), ("secret", "overlapHours"))
    secret = given_secret(body)
    overlap = overlap_of(body.get("overlapHours"))

    def rotate() -> tuple[str, StoredSource]:
        new = hub.inbound.rotate_secret(name, secret, overlap)
        return new, hub.inbound.get_source(name)

    new, stored = await run_in_threadpool(rotate)
    until = stored.to_dict()["previousSecretValidUntil"]
    return OrjsonResponse({"secret": new, "previousSecretValidUntil": until})


# -- the audit ---------------------------------------------------------------------------

MESSAGE_PARAMS = ("source", "type", "key", "outcome", "since", "until", "limit", "before")


def message_filter(
    source: Annotated[str | None, Query(max_length=30, description="Source name")] = None,
    event_type: Annotated[
        str | None, Query(alias="type", max_length=40, description="Event type after mapping")
    ] = None,
    key: Annotated[
        str | None, Query(max_length=255, description="The message's key (an order id, a SKU)")
    ] = None,
    outcome: Annotated[Outcome | None, Query()] = None,
    since: Annotated[str | None, Query(description="Received at or after"), TIME] = None,
    until: Annotated[str | None, Query(description="Received before"), TIME] = None,
) -> MessageFilter:
    no_nul(source=source, type=event_type, key=key, since=since, until=until)
    errors: list[FieldError] = []
    start = parse_time(since or None, "since", errors)
    end = parse_time(until or None, "until", errors)
    if errors:
        raise InvalidParameter("a filter parameter is not valid", errors)
    return MessageFilter(
        source=source or None,
        event_type=event_type or None,
        key=key or None,
        outcome=outcome,
        since=start,
        until=end,
    )


@router.get(
    "/messages",
    summary="Audited inbound messages, newest first (`before`: the previous page's nextCursor)",
    dependencies=[Depends(operator), Depends(known_query(*MESSAGE_PARAMS))],
)
def list_messages(
    hub: Operator,
    where: Annotated[MessageFilter, Depends(message_filter)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before: Annotated[
        int | None,
        Query(ge=1, le=INT64_MAX, description="The `nextCursor` of the previous page"),
    ] = None,
) -> OrjsonResponse:
    items = hub.inbound.messages(where, limit=limit, before_id=before)
    following = items[-1].id if len(items) == limit else None
    return OrjsonResponse({"items": [m.to_dict() for m in items], "nextCursor": following})


def fate(hub: Hub, message: InboundMessage) -> list[dict[str, Any]]:
    """Where the message's event went: one delivery per destination that heard it."""
    if message.event_id is None:
        return []
    found: list[DeliveryRecord] = hub.webhooks.deliveries(
        DeliveryFilter(event_id=message.event_id), MAX_FATE
    )
    return [
        {
            "delivery": d.id,
            "endpoint": d.endpoint_id,
            "status": d.status.value,
            "attempts": d.attempts,
            "lastError": d.last_error,
            "nextAttemptAt": d.to_dict()["nextAttemptAt"],
            "deliveredAt": d.to_dict()["deliveredAt"],
        }
        for d in found
    ]


@router.get(
    "/messages/{message_id}",
    summary="One audited message: its body as received and its fate (the deliveries of its event)",
)
def get_message(
    message_id: Annotated[int, Path(ge=1, le=INT64_MAX, description="The audit row's id")],
    hub: Operator,
) -> OrjsonResponse:
    message = hub.inbound.message(message_id)
    body = hub.inbound.message_body(message_id)
    # The stored text is the JSON the sender posted: passed through as is, not re-encoded.
    shown = orjson.Fragment(body) if body is not None else None
    return OrjsonResponse(
        {
            **message.to_dict(),
            "body": shown,
            "fate": fate(hub, message),
            "refusedItems": refused_items(hub, message_id),
        }
    )


def refused_items(hub: Hub, message_id: int) -> dict[str, Any]:
    """The fate past the feed: how many of the message's items the catalog refused (and how
    many are still open), with where to list them."""
    refused, still_open = hub.feeds.refused_of_message(message_id)
    return {
        "count": refused,
        "open": still_open,
        "href": f"/api/v1/inbound/refusals?message={message_id}&open=false",
    }


# -- refused feed items ------------------------------------------------------------------


@router.get(
    "/refusals",
    summary="Feed items the catalog refused, with their reasons (open ones unless open=false)",
    dependencies=[
        Depends(operator),
        Depends(known_query("source", "open", "limit", "after", "message")),
    ],
)
def list_refusals(
    hub: Operator,
    source: Annotated[str | None, Query(max_length=30, description="Source name")] = None,
    open_only: Annotated[
        bool, Query(alias="open", description="Only items not applied since (default true)")
    ] = True,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    after: Annotated[
        int | None,
        Query(ge=0, le=INT64_MAX, description="The `nextCursor` of the previous page"),
    ] = None,
    message: Annotated[
        int | None,
        Query(ge=1, le=INT64_MAX, description="Only the items of this audited message"),
    ] = None,
) -> OrjsonResponse:
    no_nul(source=source)
    items = hub.feeds.refused(
        source or None, open_only=open_only, limit=limit, after_id=after, message=message
    )
    following = items[-1].id if len(items) == limit else None
    return OrjsonResponse({"items": [r.to_dict() for r in items], "nextCursor": following})


def replay_ids(value: Any) -> list[int] | None:
    if value is None:
        return None
    ok = (
        isinstance(value, list)
        and 0 < len(value) <= MAX_REPLAY_IDS
        and all(
            isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= INT64_MAX for i in value
        )
    )
    if not ok:
        message = f"must be a list of 1 to {MAX_REPLAY_IDS} refused item ids (whole numbers)"
        raise InvalidSource(f"ids {message}", [FieldError("ids", message, "type")])
    return list(value)


@router.post(
    "/refusals/replay",
    summary="Apply a source's refused items again (all open ones, or `ids`)",
    openapi_extra=REPLAY_DOC,
)
async def replay_refusals(request: Request, hub: Operator) -> OrjsonResponse:
    body = fields_of(await read_json(request), ("source", "ids"), ("source",))
    source = body["source"]
    if not isinstance(source, str) or not SOURCE_NAME.fullmatch(source):
        message = "must be the name of an inbound source"
        raise InvalidSource(f"source {message}", [FieldError("source", message, "type")])
    ids = replay_ids(body.get("ids"))
    done = await run_in_threadpool(hub.feeds.replay, source, ids)
    return OrjsonResponse(
        {
            "source": source,
            "applied": done.applied,
            "refused": done.refused,
            "superseded": done.superseded,
        }
    )
