"""/api/v1/webhooks: endpoints, secrets, the delivery log, dead letters and replay (admin)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import WithJsonSchema
from starlette.concurrency import run_in_threadpool

from pimhub.access.keys import Action
from pimhub.api.auth import api_key, hub_of, require
from pimhub.api.body import object_doc, read_json
from pimhub.api.responses import OrjsonResponse
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.objects import iso
from pimhub.catalog.query import INT64_MAX
from pimhub.events.deliveries import DeliveryFilter, DeliveryStatus
from pimhub.events.delivery_query import parse_delivery_filter
from pimhub.events.service import WebhookService

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


def operator(request: Request) -> WebhookService:
    """Every webhook route needs the integrate scope (or admin): secrets and URLs are
    operator matters."""
    require(api_key(request), Action.INTEGRATE)
    return hub_of(request).webhooks


Hooks = Annotated[WebhookService, Depends(operator)]
DeliveryId = Annotated[int, Path(ge=1, le=INT64_MAX, description="A delivery's id")]
# A rotation overlap longer than a year defeats rotating (and far longer overflows a date).
MAX_OVERLAP_HOURS = 24 * 366
ENDPOINT_DOC = object_doc(
    "url (required), description, eventTypes[] (catalog types, inbound types such as "
    "magento.order.placed, or patterns such as magento.*), classes[], changedFields[], "
    "payload ('full' | 'thin'), enabled, rateLimit (deliveries/s), sources[] (inbound "
    "sources heard; empty: any), transform (a JMESPath expression reshaping the body, or "
    "null); see docs/webhooks.md"
)


@router.get("/endpoints", summary="List webhook endpoints")
def list_endpoints(hooks: Hooks) -> OrjsonResponse:
    return OrjsonResponse({"items": [e.to_dict() for e in hooks.all()]})


@router.post(
    "/endpoints",
    status_code=201,
    summary="Register an endpoint; the answer carries its signing secret",
    openapi_extra=ENDPOINT_DOC,
)
async def create_endpoint(request: Request, hooks: Hooks) -> OrjsonResponse:
    body = await read_json(request)
    created = await run_in_threadpool(hooks.create, body)
    return OrjsonResponse({**created.endpoint.to_dict(), "secret": created.secret}, 201)


@router.get("/endpoints/{endpoint_id}", summary="Read an endpoint and its health")
def get_endpoint(endpoint_id: str, hooks: Hooks) -> OrjsonResponse:
    return OrjsonResponse(hooks.get(endpoint_id).to_dict())


@router.patch(
    "/endpoints/{endpoint_id}",
    summary="Change some settings; enabling clears the failure record",
    openapi_extra=ENDPOINT_DOC,
)
async def patch_endpoint(endpoint_id: str, request: Request, hooks: Hooks) -> OrjsonResponse:
    body = await read_json(request)
    updated = await run_in_threadpool(hooks.update, endpoint_id, body)
    return OrjsonResponse(updated.to_dict())


@router.delete("/endpoints/{endpoint_id}", status_code=204, summary="Delete an endpoint")
def delete_endpoint(endpoint_id: str, hooks: Hooks) -> Response:
    hooks.delete(endpoint_id)
    return Response(status_code=204)


@router.get("/endpoints/{endpoint_id}/secret", summary="The current signing secret")
def get_secret(endpoint_id: str, hooks: Hooks) -> OrjsonResponse:
    return OrjsonResponse({"secret": hooks.secret(endpoint_id)})


@router.post(
    "/endpoints/{endpoint_id}/ping",
    summary="Send a signed webhook.ping now and report the receiver's answer",
)
async def ping_endpoint(endpoint_id: str, request: Request, hooks: Hooks) -> OrjsonResponse:
    sender = hub_of(request).ping_sender()
    try:
        result = await hooks.ping(endpoint_id, sender)
    finally:
        await sender.close()
    return OrjsonResponse(result.to_dict())


@router.post(
    "/endpoints/{endpoint_id}/resume",
    summary="End the endpoint's pause now; its waiting deliveries go out at once",
)
def resume_endpoint(endpoint_id: str, hooks: Hooks) -> OrjsonResponse:
    return OrjsonResponse(hooks.resume(endpoint_id).to_dict())


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    summary="New secret; the old one keeps signing during the overlap",
)
def rotate_secret(
    endpoint_id: str,
    hooks: Hooks,
    overlap_hours: Annotated[
        float | None,
        Query(
            alias="overlapHours",
            ge=0,
            le=MAX_OVERLAP_HOURS,
            allow_inf_nan=False,
            description="Hours the old secret keeps signing (at most a year)",
        ),
    ] = None,
) -> OrjsonResponse:
    overlap = timedelta(hours=overlap_hours) if overlap_hours is not None else None
    secret = hooks.rotate_secret(endpoint_id, overlap)
    endpoint = hooks.get(endpoint_id)
    until = endpoint.previous_secret_until
    return OrjsonResponse(
        {"secret": secret, "previousSecretValidUntil": iso(until) if until else None}
    )


# Times are parsed by the shared filter parser; documented as the API's other times are.
TIME = WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]})


def delivery_filter(
    endpoint: Annotated[str | None, Query(description="Endpoint id")] = None,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    event_type: Annotated[str | None, Query(alias="eventType")] = None,
    event_id: Annotated[
        str | None, Query(alias="eventId", description="One event's deliveries (its webhook-id)")
    ] = None,
    uuid: Annotated[str | None, Query(description="Object uuid")] = None,
    business_key: Annotated[str | None, Query(alias="businessKey")] = None,
    since: Annotated[str | None, Query(description="Created at or after"), TIME] = None,
    until: Annotated[str | None, Query(description="Created before"), TIME] = None,
) -> DeliveryFilter:
    # One parser for REST and the admin's delivery log (events/delivery_query.py).
    return parse_delivery_filter(
        {
            "endpoint": endpoint,
            "status": status.value if status else None,
            "eventType": event_type,
            "eventId": event_id,
            "uuid": uuid,
            "businessKey": business_key,
            "since": since,
            "until": until,
        }
    )


Filter = Annotated[DeliveryFilter, Depends(delivery_filter)]


@router.get("/deliveries", summary="List deliveries (status=dead lists the dead letters)")
def list_deliveries(
    hooks: Hooks,
    where: Filter,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[
        int | None,
        Query(ge=0, le=INT64_MAX, description="The `nextCursor` of the previous page"),
    ] = None,
) -> OrjsonResponse:
    items = hooks.deliveries(where, limit, after)
    following = items[-1].id if len(items) == limit else None
    # `next`: the old name of nextCursor, deprecated (docs/api.md#paging).
    return OrjsonResponse(
        {"items": [d.to_dict() for d in items], "nextCursor": following, "next": following}
    )


@router.get("/deliveries/{delivery_id}", summary="One delivery with every attempt")
def get_delivery(delivery_id: DeliveryId, hooks: Hooks) -> OrjsonResponse:
    record, attempts = hooks.delivery(delivery_id)
    return OrjsonResponse({**record.to_dict(), "attempts": [a.to_dict() for a in attempts]})


@router.post("/deliveries/{delivery_id}/replay", summary="Send one delivery again")
def replay_one(delivery_id: DeliveryId, hooks: Hooks) -> OrjsonResponse:
    return OrjsonResponse({"replayed": hooks.replay_one(delivery_id)})


@router.post(
    "/replay",
    summary="Send matching dead letters again (or delivered ones with status=delivered)",
)
def replay_many(hooks: Hooks, where: Filter) -> OrjsonResponse:
    if where == DeliveryFilter():
        raise InvalidInput(
            "a bulk replay needs at least one filter",
            [
                FieldError(
                    "query",
                    "give endpoint, status, eventType, eventId, uuid, businessKey, since or until",
                    "required",
                )
            ],
        )
    return OrjsonResponse({"replayed": hooks.replay(where)})
