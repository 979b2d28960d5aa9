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
