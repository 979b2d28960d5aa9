"""/api/v1/classes: class definitions (reading needs read access; changes need admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from pimhub.access.keys import Action, ApiKey
from pimhub.api.auth import api_key, hub_of, require
from pimhub.api.body import object_doc, read_json
from pimhub.api.responses import OrjsonResponse
from pimhub.catalog.classes import ClassDefinition

router = APIRouter(prefix="/api/v1/classes", tags=["classes"])
Key = Annotated[ApiKey, Depends(api_key)]
DEFINITION_DOC = object_doc("A class definition: name, businessKey, fields[] (see docs/classes.md)")


def _response(definition: ClassDefinition, status: int = 200) -> OrjsonResponse:
    return OrjsonResponse(
        definition.to_dict(), status_code=status, headers={"ETag": f'"{definition.version}"'}
    )


@router.get("", summary="List class definitions")
def list_classes(request: Request, key: Key) -> OrjsonResponse:
    visible = [c for c in hub_of(request).classes.all() if key.allows(Action.READ, c.name)]
    return OrjsonResponse({"items": [c.to_dict() for c in visible]})


@router.get("/{name}", summary="Read a class definition")
def get_class(request: Request, name: str, key: Key) -> OrjsonResponse:
    require(key, Action.READ, name)
    return _response(hub_of(request).classes.get(name))


@router.post("", status_code=201, summary="Define a new class", openapi_extra=DEFINITION_DOC)
async def create_class(request: Request, key: Key) -> OrjsonResponse:
    require(key, Action.ADMIN)
    body = await read_json(request)
    saved = await run_in_threadpool(hub_of(request).classes.create, body, author=key.name)
    return _response(saved, 201)


@router.put(
    "/{name}",
    summary="Change a class; refused if stored objects would break",
    openapi_extra=DEFINITION_DOC,
)
async def replace_class(request: Request, name: str, key: Key) -> OrjsonResponse:
    require(key, Action.ADMIN)
    body = await read_json(request)
    version = body.get("version") if isinstance(body, dict) else None
    expected = version if isinstance(version, int) and not isinstance(version, bool) else None
    saved = await run_in_threadpool(
        hub_of(request).classes.replace, name, body, author=key.name, expected_version=expected
    )
    return _response(saved)


@router.delete("/{name}", status_code=204, summary="Delete a class without objects")
def delete_class(request: Request, name: str, key: Key) -> Response:
    require(key, Action.ADMIN)
    hub_of(request).classes.delete(name, author=key.name)
    return Response(status_code=204)
