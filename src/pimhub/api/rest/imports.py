"""/api/v1/imports: upload a file and a mapping; the server imports it in the background.
See docs/import.md."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from pimhub.access.keys import Action, ApiKey
from pimhub.api.auth import api_key, hub_of, require
from pimhub.api.responses import OrjsonResponse
from pimhub.catalog.batch import WriteMode
from pimhub.transfer.importer import OnError
from pimhub.transfer.jobs import JobRequest
from pimhub.transfer.sources import Format, SourceOptions

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])
Key = Annotated[ApiKey, Depends(api_key)]


@router.post("", status_code=202, summary="Start an import of an uploaded file")
async def start_import(
    request: Request,
    key: Key,
    file: Annotated[UploadFile, File(description="CSV, JSON Lines, JSON, XML or XLSX")],
    mapping: Annotated[str, Form(description="the mapping's YAML, or a shipped name")],
    class_: Annotated[str | None, Form(alias="class")] = None,
    mode: Annotated[WriteMode, Form()] = WriteMode.UPSERT,
    on_error: Annotated[OnError, Form(alias="onError")] = OnError.SKIP,
    dry_run: Annotated[bool, Form(alias="dryRun")] = False,
    format: Annotated[Format | None, Form()] = None,
    delimiter: Annotated[str | None, Form()] = None,
    encoding: Annotated[str, Form()] = "utf-8-sig",
    record_path: Annotated[str | None, Form(alias="recordPath")] = None,
    sheet: Annotated[str | None, Form()] = None,
) -> OrjsonResponse:
    imports = hub_of(request).imports
    job_request = JobRequest(
        class_name=class_,
        mapping=mapping,
        mode=mode,
        on_error=on_error,
        dry_run=dry_run,
        source=SourceOptions(format, delimiter, encoding, record_path, sheet),
    )
    file_name = file.filename or "upload"
    _, class_name, _ = await run_in_threadpool(imports.check, job_request, file_name)
    require(key, Action.WRITE, class_name)

    def save(path: Path) -> None:
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out)  # the upload is already spooled; streamed on

    job = await run_in_threadpool(imports.submit, job_request, file_name, save, key.name)
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
