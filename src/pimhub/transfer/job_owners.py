"""Which process runs an import job: its owner (host:pid:token) and a heartbeat it
refreshes, so a starting server interrupts only the jobs no process runs any more."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from collections.abc import Callable, Collection
from pathlib import Path

import structlog

log = structlog.get_logger("pimhub.imports")

HOST = socket.gethostname()[:200]  # the owner column holds 255


def new_owner() -> str:
    """This process and a token of its own (a pid is reused, and one process may hold
    several ImportJobs, as tests do)."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_gone(owner: str | None) -> bool:
    """True for a job without an owner (stored before owners were recorded) or one owned
    on this host by a process that no longer runs; otherwise only its heartbeat tells.
    Another container with the same host name and its own PID namespace also looks gone:
    ImportJobs.recover believes it only when the heartbeat missed two beats as well."""
    if owner is None:
        return True
    host, _, pid = owner.rpartition(":")[0].rpartition(":")
    if host != HOST or not pid.isdigit():
        return False
    return not _runs(int(pid))


def _runs(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # no cheap check: the heartbeat decides
    try:
        os.kill(pid, 0)  # signal 0: only whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or not ours to ask
        return True
    return True


def sweep_uploads(folder: Path, ended: Callable[[str], bool]) -> None:
    """Deletes the upload folders (imp_…) of jobs that `ended`: those another host
    interrupted while this one was down. Each job is read right before its folder goes, as
    a folder appears only after its job was stored."""
    try:
        folders = [p for p in folder.iterdir() if p.name.startswith("imp_") and p.is_dir()]
    except OSError:
        return  # no uploads yet
    for upload in folders:
        if ended(upload.name):
            shutil.rmtree(upload, ignore_errors=True)


class Heartbeat:
    """Calls `beat(job_ids)` every `interval` seconds with the jobs this process owns
    while they are queued or running: one statement for all, on a daemon thread that
    runs only while there are any."""

    def __init__(self, beat: Callable[[Collection[str]], None], interval: float) -> None:
        self._beat = beat
        self.interval = interval
        self._owned: set[str] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def owns(self, job_id: str) -> bool:
        with self._changed:
            return job_id in self._owned

    def add(self, job_id: str) -> None:
        with self._changed:
            self._owned.add(job_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="import-heartbeat", daemon=True
                )
                self._thread.start()

    def discard(self, job_id: str) -> None:
        with self._changed:
            self._owned.discard(job_id)
            self._changed.notify_all()  # the thread ends at once when none are left

    def _loop(self) -> None:
        failing = False
        while True:
            with self._changed:
                self._changed.wait_for(lambda: not self._owned, timeout=self.interval)
                if not self._owned:
                    self._thread = None
                    return
                job_ids = sorted(self._owned)
            try:
                self._beat(job_ids)
                failing = False
            except Exception as exc:  # an outage, or SQLite locked by the import: retried
                if not failing:  # once per outage, not every beat
                    log.warning("import.heartbeat_failed", jobs=len(job_ids), error=str(exc)[:200])
                failing = True
