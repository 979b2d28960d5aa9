"""Import jobs: an uploaded file and its mapping, imported in the background by the server
process, with progress, counts and the first row errors readable while it runs.

Each job records the process that runs it (its owner) and a heartbeat that process
refreshes. A job whose heartbeat stopped, or whose process on this host ended, is marked
interrupted when a server starts; submitting the file again completes it (unchanged rows
are skipped). Jobs other live processes run are left alone.
"""

from __future__ import annotations

import codecs
import shutil
import threading
import uuid as uuidlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import structlog
import yaml

from pimhub import safe_yaml
from pimhub.assets.service import AssetService
from pimhub.catalog.batch import WriteMode
from pimhub.catalog.errors import FieldError, InvalidInput, NotFound
from pimhub.catalog.service import CatalogService
from pimhub.catalog.validation import spell_nul
from pimhub.transfer import job_owners, job_recovery
from pimhub.transfer.asset_fetch import AssetFetchPolicy, asset_fetcher
from pimhub.transfer.exporter import delimiter_problem
from pimhub.transfer.importer import ImportOptions, ImportSummary, OnError, run_import
from pimhub.transfer.job_records import ImportJob, ImportJobStore, JobStatus
from pimhub.transfer.mapping import ImportMapping, InvalidMapping, parse_mapping, shipped_mapping
from pimhub.transfer.reports import error_report
from pimhub.transfer.sources import Format, SourceLimits, SourceOptions, format_of, read

log = structlog.get_logger("pimhub.imports")


class SourceUnavailable(Exception):
    """The file of a job could not be stored or fetched; the job is recorded as failed."""

    def __init__(self, job: ImportJob) -> None:
        super().__init__(job.error)
        self.job = job


MAX_FILE_NAME = 120  # characters kept of an upload's name (file systems allow 255 bytes)


def safe_name(file_name: str) -> str:
    """The last part of an uploaded file's name (after / or \\), without control characters,
    at most MAX_FILE_NAME characters with its extension kept: never a directory of ours, and
    always a name the file system takes. A NUL is refused (InvalidInput)."""
    if "\x00" in file_name:
        raise InvalidInput(
            "the file name holds a NUL character (U+0000)",
            [FieldError("file", "the file name holds a NUL character", "nul-character")],
        )
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    name = name.encode("utf-8", "ignore").decode("utf-8")  # no lone surrogates
    if len(name) > MAX_FILE_NAME or len(name.encode()) > 4 * MAX_FILE_NAME // 2:
        stem, dot, suffix = name.rpartition(".")
        if not dot or len(suffix) > 16:
            stem, dot, suffix = name, "", ""
        keep = MAX_FILE_NAME - len(suffix) - len(dot)
        while len((stem[:keep] + dot + suffix).encode()) > 4 * MAX_FILE_NAME // 2:
            keep -= 1
        name = stem[:keep] + dot + suffix
    return "upload" if name in ("", ".", "..") else name


def public_error(exc: BaseException, folder: Path) -> str:
    """What a job shows of an unexpected error: its type and message, never a path of this
    server (the log has the whole exception)."""
    if isinstance(exc, OSError):
        text = exc.strerror or ""
    else:
        text = str(exc).replace(str(folder.resolve()), "…").replace(str(folder), "…")
        # Database errors go on with the statement and its parameters: the log has them.
        text = text.partition("\n")[0]
    return spell_nul(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:1000]


def _check_source_options(source: SourceOptions) -> None:
    errors = []
    # The export's rule: a quote or a line break would be read as CSV syntax, and the job
    # would fail later with a message about something else.
    if source.delimiter is not None and (problem := delimiter_problem(source.delimiter)):
        errors.append(FieldError("delimiter", problem))
    try:
        codecs.lookup(source.encoding)
    except LookupError:
        errors.append(FieldError("encoding", f"unknown encoding '{source.encoding}'"))
    if errors:
        raise InvalidInput("the source options have problems", errors)


def new_job_id() -> str:
    return f"imp_{uuidlib.uuid4().hex[:20]}"


class UnknownImportJob(NotFound):
    code = "not-found"
    title = "Not found"


@dataclass(frozen=True, slots=True)
class JobRequest:
    class_name: str | None
    mapping: str  # YAML text, or the name of a shipped mapping
    mode: WriteMode = WriteMode.UPSERT
    on_error: OnError = OnError.SKIP
    dry_run: bool = False
    source: SourceOptions = field(default_factory=SourceOptions)


