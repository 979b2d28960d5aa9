"""What an import job's status is called wherever the admin shows it (the imports list, the
job page, the dashboard's recent imports and alerts, the scheduled imports' last runs): one
label, badge and explanation per job, so no page says "started" or "updated 1" of a job that
failed and kept nothing, and a dry run is marked as one everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from pimhub.transfer.job_records import ImportJob, JobStatus

# The label and badge of each status: never "started" for a job that failed.
_BASE: dict[JobStatus, tuple[str, str]] = {
    JobStatus.QUEUED: ("queued", "muted"),
    JobStatus.RUNNING: ("running", "warn"),
    JobStatus.SUCCEEDED: ("succeeded", "ok"),
    JobStatus.COMPLETED_WITH_ERRORS: ("partially failed", "warn"),
    JobStatus.ABORTED: ("failed: aborted, nothing kept", "bad"),
    JobStatus.FAILED: ("failed", "bad"),
    JobStatus.INTERRUPTED: ("failed: interrupted", "bad"),
}
_EXPLAINED: dict[JobStatus, str] = {
    JobStatus.QUEUED: "Waiting for its turn.",
    JobStatus.RUNNING: "Importing: the counts grow as rows are read.",
    JobStatus.SUCCEEDED: "Every row was accepted.",
    JobStatus.COMPLETED_WITH_ERRORS: (
        "Some rows were refused and skipped; the others were imported. "
        "The error report lists each refused row."
    ),
    JobStatus.ABORTED: "Aborted at a refused row: nothing was kept.",
    JobStatus.FAILED: "The import could not finish.",
    JobStatus.INTERRUPTED: "The server stopped while it ran; submit the file again.",
}
_DRY_RUN_EXPLAINED: dict[JobStatus, str] = {
    JobStatus.QUEUED: "A dry run, waiting for its turn: it will keep nothing.",
    JobStatus.RUNNING: "A dry run: every row is checked, nothing will be kept.",
    JobStatus.SUCCEEDED: (
        "A dry run: nothing was kept; the counts say what the import would do. "
        "Every row would be accepted."
    ),
    JobStatus.COMPLETED_WITH_ERRORS: (
        "A dry run: nothing was kept; the counts say what the import would do. "
        "Some rows would be refused: the error report lists them."
    ),
    JobStatus.ABORTED: "A dry run, aborted at a refused row: nothing was kept.",
}


@dataclass(frozen=True, slots=True)
class ImportStatus:
    label: str
    badge: str  # a badge class of admin.css: ok, warn, bad, muted
    explanation: str
    dry_run: bool
    # False when the counts are what the job would have done, not what it did (a dry run,
    # an aborted import): pages then say "would have" and "nothing kept".
    kept: bool


def is_dry_run(job: ImportJob) -> bool:
    return bool(job.options.get("dryRun"))


def import_status(job: ImportJob) -> ImportStatus:
    label, badge = _BASE[job.status]
    dry_run = is_dry_run(job)
    explained = (_DRY_RUN_EXPLAINED if dry_run else {}).get(job.status) or _EXPLAINED[job.status]
    return ImportStatus(
        label=f"{label} (dry run)" if dry_run else label,
        badge=badge,
        explanation=explained,
        dry_run=dry_run,
        kept=not dry_run and job.status != JobStatus.ABORTED,
    )


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """A <progress> element's value and max (None: indeterminate) and its text."""

    value: int | None
    maximum: int
    percent: int | None
    text: str


def import_progress(job: ImportJob) -> ImportProgress:
    """How far the job is: rows read, and the share of the file read where the job reports
    it (bytesRead of bytesTotal); a finished job is at 100 %."""
    summary = job.summary or {}
    rows = _number(summary.get("rows"))
    if job.status == JobStatus.QUEUED:
        return ImportProgress(0, 1, 0, "Waiting for its turn: 0 %.")
    if job.status in (JobStatus.SUCCEEDED, JobStatus.COMPLETED_WITH_ERRORS):
        return ImportProgress(1, 1, 100, f"{rows:,} rows read: all of the file (100 %).")
    if job.status != JobStatus.RUNNING:  # ended before the end of the file: no bar
        return ImportProgress(None, 1, None, f"{rows:,} rows read before it stopped.")
    done, total = _number(summary.get("bytesRead")), _number(summary.get("bytesTotal"))
    if total <= 0:
        return ImportProgress(None, 1, None, f"{rows:,} rows read so far.")
    done = min(done, total)
    percent = done * 100 // total
    return ImportProgress(
        done,
        total,
        percent,
        f"{rows:,} rows read so far, {percent} % of the file ({_size(done)} of {_size(total)}).",
    )


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _size(n: int) -> str:
    if n < 1000:
        return f"{n:,} bytes"
    amount, unit = n / 1000, "KB"
    for bigger in ("MB", "GB"):
        if amount < 1000:
            break
        amount, unit = amount / 1000, bigger
    return f"{amount:.1f} {unit}"
