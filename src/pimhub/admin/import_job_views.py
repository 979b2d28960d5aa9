"""/imports: everyone's import jobs the user may see (write on the job's class, as the REST
list), one job with live progress, and its error report as a download."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.import_status import (
    ImportProgress,
    ImportStatus,
    import_progress,
    import_status,
)
from pimhub.admin.web import blocking, fragment, hub_of, principal_of, render
from pimhub.api.auth import require, require_some_write, writes_some_class
from pimhub.catalog.errors import NotFound
from pimhub.transfer.job_records import ImportJob, JobStatus

LISTED = 200  # most recent jobs read for the list
UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


class NoReport(NotFound):
    code = "not-found"
    title = "No error report"


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as the pages show it."""

    job: ImportJob

    @property
    def status(self) -> ImportStatus:
        return import_status(self.job)

    @property
    def label(self) -> str:
        return self.status.label

    @property
    def badge(self) -> str:
        return self.status.badge

    @property
    def progress(self) -> ImportProgress:
        return import_progress(self.job)

    @property
    def finished(self) -> bool:
        return self.job.status not in UNFINISHED

    @property
    def summary(self) -> dict[str, Any]:
        return self.job.summary or {}

    def count(self, name: str) -> int:
        value = self.summary.get(name, 0)
        return value if isinstance(value, int) else 0

    @property
    def duration(self) -> str:
        start, end = self.job.started_at, self.job.finished_at
        if start is None or end is None:
            return ""
        seconds = (end - start).total_seconds()
        return (
            f"{seconds:.1f} s"
            if seconds < 60
            else f"{int(seconds // 60)} min {int(seconds % 60)} s"
        )

    @property
    def when(self) -> str:
        return f"{self.job.created_at:%Y-%m-%d %H:%M:%S} UTC"


async def list_jobs(request: Request) -> Response:
    key = principal_of(request)
    require_some_write(key)
    jobs = await blocking(hub_of(request).imports.recent, LISTED)
    visible = [JobView(j) for j in jobs if key.allows(Action.WRITE, j.class_name)]
    return render(request, "imports.html", {"jobs": visible, "may_import": writes_some_class(key)})


async def _job(request: Request) -> JobView:
    key = principal_of(request)
    require_some_write(key)
    job = await blocking(hub_of(request).imports.get, request.path_params["job"])
    require(key, Action.WRITE, job.class_name)
    return JobView(job)


async def show_job(request: Request) -> Response:
    view = await _job(request)
    return render(request, "import_job.html", {"view": view})


async def progress(request: Request) -> Response:
    """The job's status block for htmx: it polls while the job runs, and the block of a
    finished job has no trigger, so the polling stops."""
    return fragment(request, "import_job_status.html", {"view": await _job(request)})


async def report(request: Request) -> Response:
    view = await _job(request)
    path = hub_of(request).imports.report_path(view.job.id)
    if not view.finished or not await blocking(path.is_file):
        raise NoReport(f"import job {view.job.id} has no error report (yet)")
    return FileResponse(
        path,
        media_type="text/csv; charset=utf-8",
        filename=f"{view.job.id}-errors.csv",
        content_disposition_type="attachment",
    )


routes: list[BaseRoute] = [
    Route("/imports", list_jobs, methods=["GET"]),
    Route("/imports/{job}", show_job, methods=["GET"]),
    Route("/imports/{job}/progress", progress, methods=["GET"]),
    Route("/imports/{job}/report", report, methods=["GET"]),
]
