"""/api/v1/imports on both databases: upload, background run, status with counts and row
errors, refusals before anything runs, and jobs a stopped server left behind."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from fastapi.testclient import TestClient

from pimhub.api.app import create_app
from pimhub.bootstrap import Hub
from pimhub.transfer.job_records import JobStatus
from pimhub.transfer.jobs import JobRequest, SourceUnavailable
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
        "line": 3,
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


def test_a_jobs_counts_are_rows_and_its_errors_are_counted_apart(
    imports: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    text = "sku,name,price\nE-1,One,1\nE-2," + "n" * 300 + ",cheap\nE-3,Three,dear\n"
    files = {"file": ("products.csv", text.encode(), "text/csv")}
    response = client.post("/api/v1/imports", data={"mapping": MAPPING}, files=files, headers=admin)
    assert response.status_code == 202, response.text
    summary = finished(client, response.json()["id"], admin)["summary"]
    counts = ("rows", "accepted", "created", "refused", "failed", "skipped", "errorCount")
    assert {k: summary[k] for k in counts} == {
        "rows": 3,
        "accepted": 1,
        "created": 1,
        "refused": 2,
        "failed": 2,
        "skipped": 0,
        "errorCount": 3,
    }
    assert [(e["row"], e["column"]) for e in summary["errors"]] == [
        (2, "price"),
        (2, "name"),
        (3, "price"),
    ]


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


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        # Python's `re` raised OverflowError here: a 500 once.
        ("x{99999999999}", "a repetition count above 1000"),
        (r"(a)\1", r"invalid escape sequence: \1"),
        ("(?=a)", "invalid perl operator: (?="),
    ],
)
def test_a_skip_pattern_re2_cannot_run_is_refused_up_front(
    imports: Hub, client: TestClient, admin: dict[str, str], pattern: str, reason: str
) -> None:
    mapping = f"{MAPPING}skip: [{{column: name, matches: '{pattern}'}}]\n"
    bad = start(client, admin, 422, mapping=mapping)
    unsupported = "uses a feature that is not supported (linear-time matching)"
    assert [(e["field"], e["message"]) for e in bad["errors"]] == [
        ("skip[0].matches", f"{unsupported}: {reason}")
    ]
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


@pytest.mark.parametrize("delimiter", ['"', "\n", "\r", "\r\n", ";;"])
def test_a_delimiter_that_cannot_delimit_csv_is_refused_up_front(
    imports: Hub, client: TestClient, admin: dict[str, str], delimiter: str
) -> None:
    # Once accepted, and the job then failed with a message about something else.
    bad = start(client, admin, 400, delimiter=delimiter)
    assert [(e["field"], e["message"]) for e in bad["errors"]] == [
        ("delimiter", "one character, not a quote, a line break or NUL")
    ]
    assert client.get("/api/v1/imports", headers=admin).json()["items"] == []


def test_a_backslash_delimits_like_any_other_character(
    imports: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    # The csv module has no escape character unless one is set, so a backslash is plain text.
    text = 'sku\\name\\price\nB-1\\"Back\\slash"\\10\nB-2\\Two\\11\n'
    files = {"file": ("products.csv", text.encode(), "text/csv")}
    data = {"mapping": MAPPING, "delimiter": "\\"}
    response = client.post("/api/v1/imports", data=data, files=files, headers=admin)
    assert response.status_code == 202, response.text
    job = finished(client, response.json()["id"], admin)
    assert (job["status"], job["summary"]["created"]) == ("succeeded", 2)
    got = imports.catalog.get_object("Product", "B-1", include_drafts=True)
    assert got.values["name"] == {"en": "Back\\slash"}


def asgi_upload(hub: Hub, headers: dict[str, str], chunks: int) -> tuple[int, int, Any]:
    """A multipart upload of `chunks` chunks of 64 KiB straight to the ASGI app, without a
    Content-Length: (status, chunks the app read, problem)."""
    app = create_app(hub)
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="mapping"\r\n\r\n{MAPPING}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n'
        "Content-Type: text/csv\r\n\r\nsku,name,price\r\n"
    ).encode()
    read = 0
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        if read > chunks:
            return {"type": "http.request", "body": f"\r\n--{boundary}--\r\n".encode()}
        chunk = head if read == 1 else b"X-1,x,1\n" * 8192
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    content_type = f"multipart/form-data; boundary={boundary}"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/imports",
        "raw_path": b"/api/v1/imports",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (k.lower().encode(), v.encode())
            for k, v in {**headers, "Content-Type": content_type}.items()
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    anyio.run(app, scope, receive, send)
    return answer["status"], read, orjson.loads(answer["body"])


def test_an_upload_without_a_key_is_refused_before_its_body_is_read(imports: Hub) -> None:
    status, read, problem = asgi_upload(imports, {}, chunks=1000)
    assert (status, problem["code"]) == (401, "unauthorized")
    assert read == 0
    datahub_only = bearer(imports, "datahub:shop", name="datahub-only")
    status, read, problem = asgi_upload(imports, datahub_only, chunks=1000)
    assert (status, problem["code"]) == (403, "forbidden")
    assert read == 0


def test_an_upload_over_the_limit_is_413_while_it_streams(
    imports: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    imports.settings.import_max_upload_bytes = 1 << 20
    status, read, problem = asgi_upload(imports, admin, chunks=1000)  # 64 MB
    assert (status, problem["code"]) == (413, "payload-too-large")
    assert read <= 18
    big = {"file": ("p.csv", b"sku,name,price\n" + b"X,x,1\n" * 200_000, "text/csv")}
    response = client.post("/api/v1/imports", data={"mapping": MAPPING}, files=big, headers=admin)
    assert response.status_code == 413 and response.json()["code"] == "payload-too-large"
    assert client.get("/api/v1/imports", headers=admin).json()["items"] == []
    imports.settings.import_max_upload_bytes = 100 << 20
    status, _, job = asgi_upload(imports, admin, chunks=3)
    assert status == 202 and job["status"] == "queued"


def test_class_names_do_not_leak_to_keys_that_cannot_write_them(
    imports: Hub, client: TestClient
) -> None:
    datahub_only = bearer(imports, "datahub:shop", "read:*", name="reader")
    for mapping in (MAPPING, MAPPING.replace("Product", "Nope")):
        refused = start(client, datahub_only, 403, mapping=mapping)
        assert "Product" not in refused["detail"] and "Nope" not in refused["detail"]
    brands = bearer(imports, "write:Brand", name="brands")
    assert start(client, brands, 403, mapping=MAPPING)["code"] == "forbidden"
    unknown = start(client, brands, 403, mapping=MAPPING.replace("Product", "Nope"))
    assert unknown["code"] == "forbidden"  # not 404: the key cannot tell Nope from Product


def test_form_fields_are_checked(imports: Hub, client: TestClient, admin: dict[str, str]) -> None:
    assert start(client, admin, 400, mode="sideways")["errors"][0]["field"] == "mode"
    response = client.post("/api/v1/imports", data={"mapping": MAPPING}, headers=admin)
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "file"
    files = {"file": ("p.csv", CSV.encode(), "text/csv")}
    response = client.post("/api/v1/imports", files=files, headers=admin)
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "mapping"
    doc = client.get("/openapi.json").json()["paths"]["/api/v1/imports"]["post"]
    form = doc["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file", "mapping"] and "onError" in form["properties"]


def test_long_file_names_are_cut_and_nul_is_refused(
    imports: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    long_name = "p" * 300 + ".csv"
    files = {"file": (long_name, CSV.encode(), "text/csv")}
    response = client.post("/api/v1/imports", data={"mapping": MAPPING}, files=files, headers=admin)
    assert response.status_code == 202, response.text
    job = finished(client, response.json()["id"], admin)
    assert job["status"] == "completed-with-errors", job
    assert job["file"].endswith(".csv") and len(job["file"]) <= 120
    # httpx would send the NUL as %00; a raw client sends it as it is.
    body = (
        f'--b0\r\nContent-Disposition: form-data; name="mapping"\r\n\r\n{MAPPING}\r\n'
        '--b0\r\nContent-Disposition: form-data; name="file"; filename="p\x00.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n{CSV}\r\n--b0--\r\n"
    ).encode()
    content_type = {"Content-Type": "multipart/form-data; boundary=b0"}
    response = client.post("/api/v1/imports", content=body, headers={**admin, **content_type})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "file"
    assert len(client.get("/api/v1/imports", headers=admin).json()["items"]) == 1


def test_a_job_error_never_shows_a_server_path(imports: Hub, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    imports.imports.folder = blocker / "imports"
    request = JobRequest(class_name=None, mapping=MAPPING)
    with pytest.raises(SourceUnavailable) as failed:
        imports.imports.submit(request, "p.csv", lambda path: path.write_text(CSV), "test")
    job = imports.imports.get(failed.value.job.id)
    assert job.status == JobStatus.FAILED and job.error
    assert str(tmp_path) not in job.error and "not-a-folder" not in job.error
    assert "could not be stored" in job.error


def test_a_server_start_deletes_the_uploads_of_interrupted_jobs(
    imports: Hub, client: TestClient, admin: dict[str, str]
) -> None:
    job = finished(client, start(client, admin)["id"], admin)
    stored = imports.imports.get(job["id"])
    imports.imports.store.update(replace(stored, status=JobStatus.RUNNING))
    upload = imports.imports.folder / job["id"] / "products.csv"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_text(CSV)
    assert imports.imports.recover() == 1
    assert not upload.parent.exists()
