"""/api/v1/connectors: add, check, read, change and remove connectors, their status per SKU
and dry runs (admin). Credentials go in and never come out. A connector's deliveries, dead
letters and replay are those of its pipeline row, under /api/v1/webhooks (endpoint
`connector-<name>`)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from pimhub.access.keys import Action
from pimhub.api.auth import api_key, hub_of, require
from pimhub.api.body import object_doc, read_json
from pimhub.api.responses import OrjsonResponse
from pimhub.api.rest.config_body import config_of, fields_of
from pimhub.catalog.errors import FieldError
from pimhub.connectors.magento.config import NAME_PATTERN, InvalidConnector
from pimhub.connectors.service import ConnectorNotFound, ConnectorService

router = APIRouter(prefix="/api/v1/connectors", tags=["connectors"])
MAX_SKU_LENGTH = 255
CONNECTOR_DOC = object_doc(
    "{config: {name, baseUrl, auth, class, defaultLanguage, stores, websites, currency, "
    "attributeSet, attributes, categories, stock, deletes, sync, bulk, rateLimit, timeout, "
    "concurrency}, credentials: {consumerKey, consumerSecret, accessToken, "
    "accessTokenSecret}}; see docs/magento.md"
)
UPDATE_DOC = object_doc(
    "{config: {...}, credentials?: {...}}: the whole configuration (the name stays); the "
    "stored credentials stay unless new ones are given; see docs/magento.md"
)
CHECK_DOC = object_doc("{config: {...}}: a configuration to check; nothing is saved")
DRY_RUN_DOC = object_doc("{sku: the product's SKU}")


class ItemStateName(StrEnum):
    SYNCED = "synced"
    FAILED = "failed"
    DISABLED = "disabled"
    DELETED = "deleted"
    PENDING = "pending"


def admin(request: Request) -> ConnectorService:
    """Every connector route needs the admin scope: shop URLs and credentials are operator
    matters."""
    require(api_key(request), Action.INTEGRATE)
    return hub_of(request).connectors


def connector_name(name: str) -> str:
    """The path's name, or 404 when no connector could have it (a NUL, a path, capitals):
    such a name never reaches the database."""
    if not NAME_PATTERN.fullmatch(name):
        raise ConnectorNotFound("no connector by that name")
    return name


Connectors = Annotated[ConnectorService, Depends(admin)]
Name = Annotated[str, Depends(connector_name)]


def _config(body: Mapping[str, Any]) -> Any:
    return config_of(body, InvalidConnector, "the connector configuration")


@router.get("", summary="List connectors with their health")
def list_connectors(connectors: Connectors) -> OrjsonResponse:
    return OrjsonResponse({"items": [c.to_dict() for c in connectors.all()]})


@router.post(
    "",
    status_code=201,
    summary="Add a connector; its credentials are sealed and never shown",
    openapi_extra=CONNECTOR_DOC,
)
async def add_connector(request: Request, connectors: Connectors) -> OrjsonResponse:
    body = fields_of(
        await read_json(request), {"config", "credentials"}, {"config"}, InvalidConnector
    )
    config = _config(body)
    stored = await run_in_threadpool(connectors.add, config, body.get("credentials", {}))
    return OrjsonResponse(stored.to_dict(), 201)


@router.post(
    "/check",
    summary="Check a configuration without saving it (every problem by path)",
    openapi_extra=CHECK_DOC,
)
async def check_connector(request: Request, connectors: Connectors) -> OrjsonResponse:
    body = fields_of(await read_json(request), {"config"}, {"config"}, InvalidConnector)
    await run_in_threadpool(connectors.check, _config(body))
    return OrjsonResponse({"ok": True})


@router.get("/{name}", summary="Read a connector: configuration and health")
def get_connector(name: Name, connectors: Connectors) -> OrjsonResponse:
    return OrjsonResponse(connectors.get(name).to_dict())


@router.put(
    "/{name}",
    summary="Replace a connector's configuration; new credentials when given",
    openapi_extra=UPDATE_DOC,
)
async def put_connector(name: Name, request: Request, connectors: Connectors) -> OrjsonResponse:
    body = fields_of(
        await read_json(request), {"config", "credentials"}, {"config"}, InvalidConnector
    )
    config = _config(body)
    credentials = body.get("credentials")
    stored = await run_in_threadpool(connectors.update, name, config, credentials)
    return OrjsonResponse(stored.to_dict())


@router.delete(
    "/{name}",
    status_code=204,
    summary="Remove a connector, its credentials, pending deliveries and SKU states",
)
def delete_connector(name: Name, connectors: Connectors) -> Response:
    connectors.remove(name)
    return Response(status_code=204)


@router.get("/{name}/items", summary="SKU counts by state and a page of SKUs with their state")
def list_items(
    name: Name,
    connectors: Connectors,
    state: Annotated[ItemStateName | None, Query(description="Only SKUs in this state")] = None,
    after: Annotated[
        str | None,
        Query(max_length=MAX_SKU_LENGTH, description="The `nextCursor` of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> OrjsonResponse:
    found = connectors.status(name, state=state.value if state else None, after=after, limit=limit)
    answer = found.to_dict()
    following = found.items[-1].sku if len(found.items) == limit else None  # else the last page
    # `next`: the old name of nextCursor, deprecated (docs/api.md#paging).
    answer["nextCursor"] = answer["next"] = following
    return OrjsonResponse(answer)


@router.get("/{name}/items/{sku}", summary="One SKU as the connector knows it")
def get_item(name: Name, sku: str, connectors: Connectors) -> OrjsonResponse:
    return OrjsonResponse(connectors.item(name, sku).to_dict())


@router.post(
    "/{name}/dry-run",
    summary="The requests pushing one product would send now (nothing is written)",
    openapi_extra=DRY_RUN_DOC,
)
async def dry_run(name: Name, request: Request, connectors: Connectors) -> OrjsonResponse:
    body = fields_of(await read_json(request), {"sku"}, {"sku"}, InvalidConnector)
    sku = body["sku"]
    if not isinstance(sku, str) or not sku.strip() or len(sku) > MAX_SKU_LENGTH:
        message = f"must be a SKU: text of 1 to {MAX_SKU_LENGTH} characters"
        raise InvalidConnector(f"sku {message}", [FieldError("sku", message, "type")])
    requests = await connectors.dry_run(name, sku)
    return OrjsonResponse({"connector": name, "sku": sku, "requests": requests})


class LedgerStatus(StrEnum):
    SUBMITTING = "submitting"
    OPEN = "open"
    RETRYING = "retrying"
    COMPLETE = "complete"
    FAILED = "failed"
    REJECTED = "rejected"
    RESUBMITTED = "resubmitted"


@router.get(
    "/{name}/ledger",
    summary="The connector's bulk operations: counts by status and a page of entries",
)
def list_ledger(
    name: Name,
    connectors: Connectors,
    status: Annotated[LedgerStatus | None, Query(description="Only entries in this status")] = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**62, description="The `nextCursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> OrjsonResponse:
    counts, entries = connectors.ledger_page(
        name, status=status.value if status else None, after=after, limit=limit
    )
    following = entries[-1].id if len(entries) == limit else None
    items = [e.to_dict() for e in entries]
    # `next`: the old name of nextCursor, deprecated (docs/api.md#paging).
    return OrjsonResponse(
        {"counts": counts, "items": items, "nextCursor": following, "next": following}
    )
