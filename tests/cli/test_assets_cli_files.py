"""`pimhub assets add` takes regular files only: a FIFO (which would block the command for
good), a device or a directory is refused up front with one line per argument; a symbolic
link to a file is followed."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import orjson
from typer.testing import CliRunner

from tests.cli.test_assets_cli import png
from tests.cli.test_cli import init, invoke


def _unblock_later(fifo: Path, content: bytes) -> None:
    """Should the command open the FIFO to read it (the bug), a writer comes after a
    while and sends an image, so the test fails on the upload instead of hanging."""

    def write() -> None:
        threading.Event().wait(3)
        with contextlib.suppress(OSError):  # ENXIO: nobody is reading, as it should be
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            with os.fdopen(fd, "wb") as out:
                out.write(content)

    threading.Thread(target=write, daemon=True).start()


def test_only_regular_files_are_uploaded(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    good = png(tmp_path / "good.png")
    link = tmp_path / "link.png"
    link.symlink_to(good)
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    _unblock_later(fifo, good.read_bytes())
    folder = tmp_path / "adir"
    folder.mkdir()
    code, out, err = invoke(
        runner, "assets", "add", str(fifo), str(folder), str(link), "/dev/null", "--json"
    )
    assert code == 1
    saved = orjson.loads(out)["saved"]
    assert [a["path"] for a in saved] == ["/link.png"]  # the link's name, the file's bytes
    failed = {f["file"]: f["error"] for f in orjson.loads(out)["failed"]}
    assert "not a regular file" in failed[str(fifo)] and "FIFO" in failed[str(fifo)]
    assert "is a directory" in failed[str(folder)]
    assert "not a regular file" in failed["/dev/null"]
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 3 and all(line.startswith("failed: ") for line in lines), err
    # Each line names its file once: "failed: <file>: <why>".
    assert all(line.count(str(fifo)) <= 1 and line.count("adir") <= 2 for line in lines), err
    assert any(
        line == f"failed: {fifo}: not a regular file (a FIFO); only files are uploaded"
        for line in lines
    ), err
