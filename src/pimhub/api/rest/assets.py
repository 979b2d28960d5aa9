"""/api/v1/assets: upload (multipart POST, raw PUT), list, read, change, delete; versions.

Routes (docs/assets.md#rest):
  POST   /api/v1/assets                   multipart: file, path | folder, metadata (JSON)
  GET    /api/v1/assets                   ?folder=&first=&after= -> {total, items, nextCursor}
  PUT    /api/v1/assets/{path}            the raw file as the body; If-Match optional
  GET    /api/v1/assets/{path}            one asset by path
  PATCH  /api/v1/assets/{path}            {"metadata": {...merge patch...}, "path": "/new"}
  DELETE /api/v1/assets/{path}?force=     409 asset-in-use naming the referrers
  GET    /api/v1/asset-uuids/{uuid}       one asset by uuid
  GET    /api/v1/asset-versions/{path}    its versions, newest first

Scopes: assets are the pseudo-class `Asset`, so `read`/`write`/`delete` (that is `:*`) or
`read:Asset`, `write:Asset`, `delete:Asset` open them; a key scoped to other classes only
does not. Uploads are spooled to temporary files, counted as they arrive, and refused with
413 as soon as they pass `assets_max_bytes`; no upload is ever held whole in memory.
"""

from __future__ import annotations

import tempfile
import uuid as uuid_module
from collections.abc import Mapping
from typing import IO, Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from pimhub.access.keys import Action, ApiKey
from pimhub.api.asset_links import base_url as links_base_url
from pimhub.api.auth import api_key, hub_of, may_write_referrers, require
from pimhub.api.body import (
    body_doc,
    check_length,
    parse_model,
    read_form,
    read_json,
    refuse_nul,
    too_large,
)
from pimhub.api.errors import MalformedJson
from pimhub.api.preconditions import expected_version, guarded
from pimhub.api.responses import OrjsonResponse
from pimhub.assets.model import ASSET_CLASS, Asset, asset_url
from pimhub.assets.paths import normalize_folder, normalize_path
from pimhub.assets.presets import ThumbnailPreset
from pimhub.assets.service import MAX_PAGE_SIZE, AssetSave, AssetService
from pimhub.assets.thumbnails import RASTER_TYPES, Thumbnailer
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import FieldError, InvalidInput

router = APIRouter(tags=["assets"])
Key = Annotated[ApiKey, Depends(api_key)]
PREFIX = "/api/v1/assets"
MAX_METADATA_FIELD_BYTES = 64 * 1024  # the form's metadata text; the service allows less
FORM_OVERHEAD_BYTES = 1 << 20  # the form's other fields and part headers, beside the file
SPOOL_IN_MEMORY = 1 << 20  # an upload rolls over to a temporary file past this size


def assets_of(hub: Hub) -> AssetService:
    return hub.assets


def thumbnailer_of(request: Request) -> Thumbnailer:
    """The app's thumbnailer (create_app builds it, with the presets from the settings)."""
    thumbnailer: Thumbnailer = request.app.state.thumbnails
    return thumbnailer


def base_url(request: Request) -> str:
    """Where clients reach this server (asset_links.base_url, which the read APIs share)."""
    return links_base_url(hub_of(request), request.scope)


def asset_json(presets: Mapping[str, ThumbnailPreset], base: str, asset: Asset) -> dict[str, Any]:
    """The asset as the API shows it: its fields, its URL, and its thumbnails' URLs."""
    shown = asset.to_dict()
    shown["url"] = asset_url(base, asset)
    if asset.mimetype in RASTER_TYPES:
        shown["thumbnails"] = {n: asset_url(base, asset, p) for n, p in presets.items()}
    else:
        shown["thumbnails"] = {}
    return shown


def asset_response(request: Request, asset: Asset, status: int = 200) -> OrjsonResponse:
    body = asset_json(thumbnailer_of(request).presets, base_url(request), asset)
    headers = {"ETag": f'"{asset.version}"'}
    if status == 201:
        headers["Location"] = PREFIX + quote(asset.path)
    return OrjsonResponse(body, status_code=status, headers=headers)


def _saved(request: Request, save: AssetSave) -> OrjsonResponse:
    return asset_response(request, save.asset, 201 if save.created else 200)


# -- metadata --------------------------------------------------------------------------


