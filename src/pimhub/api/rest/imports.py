"""/api/v1/imports: upload a file and a mapping; the server imports it in the background.
See docs/import.md."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from pimhub.access.keys import Action, ApiKey
from pimhub.api.auth import api_key, hub_of, require, require_some_write
from pimhub.api.body import parse_model, read_form, refuse_nul
from pimhub.api.responses import OrjsonResponse
from pimhub.catalog.batch import WriteMode
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.transfer.importer import OnError
from pimhub.transfer.jobs import JobRequest
from pimhub.transfer.sources import Format, SourceOptions

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])
Key = Annotated[ApiKey, Depends(api_key)]
MAX_FIELD_BYTES = 1 << 20  # a form field (the mapping's YAML is the largest)
MAX_FIELDS = 20


class ImportForm(BaseModel):
    """The form fields beside the file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    mapping: str = Field(description="the mapping's YAML, or a shipped name")
    class_: str | None = Field(None, alias="class")
    mode: WriteMode = WriteMode.UPSERT
    on_error: OnError = Field(OnError.SKIP, alias="onError")
    dry_run: bool = Field(False, alias="dryRun")
    format: Format | None = None
    delimiter: str | None = None
    encoding: str = "utf-8-sig"
    record_path: str | None = Field(None, alias="recordPath")
    sheet: str | None = None


def _form_doc() -> dict[str, Any]:
    def text(description: str) -> dict[str, Any]:
        return {"type": "string", "description": description}

    def choice(values: list[str], default: str) -> dict[str, Any]:
        return {"type": "string", "enum": values, "default": default}

    properties = {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "CSV, JSON Lines, JSON, XML or XLSX",
        },
        "mapping": text("the mapping's YAML, or a shipped name"),
        "class": text("the class; default: the mapping's"),
        "mode": choice([m.value for m in WriteMode], WriteMode.UPSERT.value),
        "onError": choice([o.value for o in OnError], OnError.SKIP.value),
        "dryRun": {"type": "boolean", "default": False},
        "format": {"type": "string", "enum": [f.value for f in Format]},
        "delimiter": text("CSV: one character; default: sniffed"),
        "encoding": {"type": "string", "default": "utf-8-sig"},
        "recordPath": text("XML: the record element's path, e.g. products/product"),
        "sheet": text("XLSX: the sheet; default: the first"),
    }
    schema = {"type": "object", "required": ["file", "mapping"], "properties": properties}
    return {
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": schema}},
        }
    }


@router.post(
    "",
    status_code=202,
    summary="Start an import of an uploaded file",
    openapi_extra=_form_doc(),
)
async def start_import(request: Request, key: Key) -> OrjsonResponse:
    # The body is read here, after the key was checked (a File() parameter would have
    # FastAPI spool the whole upload before any dependency runs).
    require_some_write(key)
    hub = hub_of(request)
    form = await read_form(
        request,
        hub.settings.import_max_upload_bytes,
        max_fields=MAX_FIELDS,
        max_part_size=MAX_FIELD_BYTES,
    )
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise InvalidInput(
                "the form needs the file to import in its 'file' part",
                [FieldError("file", "a file is required", "missing")],
            )
        fields = {k: v for k, v in form.multi_items() if k != "file"}
        if any(not isinstance(v, str) for v in fields.values()):
            raise InvalidInput(
                "only 'file' may be a file", [FieldError("body", "unexpected file", "invalid")]
            )
        refuse_nul(fields, "the form")
        options = parse_model(ImportForm, fields)
        job_request = JobRequest(
            class_name=options.class_,
            mapping=options.mapping,
            mode=options.mode,
            on_error=options.on_error,
            dry_run=options.dry_run,
            source=SourceOptions(
                options.format,
                options.delimiter,
                options.encoding,
                options.record_path,
                options.sheet,
            ),
        )
        file_name = file.filename or "upload"
        imports = hub.imports
        await run_in_threadpool(
            imports.check,
            job_request,
            file_name,
            lambda class_name: require(key, Action.WRITE, class_name),
        )

        def save(path: Path) -> None:
            with path.open("wb") as out:
                shutil.copyfileobj(file.file, out)  # the upload is already spooled

        job = await run_in_threadpool(imports.submit, job_request, file_name, save, key.name)
    finally:
        await form.close()
    return OrjsonResponse(
        job.to_dict(), status_code=202, headers={"Location": f"/api/v1/imports/{job.id}"}
    )


@router.get("/{job_id}", summary="An import's status, counts and first row errors")
def get_import(request: Request, job_id: str, key: Key) -> OrjsonResponse:
    job = hub_of(request).imports.get(job_id)
    require(key, Action.WRITE, job.class_name)
    return OrjsonResponse(job.to_dict())


@router.get("", summary="Recent imports")
def list_imports(request: Request, key: Key) -> OrjsonResponse:
    jobs = hub_of(request).imports.recent()
    return OrjsonResponse(
        {"items": [j.to_dict() for j in jobs if key.allows(Action.WRITE, j.class_name)]}
    )
