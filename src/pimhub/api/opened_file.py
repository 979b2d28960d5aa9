"""A FileResponse sent from a file opened before the answer starts.

Starlette's FileResponse opens its path only after it has sent the status and the headers,
so a file deleted in between (a replaced asset's thumbnails, `pimhub assets gc`) breaks a
200 already on its way: an error in the log and a cut-off body for the client. Opened
first, the file is read whole even once its name is gone (POSIX keeps an unlinked file
while it is open), and a file already gone is the caller's 404.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

import anyio
from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

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
            await super().__call__(scope, receive, send)
        finally:
            self._handle.close()  # a HEAD, a refused range, a client gone: never read


def open_local(path: Path) -> BinaryIO | None:
    """The file at `path` opened for reading, or None when it is gone (deleted since the
    store found it)."""
    try:
        return path.open("rb")
    except OSError:
        # Gone, or unreadable (permissions, I/O): the missing blob's 404, as before the
        # file was opened here.
        return None
