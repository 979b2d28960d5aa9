"""/api/v1/datahub: datahub configurations (admin keys only) and their GraphQL SDL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from graphql import print_schema
from starlette.concurrency import run_in_threadpool

from pimhub.access.keys import Action, ApiKey
from pimhub.api.auth import api_key, hub_of, require
from pimhub.api.body import object_doc, read_json
from pimhub.api.responses import OrjsonResponse
from pimhub.datahub.config import DatahubConfig

router = APIRouter(prefix="/api/v1/datahub", tags=["datahub"])
Key = Annotated[ApiKey, Depends(api_key)]
CONFIG_DOC = object_doc(
    "A datahub configuration: name, classes {Class: {fields, operations}}, drafts, "
    "introspection, limits, cors {origins, allowCredentials, maxAge} (see docs/graphql.md)"
)


def _response(config: DatahubConfig, status: int = 200) -> OrjsonResponse:
    body = {**config.to_dict(), "endpoint": f"/graphql/{config.name}", "scope": config.scope}
    return OrjsonResponse(body, status_code=status, headers={"ETag": f'"{config.version}"'})


@router.get("", summary="List datahub configurations")
def list_configs(request: Request, key: Key) -> OrjsonResponse:
    require(key, Action.INTEGRATE)
    return OrjsonResponse({"items": [c.to_dict() for c in hub_of(request).datahub.all()]})


@router.get("/{name}", summary="Read a datahub configuration")
def get_config(request: Request, name: str, key: Key) -> OrjsonResponse:
    require(key, Action.INTEGRATE)
    return _response(hub_of(request).datahub.get(name))


@router.get("/{name}/schema.graphql", summary="The configuration's GraphQL schema (SDL)")
def get_sdl(request: Request, name: str, key: Key) -> Response:
    require(key, Action.INTEGRATE)
    schema = request.app.state.graphql.schema(name)
    return Response(print_schema(schema.schema), media_type="text/plain; charset=utf-8")


@router.post("", status_code=201, summary="Create a configuration", openapi_extra=CONFIG_DOC)
async def create_config(request: Request, key: Key) -> OrjsonResponse:
    require(key, Action.INTEGRATE)
    body = await read_json(request)
    saved = await run_in_threadpool(hub_of(request).datahub.create, body, author=key.name)
    return _response(saved, 201)


@router.put("/{name}", summary="Create or replace a configuration", openapi_extra=CONFIG_DOC)
async def replace_config(request: Request, name: str, key: Key) -> OrjsonResponse:
    require(key, Action.INTEGRATE)
    body = await read_json(request)
    version = body.get("version") if isinstance(body, dict) else None
    expected = version if isinstance(version, int) and not isinstance(version, bool) else None
    saved, created = await run_in_threadpool(
        hub_of(request).datahub.replace, name, body, author=key.name, expected_version=expected
    )
    return _response(saved, 201 if created else 200)


@router.delete("/{name}", status_code=204, summary="Delete a configuration")
def delete_config(request: Request, name: str, key: Key) -> Response:
    require(key, Action.INTEGRATE)
    hub_of(request).datahub.delete(name)
    return Response(status_code=204)
