"""Uploads waiting for their import: a file checked with a dry-run preview is kept on the
server under a random reference, so that starting the import sends the reference, not the
file again. Each upload belongs to the user who sent it; one left unused is deleted after
STAGED_FOR. An owner keeps at most MAX_STAGED uploads and `max_bytes` of them: staging one
more drops that owner's oldest, so one user cannot fill the disk with previews.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from pimhub.catalog.errors import CatalogError, Conflict, FieldError, InvalidInput, NotFound
from pimhub.transfer.jobs import safe_name

STAGED_FOR = 24 * 3600.0  # seconds an unused upload is kept
_REFERENCE = re.compile(r"[A-Za-z0-9_-]{22,64}")
CLAIMED = ".claimed"  # suffix of an upload's folder once a job has taken it
STARTED = ".job"  # suffix of the file naming the job an upload was started as
DROPPING = ".dropping-"  # infix of a folder a sweep renamed aside to delete it
CLAIM_SETTLES = 10.0  # seconds a second claim waits for the first one's job id
MAX_STAGED = 5  # uploads an owner keeps waiting at once
# An upload this young may still be read by the preview that staged it (uploads arrive in
# parallel): the quota spares it, so a burst may exceed the quota for that long.
IN_USE_SECONDS = 120.0


class UnknownUpload(NotFound):
    code = "upload-gone"
    title = "Upload not found"


class AlreadyStarted(Conflict):
    """The upload was already taken by a job (a double-clicked Run)."""

    code = "already-started"
    title = "Already started"

    def __init__(self, detail: str, job_id: str) -> None:
        super().__init__(detail)
        self.job_id = job_id


class ClaimedUpload:
    """A staged upload taken for one job: no one else can take it any more."""

    def __init__(self, folder: Path, reference: str, file: Path) -> None:
        self.folder = folder  # the claimed folder
        self.reference = reference
        self.file = file

    def save(self, target: Path) -> None:
        """Moves the file to where the job wants it (ImportJobs.submit's `save`)."""
        shutil.move(self.file, target)

    def started(self, job_id: str) -> None:
        """Records the job it became, for those who try to start it again."""
        self.folder.with_name(self.reference + STARTED).write_text(job_id)
        shutil.rmtree(self.folder, ignore_errors=True)

    def release(self) -> None:
        """Gives the upload back (no job was made of it)."""
        if self.file.exists():
            os.rename(self.folder, self.folder.with_name(self.reference))


class EmptyUpload(InvalidInput):
    code = "empty-upload"
    title = "Empty file"


class StagedUploads:
    def __init__(
        self,
        folder: Path,
        *,
        clock: Callable[[], float] = time.time,
        max_uploads: int = MAX_STAGED,
        max_bytes: int | None = None,
    ) -> None:
        self.folder = folder
        self.clock = clock
        self.max_uploads = max_uploads  # per owner, the newest one included
        self.max_bytes = max_bytes  # per owner; None: no bound but the count

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
        self._keep_within_quota(folder)
        return reference

    def _keep_within_quota(self, newest: Path) -> None:
        """Drops the owner's oldest waiting uploads beyond max_uploads or max_bytes; the one
        just staged always stays (one upload is within the upload limit already). Claimed
        uploads are a job's now and do not count."""
        waiting = [newest]
        for staged in newest.parent.iterdir():
            if staged != newest and staged.is_dir() and _waiting(staged.name):
                waiting.append(staged)
        sizes = {staged: _size(staged) for staged in waiting}
        ages = {staged: _mtime(staged) for staged in waiting}
        older = sorted(waiting[1:], key=lambda staged: ages[staged], reverse=True)
        kept, total = 1, sizes[newest]
        for staged in older:
            young = self.clock() - ages[staged] < IN_USE_SECONDS
            if young or (
                kept < self.max_uploads
                and (self.max_bytes is None or total + sizes[staged] <= self.max_bytes)
            ):
                kept, total = kept + 1, total + sizes[staged]
            else:
                _drop(staged)

    def path(self, owner: str, reference: str) -> Path:
        """The staged file of `owner` under `reference` (UnknownUpload when there is none:
        used, expired, or someone else's)."""
        if not _REFERENCE.fullmatch(reference):
            raise UnknownUpload("that upload reference is not one of ours")
        folder = self._owner_folder(owner) / reference
        try:
            files = sorted(folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            # Gone, or claimed by a parallel Run since: the job it became, if any.
            raise self._started_as(folder) from None
        if len(files) != 1:
            raise UnknownUpload(
                "the uploaded file is no longer on the server (used, expired, or dropped because "
                f"you had more than {self.max_uploads} uploads waiting); upload it again"
            )
        return files[0]

    def claim(self, owner: str, reference: str) -> ClaimedUpload:
        """Takes the staged upload for one job, atomically (a rename of its folder), so of
        parallel starts of one upload exactly one gets it; the others get AlreadyStarted
        with the job it became (UnknownUpload when it is used, expired or not theirs)."""
        if not _REFERENCE.fullmatch(reference):
            raise UnknownUpload("that upload reference is not one of ours")
        folder = self._owner_folder(owner) / reference
        claimed = folder.with_name(reference + CLAIMED)
        try:
            os.rename(folder, claimed)
        except FileNotFoundError:
            raise self._started_as(folder) from None
        # Sweeps rename a folder aside before deleting it (_drop), so none empties it now;
        # the list is still checked, once, rather than trusted.
        files = list(claimed.iterdir())
        if len(files) != 1:
            shutil.rmtree(claimed, ignore_errors=True)
            raise UnknownUpload(
                "the uploaded file is no longer on the server (expired, or dropped because "
                f"you had more than {self.max_uploads} uploads waiting); upload it again"
            )
        return ClaimedUpload(claimed, reference, files[0])

    def _started_as(self, folder: Path) -> CatalogError:
        """Why the upload at `folder` could not be claimed: the job it became."""
        marker = folder.with_name(folder.name + STARTED)
        claimed = folder.with_name(folder.name + CLAIMED)
        deadline = time.monotonic() + CLAIM_SETTLES
        # The winner writes the marker before it drops its claimed folder, so while that
        # folder is there the job id is coming.
        while True:
            if job_id := _job_of(marker):
                return AlreadyStarted(f"this upload was already started as job {job_id}", job_id)
            if not claimed.exists():
                # The winner may have written the marker and dropped its folder since the
                # read above: read it once more before calling the upload gone.
                if job_id := _job_of(marker):
                    return AlreadyStarted(
                        f"this upload was already started as job {job_id}", job_id
                    )
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if claimed.exists():
            return AlreadyStarted("this upload is being started by another request", "")
        return UnknownUpload(
            "the uploaded file is no longer on the server (used or expired); upload it again"
        )

    def take(self, owner: str, reference: str) -> tuple[str, Callable[[Path], None]]:
        """The file name and a `save` that moves the staged file to where a job wants it
        (claimed first: see claim)."""
        claimed = self.claim(owner, reference)

        def save(target: Path) -> None:
            claimed.save(target)
            shutil.rmtree(claimed.folder, ignore_errors=True)

        return claimed.file.name, save

    def forget_stale(self) -> None:
        """Deletes uploads older than STAGED_FOR."""
        limit = self.clock() - STAGED_FOR
        if not self.folder.is_dir():
            return
        for owner in self.folder.iterdir():
            for staged in owner.iterdir() if owner.is_dir() else ():
                try:
                    stat = staged.stat()
                    # A claimed folder was renamed (its ctime) when a Run took it: a job
                    # is moving its file out now, however old the upload.
                    claimed = staged.name.endswith(CLAIMED)
                    if max(stat.st_mtime, stat.st_ctime if claimed else 0) < limit:
                        if staged.is_dir():
                            _drop(staged)
                        else:  # a started upload's job id
                            staged.unlink(missing_ok=True)
                except OSError:
                    continue  # removed meanwhile

    def _owner_folder(self, owner: str) -> Path:
        # Hashed: a username is not necessarily a safe directory name.
        return self.folder / hashlib.sha256(owner.encode()).hexdigest()[:24]


def _waiting(name: str) -> bool:
    """Whether a folder of this name is an upload waiting for its Run (not claimed by
    one, not being dropped)."""
    return not name.endswith(CLAIMED) and DROPPING not in name


def _drop(folder: Path) -> None:
    """Deletes a staged upload's folder. It is renamed aside first, so a Run's claim (a
    rename of the same folder) and the drop exclude each other: whichever renames first
    has it. Deleted in place, a sweep that had opened the folder emptied it under a claim
    that came between (the Run's job then found no file)."""
    aside = folder.with_name(f"{folder.name}{DROPPING}{secrets.token_hex(4)}")
    try:
        os.rename(folder, aside)
    except FileNotFoundError:
        return  # claimed or dropped meanwhile
    shutil.rmtree(aside, ignore_errors=True)


def _size(folder: Path) -> int:
    try:
        return sum(f.stat().st_size for f in folder.iterdir())
    except OSError:
        return 0  # claimed or dropped meanwhile


def _mtime(folder: Path) -> float:
    try:
        return folder.stat().st_mtime
    except OSError:
        return 0.0


def _job_of(marker: Path) -> str:
    """The job id a started upload's marker names ('' while there is none)."""
    try:
        return marker.read_text().strip()
    except FileNotFoundError:
        return ""