class ImportJobs:
    def __init__(
        self,
        store: ImportJobStore,
        catalog: CatalogService,
        folder: Path,
        *,
        clock: Callable[[], datetime],
        language: str,
        limits: SourceLimits = SourceLimits(),
        assets: AssetService | None = None,
        asset_policy: AssetFetchPolicy | None = None,
        heartbeat_grace: float = 60.0,
        heartbeat_seconds: float = 10.0,
    ) -> None:
        self.store = store
        self.assets = assets  # for the files of `asset` mapping steps
        # Never local files: a job's mapping comes from an API caller, who must not read
        # the server's disk through it.
        self.asset_policy = replace(asset_policy or AssetFetchPolicy(100 << 20), local_files=False)
        self.limits = limits
        self.catalog = catalog
        self.folder = folder
        self.clock = clock
        self.language = language
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._live: dict[str, dict[str, Any]] = {}  # progress of running jobs
        self.owner = job_owners.new_owner()
        self.heartbeat_grace = heartbeat_grace
        # Several beats within the grace, so one lost beat never interrupts a job.
        self._heartbeat = job_owners.Heartbeat(
            lambda job_ids: store.beat(job_ids, clock()),
            min(heartbeat_seconds, heartbeat_grace / 3),
        )

    def check(
        self,
        request: JobRequest,
        file_name: str,
        authorize: Callable[[str], None] | None = None,
    ) -> tuple[ImportMapping, str, Format]:
        """The parsed mapping, the class and the file's format, or the errors a submission
        would get. `authorize(class_name)` runs before the class is looked up, so a caller
        that may not write the class learns nothing of whether it exists."""
        file = safe_name(file_name)
        text = shipped_mapping(request.mapping) or request.mapping
        try:
            raw = safe_yaml.load(text)
        except yaml.YAMLError as exc:
            raise InvalidMapping(
                "the mapping is not valid YAML", [FieldError("mapping", str(exc).splitlines()[0])]
            ) from None
        mapping = parse_mapping(raw)
        class_name = request.class_name or mapping.class_name
        if authorize is not None:
            authorize(class_name)
        with self.catalog.uow() as uow:
            self.catalog.class_definition(uow, class_name)
        _check_source_options(request.source)
        return mapping, class_name, format_of(Path(file), request.source)

    def submit(
        self,
        request: JobRequest,
        file_name: str,
        save: Callable[[Path], None],
        author: str,
        *,
        job_id: str | None = None,
    ) -> ImportJob:
        """Checks the request, stores the upload (`save` writes it to the path given) and
        queues the import (as `job_id` when given: see new_job_id)."""
        job, path, mapping = self._create(request, file_name, save, author, job_id)
        self._pool().submit(self._run, job, path, mapping, request)
        return job

    def run_now(
        self,
        request: JobRequest,
        file_name: str,
        save: Callable[[Path], None],
        author: str,
        *,
        job_id: str | None = None,
    ) -> ImportJob:
        """As submit, but imports in the calling thread (the worker's scheduled imports)."""
        job, path, mapping = self._create(request, file_name, save, author, job_id)
        self._run(job, path, mapping, request)
        return self.get(job.id)

    def submit_fetched(
        self,
        request: JobRequest,
        file_name: str,
        fetch: Callable[[Path], None],
        author: str,
        *,
        job_id: str | None = None,
    ) -> ImportJob:
        """As submit, but `fetch` (a download) runs in the background too, so the caller
        need not wait for it; a source that cannot be fetched fails the job."""
        mapping, class_name, fmt = self.check(request, file_name)
        job = self._record(request, file_name, class_name, fmt, author, job_id)

        def fetch_and_run() -> None:
            try:
                path = self._store_file(job, fetch)
            except SourceUnavailable:
                return  # recorded as failed
            self._run(job, path, mapping, request)

        self._pool().submit(fetch_and_run)
        return job

    def _create(
        self,
        request: JobRequest,
        file_name: str,
        save: Callable[[Path], None],
        author: str,
        job_id: str | None,
    ) -> tuple[ImportJob, Path, ImportMapping]:
        mapping, class_name, fmt = self.check(request, file_name)
        job = self._record(request, file_name, class_name, fmt, author, job_id)
        return job, self._store_file(job, save), mapping

    def _record(
        self,
        request: JobRequest,
        file_name: str,
        class_name: str,
        fmt: Format,
        author: str,
        job_id: str | None = None,
    ) -> ImportJob:
        """A queued job, stored first, so a source that cannot be fetched is a failed job."""
        job = ImportJob(
            id=job_id or new_job_id(),
            class_name=class_name,
            status=JobStatus.QUEUED,
            file_name=safe_name(file_name),
            options={
                "mode": request.mode.value,
                "onError": request.on_error.value,
                "dryRun": request.dry_run,
                "format": fmt.value,
            },
            author=author,
            created_at=self.clock(),
            owner=self.owner,
        )
        self.store.add(replace(job, heartbeat_at=job.created_at))
        self._heartbeat.add(job.id)
        return job

    def _store_file(self, job: ImportJob, save: Callable[[Path], None]) -> Path:
        folder = self.folder / job.id
        path = folder / job.file_name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            save(path)
        except Exception as exc:
            log.exception("import.not_stored", job=job.id)
            self._heartbeat.discard(job.id)
            shutil.rmtree(folder, ignore_errors=True)
            failed = replace(
                job,
                status=JobStatus.FAILED,
                error=f"the file could not be stored: {public_error(exc, self.folder)}",
                finished_at=self.clock(),
            )
            self.store.update(failed)
            raise SourceUnavailable(failed) from exc
        return path

    def get(self, job_id: str) -> ImportJob:
        job = self.store.get(job_id)
        if job is None:
            raise UnknownImportJob(f"there is no import job '{job_id}'")
        live = self._live.get(job_id)
        return replace(job, summary=live) if live and job.status == JobStatus.RUNNING else job

    def recent(self, limit: int = 50) -> list[ImportJob]:
        return self.store.recent(limit)

    def report_path(self, job_id: str) -> Path:
        """Every row error of a job that ran, as transfer.reports writes them (CSV); the
        summary keeps only the first ERRORS_KEPT. Absent for a job that never ran."""
        return self.folder / "reports" / f"{job_id}.csv"

    def recover(self) -> int:
        """Interrupts the jobs no process runs any more (transfer/job_recovery.py)."""
        return job_recovery.recover(self, self._heartbeat)

    def wait(self) -> None:
        """Waits for queued imports to finish (tests, shutdown)."""
        with self._lock:
            pool, self._executor = self._executor, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                # One at a time: imports are write-heavy, and SQLite has one writer anyway.
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import")
            return self._executor

    def _asset_fetcher(self, mapping: ImportMapping, options: ImportOptions) -> Any:
        if self.assets is None:
            return None
        return asset_fetcher(
            mapping,
            self.assets,
            self.asset_policy,
            author=options.author,
            dry_run=options.dry_run,
        )

    def _run(self, job: ImportJob, path: Path, mapping: ImportMapping, request: JobRequest) -> None:
        try:
            self._import(job, path, mapping, request)
        finally:
            self._heartbeat.discard(job.id)  # ended: no process runs it any more

    def _import(
        self, job: ImportJob, path: Path, mapping: ImportMapping, request: JobRequest
    ) -> None:
        job = replace(job, status=JobStatus.RUNNING, started_at=self.clock())
        streams: list[IO[bytes]] = []  # the file as the reader opened it, for its position

        def progress(summary: ImportSummary) -> None:
            # Kept in memory, not written: on SQLite the import's own transaction holds
            # the only write lock, and progress is worth nothing after a restart anyway.
            self._live[job.id] = summary.to_dict() | _bytes_read(path, streams)

        options = ImportOptions(
            mode=request.mode,
            on_error=request.on_error,
            dry_run=request.dry_run,
            author=job.author,
            language=self.language,
        )

        def writer() -> Any:
            return self.catalog.batch_writer(job.class_name, mode=request.mode, author=job.author)

        try:
            self.store.update(job)
            report = self.report_path(job.id)
            report.parent.mkdir(parents=True, exist_ok=True)
            with error_report(report) as on_row_error:
                summary = run_import(
                    writer,
                    read(path, request.source, self.limits, opened=streams.append),
                    mapping,
                    options,
                    on_row_error=on_row_error,
                    progress=progress,
                    assets=self._asset_fetcher(mapping, options),
                )
        except Exception as exc:  # the job reports it; the server goes on
            # Spelled out: a NUL from the file (a column name) cannot be stored on PostgreSQL.
            if isinstance(exc, InvalidInput):
                # A file or mapping the job refuses is no fault of the server: no traceback.
                detail = spell_nul(exc.detail)[:1000]
                log.warning("import.refused", job=job.id, detail=detail)
            else:
                log.exception("import.failed", job=job.id)
                detail = public_error(exc, self.folder)
            self.store.update(
                replace(job, status=JobStatus.FAILED, error=detail, finished_at=self.clock())
            )
            return
        finally:
            self._live.pop(job.id, None)
            shutil.rmtree(path.parent, ignore_errors=True)
        status = (
            JobStatus.ABORTED
            if summary.aborted
            else JobStatus.COMPLETED_WITH_ERRORS
            if summary.failed
            else JobStatus.SUCCEEDED
        )
        finished = replace(job, status=status, summary=summary.to_dict(), finished_at=self.clock())
        try:
            self.store.update(finished)
        except Exception as exc:  # never leave a finished job looking like it runs
            log.exception("import.status_not_saved", job=job.id)
            self.store.update(
                replace(
                    job,
                    status=JobStatus.FAILED,
                    error=public_error(exc, self.folder)[:500],
                    finished_at=self.clock(),
                )
            )


def _bytes_read(path: Path, streams: list[IO[bytes]]) -> dict[str, int]:
    """How far a running job has read its file (bytesRead of bytesTotal), where the reader
    gives its stream (CSV, JSON Lines, JSON): a progress bar's measure before the row count
    is known."""
    if not streams:
        return {}
    try:
        total = path.stat().st_size
        done = total if streams[0].closed else streams[0].tell()
    except (OSError, ValueError):  # the file done with meanwhile
        return {}
    return {"bytesRead": min(done, total), "bytesTotal": total}
