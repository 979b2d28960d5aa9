"""/api/v1/imports on both databases: upload, background run, status with counts and row
errors, refusals before anything runs, and jobs a stopped server left behind."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pimhub.bootstrap import Hub
from pimhub.transfer.jobs import JobStatus
from tests.conftest import bearer

MAPPING = """class: Product
fields:
  sku: sku
  name.en: name
  price.amount: {column: price, number: true}
  price.currency: {value: EUR}
"""
CSV = "sku,name,price\nU-1,Upload one,10\nU-2,Upload two,cheap\nU-3,Upload three,12\n"


@pytest.fixture
def imports(hub: Hub, tmp_path: Path) -> Hub:
    hub.imports.folder = tmp_path / "imports"
    return hub


def start(client: TestClient, headers: dict[str, str], status: int = 202, **form: Any) -> Any:
    data = {"mapping": MAPPING, **form}
    files = {"file": ("products.csv", CSV.encode(), "text/csv")}
    response = client.post("/api/v1/imports", data=data, files=files, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def finished(client: TestClient, job_id: str, headers: dict[str, str]) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/imports/{job_id}", headers=headers).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"import {job_id} did not finish: {job}")


def test_an_upload_is_imported_in_the_background(
    imports: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    job = start(client, admin)
    assert job["status"] == "queued" and job["class"] == "Product"
    done = finished(client, job["id"], admin)
    assert done["status"] == "completed-with-errors"
    summary = done["summary"]
    assert (summary["created"], summary["failed"]) == (2, 1)
    assert summary["errors"][0] == {
        "row": 2,
        "column": "price",
        "value": "cheap",
        "message": "'cheap' is not a number",
        "code": "transform",
    }
    assert imports.catalog.get_object("Product", "U-3", include_drafts=False).version == 1
    listed = client.get("/api/v1/imports", headers=admin).json()["items"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert (
        not any((imports.imports.folder / job["id"]).iterdir())
        if (imports.imports.folder / job["id"]).exists()
        else True
    )


def test_abort_and_dry_run_keep_nothing(
    imports: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    aborted = finished(client, start(client, admin, onError="abort")["id"], admin)
    assert aborted["status"] == "aborted"
    dry = finished(client, start(client, admin, dryRun="true")["id"], admin)
    assert dry["status"] == "completed-with-errors" and dry["options"]["dryRun"] is True
    with pytest.raises(Exception, match="no Product"):
        imports.catalog.get_object("Product", "U-1", include_drafts=True)


def test_refusals_come_before_anything_runs(
    imports: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    bad = start(client, admin, 422, mapping="class: Product\nfields: {sku: {column: sku, x: 1}}\n")
    assert bad["errors"][0]["field"] == "fields.sku.x"
    unknown = start(client, admin, 404, mapping=MAPPING.replace("Product", "Nope"))
    assert unknown["code"] == "unknown-class"
    reader = bearer(imports, "read:Product", name="reader")
    assert start(client, reader, 403)["code"] == "forbidden"
    assert client.get("/api/v1/imports/imp_nothing", headers=admin).status_code == 404
    assert client.get("/api/v1/imports", headers=admin).json()["items"] == []


def test_a_server_start_marks_unfinished_jobs_interrupted(
    imports: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    job = finished(client, start(client, admin)["id"], admin)
    stored = imports.imports.get(job["id"])
    imports.imports.store.update(replace(stored, status=JobStatus.RUNNING))
    assert imports.imports.recover() == 1
    again = client.get(f"/api/v1/imports/{job['id']}", headers=admin).json()
    assert again["status"] == "interrupted" and "submit it again" in again["error"]


def test_odd_file_names_and_source_options(
    imports: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    files = {"file": ("..", CSV.encode(), "text/csv")}
    response = client.post(
        "/api/v1/imports", data={"mapping": MAPPING, "format": "csv"}, files=files, headers=admin
    )
    assert response.status_code == 202, response.text
    job = finished(client, response.json()["id"], admin)
    assert job["file"] == "upload" and job["summary"]["created"] == 2
    for field, value in (("delimiter", ";;"), ("encoding", "klingon")):
        bad = start(client, admin, 400, **{field: value})
        assert bad["errors"][0]["field"] == field
