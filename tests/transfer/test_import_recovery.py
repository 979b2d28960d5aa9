"""A starting server interrupts only the import jobs no process runs any more: those whose
heartbeat stopped, or whose process on this host ended; never one another live process
runs. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pimhub.bootstrap import Hub
from pimhub.transfer import jobs as jobs_module
from pimhub.transfer.job_owners import HOST
from pimhub.transfer.job_records import ImportJob, JobStatus
from pimhub.transfer.jobs import ImportJobs, JobRequest, new_job_id

MAPPING = "class: Product\nfields:\n  sku: sku\n  name.en: name\n"
CSV = "sku,name\nR-1,Recovered one\nR-2,Recovered two\n"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(hub: Hub, tmp_path: Path, clock: Clock) -> Callable[..., ImportJobs]:
    """A starting server's ImportJobs (one per call: one process each), sharing the
    database and this host's data_dir."""

    def start(**options: Any) -> ImportJobs:
        return ImportJobs(
            hub.imports.store,
            hub.catalog,
            tmp_path / "imports",
            clock=clock,
            language="en",
            **options,
        )

    return start


def running_job(
    imports: ImportJobs, owner: str | None, heartbeat_at: datetime | None
) -> tuple[ImportJob, Path]:
    """A job another process runs (or ran) and its upload on this data_dir."""
    job = ImportJob(
        id=new_job_id(),
        class_name="Product",
        status=JobStatus.RUNNING,
        file_name="products.csv",
        options={},
        author="test",
        created_at=imports.clock(),
        started_at=imports.clock(),
        owner=owner,
        heartbeat_at=heartbeat_at,
    )
    imports.store.add(job)
    upload = imports.folder / job.id / job.file_name
    upload.parent.mkdir(parents=True)
    upload.write_text(CSV)
    return job, upload.parent


