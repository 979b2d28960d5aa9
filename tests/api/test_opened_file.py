"""OpenedFileResponse sends the handle opened before the answer began, whatever the server
offers: a server that sends files by path (http.response.pathsend) would open the name
again, which may be gone by then."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pimhub.api.opened_file import PATHSEND, OpenedFileResponse, open_local


def _send_through(response: OpenedFileResponse, extensions: dict[str, Any]) -> list[Any]:
    sent: list[Any] = []
    scope = {"type": "http", "method": "GET", "headers": [], "extensions": extensions}

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client stays
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(response(scope, receive, send))
    return sent


def test_a_server_that_sends_by_path_gets_the_open_handles_bytes(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"the bytes")
    handle = open_local(path)
    assert handle is not None
    response = OpenedFileResponse(handle, path, media_type="application/octet-stream", headers={})
    path.unlink()  # deleted after it was opened, before the answer
    sent = _send_through(response, {PATHSEND: {}})
    assert sent[0]["type"] == "http.response.start"
    assert all(m["type"] != PATHSEND for m in sent)
    assert b"".join(m.get("body", b"") for m in sent) == b"the bytes"
    assert handle.closed


def test_an_unreadable_file_is_none_like_a_missing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"x")

    def refused(*_: Any, **__: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refused)
    assert open_local(path) is None
    assert open_local(tmp_path / "gone.bin") is None
