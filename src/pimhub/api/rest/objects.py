"""/api/v1/objects/{class}: create, read, replace, patch, delete, list; versions."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from pimhub.access.keys import Action, ApiKey
from pimhub.api.auth import api_key, hub_of, may_write_referrers, require
from pimhub.api.body import body_doc, parse_model, read_json
from pimhub.api.preconditions import expected_version, guarded
from pimhub.api.responses import OrjsonResponse
from pimhub.api.rest.workflow_view import (
    TransitionRequest,
    add_open_transitions,
    read_transition,
)
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.preconditions import Existence
from pimhub.catalog.query import VERSION_MAX
from pimhub.catalog.service import ListQuery
from pimhub.catalog.variants import KEEP, FamilyRole, ParentRef
from pimhub.catalog.writer import SaveResult

router = APIRouter(prefix="/api/v1/objects", tags=["objects"])
Key = Annotated[ApiKey, Depends(api_key)]


class ObjectWrite(BaseModel):
    """Body of POST and PUT: the complete field values."""

    model_config = ConfigDict(extra="forbid")
    fields: dict[str, Any] = Field(description="Field values, validated against the class")
    published: bool | None = Field(None, description="Default: true on create, unchanged on PUT")
    version: int | None = Field(None, description="The version you read; refused if stale")
    parent: str | None = Field(
        None,
        description="Business key or uuid of the parent, making this object its variant; "
        "null makes it standalone; left out, a PUT keeps the parent it has",
        max_length=255,
    )


class ObjectPatch(BaseModel):
    """Body of PATCH: fields to change (JSON merge patch; null removes a field)."""

    model_config = ConfigDict(extra="forbid")
    fields: dict[str, Any] = Field(default_factory=dict)
    published: bool | None = None
    version: int | None = None
    parent: str | None = Field(None, max_length=255)


class RestoreRequest(BaseModel):
    """Body of POST .../versions/{n}/restore (optional: no body is the same as {})."""

    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(None, description="The version you read; refused if stale")


def etag(version: int) -> str:
    return f'"{version}"'


def envelopes(request: Request, api: ApiKey, objs: list[CatalogObject]) -> list[dict[str, Any]]:
    """The objects as the API shows them: a variant's parent with its business key, and
    the workflow transitions open to the key."""
    parents = hub_of(request).catalog.parent_keys(objs)
    out = [o.to_dict() for o in objs]
    for obj, shown in zip(objs, out, strict=True):
        if obj.parent is not None and obj.parent in parents:
            shown["parent"]["key"] = parents[obj.parent]
    add_open_transitions(request, api, objs, out)
    return out


def object_response(
    request: Request, api: ApiKey, obj: CatalogObject, status: int = 200
) -> OrjsonResponse:
    return OrjsonResponse(
        envelopes(request, api, [obj])[0], status_code=status, headers={"ETag": etag(obj.version)}
    )


def _parent_of(body: ObjectWrite | ObjectPatch) -> ParentRef:
    """What the body says about the parent: KEEP when it leaves `parent` out."""
    return body.parent if "parent" in body.model_fields_set else KEEP


def written_response(
    request: Request, api: ApiKey, obj: CatalogObject, status: int = 200
) -> Response:
    """The answer to a write: the object, if the key may read it as it now is (drafts only
    with read-drafts); otherwise no body, so that a write-only key cannot read through its
    writes. The ETag is there either way, for the next conditional write."""
    readable = api.allows(Action.READ, obj.class_name) and (
        obj.published or api.allows(Action.READ_DRAFTS, obj.class_name)
    )
    if readable:
        return object_response(request, api, obj, status)
    return Response(status_code=201 if status == 201 else 204, headers={"ETag": etag(obj.version)})


def _existence(if_match: str | None, if_none_match: str | None) -> Existence | None:
    """What `If-Match: *` (the object must exist) or `If-None-Match: *` (it must not)
    demand of a write; RFC 9110 answers 412 when that does not hold."""
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise InvalidInput(
                "If-None-Match on a write takes only *, to create an object that must not "
                "exist yet",
                [FieldError("If-None-Match", f"got {if_none_match!r}")],
            )
        if if_match is not None:
            raise InvalidInput(
                "If-Match and If-None-Match exclude each other",
                [FieldError("If-None-Match", "sent together with If-Match")],
            )
        return Existence.MUST_NOT_EXIST
    if if_match is not None and if_match.strip() == "*":
        return Existence.MUST_EXIST
    return None


@router.get("/{class_name}", summary="List objects with filter, sort and cursor paging")
def list_objects(
    request: Request,
    class_name: str,
    key: Key,
    filter: Annotated[
        str | None, Query(description='JSON filter, e.g. {"price": {"$gt": 10}}')
    ] = None,
    sort: Annotated[str | None, Query(description="Comma-separated; '-' for descending")] = None,
    first: Annotated[int, Query(ge=1, le=1000)] = 50,
    after: Annotated[str | None, Query(description="nextCursor of the previous page")] = None,
    family: Annotated[
        FamilyRole | None,
        Query(description="Only parents (objects with variants), variants, or standalone"),
    ] = None,
    parent: Annotated[
        str | None, Query(description="Only the variants of this object (key or uuid)")
    ] = None,
) -> OrjsonResponse:
    require(key, Action.READ, class_name)
    return _listing(request, key, class_name, filter, sort, first, after, family, parent)


def _listing(
    request: Request,
    key: ApiKey,
    class_name: str,
    filter: str | None,
    sort: str | None,
    first: int,
    after: str | None,
    family: FamilyRole | None,
    parent: str | None,
) -> OrjsonResponse:
    query = ListQuery(
        filter=filter,
        sort=[s for s in (sort or "").split(",") if s.strip()],
        first=first,
        after=after,
        include_drafts=key.allows(Action.READ_DRAFTS, class_name),
        family=family,
        parent=parent,
    )
    page = hub_of(request).catalog.list_objects(class_name, query)
    return OrjsonResponse(
        {
            "total": page.total,
            "items": envelopes(request, key, page.items),
            "nextCursor": page.next_cursor,
        }
    )


@router.post(
    "/{class_name}",
    status_code=201,
    summary="Create an object",
    openapi_extra=body_doc(ObjectWrite),
)
async def create_object(request: Request, class_name: str, key: Key) -> Response:
    require(key, Action.WRITE, class_name)
    body = parse_model(ObjectWrite, await read_json(request))
    obj = await run_in_threadpool(
        lambda: hub_of(request).catalog.create(
            class_name, body.fields, published=body.published, parent=body.parent, author=key.name
        )
    )
    response = written_response(request, key, obj, 201)
    # Percent-encoded: a key may hold '?', '#', '/' or text a header cannot carry as is.
    response.headers["Location"] = f"/api/v1/objects/{quote(class_name)}/{quote(obj.key, safe='')}"
    return response


@router.get("/{class_name}/{key}", summary="Read one object by business key")
def get_object(request: Request, class_name: str, key: str, api: Key) -> Response:
    require(api, Action.READ, class_name)
    obj = hub_of(request).catalog.get_object(
        class_name, key, include_drafts=api.allows(Action.READ_DRAFTS, class_name)
    )
    return object_response(request, api, obj)


@router.get("/{class_name}/{key}/variants", summary="The variants of an object")
def list_variants(
    request: Request,
    class_name: str,
    key: str,
    api: Key,
    filter: Annotated[str | None, Query(description="JSON filter, as for listings")] = None,
    sort: Annotated[str | None, Query(description="Comma-separated; '-' for descending")] = None,
    first: Annotated[int, Query(ge=1, le=1000)] = 50,
    after: Annotated[str | None, Query(description="nextCursor of the previous page")] = None,
) -> OrjsonResponse:
    require(api, Action.READ, class_name)
    return _listing(request, api, class_name, filter, sort, first, after, None, key)


async def _save(
    request: Request,
    api: ApiKey,
    class_name: str,
    key: str,
    model: type[ObjectWrite] | type[ObjectPatch],
    if_match: str | None,
    if_none_match: str | None,
    operation: str,
) -> SaveResult:
    """The shared path of PUT and PATCH: scope, body, preconditions, save."""
    require(api, Action.WRITE, class_name)
    existence = _existence(if_match, if_none_match)
    body = parse_model(model, await read_json(request))
    expected, from_header = expected_version(if_match, body.version)
    save = getattr(hub_of(request).catalog, operation)
    result: SaveResult = await run_in_threadpool(
        guarded,
        from_header,
        lambda: save(
            class_name,
            key,
            body.fields,
            published=body.published,
            expected_version=expected,
            existence=existence,
            parent=_parent_of(body),
            author=api.name,
        ),
    )
    return result


@router.put(
    "/{class_name}/{key}",
    summary="Create or replace an object",
    openapi_extra=body_doc(ObjectWrite),
)
async def put_object(
    request: Request,
    class_name: str,
    key: str,
    api: Key,
    if_match: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    result = await _save(request, api, class_name, key, ObjectWrite, if_match, if_none_match, "put")
    return written_response(request, api, result.object, 201 if result.created else 200)


@router.patch(
    "/{class_name}/{key}",
    summary="Change some fields of an object",
    openapi_extra=body_doc(ObjectPatch),
)
async def patch_object(
    request: Request,
    class_name: str,
    key: str,
    api: Key,
    if_match: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    result = await _save(
        request, api, class_name, key, ObjectPatch, if_match, if_none_match, "patch"
    )
    return written_response(request, api, result.object)


@router.delete("/{class_name}/{key}", status_code=204, summary="Delete an object")
def delete_object(
    request: Request,
    class_name: str,
    key: str,
    api: Key,
    force: Annotated[bool, Query(description="Also remove references to it")] = False,
    if_match: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    require(api, Action.DELETE, class_name)
    existence = _existence(if_match, if_none_match)
    expected, from_header = expected_version(if_match, None)
    guarded(
        from_header,
        lambda: hub_of(request).catalog.delete(
            class_name,
            key,
            force=force,
            expected_version=expected,
            existence=existence,
            author=api.name,
            may_unlink=may_write_referrers(api, f"{class_name} '{key}'"),
        ),
    )
    return Response(status_code=204)


@router.post(
    "/{class_name}/{key}/transitions/{name}",
    summary="Run a workflow transition (body optional: comment, version)",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": TransitionRequest.model_json_schema()}},
        }
    },
)
async def run_transition(
    request: Request,
    class_name: str,
    key: str,
    name: str,
    api: Key,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The transition's scopes decide who may run it (403 transition-forbidden); from
    another state it is a 409 invalid-transition naming the state and what is open."""
    body = await read_transition(request)
    expected, from_header = expected_version(if_match, body.version)
    obj = await run_in_threadpool(
        guarded,
        from_header,
        lambda: hub_of(request).catalog.transition(
            class_name,
            key,
            name,
            may_run=lambda scopes: api.may_run(scopes, class_name),
            author=api.name,
            comment=body.comment,
            expected_version=expected,
            sees_drafts=api.allows(Action.READ_DRAFTS, class_name),
            sees_class=any(api.allows(action, class_name) for action in Action),
        ),
    )
    return written_response(request, api, obj)


