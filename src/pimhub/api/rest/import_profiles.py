"""/api/v1/import-profiles: scheduled imports (admin keys only). See docs/import.md."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from pimhub.access.keys import Action, ApiKey
from pimhub.api.auth import api_key, hub_of, require
from pimhub.api.body import object_doc, read_json
from pimhub.api.responses import OrjsonResponse

router = APIRouter(prefix="/api/v1/import-profiles", tags=["imports"])
Key = Annotated[ApiKey, Depends(api_key)]
PROFILE_DOC = object_doc(
    "An import profile: source (an http(s) URL), mapping (YAML or a shipped name), cron, "
    "and optionally class, options {mode, onError, format, delimiter, encoding, recordPath, "
    "sheet, headers} and enabled (see docs/import.md)"
)


@router.get("", summary="List scheduled imports")
def list_profiles(request: Request, key: Key) -> OrjsonResponse:
    require(key, Action.INTEGRATE)
    return OrjsonResponse({"items": [p.to_dict() for p in hub_of(request).import_profiles.all()]})


@router.get("/{name}", summary="Read a scheduled import")
def get_profile(request: Request, name: str, key: Key) -> OrjsonResponse:
    require(key, Action.INTEGRATE)
    return OrjsonResponse(hub_of(request).import_profiles.get(name).to_dict())


@router.put("/{name}", summary="Create or replace a scheduled import", openapi_extra=PROFILE_DOC)
async def put_profile(request: Request, name: str, key: Key) -> OrjsonResponse:
    require(key, Action.INTEGRATE)
    body = await read_json(request)
    profile, created = await run_in_threadpool(
        hub_of(request).import_profiles.save_document, name, body, files_allowed=False
    )
    return OrjsonResponse(profile.to_dict(), status_code=201 if created else 200)


@router.delete("/{name}", status_code=204, summary="Delete a scheduled import")
def delete_profile(request: Request, name: str, key: Key) -> Response:
    require(key, Action.INTEGRATE)
    hub_of(request).import_profiles.delete(name)
    return Response(status_code=204)


@router.post("/{name}/run", status_code=202, summary="Run a scheduled import now")
async def run_profile(request: Request, name: str, key: Key) -> OrjsonResponse:
    """Fetches the source, then imports it in the background: follow the job at its
    Location. A source that cannot be fetched gives a failed job, as a scheduled run does."""
    require(key, Action.INTEGRATE)
    job = await run_in_threadpool(hub_of(request).import_profiles.start, name)
    return OrjsonResponse(
        job.to_dict(), status_code=202, headers={"Location": f"/api/v1/imports/{job.id}"}
    )
