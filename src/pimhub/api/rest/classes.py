"""/api/v1/classes: class definitions (reading needs read access; changes need admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from pimhub.access.keys import Action, ApiKey
from pimhub.api.auth import api_key, hub_of, require
from pimhub.api.body import object_doc, read_json
from pimhub.api.responses import OrjsonResponse
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError, InvalidQuery, StaleVersion

router = APIRouter(prefix="/api/v1/classes", tags=["classes"])
Key = Annotated[ApiKey, Depends(api_key)]
DEFINITION_DOC = object_doc("A class definition: name, businessKey, fields[] (see docs/classes.md)")
DryRun = Annotated[
    bool,
    Query(
        alias="dryRun",
        description="Only check: 200 with the outcome (created, updated or unchanged) and "
        "the same refusals as saving, nothing stored",
    ),
]


def known_query(request: Request, key: Key) -> None:
    """Refuses a query parameter a class write does not take: a misspelled `dryRun`
    (`?dryrun=true`) would otherwise be ignored and the change saved for real. The key is
    checked first (401, then 403 without admin), as on every route."""
    require(key, Action.ADMIN)
    unknown = sorted(set(request.query_params) - {"dryRun"})
    if unknown:
        raise InvalidQuery(
            f"a class change takes no query parameter {', '.join(map(repr, unknown))}; "
            "the only one is 'dryRun'",
            [FieldError(name, "unknown query parameter") for name in unknown],
        )


KnownQuery = Depends(known_query)


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


@router.post(
    "",
    status_code=201,
    summary="Define a new class",
    openapi_extra=DEFINITION_DOC,
    dependencies=[KnownQuery],
)
async def create_class(request: Request, key: Key, dry_run: DryRun = False) -> OrjsonResponse:
    require(key, Action.ADMIN)
    body = await read_json(request)
    if dry_run:
        return await _checked(request, body, None, None)
    saved = await run_in_threadpool(hub_of(request).classes.create, body, author=key.name)
    return _response(saved, 201)


@router.put(
    "/{name}",
    summary="Change a class; refused if stored objects would break",
    openapi_extra=DEFINITION_DOC,
    dependencies=[KnownQuery],
)
async def replace_class(
    request: Request, name: str, key: Key, dry_run: DryRun = False
) -> OrjsonResponse:
    require(key, Action.ADMIN)
    body = await read_json(request)
    version = body.get("version") if isinstance(body, dict) else None
    expected = version if isinstance(version, int) and not isinstance(version, bool) else None
    if dry_run:
        return await _checked(request, body, name, expected)
    saved = await run_in_threadpool(
        hub_of(request).classes.replace, name, body, author=key.name, expected_version=expected
    )
    return _response(saved)


async def _checked(
    request: Request, body: Any, name: str | None, expected: int | None
) -> OrjsonResponse:
    """What saving `body` would do, refused as saving would refuse it (ClassService.check
    runs the same checks; the stale version is checked here, as replace does)."""
    classes = hub_of(request).classes
    if name is not None and expected is not None:
        current = await run_in_threadpool(classes.get, name)
        if current.version != expected:
            raise StaleVersion(
                f"class {name} is at version {current.version}, not {expected}",
                current_version=current.version,
            )
    outcome = await run_in_threadpool(lambda: classes.check(body, name=name))
    return OrjsonResponse({"dryRun": True, "outcome": outcome})


@router.delete("/{name}", status_code=204, summary="Delete a class without objects")
def delete_class(request: Request, name: str, key: Key) -> Response:
    require(key, Action.ADMIN)
    hub_of(request).classes.delete(name, author=key.name)
    return Response(status_code=204)
