"""/import-profiles: scheduled imports (integrate scope, as REST): the list with each one's
last run and next run, create and edit (checked by ImportProfiles as REST and the CLI
check them, every problem next to its input), enable, disable, run now, delete."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action
from pimhub.admin.import_fields import SourceFields, typed_source_fields
from pimhub.admin.import_job_views import JobView
from pimhub.admin.web import (
    blocking,
    checked_form,
    form_status,
    hub_of,
    principal_of,
    render,
    see_other,
    text_field,
)
from pimhub.api.auth import require
from pimhub.bootstrap import Hub
from pimhub.catalog.batch import WriteMode
from pimhub.catalog.errors import CatalogError, Conflict, FieldError, InvalidInput
from pimhub.transfer.fetching import shown_headers
from pimhub.transfer.importer import OnError
from pimhub.transfer.jobs import UnknownImportJob
from pimhub.transfer.profiles import (
    ImportProfile,
    ImportProfiles,
    ProfileChanged,
    RunGoing,
)
from pimhub.transfer.sources import Format


@dataclass
class ProfileInput(SourceFields):
    """The profile form as typed."""

    name: str = ""
    source: str = ""
    cron: str = "0 2 * * *"
    headers: str = ""  # "Name: value" lines; empty on an edit keeps the stored ones
    enabled: bool = True
    shown_headers: dict[str, str] = field(default_factory=dict)
    # The profile's updatedAt this form was made from (exact, to the microsecond): a save
    # over a newer one is refused instead of undoing it.
    updated_at: str = ""

    @classmethod
    def of(cls, form: FormData, name: str = "") -> ProfileInput:
        return cls(
            **typed_source_fields(form),
            name=name or text_field(form, "name").strip(),
            source=text_field(form, "source").strip(),
            cron=text_field(form, "cron").strip(),
            headers=text_field(form, "headers"),
            enabled=text_field(form, "enabled") == "on",
            updated_at=text_field(form, "updatedAt").strip(),
        )

    @classmethod
    def of_profile(cls, profile: ImportProfile) -> ProfileInput:
        o = profile.options
        return cls(
            name=profile.name,
            source=profile.source,
            class_name=profile.class_name or "",
            mapping=profile.mapping,
            cron=profile.cron,
            mode=o.get("mode", WriteMode.UPSERT.value),
            on_error=o.get("onError", OnError.SKIP.value),
            format=o.get("format", ""),
            delimiter=o.get("delimiter", ""),
            record_path=o.get("recordPath", ""),
            sheet=o.get("sheet", ""),
            enabled=profile.enabled,
            shown_headers=shown_headers(profile.headers),
            updated_at=profile.updated_at.isoformat() if profile.updated_at else "",
        )

    def expected(self) -> datetime:
        """The stamp this form was made from. A save naming none is refused: a form (or a
        script replaying one) that does not say what it started from would otherwise undo
        others' changes unseen."""
        try:
            stamp = datetime.fromisoformat(self.updated_at[:40])
        except ValueError:
            stamp = None
        if stamp is None or stamp.tzinfo is None:
            raise InvalidInput(
                "the form does not say which version of the profile it was made from",
                [FieldError("updatedAt", "reload the page and edit again")],
            )
        return stamp

    def options(self, kept_headers: dict[str, str]) -> dict[str, Any]:
        texts = {
            "format": self.format,
            "delimiter": self.delimiter,
            "recordPath": self.record_path,
            "sheet": self.sheet,
        }
        headers = _headers(self.headers) if self.headers.strip() else kept_headers
        return {
            "mode": self.mode,
            "onError": self.on_error,
            **{k: v for k, v in texts.items() if v},
            **({"headers": headers} if headers else {}),
        }


def _headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            # Not echoed: the line may hold a secret.
            raise InvalidInput(
                "a header is written 'Name: value'",
                [FieldError("headers", f"line {n}: write a header as 'Name: value'")],
            )
        headers[name.strip()] = value.strip()
    return headers


def _input_of(path: str) -> str:
    if path.startswith("fields") or path in ("", "skip"):
        return "mapping"
    if path.startswith("options.headers"):
        return "headers"
    path = path.removeprefix("options.")
    return {"onError": "on_error", "recordPath": "record_path"}.get(path, path)


def _require(request: Request) -> ImportProfiles:
    require(principal_of(request), Action.INTEGRATE)
    return hub_of(request).import_profiles


def _last_runs(hub: Hub, profiles: list[ImportProfile]) -> dict[str, JobView]:
    found = {}
    for p in profiles:
        if p.last_job_id:
            try:
                found[p.name] = JobView(hub.imports.get(p.last_job_id))
            except UnknownImportJob:
                continue
    return found


async def list_profiles(request: Request) -> Response:
    service = _require(request)
    hub = hub_of(request)
    profiles = await blocking(service.all)
    last = await blocking(_last_runs, hub, profiles)
    return render(request, "profiles.html", {"profiles": profiles, "last": last})