@router.get("/{class_name}/{key}/versions", summary="All versions of an object, newest first")
def list_versions(request: Request, class_name: str, key: str, api: Key) -> OrjsonResponse:
    require(api, Action.READ, class_name)
    versions = hub_of(request).catalog.list_versions(
        class_name, key, include_drafts=api.allows(Action.READ_DRAFTS, class_name)
    )
    return OrjsonResponse({"items": [v.to_dict() for v in versions]})


@router.get(
    "/{class_name}/{key}/versions/{version}",
    summary="One version with its field values and its diff to the version before",
)
def get_version(
    request: Request,
    class_name: str,
    key: str,
    version: Annotated[int, Path(ge=1, le=VERSION_MAX)],
    api: Key,
) -> OrjsonResponse:
    require(api, Action.READ, class_name)
    this, changes = hub_of(request).catalog.version_diff(
        class_name, key, version, include_drafts=api.allows(Action.READ_DRAFTS, class_name)
    )
    return OrjsonResponse(
        {**this.to_dict(with_values=True), "changes": [c.to_dict() for c in changes]}
    )


@router.post(
    "/{class_name}/{key}/versions/{version}/restore",
    summary="Save an earlier version's field values as a new version",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": RestoreRequest.model_json_schema()}},
        }
    },
)
async def restore_version(
    request: Request,
    class_name: str,
    key: str,
    version: Annotated[int, Path(ge=1, le=VERSION_MAX)],
    api: Key,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A write like PATCH (same scope, same If-Match or body `version` check, an event in
    the outbox); `published` stays as it is. Without a version named, never a conflict."""
    require(api, Action.WRITE, class_name)
    body = await _restore_body(request)
    expected, from_header = expected_version(if_match, body.version)
    result = await run_in_threadpool(
        guarded,
        from_header,
        lambda: hub_of(request).catalog.restore(
            class_name, key, version, expected_version=expected, author=api.name
        ),
    )
    return written_response(request, api, result.object)


async def _restore_body(request: Request) -> RestoreRequest:
    # Content-Length 0 or none (and not chunked): no body, which the route allows.
    length = request.headers.get("content-length")
    chunked = "transfer-encoding" in request.headers
    if not chunked and (length is None or length.strip() == "0"):
        return RestoreRequest()
    return parse_model(RestoreRequest, await read_json(request))
