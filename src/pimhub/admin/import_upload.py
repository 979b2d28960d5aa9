"""/imports/new: upload a file, choose, paste or infer a mapping, see a dry run of its first
rows with their errors, then run the import as a job (the ImportJobs service REST uses).

The upload is kept on the server (transfer.staging) under a reference the preview form
carries, so editing the mapping and starting the import never send the file again.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pimhub.access.keys import Action, ApiKey
from pimhub.admin.import_fields import SourceFields, typed_source_fields
from pimhub.admin.web import (
    author_of,
    blocking,
    checked_form,
    form_status,
    hub_of,
    principal_of,
    render,
    see_other,
    text_field,
)
from pimhub.api.auth import require, require_some_write
from pimhub.bootstrap import Hub
from pimhub.catalog.batch import WriteMode
from pimhub.catalog.errors import CatalogError, FieldError, Forbidden, InvalidInput
from pimhub.transfer.importer import OnError
from pimhub.transfer.inference import Unmapped, propose_mapping
from pimhub.transfer.job_records import ImportJob
from pimhub.transfer.jobs import JobRequest, SourceUnavailable
from pimhub.transfer.mapping import shipped_mapping, shipped_mappings
from pimhub.transfer.preview import Preview, first_records, preview
from pimhub.transfer.sources import Format, SourceOptions
from pimhub.transfer.staging import AlreadyStarted, ClaimedUpload, StagedUploads, UnknownUpload

INFER_SAMPLE = 200  # records read to propose a mapping (list separators), as the CLI
MAPPING_CHOICES = ("infer", "shipped", "custom")


@dataclass
class ImportInput(SourceFields):
    """What the user chose, as typed: kept on every re-rendered form."""

    choice: str = "infer"
    shipped: str = ""
    dry_run: bool = False  # the whole file checked as a job, nothing kept
    upload: str = ""  # the staged file's reference
    file_name: str = ""
    unmapped: list[Unmapped] = field(default_factory=list)

    @classmethod
    def of(cls, form: FormData) -> ImportInput:
        return cls(
            **typed_source_fields(form),
            choice=text_field(form, "choice", "infer"),
            shipped=text_field(form, "shipped"),
            upload=text_field(form, "upload").strip(),
            dry_run=text_field(form, "dry_run") == "on",
        )

    def job_request(self) -> JobRequest:
        errors = []
        if self.mode not in {m.value for m in WriteMode}:
            errors.append(FieldError("mode", "upsert, create or update"))
        if self.on_error not in {o.value for o in OnError}:
            errors.append(FieldError("on_error", "skip or abort"))
        if self.format and self.format not in {f.value for f in Format}:
            errors.append(FieldError("format", "one of " + ", ".join(f.value for f in Format)))
        if not self.mapping.strip():
            errors.append(FieldError("mapping", "write a mapping, or choose one"))
        if errors:
            raise InvalidInput("the import options have problems", errors)
        return JobRequest(
            class_name=self.class_name or None,
            mapping=self.mapping,
            mode=WriteMode(self.mode),
            on_error=OnError(self.on_error),
            dry_run=self.dry_run,
            source=self.source(),
        )

    def source(self) -> SourceOptions:
        known = {f.value for f in Format}
        return SourceOptions(
            Format(self.format) if self.format in known else None,
            self.delimiter or None,
            "utf-8-sig",
            self.record_path or None,
            self.sheet or None,
        )


def staged_uploads(hub: Hub) -> StagedUploads:
    # Per user: five previews, or two uploads of the largest size, wait at once.
    limit = 2 * hub.settings.import_max_upload_bytes
    return StagedUploads(hub.imports.folder / "staged", max_bytes=limit)


def _writable_classes(hub: Hub, key: ApiKey) -> list[str]:
    return [c.name for c in hub.classes.all() if key.allows(Action.WRITE, c.name)]


async def _page(
    request: Request,
    template: str,
    values: ImportInput,
    *,
    error: CatalogError | None = None,
    result: Preview | None = None,
) -> Response:
    hub = hub_of(request)
    status = 200 if error is None else form_status(error)
    classes = await blocking(_writable_classes, hub, principal_of(request))
    errors: dict[str, list[str]] = {}
    for e in error.errors if error else []:
        errors.setdefault(_input_of(e.field), []).append(
            f"{e.field}: {e.message}" if e.field.startswith(("fields", "skip")) else e.message
        )
    return render(
        request,
        template,
        {
            "values": values,
            "classes": classes,
            "shipped": shipped_mappings(),
            "formats": [f.value for f in Format],
            "modes": [m.value for m in WriteMode],
            "error": error,
            "errors": errors,
            "preview": result,
        },
        status=status,
    )


def _input_of(path: str) -> str:
    """The form input a service error's field belongs to."""
    if path.startswith(("fields", "skip")) or path in ("", "mapping"):
        return "mapping"
    return {"onError": "on_error", "recordPath": "record_path", "body": "file"}.get(path, path)


async def new_form(request: Request) -> Response:
    require_some_write(principal_of(request))
    values = ImportInput(class_name=request.query_params.get("class", ""))
    return await _page(request, "import_new.html", values)


