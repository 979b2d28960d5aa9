"""Import jobs in the database."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, insert, or_, select, update

from pimhub.storage.tables import import_jobs
from pimhub.transfer.job_records import ImportJob, JobStatus

_UNFINISHED = [JobStatus.QUEUED.value, JobStatus.RUNNING.value]


class SqlImportJobStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, job: ImportJob) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(import_jobs).values(**_row(job), heartbeat_at=job.heartbeat_at))

    def update(self, job: ImportJob) -> None:
        # Not the heartbeat: beat() keeps it, and a job read earlier holds an older one.
        with self.engine.begin() as conn:
            conn.execute(update(import_jobs).where(import_jobs.c.id == job.id).values(**_row(job)))

    def beat(self, job_ids: Collection[str], at: datetime) -> None:
        """One UPDATE for every queued or running job this process owns."""
        with self.engine.begin() as conn:
            conn.execute(
                update(import_jobs)
                .where(import_jobs.c.id.in_(sorted(job_ids)), import_jobs.c.status.in_(_UNFINISHED))
                .values(heartbeat_at=at)
            )

    def interrupt(self, job: ImportJob, *, stale_before: datetime | None) -> bool:
        """Stores `job` (interrupted) unless it finished, changed owner or, with
        `stale_before`, beat since: False then (its owner is alive after all)."""
        owner = import_jobs.c.owner
        condition = [
            import_jobs.c.id == job.id,
            import_jobs.c.status.in_(_UNFINISHED),
            owner.is_(None) if job.owner is None else owner == job.owner,
        ]
        if stale_before is not None:
            beat = import_jobs.c.heartbeat_at
            condition.append(or_(beat.is_(None), beat < stale_before))
        with self.engine.begin() as conn:
            done = conn.execute(update(import_jobs).where(*condition).values(**_row(job)))
        return done.rowcount == 1

    def get(self, job_id: str) -> ImportJob | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(import_jobs).where(import_jobs.c.id == job_id)).first()
        return _job(row) if row else None

    def recent(self, limit: int) -> list[ImportJob]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(import_jobs).order_by(import_jobs.c.created_at.desc()).limit(limit)
            ).all()
        return [_job(r) for r in rows]

    def unfinished(self) -> list[ImportJob]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(import_jobs).where(import_jobs.c.status.in_(_UNFINISHED))
            ).all()
        return [_job(r) for r in rows]


def _row(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "class_name": job.class_name,
        "status": job.status.value,
        "file_name": job.file_name,
        "options": job.options,
        "summary": job.summary,
        "error": job.error,
        "author": job.author,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "owner": job.owner,
    }


def _job(row: Row[Any]) -> ImportJob:
    m = row._mapping
    return ImportJob(
        id=m["id"],
        class_name=m["class_name"],
        status=JobStatus(m["status"]),
        file_name=m["file_name"],
        options=m["options"],
        summary=m["summary"],
        error=m["error"],
        author=m["author"],
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        owner=m["owner"],
        heartbeat_at=m["heartbeat_at"],
    )