def parse_metadata(text: str, field: str = "metadata") -> Any:
    """The `metadata` form field, a JSON object as text, parsed; the service checks the
    object itself (assets/metadata.py: its shape, NUL characters, its size)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(
            f"{field} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            [FieldError(field, exc.msg, "malformed-json")],
        ) from None
    return value


# -- uploads ---------------------------------------------------------------------------


def _upload_doc() -> dict[str, Any]:
    text = {"type": "string"}
    schema = {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "The file"},
            "path": {**text, "description": "Where it goes, e.g. /products/shirt.jpg"},
            "folder": {**text, "description": "Or a folder; the file's name is added"},
            "metadata": {**text, "description": 'JSON object, e.g. {"alt": {"en": "A shirt"}}'},
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": schema}},
        }
    }


def _form_target(fields: Mapping[str, str], filename: str | None) -> str:
    """The asset path a form names: `path`, or `folder` plus the file's name."""
    path, folder = fields.get("path"), fields.get("folder")
    if path and folder:
        raise InvalidInput(
            "give either path or folder, not both",
            [FieldError("folder", "sent together with path", "invalid")],
        )
    if path:
        return normalize_path(path)
    if folder is None:
        raise InvalidInput(
            "the form needs 'path' (e.g. /products/shirt.jpg) or 'folder' (e.g. /products)",
            [FieldError("path", "path or folder is required", "missing")],
        )
    name = (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if not name:
        raise InvalidInput(
            "the file part has no file name; give 'path' instead of 'folder'",
            [FieldError("file", "no file name", "missing")],
        )
    base = normalize_folder(folder)
    return normalize_path(f"{base.rstrip('/')}/{name}", field="file")


@router.post(
    PREFIX,
    status_code=201,
    summary="Upload an asset (multipart form); 200 when it replaced or matched one",
    openapi_extra=_upload_doc(),
)
async def upload_asset(request: Request, key: Key) -> Response:
    # The body is read here, after the key was checked (a File() parameter would have
    # FastAPI spool the whole upload before any dependency runs).
    require(key, Action.WRITE, ASSET_CLASS)
    hub = hub_of(request)
    limit = hub.settings.assets_max_bytes
    form = await read_form(
        request,
        limit + FORM_OVERHEAD_BYTES,
        what="the upload",
        max_fields=5,
        max_part_size=MAX_METADATA_FIELD_BYTES,
    )
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise InvalidInput(
                "the form needs the file in its 'file' part",
                [FieldError("file", "a file is required", "missing")],
            )
        if file.size is not None and file.size > limit:
            raise too_large(limit, "the file")
        fields = {k: v for k, v in form.multi_items() if k != "file"}
        if any(not isinstance(v, str) for v in fields.values()):
            raise InvalidInput(
                "only 'file' may be a file", [FieldError("body", "unexpected file", "invalid")]
            )
        unknown = sorted(set(fields) - {"path", "folder", "metadata"})
        if unknown:
            raise InvalidInput(
                f"unknown form fields: {', '.join(unknown)}; the form takes file, path, "
                "folder and metadata",
                [FieldError(name, "unknown field", "unknown") for name in unknown],
            )
        texts: dict[str, str] = {k: v for k, v in fields.items() if isinstance(v, str)}
        refuse_nul(texts, "the form")
        refuse_nul(file.filename or "", "the file name")
        path = _form_target(texts, file.filename)
        metadata = parse_metadata(texts["metadata"]) if "metadata" in texts else None
        content = file.file
        save = await run_in_threadpool(
            lambda: assets_of(hub).add(content, path, author=key.name, metadata=metadata)
        )
    finally:
        await form.close()
    return _saved(request, save)


async def _spool(request: Request, limit: int) -> IO[bytes]:
    """The raw body in a temporary file (in memory while small), counted chunk by chunk:
    413 at once when Content-Length says more than `limit`, or as soon as it passes it."""
    check_length(request.headers, limit, "the file")
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit, "the file")
            spooled.write(chunk)
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return spooled


def _path_param(path: str) -> str:
    return normalize_path("/" + path)


