"""/api/v1/brokers: add, read, change, remove and test broker destinations (RabbitMQ
exchanges the delivery pipeline publishes to; scope integrate). Credentials go in and never
come out. A broker's deliveries, dead letters and replay are those of its pipeline row, under
/api/v1/webhooks (endpoint `broker-<name>`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from pimhub.access.keys import Action
from pimhub.api.auth import api_key, hub_of, require
from pimhub.api.body import object_doc, read_json
from pimhub.api.preconditions import expected_version, guarded
from pimhub.api.responses import OrjsonResponse
from pimhub.api.rest.config_body import config_of, fields_of
from pimhub.brokers.errors import BrokerNotFound, InvalidBroker
from pimhub.brokers.records import StoredBroker
from pimhub.brokers.service import BrokerService
from pimhub.brokers.spec import NAME_PATTERN
from pimhub.catalog.errors import FieldError

router = APIRouter(prefix="/api/v1/brokers", tags=["brokers"])
MAX_VERSION = 2**31 - 1
BROKER_DOC = object_doc(
    "{config: {name, url (amqp[s]://host[:port][/vhost], no credentials), exchange, "
    "exchangeType, declare, routingKeyPrefix, mandatory, eventTypes, classes, sources, "
    "transform, enabled}, credentials: {username, password}}; see docs/inbound.md"
)
UPDATE_DOC = object_doc(
    "{config: {...}, credentials?: {username, password}, version?: n}: the whole "
    "configuration (the name stays; enabled stays unless given); the stored credentials stay "
    'unless new ones are given. If-Match: "<version>" (or `version`) guards against lost '
    "updates"
)


def operator(request: Request) -> BrokerService:
    """Broker addresses and credentials are integration matters: scope integrate."""
    require(api_key(request), Action.INTEGRATE)
    return hub_of(request).brokers


def broker_name(name: str, _: Annotated[BrokerService, Depends(operator)]) -> str:
    """The path's name, or 404 when no broker could have it (a NUL, a path, capitals): such a
    name never reaches the database. The key is checked first (401, 403)."""
    if not NAME_PATTERN.fullmatch(name):
        raise BrokerNotFound("no broker by that name")
    return name


Brokers = Annotated[BrokerService, Depends(operator)]
Name = Annotated[str, Depends(broker_name)]


def _config(body: Mapping[str, Any]) -> Any:
    return config_of(body, InvalidBroker, "the broker configuration")


def _version(body: Mapping[str, Any]) -> int | None:
    value = body.get("version")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_VERSION:
        message = "must be the whole number the broker was read with"
        raise InvalidBroker(f"version {message}", [FieldError("version", message, "type")])
    return value


def broker_response(stored: StoredBroker, status: int = 200) -> OrjsonResponse:
    return OrjsonResponse(stored.to_dict(), status, headers={"ETag": f'"{stored.version}"'})


@router.get("", summary="List broker destinations with their health")
def list_brokers(brokers: Brokers) -> OrjsonResponse:
    return OrjsonResponse({"items": [b.to_dict() for b in brokers.all()]})


@router.post(
    "",
    status_code=201,
    summary="Add a broker destination; its credentials are sealed and never shown",
    openapi_extra=BROKER_DOC,
)
async def add_broker(request: Request, brokers: Brokers) -> OrjsonResponse:
    body = fields_of(await read_json(request), {"config", "credentials"}, {"config"}, InvalidBroker)
    config = _config(body)
    # The address check resolves the host's name: off the event loop.
    stored = await run_in_threadpool(brokers.add, config, body.get("credentials", {}))
    return broker_response(stored, 201)


@router.get("/{name}", summary="Read a broker destination: configuration and health")
def get_broker(name: Name, brokers: Brokers) -> OrjsonResponse:
    return broker_response(brokers.get(name))


@router.put(
    "/{name}",
    summary="Replace a broker destination's configuration; new credentials when given",
    openapi_extra=UPDATE_DOC,
)
async def put_broker(
    name: Name,
    request: Request,
    brokers: Brokers,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> OrjsonResponse:
    body = fields_of(
        await read_json(request), {"config", "credentials", "version"}, {"config"}, InvalidBroker
    )
    config = _config(body)
    version, from_header = expected_version(if_match, _version(body))
    stored = await run_in_threadpool(
        guarded,
        from_header,
        lambda: brokers.update(name, config, body.get("credentials"), expected=version),
    )
    return broker_response(stored)


@router.delete(
    "/{name}",
    status_code=204,
    summary="Remove a broker destination, its credentials and its pending deliveries",
)
def delete_broker(name: Name, brokers: Brokers) -> Response:
    brokers.remove(name)
    return Response(status_code=204)


@router.post(
    "/{name}/test",
    summary="Connect, declare (or find) the exchange and round-trip a confirmed ping through "
    "a temporary queue; nothing reaches the exchange's consumers",
)
async def test_broker(name: Name, brokers: Brokers) -> OrjsonResponse:
    result = await brokers.test(name)
    return OrjsonResponse(result.to_dict())
