"""Scheduled imports: a profile names a source (a file path or an HTTP(S) URL), a mapping and
a cron expression; the worker imports it when it is due, as an import job like any other.

Several workers may run: each due run is claimed by moving the profile's next run time
with a compare-and-set, so exactly one of them imports it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import structlog

from pimhub.catalog.batch import WriteMode
from pimhub.catalog.errors import (
    CatalogError,
    Conflict,
    DuplicateKey,
    FieldError,
    InvalidInput,
    NotFound,
)
from pimhub.catalog.objects import iso
from pimhub.transfer.exporter import delimiter_problem
from pimhub.transfer.fetching import fetch, resolve_headers, shown_headers
from pimhub.transfer.importer import OnError
from pimhub.transfer.job_records import ImportJob, JobStatus
from pimhub.transfer.jobs import (
    ImportJobs,
    JobRequest,
    SourceUnavailable,
    UnknownImportJob,
    new_job_id,
)
from pimhub.transfer.mapping import InvalidMapping
from pimhub.transfer.profile_checks import (
    check_cron,
    check_document,
    check_name,
    check_options,
    check_source,
    next_run,
)
from pimhub.transfer.sources import Format, SourceOptions

log = structlog.get_logger("pimhub.imports")


class InvalidProfile(InvalidInput):
    code = "invalid-import-profile"
    title = "Invalid import profile"


class UnknownProfile(NotFound):
    code = "not-found"
    title = "Not found"


class ProfileExists(DuplicateKey):
    code = "conflict"
    title = "Name taken"


class ProfileChanged(Conflict):
    """A save named the updated-at stamp its form was made from, and the profile has been
    changed since: nothing was written."""

    code = "import-profile-changed"
    title = "Import profile changed meanwhile"


class RunGoing(Conflict):
    """A run of the profile is queued or running: a second would import the same feed twice."""

    code = "run-going"
    title = "Already running"

    def __init__(self, detail: str, job_id: str) -> None:
        super().__init__(detail)
        self.job_id = job_id


UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
# How long a run-now waits for the job another caller has just claimed to be recorded.
CLAIM_SETTLES = 5.0


@dataclass(frozen=True, slots=True)
class ImportProfile:
    name: str
    source: str  # a path on the worker's machine, or an http(s) URL
    mapping: str  # YAML text, or a shipped mapping's name
    cron: str
    next_run_at: datetime
    class_name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # mode, onError, format, ...
    enabled: bool = True
    last_job_id: str | None = None
    updated_at: datetime | None = None

    def job_request(self) -> JobRequest:
        o = self.options
        return JobRequest(
            class_name=self.class_name,
            mapping=self.mapping,
            mode=WriteMode(o.get("mode", WriteMode.UPSERT.value)),
            on_error=OnError(o.get("onError", OnError.SKIP.value)),
            source=SourceOptions(
                Format(o["format"]) if o.get("format") else None,
                o.get("delimiter"),
                o.get("encoding", "utf-8-sig"),
                o.get("recordPath"),
                o.get("sheet"),
            ),
        )

    @property
    def file_name(self) -> str:
        """The source's file name (its extension tells the format unless options say)."""
        return Path(urlsplit(self.source).path).name or "source"

    @property
    def headers(self) -> dict[str, str]:
        """Request headers for an HTTP(S) source, as written (with ${NAME} references)."""
        return dict(self.options.get("headers") or {})

    def to_dict(self) -> dict[str, Any]:
        options = dict(self.options)
        if self.headers:
            options["headers"] = shown_headers(self.headers)
        return {
            "name": self.name,
            "source": self.source,
            "class": self.class_name,
            "cron": self.cron,
            "enabled": self.enabled,
            "options": options,
            "nextRunAt": iso(self.next_run_at),
            "lastJob": self.last_job_id,
        }


class ProfileStore(Protocol):
    def save(self, profile: ImportProfile) -> bool:
        """Creates or replaces; True when this call created it (decided by the insert, so
        of parallel writers only one is told it created the profile)."""

    def replace(self, profile: ImportProfile, expected: datetime) -> bool:
        """Replaces it only while its updated_at is `expected`, in one step; False if not."""
        ...

    def create(self, profile: ImportProfile) -> bool:
        """Inserts `profile` unless its name is taken; False when it is (nothing changed)."""

    def get(self, name: str) -> ImportProfile | None: ...
    def all(self) -> list[ImportProfile]: ...
    def delete(self, name: str) -> bool: ...
    def claim(self, profile: ImportProfile, next_run_at: datetime) -> bool:
        """Moves the next run from profile.next_run_at to `next_run_at` if no one else has."""

    def finished(self, name: str, job_id: str) -> None: ...
    def claim_run(self, name: str, seen: str | None, job_id: str | None) -> bool:
        """Sets the profile's last job to `job_id` if it is still `seen`."""