async def upload(request: Request) -> Response:
    key = principal_of(request)
    require_some_write(key)
    hub = hub_of(request)
    form = await checked_form(request, max_bytes=hub.settings.import_max_upload_bytes)
    try:
        values = ImportInput.of(form)
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            raise InvalidInput(
                "choose the file to import", [FieldError("file", "choose a file", "missing")]
            )

        def save(path: Path) -> None:
            file.file.seek(0)
            with path.open("wb") as out:
                shutil.copyfileobj(file.file, out)

        owner = author_of(request)
        values.upload = await blocking(staged_uploads(hub).stage, owner, file.filename, save)
    except InvalidInput as exc:
        return await _page(request, "import_new.html", ImportInput.of(form), error=exc)
    finally:
        await form.close()
    return await _preview_page(request, values, fresh=True)


async def repreview(request: Request) -> Response:
    require_some_write(principal_of(request))
    form = await checked_form(request)
    return await _preview_page(request, ImportInput.of(form), fresh=False)


async def _preview_page(request: Request, values: ImportInput, *, fresh: bool) -> Response:
    """The preview of the staged upload; `fresh`: just uploaded, so the mapping comes from
    the choice made on the upload form (a shipped one, inferred, or as pasted)."""
    hub, key, owner = hub_of(request), principal_of(request), author_of(request)
    staged = staged_uploads(hub)
    try:
        path = await blocking(staged.path, owner, values.upload)
        values.file_name = path.name
        if fresh:
            await blocking(_choose_mapping, hub, values, path)
        result = await blocking(
            preview,
            hub.imports,
            values.job_request(),
            path,
            author=owner,
            authorize=lambda name: require(key, Action.WRITE, name),
        )
    except Forbidden:
        raise
    except CatalogError as exc:
        return await _page(request, "import_preview.html", values, error=exc)
    except FileNotFoundError:  # taken between finding and reading it (a parallel Run)
        gone = UnknownUpload("the uploaded file is no longer on the server; upload it again")
        return await _page(request, "import_preview.html", values, error=gone)
    return await _page(request, "import_preview.html", values, result=result)


def _choose_mapping(hub: Hub, values: ImportInput, path: Path) -> None:
    if values.choice == "shipped":
        text = shipped_mapping(values.shipped)
        if text is None:
            raise InvalidInput(
                "choose one of the mappings that ship with pimhub",
                [FieldError("shipped", "not a shipped mapping")],
            )
        values.mapping = text
    elif values.choice == "infer":
        values.mapping = _inferred(hub, values, path)
    elif values.choice != "custom":
        raise InvalidInput("choose how to map", [FieldError("choice", "infer, shipped or custom")])


def _inferred(hub: Hub, values: ImportInput, path: Path) -> str:
    if not values.class_name:
        raise InvalidInput(
            "choose the class to propose a mapping for",
            [FieldError("class", "a mapping is proposed for one class: choose it")],
        )
    definition = hub.classes.get(values.class_name)
    source = values.source()
    # Within the preview's bounds: a file of huge cells must not be read whole to guess.
    records = first_records(path, source, hub.imports.limits, INFER_SAMPLE)
    samples = [r.values for r in records if r.problem is None]
    if not samples:
        raise InvalidInput(
            f"{path.name} has no rows to propose a mapping from",
            [FieldError("file", "no rows")],
        )
    proposal, values.unmapped = propose_mapping(
        definition,
        samples[0],
        hub.settings.default_language,
        hub.settings.languages,
        samples,
    )
    text: str = yaml.safe_dump(proposal, sort_keys=False, allow_unicode=True)
    return text


async def run(request: Request) -> Response:
    key = principal_of(request)
    require_some_write(key)
    form = await checked_form(request)
    values = ImportInput.of(form)
    hub, owner = hub_of(request), author_of(request)
    staged = staged_uploads(hub)
    try:
        job_request = values.job_request()
        path = await blocking(staged.path, owner, values.upload)
        values.file_name = path.name
        await blocking(
            hub.imports.check,
            job_request,
            path.name,
            lambda name: require(key, Action.WRITE, name),
        )
        # Claimed before the job is made: of a double-clicked Run, one request gets the
        # file and the others are told which job it became, with no job of their own.
        claimed = await blocking(staged.claim, owner, values.upload)
        file_name = claimed.file.name
        job = await blocking(_submit, hub, job_request, claimed, owner)
    except AlreadyStarted as exc:
        return render(
            request, "import_run_going.html", {"error": exc, "job": exc.job_id}, status=409
        )
    except Forbidden:
        raise
    except CatalogError as exc:
        return await _page(request, "import_preview.html", values, error=exc)
    what = "Dry run" if values.dry_run else "Import"
    return see_other(f"/imports/{job.id}", f"{what} of {file_name} queued as {job.id}.")


def _submit(hub: Hub, job_request: JobRequest, claimed: ClaimedUpload, owner: str) -> ImportJob:
    try:
        job = hub.imports.submit(job_request, claimed.file.name, claimed.save, owner)
    except SourceUnavailable as exc:
        claimed.started(exc.job.id)  # a failed job holds it: the file is gone
        raise
    except BaseException:
        claimed.release()  # refused before a job was made: the upload can be started again
        raise
    claimed.started(job.id)
    return job


routes: list[BaseRoute] = [
    Route("/imports/new", new_form, methods=["GET"]),
    Route("/imports/new", upload, methods=["POST"]),
    Route("/imports/preview", repreview, methods=["POST"]),
    Route("/imports", run, methods=["POST"]),
]
