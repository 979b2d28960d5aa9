"""Scheduled imports: a profile names a source (a file path or an HTTP(S) URL), a mapping and
a cron expression; the worker imports it when it is due, as an import job like any other.

Several workers may run: each due run is claimed by moving the profile's next run time
with a compare-and-set, so exactly one of them imports it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import structlog
from croniter import croniter

from pimhub.catalog.batch import WriteMode
from pimhub.catalog.errors import FieldError, InvalidInput, NotFound
from pimhub.catalog.objects import iso
from pimhub.transfer.fetching import (
    check_headers,
    fetch,
    is_url,
    resolve_headers,
    shown_headers,
)
from pimhub.transfer.importer import OnError
from pimhub.transfer.jobs import ImportJob, ImportJobs, JobRequest, SourceUnavailable
from pimhub.transfer.sources import Format, SourceOptions

log = structlog.get_logger("pimhub.imports")
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


class InvalidProfile(InvalidInput):
    code = "invalid-import-profile"
    title = "Invalid import profile"


class UnknownProfile(NotFound):
    code = "not-found"
    title = "Not found"


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
    def save(self, profile: ImportProfile) -> None: ...
    def get(self, name: str) -> ImportProfile | None: ...
    def all(self) -> list[ImportProfile]: ...
    def delete(self, name: str) -> bool: ...
    def claim(self, profile: ImportProfile, next_run_at: datetime) -> bool:
        """Moves the next run from profile.next_run_at to `next_run_at` if no one else has."""

    def finished(self, name: str, job_id: str) -> None: ...


_DOCUMENT_KEYS = frozenset({"name", "source", "mapping", "cron", "class", "options", "enabled"})
_OPTION_CHOICES: dict[str, type[StrEnum]] = {
    "mode": WriteMode,
    "onError": OnError,
    "format": Format,
}
_TEXT_OPTIONS = frozenset({"delimiter", "encoding", "recordPath", "sheet"})


def check_options(options: Mapping[str, Any], source: str, errors: list[FieldError]) -> None:
    """The import options a profile may carry: mode, onError, format, delimiter, encoding,
    recordPath, sheet, headers."""
    for key, value in options.items():
        path = f"options.{key}"
        if key in _OPTION_CHOICES:
            choices = [c.value for c in _OPTION_CHOICES[key]]
            if value not in choices:
                errors.append(FieldError(path, f"one of {', '.join(choices)}"))
        elif key in _TEXT_OPTIONS:
            if not isinstance(value, str) or not value:
                errors.append(FieldError(path, "a text"))
        elif key != "headers":
            errors.append(FieldError(path, "unknown option"))
    check_headers(options.get("headers"), source, errors)


# (source, target file, request headers already resolved)
Fetch = Callable[[str, Path, Mapping[str, str]], None]


class ImportProfiles:
    def __init__(
        self,
        store: ProfileStore,
        jobs: ImportJobs,
        *,
        clock: Callable[[], datetime],
        fetcher: Fetch = fetch,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.clock = clock
        self.fetcher = fetcher
        self.environ = environ  # what ${NAME} in a header refers to

    def save(
        self,
        name: str,
        *,
        source: str,
        mapping: str,
        cron: str,
        class_name: str | None = None,
        options: dict[str, Any] | None = None,
        enabled: bool = True,
    ) -> ImportProfile:
        errors: list[FieldError] = []
        if not NAME.match(name):
            errors.append(FieldError("name", "a-z first, then a-z, 0-9, _ or - (at most 64)"))
        if not croniter.is_valid(cron):
            errors.append(
                FieldError("cron", f"'{cron}' is not a cron expression (m h dom mon dow)")
            )
        if not source.strip():
            errors.append(FieldError("source", "a file path or an http(s) URL"))
        check_options(options or {}, source, errors)
        if errors:
            raise InvalidProfile(f"import profile {name} has {len(errors)} problem(s)", errors)
        now = self.clock()
        profile = ImportProfile(
            name=name,
            source=source,
            mapping=mapping,
            cron=cron,
            next_run_at=self._next(cron, now),
            class_name=class_name,
            options=options or {},
            enabled=enabled,
            updated_at=now,
        )
        # The mapping, class and format are checked now, not at 2 a.m.
        self.jobs.check(profile.job_request(), Path(urlsplit(source).path).name or "source")
        self.store.save(profile)
        return profile

    def save_document(
        self, name: str, document: Any, *, files_allowed: bool
    ) -> tuple[ImportProfile, bool]:
        """Creates or replaces a profile from its JSON form (see to_dict); True when created.
        `files_allowed`: False over the API, where a file path would let a key read the
        server's files into the catalog."""
        if not isinstance(document, Mapping):
            raise InvalidProfile(
                "an import profile is a JSON object", [FieldError("body", "expected an object")]
            )
        errors = [
            FieldError(k, "unknown attribute") for k in sorted(set(document) - _DOCUMENT_KEYS)
        ]
        for key in ("source", "mapping", "cron"):
            if not isinstance(document.get(key), str):
                errors.append(FieldError(key, "required: a text", "required"))
        for key, kind, expected in (
            ("class", str, "a class name"),
            ("options", dict, "an object"),
            ("enabled", bool, "true or false"),
        ):
            if document.get(key) is not None and not isinstance(document[key], kind):
                errors.append(FieldError(key, expected))
        if document.get("name", name) != name:
            errors.append(FieldError("name", f"the profile at this address is '{name}'"))
        source = document.get("source")
        if isinstance(source, str) and not files_allowed and not is_url(source):
            errors.append(
                FieldError("source", "an http(s) URL here; add file sources with the CLI")
            )
        if errors:
            raise InvalidProfile(f"import profile {name} has {len(errors)} problem(s)", errors)
        created = self.store.get(name) is None
        profile = self.save(
            name,
            source=document["source"],
            mapping=document["mapping"],
            cron=document["cron"],
            class_name=document.get("class"),
            options=document.get("options"),
            enabled=document.get("enabled", True) is not False,
        )
        return profile, created

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
        """Imports the profile's source now, whatever its schedule."""
        return self._import(self.get(name))

    def start(self, name: str) -> ImportJob:
        """As run, but the import goes on in the background once the source is fetched."""
        return self._import(self.get(name), background=True)

    def run_due(self) -> list[ImportJob]:
        """Imports every enabled profile whose time has come (claimed, so once)."""
        now = self.clock()
        ran = []
        for profile in self.store.all():
            if not profile.enabled or profile.next_run_at > now:
                continue
            if not self.store.claim(profile, self._next(profile.cron, now)):
                continue  # another worker has it
            try:
                ran.append(self._import(profile))
            except Exception:
                log.exception("import.profile_failed", profile=profile.name)
        return ran

    def _import(self, profile: ImportProfile, *, background: bool = False) -> ImportJob:
        file_name = Path(urlsplit(profile.source).path).name or "source"

        def save(target: Path) -> None:
            # Resolved at each run: a rotated token is picked up without saving again.
            headers = resolve_headers(profile.headers, self.environ)
            self.fetcher(profile.source, target, headers)

        begin = self.jobs.submit if background else self.jobs.run_now
        try:
            job = begin(profile.job_request(), file_name, save, f"profile:{profile.name}")
        except SourceUnavailable as exc:
            job = exc.job  # recorded as a failed job, visible like any other
        self.store.finished(profile.name, job.id)
        log.info("import.profile_ran", profile=profile.name, job=job.id, status=job.status.value)
        return job

    @staticmethod
    def _next(cron: str, after: datetime) -> datetime:
        moment: datetime = croniter(cron, after).get_next(datetime)
        return moment