# (source, target file, request headers already resolved)
Fetch = Callable[[str, Path, Mapping[str, str]], None]


class ImportProfiles:
    def __init__(
        self,
        store: ProfileStore,
        jobs: ImportJobs,
        *,
        clock: Callable[[], datetime],
        fetcher: Fetch | None = None,
        environ: Mapping[str, str] = os.environ,
        allow_private: bool = False,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.clock = clock
        self.allow_private = allow_private  # sources at internal addresses
        self.fetcher = fetcher or partial(fetch, allow_private=allow_private)
        self.environ = environ  # what ${NAME} in a header refers to

    def save(self, name: str, **fields: Any) -> ImportProfile:
        """Creates or replaces a profile (see save_reporting_creation)."""
        return self.save_reporting_creation(name, **fields)[0]

    def save_reporting_creation(
        self,
        name: str,
        *,
        source: str,
        mapping: str,
        cron: str,
        class_name: str | None = None,
        options: dict[str, Any] | None = None,
        enabled: bool = True,
        files_allowed: bool = True,
        expected: datetime | None = None,
    ) -> tuple[ImportProfile, bool]:
        """Creates or replaces a profile, every problem named by path; True when this call
        created it. `files_allowed`:
        False over the API, where a file path would let a key read the server's files into
        the catalog. With `expected` (the admin form's stamp) only an existing profile still
        at that updated_at is replaced, else ProfileChanged; REST and the CLI name none."""
        profile = self._checked(
            name,
            source=source,
            mapping=mapping,
            cron=cron,
            class_name=class_name,
            options=options,
            enabled=enabled,
            files_allowed=files_allowed,
        )
        if expected is None:
            return profile, self.store.save(profile)
        if profile.updated_at is None or profile.updated_at <= expected:
            # The new stamp must differ from the compared one, or a second save from the
            # same stamp would match again (a coarse or frozen clock).
            profile = replace(profile, updated_at=expected + timedelta(microseconds=1))
        if not self.store.replace(profile, expected):
            raise ProfileChanged(f"import profile {name} was changed since {expected.isoformat()}")
        return profile, False

    def create(self, name: str, **fields: Any) -> ImportProfile:
        """As save_reporting_creation, but never replaces: ProfileExists when the name is
        taken, decided by the insert, so of parallel creators exactly one succeeds."""
        profile = self._checked(name, **fields)
        if not self.store.create(profile):
            raise ProfileExists(
                f"there is an import profile named {name}",
                [FieldError("name", "taken: choose another name, or edit that profile")],
            )
        return profile

    def _checked(
        self,
        name: str,
        *,
        source: str,
        mapping: str,
        cron: str,
        class_name: str | None = None,
        options: dict[str, Any] | None = None,
        enabled: bool = True,
        files_allowed: bool = True,
    ) -> ImportProfile:
        errors: list[FieldError] = []
        now = self.clock()
        check_name(name, errors)
        check_cron(cron, now, errors)
        check_source(
            source, files_allowed=files_allowed, allow_private=self.allow_private, errors=errors
        )
        if class_name == "":
            errors.append(FieldError("class", "a class name, or leave it out"))
        check_options(options or {}, source, errors)
        delimiter = (options or {}).get("delimiter")
        if isinstance(delimiter, str) and delimiter and (why := delimiter_problem(delimiter)):
            errors.append(FieldError("options.delimiter", why))  # as a REST import refuses it
        if errors:
            raise InvalidProfile(f"import profile {name} has {len(errors)} problem(s)", errors)
        profile = ImportProfile(
            name=name,
            source=source,
            mapping=mapping,
            cron=cron,
            next_run_at=next_run(cron, now),
            class_name=class_name,
            options=options or {},
            enabled=enabled,
            updated_at=now,
        )
        self._check_import(profile)
        return profile

    def save_document(
        self, name: str, document: Any, *, files_allowed: bool
    ) -> tuple[ImportProfile, bool]:
        """Creates or replaces a profile from its JSON form (see to_dict); True when created."""
        if not isinstance(document, Mapping):
            raise InvalidProfile(
                "an import profile is a JSON object", [FieldError("body", "expected an object")]
            )
        errors: list[FieldError] = []
        check_document(name, document, errors)
        if errors:
            raise InvalidProfile(f"import profile {name} has {len(errors)} problem(s)", errors)
        # Not store.get before saving: of parallel first writers, every one would read
        # "absent" and answer 201; the insert that commits decides.
        return self.save_reporting_creation(
            name,
            source=document["source"],
            mapping=document["mapping"],
            cron=document["cron"],
            class_name=document.get("class"),
            options=document.get("options"),
            enabled=document.get("enabled", True) is not False,
            files_allowed=files_allowed,
        )

    def get(self, name: str) -> ImportProfile:
        profile = self.store.get(name)
        if profile is None:
            raise UnknownProfile(f"there is no import profile '{name}'")
        return profile

    def all(self) -> list[ImportProfile]:
        return self.store.all()

    def delete(self, name: str) -> None:
        if not self.store.delete(name):
            raise UnknownProfile(f"there is no import profile '{name}'")

    def run(self, name: str) -> ImportJob:
        """Imports the profile's source now, whatever its schedule; RunGoing while another
        run of it is queued or running."""
        profile, job_id = self._claim_run(name)
        return self._import(profile, job_id=job_id)

    def start(self, name: str) -> ImportJob:
        """As run, but the import goes on in the background once the source is fetched."""
        profile, job_id = self._claim_run(name)
        return self._import(profile, background=True, job_id=job_id)

    def _claim_run(self, name: str) -> tuple[ImportProfile, str]:
        """The profile and the id its new run's job gets, claimed by a compare-and-set of the
        profile's last job, so of parallel callers one starts and the others get RunGoing."""
        profile = self.get(name)
        self._refuse_if_going(profile)
        job_id = new_job_id()
        if not self.store.claim_run(name, profile.last_job_id, job_id):
            # Claimed meanwhile: the winner's job is (about to be) the going run.
            self._refuse_if_going(self.get(name))
            raise RunGoing(f"a run of {name} is just starting; try again", "")
        return profile, job_id

    def _refuse_if_going(self, profile: ImportProfile) -> None:
        job_id = profile.last_job_id
        if job_id is None:
            return
        deadline = time.monotonic() + CLAIM_SETTLES
        while True:
            try:
                status = self.jobs.get(job_id).status
                break
            except UnknownImportJob:
                # Claimed but not yet recorded (or never: its check failed after the
                # claim, or its server stopped); only a fresh claim is waited for.
                if time.monotonic() > deadline:
                    return
                time.sleep(0.02)
        if status in UNFINISHED:
            raise RunGoing(f"a run of {profile.name} is already going: job {job_id}", job_id)

    def run_due(self) -> list[ImportJob]:
        """Imports every enabled profile whose time has come (claimed, so once)."""
        now = self.clock()
        ran = []
        for profile in self.store.all():
            if not profile.enabled or profile.next_run_at > now:
                continue
            # One profile that cannot run (a schedule that has ended, a database hiccup) must
            # not keep the others from theirs.
            try:
                if not self.store.claim(profile, next_run(profile.cron, now)):
                    continue  # another worker has it
                ran.append(self._import(profile))
            except Exception:
                log.exception("import.profile_failed", profile=profile.name)
        return ran

    def _import(
        self, profile: ImportProfile, *, background: bool = False, job_id: str | None = None
    ) -> ImportJob:
        file_name = profile.file_name

        def save(target: Path) -> None:
            # Resolved at each run: a rotated token is picked up without saving again.
            headers = resolve_headers(profile.headers, self.environ)
            self.fetcher(profile.source, target, headers)

        begin = self.jobs.submit_fetched if background else self.jobs.run_now
        try:
            job = begin(
                profile.job_request(), file_name, save, f"profile:{profile.name}", job_id=job_id
            )
        except SourceUnavailable as exc:
            job = exc.job  # recorded as a failed job, visible like any other
        except Exception:
            if job_id is not None:  # no job recorded: give the claim back
                self.store.claim_run(profile.name, job_id, profile.last_job_id)
            raise
        self.store.finished(profile.name, job.id)
        log.info("import.profile_ran", profile=profile.name, job=job.id, status=job.status.value)
        return job

    def _check_import(self, profile: ImportProfile) -> None:
        """The mapping, class and format, checked now rather than at 2 a.m., as the
        profile's own fields."""
        try:
            self.jobs.check(profile.job_request(), profile.file_name)
        except InvalidMapping:
            raise
        except CatalogError as exc:
            where = {"class": "class", "format": "options.format", "mapping": "mapping"}
            errors = [
                FieldError(
                    where.get(e.field, f"options.{e.field}" if e.field else "options"),
                    e.message,
                    e.code,
                )
                for e in exc.errors
            ] or [FieldError("class" if isinstance(exc, NotFound) else "options", exc.detail)]
            raise InvalidProfile(f"import profile {profile.name}: {exc.detail}", errors) from None