@router.put(
    PREFIX + "/{path:path}",
    summary="Upload an asset's file as the raw body (large files); 201 created, 200 replaced",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def put_asset(
    request: Request,
    path: str,
    key: Key,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    require(key, Action.WRITE, ASSET_CLASS)
    hub = hub_of(request)
    target = _path_param(path)
    expected, from_header = expected_version(if_match, None)
    content = await _spool(request, hub.settings.assets_max_bytes)
    try:
        save = await run_in_threadpool(
            guarded,
            from_header,
            lambda: assets_of(hub).add(content, target, author=key.name, expected_version=expected),
        )
    finally:
        content.close()
    return _saved(request, save)


# -- reads -----------------------------------------------------------------------------


@router.get(PREFIX, summary="List assets, by path, in a folder and below")
def list_assets(
    request: Request,
    key: Key,
    folder: Annotated[str | None, Query(description="e.g. /products; default all")] = None,
    first: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    after: Annotated[str | None, Query(description="nextCursor of the previous page")] = None,
) -> OrjsonResponse:
    require(key, Action.READ, ASSET_CLASS)
    hub = hub_of(request)
    page = assets_of(hub).list_page(
        folder=None if folder is None else normalize_folder(folder), first=first, after=after
    )
    base, presets = base_url(request), thumbnailer_of(request).presets
    return OrjsonResponse(
        {
            "total": page.total,
            "items": [asset_json(presets, base, a) for a in page.items],
            "nextCursor": page.next_cursor,
        }
    )


@router.get(PREFIX + "/{path:path}", summary="One asset by path")
def get_asset(request: Request, path: str, key: Key) -> OrjsonResponse:
    require(key, Action.READ, ASSET_CLASS)
    return asset_response(request, assets_of(hub_of(request)).get(_path_param(path)))


@router.get("/api/v1/asset-uuids/{uuid}", summary="One asset by uuid")
def get_asset_by_uuid(request: Request, uuid: str, key: Key) -> OrjsonResponse:
    require(key, Action.READ, ASSET_CLASS)
    try:
        canonical = str(uuid_module.UUID(uuid))
    except ValueError:
        raise InvalidInput(
            f"'{uuid[:64]}' is not a uuid", [FieldError("uuid", "not a uuid", "invalid")]
        ) from None
    return asset_response(request, assets_of(hub_of(request)).get_by_uuid(canonical))


@router.get("/api/v1/asset-versions/{path:path}", summary="An asset's versions")
def list_asset_versions(request: Request, path: str, key: Key) -> OrjsonResponse:
    """An asset's versions, newest first."""
    require(key, Action.READ, ASSET_CLASS)
    versions = assets_of(hub_of(request)).versions(_path_param(path))
    return OrjsonResponse({"items": [v.to_dict() for v in versions]})


# -- changes ---------------------------------------------------------------------------


class AssetPatch(BaseModel):
    """Body of PATCH: metadata to merge (null removes a key) and/or a new path."""

    model_config = ConfigDict(extra="forbid")
    metadata: dict[str, Any] | None = Field(
        None, description='JSON merge patch, e.g. {"alt": {"de": "Hemd"}}'
    )
    path: str | None = Field(None, description="Move the asset; references follow it")
    version: int | None = Field(None, description="The version you read; refused if stale")


@router.patch(
    PREFIX + "/{path:path}",
    summary="Change an asset's metadata or path",
    openapi_extra=body_doc(AssetPatch),
)
async def patch_asset(
    request: Request,
    path: str,
    key: Key,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    require(key, Action.WRITE, ASSET_CLASS)
    hub = hub_of(request)
    ref = _path_param(path)
    body = parse_model(AssetPatch, await read_json(request))
    metadata = body.metadata
    new_path = None if body.path is None else normalize_path(body.path)
    if metadata is None and new_path is None:
        raise InvalidInput(
            "nothing to change: send metadata and/or path",
            [FieldError("body", "empty patch", "invalid")],
        )
    expected, from_header = expected_version(if_match, body.version)
    save = await run_in_threadpool(
        guarded,
        from_header,
        lambda: assets_of(hub).update(
            ref, author=key.name, metadata=metadata, path=new_path, expected_version=expected
        ),
    )
    return asset_response(request, save.asset)


@router.delete(PREFIX + "/{path:path}", status_code=204, summary="Delete an asset")
def delete_asset(
    request: Request,
    path: str,
    key: Key,
    force: Annotated[bool, Query(description="Also remove the objects' references")] = False,
) -> Response:
    require(key, Action.DELETE, ASSET_CLASS)
    assets_of(hub_of(request)).delete(
        _path_param(path),
        author=key.name,
        force=force,
        may_unlink=may_write_referrers(key, "the asset"),
    )
    return Response(status_code=204)
