"""The key file made on first use by several processes at once (serve --workers N and the
worker): each must end up with the one key, never an empty one nor an error."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pimhub.events import secret_box
from pimhub.events.secret_box import KEY_FILE_NAME, key_file_passphrase


def test_a_key_file_is_made_once_and_read_after(tmp_path: Path) -> None:
    made = key_file_passphrase(tmp_path)
    assert made and key_file_passphrase(tmp_path) == made
    assert (tmp_path / KEY_FILE_NAME).stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]  # no draft left


def test_a_process_that_loses_the_race_to_make_the_key_takes_the_winners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both found no key file; the other process made its key before this one wrote:
    this one uses that key (it was a FileExistsError, a 500 on the first stored secret)."""
    urandom = os.urandom
    theirs: list[str] = []

    def other_process_first(n: int) -> bytes:
        if not theirs:  # after our look, before our write
            theirs.append("")
            theirs[0] = key_file_passphrase(tmp_path)
        return urandom(n)

    monkeypatch.setattr(secret_box.os, "urandom", other_process_first)
    ours = key_file_passphrase(tmp_path)
    assert theirs[0] and ours == theirs[0]
    assert (tmp_path / KEY_FILE_NAME).read_text().strip() == ours


def test_a_key_file_being_written_is_never_read_half_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process looks while this one writes the key: both use one key (it read an
    empty file and sealed its secrets with a key no other process has)."""
    fdopen = os.fdopen
    theirs: list[str] = []

    class Writing:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> Writing:
            self.handle.__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.__exit__(*exc)

        def write(self, text: str) -> int:
            if not theirs:  # the other process looks while ours is being written
                theirs.append("")
                theirs[0] = key_file_passphrase(tmp_path)
            return int(self.handle.write(text))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.handle, name)

    def hooked(fd: int, *args: Any, **kwargs: Any) -> Any:
        handle = fdopen(fd, *args, **kwargs)
        return Writing(handle) if "w" in (args[0] if args else kwargs.get("mode", "")) else handle

    monkeypatch.setattr(secret_box.os, "fdopen", hooked)
    ours = key_file_passphrase(tmp_path)
    assert theirs[0] and ours == theirs[0]
    assert key_file_passphrase(tmp_path) == ours


def test_without_hard_links_the_key_is_made_in_place_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filesystem without hard links (vfat, some host-mounted volumes) refuses os.link:
    the key is created in place instead, 0600, and read back by the next process (the link
    error ended every start)."""

    def no_links(*_: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(secret_box.os, "link", no_links)
    made = key_file_passphrase(tmp_path)
    assert made and key_file_passphrase(tmp_path) == made
    assert (tmp_path / KEY_FILE_NAME).stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]


def test_a_key_read_while_it_is_written_in_place_waits_for_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made in place, the file exists before its key is in it: a reader that sees it without
    the closing newline reads again instead of taking a part of the key."""
    path = tmp_path / KEY_FILE_NAME
    path.write_text("half-of-the")
    read_text = Path.read_text
    reads: list[int] = []

    def the_writer_finishes(self: Path, *args: Any, **kwargs: Any) -> str:
        reads.append(1)
        if len(reads) == 2:  # the writer's one write lands between our reads
            self.write_text("half-of-the-key\n")
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", the_writer_finishes)
    assert key_file_passphrase(tmp_path) == "half-of-the-key"