def a_pid_that_ended() -> int:
    """The pid of a process that ran and was reaped (pids wrap slowly: not reused here)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_jobs_other_live_processes_run_survive_a_start(
    server: Callable[..., ImportJobs], clock: Clock
) -> None:
    starting = server()
    recent = clock.now - timedelta(seconds=50)
    elsewhere, elsewhere_upload = running_job(starting, "other-host:4242:a1b2", recent)
    local, local_upload = running_job(starting, f"{HOST}:{os.getppid()}:d4e5", recent)
    # Another ImportJobs of this process: alive, so its heartbeat decides.
    sibling, sibling_upload = running_job(starting, f"{HOST}:{os.getpid()}:c3", recent)
    silent, silent_upload = running_job(starting, f"{HOST}:{os.getpid()}:c4", None)
    assert starting.recover() == 1  # only the one without a heartbeat
    for job in (elsewhere, local, sibling):
        assert starting.get(job.id).status == JobStatus.RUNNING
    assert elsewhere_upload.exists() and local_upload.exists() and sibling_upload.exists()
    assert starting.get(silent.id).status == JobStatus.INTERRUPTED
    assert not silent_upload.exists()


def test_a_job_whose_heartbeat_stopped_is_interrupted(
    server: Callable[..., ImportJobs], clock: Clock
) -> None:
    starting = server()
    stale = clock.now - timedelta(seconds=61)
    job, upload = running_job(starting, "other-host:4242:a1b2", stale)
    assert starting.recover() == 1
    stopped = starting.get(job.id)
    assert stopped.status == JobStatus.INTERRUPTED and stopped.finished_at == clock.now
    assert stopped.error == "the server stopped before the import finished; submit it again"
    assert not upload.exists()
    assert starting.recover() == 0  # once


def test_the_grace_is_a_setting(server: Callable[..., ImportJobs], clock: Clock) -> None:
    lenient = server(heartbeat_grace=300.0)
    job, _ = running_job(lenient, "other-host:4242:a1b2", clock.now - timedelta(seconds=200))
    assert lenient.recover() == 0
    assert server(heartbeat_grace=120.0).recover() == 1
    assert lenient.get(job.id).status == JobStatus.INTERRUPTED


def test_a_job_of_a_process_that_ended_on_this_host_is_interrupted(
    server: Callable[..., ImportJobs], clock: Clock
) -> None:
    starting = server()
    owner = f"{HOST}:{a_pid_that_ended()}:f6a7"
    # Its heartbeat is within the grace (60 s) but missed two beats (10 s each).
    job, upload = running_job(starting, owner, clock.now - timedelta(seconds=21))
    queued, queued_upload = running_job(starting, None, None)  # stored before owners
    assert starting.recover() == 2
    assert starting.get(job.id).status == JobStatus.INTERRUPTED
    assert starting.get(queued.id).status == JobStatus.INTERRUPTED
    assert not upload.exists() and not queued_upload.exists()
    # The same owner on another host is alive as far as this host can tell.
    running_job(starting, f"other-host:{a_pid_that_ended()}:f6a7", clock.now)
    assert starting.recover() == 0


def test_a_dead_pid_with_a_fresh_heartbeat_is_another_pid_namespace_and_survives(
    server: Callable[..., ImportJobs], clock: Clock
) -> None:
    """Two containers with one host name and separate PID namespaces: the other's pid
    looks dead here, but its job beats every 10 s, so it is left running."""
    starting = server()
    owner = f"{HOST}:{a_pid_that_ended()}:b8c9"
    job, upload = running_job(starting, owner, clock.now - timedelta(seconds=19))
    assert starting.recover() == 0
    assert starting.get(job.id).status == JobStatus.RUNNING and upload.exists()
    clock.now += timedelta(seconds=2)  # 21 s without a beat: two beats missed
    assert starting.recover() == 1
    assert starting.get(job.id).status == JobStatus.INTERRUPTED


def test_uploads_of_jobs_that_ended_elsewhere_are_deleted_and_no_other(
    server: Callable[..., ImportJobs], clock: Clock, hub: Hub
) -> None:
    starting = server()
    _, live_upload = running_job(starting, "other-host:1:b", clock.now)
    ended, ended_upload = running_job(starting, "other-host:2:c", clock.now)
    hub.imports.store.update(replace(ended, status=JobStatus.INTERRUPTED))
    staged = starting.folder / "staged" / "kept.csv"
    staged.parent.mkdir(parents=True)
    staged.write_text(CSV)
    unknown = starting.folder / "imp_not_a_job"
    unknown.mkdir()
    assert starting.recover() == 0
    assert live_upload.exists() and staged.exists() and unknown.exists()
    assert not ended_upload.exists()


def test_the_heartbeat_advances_while_an_import_runs(
    server: Callable[..., ImportJobs], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = server(heartbeat_seconds=0.01)
    later = clock.now + timedelta(seconds=600)
    seen: dict[str, Any] = {}
    real_import = jobs_module.run_import

    def slow_import(*args: Any, **kwargs: Any) -> Any:
        job = running.recent(1)[0]
        clock.now = later  # ten minutes into the import
        deadline = time.monotonic() + 10
        while running.store.get(job.id).heartbeat_at != later:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.01)
        seen["recovered"] = server().recover()  # a server starting meanwhile
        seen["status"] = running.store.get(job.id).status  # type: ignore[union-attr]
        return real_import(*args, **kwargs)

    monkeypatch.setattr(jobs_module, "run_import", slow_import)
    request = JobRequest(class_name=None, mapping=MAPPING)
    job = running.run_now(request, "products.csv", lambda path: path.write_text(CSV), "test")
    assert seen == {"recovered": 0, "status": JobStatus.RUNNING}
    assert job.status == JobStatus.SUCCEEDED and job.owner == running.owner
    deadline = time.monotonic() + 10
    while any(t.name == "import-heartbeat" and t.is_alive() for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the heartbeat thread outlives its jobs"
        time.sleep(0.01)


def test_queued_jobs_beat_too(server: Callable[..., ImportJobs], clock: Clock) -> None:
    imports = server(heartbeat_seconds=0.01)
    gate = threading.Event()
    imports._pool().submit(gate.wait)  # an import ahead of it, still running
    request = JobRequest(class_name=None, mapping=MAPPING)
    job = imports.submit(request, "products.csv", lambda path: path.write_text(CSV), "test")
    clock.now += timedelta(seconds=600)
    deadline = time.monotonic() + 10
    try:
        while imports.store.get(job.id).heartbeat_at != clock.now:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.01)
        assert imports.store.get(job.id).status == JobStatus.QUEUED  # type: ignore[union-attr]
        assert server().recover() == 0
    finally:
        gate.set()
        imports.wait()
    assert imports.get(job.id).status == JobStatus.SUCCEEDED


def test_parallel_starts_interrupt_a_stale_job_once_and_a_beat_wins(
    server: Callable[..., ImportJobs], clock: Clock
) -> None:
    starting = [server() for _ in range(6)]
    stale = clock.now - timedelta(seconds=120)
    for _ in range(5):
        running_job(starting[0], "other-host:4242:a1b2", stale)
    counts: list[int] = []
    barrier = threading.Barrier(len(starting))

    def start(imports: ImportJobs) -> None:
        barrier.wait()
        counts.append(imports.recover())

    threads = [threading.Thread(target=start, args=(s,)) for s in starting]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 5
    # A job that beat after it was read as stale is left alone.
    job, upload = running_job(starting[0], "other-host:4242:a1b2", stale)
    starting[0].store.beat([job.id], clock.now)
    ended = replace(job, status=JobStatus.INTERRUPTED)
    stale_before = clock.now - timedelta(seconds=60)
    assert not starting[0].store.interrupt(ended, stale_before=stale_before)
    assert starting[0].get(job.id).status == JobStatus.RUNNING and upload.exists()
