"""An import job as stored and the store that keeps it: what transfer/jobs.py (which runs
jobs) and transfer/job_recovery.py (which interrupts the ones no process runs) share, kept
apart so that neither imports the other's module for it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pimhub.catalog.objects import iso


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every row accepted
    COMPLETED_WITH_ERRORS = "completed-with-errors"  # some rows refused (skip)
    ABORTED = "aborted"  # a row refused with on_error=abort: nothing kept
    FAILED = "failed"  # the file could not be read, or the import broke
    INTERRUPTED = "interrupted"  # the server stopped while it ran


@dataclass(frozen=True, slots=True)
class ImportJob:
    id: str
    class_name: str
    status: JobStatus
    file_name: str
    options: dict[str, Any]
    author: str
    created_at: datetime
    summary: dict[str, Any] | None = None
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    owner: str | None = None  # host:pid:token of the process running it (job_owners)
    heartbeat_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return iso(moment) if moment else None

        return {
            "id": self.id,
            "class": self.class_name,
            "status": self.status.value,
            "file": self.file_name,
            "options": self.options,
            "summary": self.summary,
            "error": self.error,
            "author": self.author,
            "createdAt": when(self.created_at),
            "startedAt": when(self.started_at),
            "finishedAt": when(self.finished_at),
        }


class ImportJobStore(Protocol):
    def add(self, job: ImportJob) -> None: ...
    def update(self, job: ImportJob) -> None: ...
    def get(self, job_id: str) -> ImportJob | None: ...
    def recent(self, limit: int) -> list[ImportJob]: ...
    def unfinished(self) -> list[ImportJob]: ...
    def beat(self, job_ids: Collection[str], at: datetime) -> None: ...
    def interrupt(self, job: ImportJob, *, stale_before: datetime | None) -> bool: ...
