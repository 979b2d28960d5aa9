"""Uploads waiting for their import: a file checked with a dry-run preview is kept on the
server under a random reference, so that starting the import sends the reference, not the
file again. Each upload belongs to the user who sent it; one left unused is deleted after
STAGED_FOR.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from pimhub.catalog.errors import FieldError, InvalidInput, NotFound
from pimhub.transfer.jobs import safe_name

STAGED_FOR = 24 * 3600.0  # seconds an unused upload is kept
_REFERENCE = re.compile(r"[A-Za-z0-9_-]{22,64}")


class UnknownUpload(NotFound):
    code = "upload-gone"
    title = "Upload not found"


class EmptyUpload(InvalidInput):
    code = "empty-upload"
    title = "Empty file"


class StagedUploads:
    def __init__(self, folder: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self.clock = clock

    def stage(self, owner: str, file_name: str, save: Callable[[Path], None]) -> str:
        """Stores an upload (`save` writes it to the path given) for `owner`; its reference.
        An empty file is refused (EmptyUpload) and not kept."""
        name = safe_name(file_name)
        self.forget_stale()
        reference = secrets.token_urlsafe(24)
        folder = self._owner_folder(owner) / reference
        folder.mkdir(parents=True)
        try:
            save(folder / name)
            if (folder / name).stat().st_size == 0:
                raise EmptyUpload(
                    f"{name} is empty (0 bytes)", [FieldError("file", "the file is empty")]
                )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return reference

    def path(self, owner: str, reference: str) -> Path:
        """The staged file of `owner` under `reference` (UnknownUpload when there is none:
        used, expired, or someone else's)."""
        if not _REFERENCE.fullmatch(reference):
            raise UnknownUpload("that upload reference is not one of ours")
        folder = self._owner_folder(owner) / reference
        files = sorted(folder.iterdir()) if folder.is_dir() else []
        if len(files) != 1:
            raise UnknownUpload(
                "the uploaded file is no longer on the server (used or expired); upload it again"
            )
        return files[0]

    def take(self, owner: str, reference: str) -> tuple[str, Callable[[Path], None]]:
        """The file name and a `save` that moves the staged file to where a job wants it."""
        staged = self.path(owner, reference)

        def save(target: Path) -> None:
            shutil.move(staged, target)
            shutil.rmtree(staged.parent, ignore_errors=True)

        return staged.name, save

    def discard(self, owner: str, reference: str) -> None:
        shutil.rmtree(self.path(owner, reference).parent, ignore_errors=True)

    def forget_stale(self) -> None:
        """Deletes uploads older than STAGED_FOR."""
        limit = self.clock() - STAGED_FOR
        if not self.folder.is_dir():
            return
        for owner in self.folder.iterdir():
            for staged in owner.iterdir() if owner.is_dir() else ():
                try:
                    if staged.stat().st_mtime < limit:
                        shutil.rmtree(staged, ignore_errors=True)
                except OSError:
                    continue  # removed meanwhile

    def _owner_folder(self, owner: str) -> Path:
        # Hashed: a username is not necessarily a safe directory name.
        return self.folder / hashlib.sha256(owner.encode()).hexdigest()[:24]
