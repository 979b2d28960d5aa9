"""GET/HEAD /assets/{path}: an asset's file, or `?thumbnail=NAME` one of its thumbnails.

Public, like Pimcore's web-served assets: storefronts and Magento fetch images without a key.
Served by the bare Starlette app create_app runs beside FastAPI (see HubApp): the route is
hot, and FastAPI's layers would cost more than the lookup. The ETag names the content, so
If-None-Match answers 304; a URL whose `v` is the content's checksum (assets.model.asset_url)
is cacheable for good, since a changed asset gets another `v`.

SVG may carry script and PDF may carry forms and links: both are sent as attachments with a
Content-Security-Policy that forbids everything (`sandbox`), so that opening such a URL in
a browser never runs the file's content in this origin.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pimhub.api.auth import point_read
from pimhub.api.openapi_schemas import IF_NONE_MATCH
from pimhub.api.opened_file import OpenedFileResponse, open_local
from pimhub.api.rest.assets import assets_of, thumbnailer_of
from pimhub.assets.flights import default_concurrency
from pimhub.assets.model import Asset, url_version
from pimhub.assets.paths import normalize_path
from pimhub.assets.thumbnails import Thumbnail, Thumbnailer
from pimhub.bootstrap import Hub
from pimhub.catalog.errors import AssetNotFound, FieldError, Unavailable
from pimhub.storage.asset_point_reads import SqlAssetPointReads

log = structlog.get_logger("pimhub.assets")
PREFIX = "/assets/"
PATH = "/assets/{path:path}"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=60, must-revalidate"
ATTACHMENT_TYPES = frozenset({"image/svg+xml", "application/pdf"})
SANDBOX = "default-src 'none'; sandbox"


def content_disposition(filename: str) -> str:
    """An attachment header carrying `filename` safely (RFC 6266: `filename*` when it is
    not plain ASCII, or holds a character a quoted string would need escaped)."""
    encoded = quote(filename)
    if encoded != filename:
        return f"attachment; filename*=utf-8''{encoded}"
    return f'attachment; filename="{filename}"'


def _quoted(tag: str) -> str:
    return tag if tag.startswith(('"', 'W/"')) else f'"{tag}"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """Whether If-None-Match names `tag` (weakly compared, RFC 9110) or is `*`."""
    if if_none_match is None:
        return False
    bare = tag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == bare:
            return True
    return False


# Requests for thumbnails not drawn yet queue here, on the event loop, not in server
# threads: while a burst of new images is drawn, the rest of the API keeps its threads. A
# request that waits this long for a turn, or finds this many waiting, gets a 503.
DRAW_QUEUE_WAIT = 30.0
DRAW_QUEUE_LENGTH = 256


class _DrawQueue:
    """Turns for drawing threads: twice the drawing slots, so that a thread is ready when a
    slot frees while the rest wait as coroutines."""

    def __init__(self, concurrency: int | None) -> None:
        size = 2 * max(1, concurrency or default_concurrency())
        self.turns = anyio.CapacityLimiter(size)
        # The threads of those turns (never contended: a turn is held before one is asked
        # for); the default limiter would make thumbnails and every other blocking route
        # wait for each other.
        self.threads = anyio.CapacityLimiter(size)

    async def run(self, thumbnailer: Thumbnailer, asset: Asset, preset: str) -> Thumbnail:
        if self.turns.statistics().tasks_waiting >= DRAW_QUEUE_LENGTH:
            raise _busy(asset)
        # Only the wait for a turn is bounded: a drawing once begun runs to its end (its
        # thread cannot be stopped), and its answer is the thumbnail, not a 503.
        turn = False
        with anyio.move_on_after(DRAW_QUEUE_WAIT):
            await self.turns.acquire()
            turn = True
        if not turn:
            raise _busy(asset)
        try:
            return await anyio.to_thread.run_sync(
                thumbnailer.ensure, asset, preset, limiter=self.threads
            )
        finally:
            self.turns.release()


def _busy(asset: Asset) -> Unavailable:
    return Unavailable(
        f"{asset.path}: thumbnails are being drawn for many images at once; retry later"
    )


def _draw_queue(request: Request) -> _DrawQueue:
    queue: _DrawQueue | None = getattr(request.app.state, "thumbnail_draws", None)
    if queue is None:
        hub: Hub = request.app.state.hub
        queue = _DrawQueue(hub.settings.assets_thumbnail_concurrency)
        request.app.state.thumbnail_draws = queue
    return queue


async def _thumbnail(
    request: Request, thumbnailer: Thumbnailer, asset: Asset, preset: str
) -> Thumbnail:
    """The thumbnail, drawn on the first request. Drawing takes up to seconds of CPU and a
    remote store blocks, so those run in a thread of their own queue; a thumbnail already
    on this machine's disk is found on the loop (a stat). An unknown preset (400, naming
    the presets) or a type without thumbnails (415) is refused by plan()."""
    _, key, _ = thumbnailer.plan(asset, preset)
    # One look that never draws: a thumbnail found, then deleted (its content replaced)
    # before a second look, was drawn here on the loop, stalling every request meanwhile.
    if thumbnailer.store.local_path(key) is not None and (
        found := thumbnailer.stored(asset, preset)
    ):
        return found
    return await _draw_queue(request).run(thumbnailer, asset, preset)


# Times the row is read again when its file went away after it was read (its content
# replaced meanwhile: the old content's thumbnails go at once, its blob after gc's grace).
FILE_RACES_RETRIED = 3


async def serve_asset(request: Request) -> Response:
    path = normalize_path("/" + request.path_params["path"])
    asset = await _asset_at(request, path)
    for _ in range(FILE_RACES_RETRIED):
        answer = await _answer(request, asset)
        if answer is not None:
            return answer
        # The file is gone: the asset's content was replaced (or the asset deleted) after
        # its row was read, or the store lost it. The row read again tells which.
        current = await _asset_at(request, path)
        if current.checksum == asset.checksum:
            raise missing_blob(asset)
        asset = current
    log.warning("assets.file_raced", path=path, retries=FILE_RACES_RETRIED)
    raise Unavailable(f"{path}: its content is being replaced; retry shortly")


async def _asset_at(request: Request, path: str) -> Asset:
    hub: Hub = request.app.state.hub
    reads: SqlAssetPointReads = request.app.state.asset_reads
    asset = await point_read(hub, lambda: reads.get_by_path(path))
    if asset is None:
        raise AssetNotFound(
            f"no asset at '{path}'", [FieldError("path", "no such asset", AssetNotFound.code)]
        )
    return asset


async def _answer(request: Request, asset: Asset) -> Response | None:
    """The answer with `asset`'s file or thumbnail; None when the file is not in the store
    (any more)."""
    service = assets_of(request.app.state.hub)
    query = request.query_params
    headers = {"X-Content-Type-Options": "nosniff"}
    preset = query.get("thumbnail")
    if preset is None:
        tag, media_type, size = f'"{asset.checksum}"', asset.mimetype, asset.filesize
        version = url_version(asset)
        if asset.mimetype in ATTACHMENT_TYPES:
            headers["Content-Disposition"] = content_disposition(asset.filename)
            headers["Content-Security-Policy"] = SANDBOX
    else:
        thumbnailer = thumbnailer_of(request)
        try:
            thumbnail = await _thumbnail(request, thumbnailer, asset, preset)
        except AssetNotFound:
            return None  # the blob to draw from is gone: replaced and collected, or lost
        tag, media_type, size = _quoted(thumbnail.etag), thumbnail.mimetype, thumbnail.size
        version = url_version(asset, thumbnailer.preset(preset))
    # Cached for good only under the URL naming what is sent now (asset_url).
    headers["Cache-Control"] = IMMUTABLE if query.get("v") == version else REVALIDATE
    headers["ETag"] = tag
    if not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    store = service.store if preset is None else thumbnailer.store
    key = asset.blob_key if preset is None else thumbnail.key
    local = store.local_path(key)
    if local is not None:
        # Opened here, not in FileResponse's worker thread: a hop costs more than an open of
        # a file the kernel has cached, and a cached thumbnail is the hottest request there
        # is. Opened before the 200 goes out, too: a file deleted meanwhile (a replaced
        # content's thumbnails, gc) is found gone here, never a broken answer (opened_file).
        handle = open_local(local)
        if handle is None:
            return None
        return OpenedFileResponse(handle, local, media_type=media_type, headers=headers)
    headers["Content-Length"] = str(size)
    # The store blocks (a remote one asks over the network): in a thread.
    if request.method == "HEAD":
        if not await run_in_threadpool(store.exists, key):
            return None
        return Response(status_code=200, media_type=media_type, headers=headers)
    try:
        chunks = await run_in_threadpool(store.read, key)
    except KeyError:
        return None
    # StreamingResponse iterates a plain iterator in the thread pool.
    return StreamingResponse(chunks, media_type=media_type, headers=headers)


def missing_blob(asset: Asset) -> AssetNotFound:
    """A row whose file the store lost (removed by hand, a damaged store): a 404 that says
    so, never a 500, and a log line for the operator."""
    log.error("assets.blob_missing", path=asset.path, checksum=asset.checksum)
    return AssetNotFound(
        f"the file of {asset.path} is missing from the store",
        [FieldError("path", "file missing from the store", AssetNotFound.code)],
    )


routes = [Route(PATH, serve_asset, methods=["GET", "HEAD"], name="get_asset_file")]


OPENAPI_PATHS: dict[str, Any] = {
    "/assets/{path}": {
        "get": {
            "tags": ["assets"],
            "summary": "An asset's file, or one of its thumbnails (public, no key)",
            "operationId": "get_asset_file",
            "parameters": [
                {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "thumbnail",
                    "in": "query",
                    "required": False,
                    "description": "A thumbnail preset's name, e.g. product_list",
                    "schema": {"type": "string"},
                },
                {
                    "name": "v",
                    "in": "query",
                    "required": False,
                    "description": "The version the URL names (the checksum's prefix; for a "
                    "thumbnail also the preset's fingerprint): with the current one, the answer "
                    "may be cached for a year",
                    "schema": {"type": "string"},
                },
                IF_NONE_MATCH,
            ],
            "responses": {
                "200": {
                    "description": "The file, with its stored type, an ETag and Cache-Control",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "304": {"description": "Unchanged since the ETag sent in If-None-Match"},
            },
        }
    }
}