async def _form(
    request: Request,
    values: ProfileInput,
    *,
    creating: bool,
    error: CatalogError | None = None,
    stored: ImportProfile | None = None,
) -> Response:
    errors: dict[str, list[str]] = {}
    for e in error.errors if error else []:
        shown = f"{e.field}: {e.message}" if e.field.startswith("fields") else e.message
        errors.setdefault(_input_of(e.field), []).append(shown)
    status = 200 if error is None else form_status(error)
    classes = await blocking(hub_of(request).classes.all)
    return render(
        request,
        "profile_form.html",
        {
            "values": values,
            "stored": stored,
            "creating": creating,
            "error": error,
            "errors": errors,
            "classes": [c.name for c in classes],
            "formats": [f.value for f in Format],
            "modes": [m.value for m in WriteMode],
        },
        status=status,
    )


async def new_form(request: Request) -> Response:
    _require(request)
    return await _form(request, ProfileInput(), creating=True)


async def edit_form(request: Request) -> Response:
    service = _require(request)
    profile = await blocking(service.get, request.path_params["name"])
    return await _form(request, ProfileInput.of_profile(profile), creating=False)


async def create(request: Request) -> Response:
    service = _require(request)
    form = await checked_form(request)
    values = ProfileInput.of(form)
    try:
        # Insert-only: checking for the name first would let parallel creators replace
        # each other's profile.
        await blocking(_create, service, values)
    except CatalogError as exc:
        if not isinstance(exc, (InvalidInput, Conflict)):
            raise
        return await _form(request, values, creating=True, error=exc)
    return see_other("/import-profiles", f"Scheduled import {values.name} created.")


async def update(request: Request) -> Response:
    service = _require(request)
    form = await checked_form(request)
    existing = await blocking(service.get, request.path_params["name"])
    values = ProfileInput.of(form, existing.name)
    try:
        await blocking(_save, service, values, existing, values.expected())
    except (InvalidInput, ProfileChanged) as exc:
        # A stale or unstamped form: the input is kept, the stored values are shown beside
        # it, and the form takes the stored stamp, so saving again is a choice made having
        # seen them.
        stale = isinstance(exc, ProfileChanged) or values.updated_at != _stamp(existing)
        current = await blocking(service.get, existing.name) if stale else existing
        values = replace(
            values, shown_headers=shown_headers(current.headers), updated_at=_stamp(current)
        )
        shown = current if stale else None
        return await _form(request, values, creating=False, error=exc, stored=shown)
    return see_other("/import-profiles", f"Scheduled import {values.name} saved.")


def _create(service: ImportProfiles, values: ProfileInput) -> None:
    service.create(
        values.name,
        source=values.source,
        mapping=values.mapping,
        cron=values.cron,
        class_name=values.class_name or None,
        options=values.options({}),
        enabled=values.enabled,
        files_allowed=False,  # the UI must not read the server's files
    )


def _stamp(profile: ImportProfile) -> str:
    return profile.updated_at.isoformat() if profile.updated_at else ""


def _save(
    service: ImportProfiles,
    values: ProfileInput,
    existing: ImportProfile | None,
    expected: datetime | None = None,
) -> None:
    service.save_reporting_creation(
        values.name,
        source=values.source,
        mapping=values.mapping,
        cron=values.cron,
        class_name=values.class_name or None,
        options=values.options(existing.headers if existing else {}),
        enabled=values.enabled,
        # A file source only as the CLI saved it: the UI must not read the server's files.
        files_allowed=existing is not None and values.source == existing.source,
        expected=expected,
    )


async def _switch(request: Request, enabled: bool) -> Response:
    service = _require(request)
    await checked_form(request)
    profile = await blocking(service.get, request.path_params["name"])
    values = ProfileInput.of_profile(profile)
    values.enabled = enabled
    await blocking(_save, service, values, profile)
    word = "enabled" if enabled else "disabled"
    return see_other("/import-profiles", f"Scheduled import {profile.name} {word}.")


async def enable(request: Request) -> Response:
    return await _switch(request, True)


async def disable(request: Request) -> Response:
    return await _switch(request, False)


async def run_now(request: Request) -> Response:
    service = _require(request)
    await checked_form(request)
    try:
        job = await blocking(service.start, request.path_params["name"])
    except RunGoing as exc:
        return render(
            request, "import_run_going.html", {"error": exc, "job": exc.job_id}, status=409
        )
    return see_other(f"/imports/{job.id}", f"Scheduled import started as {job.id}.")


async def delete(request: Request) -> Response:
    service = _require(request)
    await checked_form(request)
    name = request.path_params["name"]
    await blocking(service.delete, name)
    return see_other("/import-profiles", f"Scheduled import {name} deleted.")


routes: list[BaseRoute] = [
    Route("/import-profiles", list_profiles, methods=["GET"]),
    Route("/import-profiles/new", new_form, methods=["GET"]),
    Route("/import-profiles/new", create, methods=["POST"]),
    Route("/import-profiles/{name}", edit_form, methods=["GET"]),
    Route("/import-profiles/{name}", update, methods=["POST"]),
    Route("/import-profiles/{name}/enable", enable, methods=["POST"]),
    Route("/import-profiles/{name}/disable", disable, methods=["POST"]),
    Route("/import-profiles/{name}/run", run_now, methods=["POST"]),
    Route("/import-profiles/{name}/delete", delete, methods=["POST"]),
]
