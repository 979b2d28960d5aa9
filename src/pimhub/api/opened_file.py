"""A FileResponse sent from a file opened before the answer starts.

Starlette's FileResponse opens its path only after it has sent the status and the headers,
so a file deleted in between (a replaced asset's thumbnails, `pimhub assets gc`) breaks a
200 already on its way: an error in the log and a cut-off body for the client. Opened
first, the file is read whole even once its name is gone (POSIX keeps an unlinked file
while it is open), and a file already gone is the caller's 404.

Range headers are checked before Starlette sees them, so refusals keep the API's problem
shape: a malformed one is ignored and the whole file sent (RFC 9110 lets a server ignore
Range), a range past the end is 416 `range-not-satisfiable` with `Content-Range: */size`.
Starlette answered both in plain text.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

import anyio
from starlette.datastructures import Headers
from starlette.responses import (
    FileResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    Response,
)
from starlette.types import Receive, Scope, Send

from pimhub.api.errors import problem

PATHSEND = "http.response.pathsend"  # the ASGI extension for sending a file by its path


class OpenedFileResponse(FileResponse):
    """Sends `handle` (opened by `open_local`); `path` names it only for the headers."""

    def __init__(
        self,
        handle: BinaryIO,
        path: Path,
        *,
        media_type: str,
        headers: Mapping[str, str],
    ) -> None:
        self._handle = handle
        stat = os.fstat(handle.fileno())
        super().__init__(path, media_type=media_type, headers=headers, stat_result=stat)

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        # Overrides FileResponse's open by path (see the module's docstring); tested in
        # tests/api/test_asset_files.py, which fails if Starlette stops calling it.
        yield anyio.wrap_file(self._handle)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = scope.get("extensions") or {}
        if PATHSEND in extensions:
            # A server that sends files by path would open the name again: the race this
            # class exists for. The open handle is sent instead.
            scope = {**scope, "extensions": {k: v for k, v in extensions.items() if k != PATHSEND}}
        try:
            scope, refusal = self._checked_range(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            await super().__call__(scope, receive, send)
        finally:
            self._handle.close()  # a HEAD, a refused range, a client gone: never read

    def _checked_range(self, scope: Scope) -> tuple[Scope, Response | None]:
        """The scope without a malformed Range header, or the 416 problem for a range the
        file does not reach. Only where FileResponse would read the header at all."""
        headers = Headers(scope=scope)
        http_range = headers.get("range")
        if_range = headers.get("if-range")
        if (
            http_range is None
            or self.status_code != 200
            or scope["method"].upper() not in ("GET", "HEAD")
            or (if_range is not None and not self._should_use_range(if_range))
        ):
            return scope, None
        size = self.stat_result.st_size if self.stat_result is not None else 0
        try:
            self._parse_range_header(http_range, size)
        except MalformedRangeHeader:
            kept = [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]
            return {**scope, "headers": kept}, None
        except RangeNotSatisfiable:
            refusal = problem(
                416,
                "range-not-satisfiable",
                "Range not satisfiable",
                f"the file has {size} bytes; the range asked for starts past its end",
                [{"field": "Range", "message": "starts past the end", "code": "range"}],
            )
            refusal.headers["Content-Range"] = f"bytes */{size}"
            return scope, refusal
        return scope, None


def open_local(path: Path) -> BinaryIO | None:
    """The file at `path` opened for reading, or None when it is gone (deleted since the
    store found it)."""
    try:
        return path.open("rb")
    except OSError:
        # Gone, or unreadable (permissions, I/O): the missing blob's 404, as before the
        # file was opened here.
        return None
