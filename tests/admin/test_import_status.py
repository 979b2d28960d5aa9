"""One status wording for import jobs on every admin page (list, job page, dashboard and its
alerts): an aborted job's counts are what it would have done, a dry run is marked as one,
and a running job's progress bar is determinate when the job reports how far it has read."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pimhub.bootstrap import Hub
from pimhub.transfer.job_records import ImportJob, JobStatus
from pimhub.transfer.jobs import JobRequest
from tests.admin.conftest import AdminClient

MAPPING = "class: Product\nfields:\n  sku: sku\n  name.en: name\n"


@pytest.fixture
def jobs_hub(users_hub: Hub, tmp_path: Path) -> Hub:
    users_hub.imports.folder = tmp_path / "imports"
    return users_hub


def _job(hub: Hub, name: str, status: JobStatus, *, dry_run: bool = False, **summary: Any) -> str:
    now = datetime.now(UTC)
    job = ImportJob(
        id=f"imp_{name:0<20}",
        class_name="Product",
        status=status,
        file_name=f"{name}.csv",
        options={"mode": "upsert", "onError": "abort", "dryRun": dry_run, "format": "csv"},
        author="manager",
        created_at=now,
        summary=summary or None,
        started_at=now,
        finished_at=None if status == JobStatus.RUNNING else now,
    )
    hub.imports.store.add(job)
    return job.id


def _flat(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def _row(html: str, job_id: str) -> str:
    found = re.search(rf'<a href="/admin/imports/{job_id}">[^<]*\.csv</a>.*?</tr>', html, re.S)
    assert found, job_id
    return _flat(found[0])


def test_an_aborted_job_never_says_it_updated(
    jobs_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    job_id = _job(jobs_hub, "aborted", JobStatus.ABORTED, rows=2, updated=1, failed=1, aborted=True)
    client = signed_in("manager")
    page = _flat(client.get(f"/admin/imports/{job_id}").text)
    assert '<span class="badge bad">failed: aborted, nothing kept</span>' in page
    assert "<dt>Updated</dt>" not in page
    assert '<dt>Would have updated (nothing kept)</dt><dd class="stat">1</dd>' in page
    listed = _row(client.get("/admin/imports").text, job_id)
    assert "failed: aborted, nothing kept" in listed
    assert "would have 1 <small" in listed and "(nothing kept)" in listed
    board = client.get("/admin/").text
    row = _row(board, job_id)
    assert '<span class="badge bad">failed: aborted, nothing kept</span>' in row
    alerts = _flat(re.search(r'<section class="alert.*?</section>', board, re.S)[0])  # type: ignore[index]
    assert "aborted.csv into Product: failed: aborted, nothing kept." in alerts


def test_dry_runs_are_marked_on_the_list_the_job_page_and_the_dashboard(
    jobs_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    job_id = _job(
        jobs_hub, "dry", JobStatus.COMPLETED_WITH_ERRORS, dry_run=True, rows=3, created=2, failed=1
    )
    client = signed_in("manager")
    label = '<span class="badge warn">partially failed (dry run)</span>'
    page = _flat(client.get(f"/admin/imports/{job_id}").text)
    assert label in page and "A dry run: nothing was kept" in page
    assert "3 rows read: all of the file (100 %)." in page
    assert '<dt>Would have created (nothing kept)</dt><dd class="stat">2</dd>' in page
    assert label in _row(client.get("/admin/imports").text, job_id)
    assert label in _row(client.get("/admin/").text, job_id)
    # A scheduled import's last run is named the same way (the profiles page uses it too).


def test_a_running_job_shows_a_determinate_progress_bar_with_a_percentage(
    jobs_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    job_id = _job(jobs_hub, "running", JobStatus.RUNNING)
    jobs_hub.imports._live[job_id] = {
        "rows": 4000,
        "created": 4000,
        "bytesRead": 500_000,
        "bytesTotal": 2_000_000,
    }
    client = signed_in("manager")
    fragment = _flat(client.get(f"/admin/imports/{job_id}/progress").text)
    assert '<progress value="500000" max="2000000" aria-label="Import progress">' in fragment
    assert "4,000 rows read so far, 25 % of the file (500.0 KB of 2.0 MB)." in fragment
    jobs_hub.imports._live[job_id] = {"rows": 10}  # a reader without a byte stream (XLSX)
    fragment = _flat(client.get(f"/admin/imports/{job_id}/progress").text)
    assert '<progress max="1" aria-label="Import progress">' in fragment
    assert "10 rows read so far." in fragment
    jobs_hub.imports._live.clear()
    queued = _job(jobs_hub, "queued", JobStatus.QUEUED)
    assert '<progress value="0" max="1"' in client.get(f"/admin/imports/{queued}").text


def test_a_running_job_reports_how_far_it_has_read_its_file(jobs_hub: Hub) -> None:
    """The live summary holds bytesRead of bytesTotal while the job runs."""
    seen: list[dict[str, Any]] = []

    class Recording(dict[str, dict[str, Any]]):
        def __setitem__(self, key: str, value: dict[str, Any]) -> None:
            seen.append(value)
            super().__setitem__(key, value)

    jobs_hub.imports._live = Recording()
    rows = "".join(f"ST-{n},Status {n}\n" for n in range(1200))
    content = f"sku,name\n{rows}".encode()

    def save(path: Path) -> None:
        path.write_bytes(content)

    job = jobs_hub.imports.run_now(JobRequest(None, MAPPING), "status.csv", save, "manager")
    assert job.status == JobStatus.SUCCEEDED
    assert len(seen) >= 2  # one per batch
    assert all(s["bytesTotal"] == len(content) for s in seen)
    read = [s["bytesRead"] for s in seen]
    assert read == sorted(read) and 0 < read[0] <= len(content)
