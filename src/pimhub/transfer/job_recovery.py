"""A starting server's recovery of import jobs: the queued or running jobs no process runs
any more are marked interrupted and their uploads deleted (transfer/jobs.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import structlog

from pimhub.transfer import job_owners
from pimhub.transfer.job_records import ImportJobStore, JobStatus

log = structlog.get_logger("pimhub.imports")


class RecoverableJobs(Protocol):
    """What recovery reads of transfer.jobs.ImportJobs; a protocol so that this module does
    not import the one that calls it."""

    @property
    def store(self) -> ImportJobStore: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def heartbeat_grace(self) -> float: ...
    @property
    def owner(self) -> str: ...
    @property
    def folder(self) -> Path: ...


def recover(jobs: RecoverableJobs, heartbeat: job_owners.Heartbeat) -> int:
    """Marks the queued or running jobs no process runs any more as interrupted: those
    whose heartbeat is older than the grace, or whose owner on this host has ended (and
    missed two beats). Deletes their uploads from this data_dir, with those of jobs that
    ended meanwhile elsewhere. Returns how many it interrupted. `heartbeat` is the one of
    `jobs`: the jobs this process runs."""
    now = jobs.clock()
    stale_before = now - timedelta(seconds=jobs.heartbeat_grace)
    # A dead pid on this host is believed only once two beats were missed: a container
    # sharing the host name but not the PID namespace sees a live owner's pid as dead.
    missed_beats = now - timedelta(seconds=2 * heartbeat.interval)
    interrupted = 0
    for job in jobs.store.unfinished():
        if job.owner == jobs.owner:
            gone, since = not heartbeat.owns(job.id), None
        else:
            beating = job.heartbeat_at is not None and job.heartbeat_at >= missed_beats
            gone, since = job_owners.owner_gone(job.owner) and not beating, missed_beats
        fresh = job.heartbeat_at is not None and job.heartbeat_at >= stale_before
        if not gone and fresh:
            continue  # another live process runs it
        ended = replace(
            job,
            status=JobStatus.INTERRUPTED,
            finished_at=now,
            error="the server stopped before the import finished; submit it again",
        )
        try:  # only if it did not beat or finish meanwhile
            done = jobs.store.interrupt(ended, stale_before=since if gone else stale_before)
        except Exception as exc:  # SQLite locked by that very import: the next start
            log.warning("import.not_interrupted", job=job.id, error=str(exc)[:200])
            continue
        if done:
            log.info("import.interrupted", job=job.id, owner=job.owner)
            interrupted += 1
            shutil.rmtree(jobs.folder / job.id, ignore_errors=True)  # if on this data_dir
    job_owners.sweep_uploads(jobs.folder, lambda job_id: _ended(jobs, job_id))
    return interrupted


def _ended(jobs: RecoverableJobs, job_id: str) -> bool:
    """Whether `job_id` is stored and finished (another host interrupted it, say)."""
    job = jobs.store.get(job_id)
    return job is not None and job.status not in (JobStatus.QUEUED, JobStatus.RUNNING)
