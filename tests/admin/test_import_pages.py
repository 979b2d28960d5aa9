"""Imports in the admin on both backends: who may upload, the dry-run preview (writes
nothing, shows each bad row's error), running the import as a job to its true final status,
the error report, mapping errors kept with the text, and hostile uploads (4xx, never 500)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pimhub.bootstrap import Hub
from pimhub.catalog.errors import ObjectNotFound
from pimhub.storage.tables import object_versions, outbox
from pimhub.transfer.staging import IN_USE_SECONDS
from tests.admin.conftest import AdminClient

MAPPING = """class: Product
fields:
  sku: sku
  name.en: name
  price.amount: {column: price, number: true}
  price.currency: {value: EUR}
"""
CSV = "sku,name,price\nUP-1,Upload one,10\nUP-2,Upload two,cheap\nUP-3,Upload three,12\n"
UPLOAD = re.compile(r'name="upload" value="([^"]+)"')


@pytest.fixture
def imports_hub(users_hub: Hub, tmp_path: Path) -> Hub:
    users_hub.imports.folder = tmp_path / "imports"
    return users_hub


def upload(
    client: AdminClient,
    content: bytes = CSV.encode(),
    name: str = "products.csv",
    **form: Any,
) -> Any:
    data = {"choice": "custom", "mapping": MAPPING, **form}
    return client.post_form("/admin/imports/new", data, files={"file": (name, content)})


def stored(hub: Hub) -> tuple[int, int]:
    with hub.engine.connect() as conn:
        versions = conn.execute(select(func.count()).select_from(object_versions)).scalar_one()
        events = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    return versions, events


def finished_page(client: AdminClient, job_url: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        fragment = client.get(job_url + "/progress")
        assert fragment.status_code == 200
        if "hx-trigger" not in fragment.text:  # a finished job's block stops the polling
            return str(fragment.text)
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def run_import(client: AdminClient, preview_html: str, mapping: str = MAPPING) -> str:
    reference = UPLOAD.search(preview_html)
    assert reference, "the preview form carries no upload reference"
    started = client.post_form(
        "/admin/imports",
        {"upload": reference.group(1), "mapping": mapping, "mode": "upsert", "on_error": "skip"},
    )
    assert started.status_code == 303, started.text
    location: str = started.headers["location"]
    assert location.startswith("/admin/imports/imp_")
    return location


@pytest.mark.parametrize("role", ["admin", "manager", "integrator"])
def test_writers_see_the_upload_form_and_the_list(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient], role: str
) -> None:
    client = signed_in(role)
    page = client.get("/admin/imports/new")
    assert page.status_code == 200
    assert 'name="file"' in page.text and '<option value="Product"' in page.text
    assert "magento-products" in page.text  # the shipped mapping to choose
    assert client.get("/admin/imports").status_code == 200


def test_a_viewer_may_not_upload_nor_see_jobs(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    viewer = signed_in("viewer")
    assert viewer.get("/admin/imports/new").status_code == 403
    assert viewer.get("/admin/imports").status_code == 403
    refused = upload(viewer)
    assert refused.status_code == 403
    assert "may not write" in refused.text
    assert not (imports_hub.imports.folder / "staged").exists()  # nothing was kept


def test_the_dry_run_preview_writes_nothing_and_shows_the_bad_row(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    before = stored(imports_hub)
    page = upload(signed_in("manager"))
    assert page.status_code == 200, page.text
    assert stored(imports_hub) == before  # no version, no outbox event
    with pytest.raises(ObjectNotFound):
        imports_hub.catalog.get_object("Product", "UP-1", include_drafts=True)
    text = re.sub(r"\s+", " ", page.text)
    assert "Dry run of the first 3 row(s) into Product" in text
    assert "2 would be created" in text and "1 refused" in text
    assert "column <code>price</code>: &#39;cheap&#39; is not a number" in text
    assert "<code>sku</code> = UP-1" in text  # the values the mapping resolves
    assert "<code>name.en</code> = Upload one" in text and "<code>price.amount</code> = 10" in text


def test_running_the_import_creates_the_objects_and_ends_partially_failed(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    job_url = run_import(client, upload(client).text)
    page = client.get(job_url)
    assert page.status_code == 200 and "products.csv" in page.text
    done = re.sub(r"\s+", " ", finished_page(client, job_url))
    assert '<span class="badge warn">partially failed</span>' in done
    assert '<dt>Created</dt><dd class="stat">2</dd>' in done
    assert '<dt>Refused rows</dt><dd class="stat">1</dd>' in done
    assert imports_hub.catalog.get_object("Product", "UP-3", include_drafts=True).version == 1
    job = imports_hub.imports.get(job_url.rsplit("/", 1)[1])
    assert job.author == "manager" and job.status.value == "completed-with-errors"
    report = client.get(job_url + "/report")
    assert report.status_code == 200
    assert report.headers["content-disposition"].startswith("attachment;")
    lines = report.text.splitlines()
    assert lines[0] == "row,line,column,value,message,code"
    assert lines[1:] == ["2,3,price,cheap,'cheap' is not a number,transform"]
    listed = client.get("/admin/imports").text
    assert job.id in listed and "partially failed" in listed and "manager" in listed


def test_a_run_that_succeeds_says_succeeded_and_offers_no_report(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    good = b"sku,name,price\nOK-1,Fine,3\n"
    job_url = run_import(client, upload(client, good).text)
    done = finished_page(client, job_url)
    assert '<span class="badge ok">succeeded</span>' in done
    assert "/report" not in done


def test_a_failing_import_shows_failed_with_the_reason_not_started(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    preview = upload(client)
    # The mapping now reads a column the file lacks: the job fails at its header.
    broken = MAPPING.replace("name.en: name", "name.en: title")
    job_url = run_import(client, preview.text, broken)
    done = finished_page(client, job_url)
    assert '<span class="badge bad">failed</span>' in done
    assert "Why it failed:" in done and "the file has no column for name.en" in done
    assert "started" not in done.lower()


def test_a_bad_mapping_is_refused_with_its_message_and_the_text_kept(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    bad = "class: Product\nfields:\n  sku: {colum: sku}\n"
    page = upload(client, mapping=bad)
    assert page.status_code == 422
    assert 'aria-invalid="true" aria-describedby="mapping-error"' in page.text
    assert "unknown step" in page.text
    assert "{colum: sku}" in page.text  # what the user wrote, kept
    unparsable = upload(client, mapping="class: [Product\n")
    assert unparsable.status_code == 422
    assert "not valid YAML" in unparsable.text and "class: [Product" in unparsable.text
    # Editing the mapping on the preview page: the staged file is used again.
    reference = UPLOAD.search(page.text)
    assert reference
    again = client.post_form(
        "/admin/imports/preview", {"upload": reference.group(1), "mapping": MAPPING}
    )
    assert again.status_code == 200 and "2 would be created" in again.text


def test_a_mapping_is_proposed_from_the_columns(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    page = upload(signed_in("manager"), choice="infer", mapping="", **{"class": "Product"})
    assert page.status_code == 200, page.text
    assert "sku: sku" in page.text and "Dry run of the first 3 row(s)" in page.text


def test_an_upload_reference_belongs_to_its_user(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    reference = UPLOAD.search(upload(signed_in("manager")).text)
    assert reference
    other = signed_in("admin")
    answer = other.post_form("/admin/imports", {"upload": reference.group(1), "mapping": MAPPING})
    assert answer.status_code == 422
    assert "no longer on the server" in answer.text
    bogus = other.post_form("/admin/imports", {"upload": "../../etc", "mapping": MAPPING})
    assert bogus.status_code == 422


@pytest.mark.parametrize(
    ("name", "content", "status", "says"),
    [
        ("empty.csv", b"", 422, "is empty"),
        ("deep.json", b"[" * 100_000 + b"]" * 100_000, 422, "deep"),
        ("weird.bin", b"\x00\x01\x02", 422, "format"),
        ("latin1.csv", b"sku,name,price\nL-1,caf\xe9,3\n", 422, "encoding"),
        ("bad.xlsx", b"PK\x03\x04 not really a zip", 422, "xlsx"),
    ],
)
def test_hostile_uploads_are_refused_with_a_page_not_a_500(
    imports_hub: Hub,
    signed_in: Callable[[str], AdminClient],
    name: str,
    content: bytes,
    status: int,
    says: str,
) -> None:
    before = stored(imports_hub)
    page = upload(signed_in("manager"), content, name)
    assert page.status_code == status, page.text[:2000]
    assert says in page.text
    assert stored(imports_hub) == before


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"sku,name,price\nN-1,a\x00b,3\n", "NUL"),
        (b"sku,name,price\nB-1," + b"x" * (1 << 20) + b",3\n", "1048576 characters"),
    ],
)
def test_a_hostile_row_is_one_refused_row_in_the_preview(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient], content: bytes, says: str
) -> None:
    """A NUL or a 1 MB cell is the row's problem, not the file's: the preview shows the row
    refused, its value clipped (the page stays small), and writes nothing."""
    before = stored(imports_hub)
    page = upload(signed_in("manager"), content)
    assert page.status_code == 200, page.text[:2000]
    assert '<span class="badge bad">refused</span>' in page.text and says in page.text
    assert len(page.content) < 50_000
    assert stored(imports_hub) == before


def test_a_nul_in_a_form_field_is_refused(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    page = upload(signed_in("manager"), mapping="class: Product\x00\n")
    assert page.status_code in (400, 422)
    assert "NUL" in page.text


def test_an_upload_over_the_limit_is_413(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    imports_hub.settings.import_max_upload_bytes = 10_000
    page = upload(signed_in("manager"), b"sku,name,price\n" + b"Z-1,z,1\n" * 5000)
    assert page.status_code == 413
    assert "larger than 10000 bytes" in page.text
    assert not list((imports_hub.imports.folder / "staged").rglob("*.csv"))


def test_unknown_jobs_and_reports_are_404(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    for path in ("/admin/imports/imp_nope", "/admin/imports/x/report", "/admin/imports/x/progress"):
        assert client.get(path).status_code == 404, path


def test_a_running_job_polls_and_shows_its_live_counts(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    from datetime import UTC, datetime

    from pimhub.transfer.job_records import ImportJob, JobStatus

    job = ImportJob(
        id="imp_running0000000000",
        class_name="Product",
        status=JobStatus.RUNNING,
        file_name="big.csv",
        options={"mode": "upsert", "onError": "skip", "dryRun": False, "format": "csv"},
        author="manager",
        created_at=datetime.now(UTC),
        started_at=datetime.now(UTC),
    )
    imports_hub.imports.store.add(job)
    imports_hub.imports._live[job.id] = {"rows": 4000, "created": 3990, "failed": 10}
    client = signed_in("manager")
    page = client.get(f"/admin/imports/{job.id}").text
    assert 'hx-get="/admin/imports/imp_running0000000000/progress"' in page
    assert 'hx-trigger="every 1s"' in page
    assert "4,000 rows read so far" in page
    assert '<a href="/admin/imports/imp_running0000000000">Refresh</a>' in page  # without JS
    assert "/report" not in page  # not before it ends
    assert client.get(f"/admin/imports/{job.id}/report").status_code == 404
    assert '<span class="badge warn">running</span>' in client.get("/admin/imports").text
    imports_hub.imports._live.clear()
    imports_hub.imports.recover()  # as a restarted server: the job was interrupted
    ended = client.get(f"/admin/imports/{job.id}/progress").text
    assert "hx-trigger" not in ended  # the polling stops
    assert '<span class="badge bad">failed: interrupted</span>' in ended
    assert "the server stopped before the import finished" in ended
    assert "<progress" not in ended and "rows read before it stopped" in ended


def test_a_whole_file_dry_run_job_keeps_nothing(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    client = signed_in("manager")
    reference = UPLOAD.search(upload(client).text)
    assert reference
    before = stored(imports_hub)
    started = client.post_form(
        "/admin/imports", {"upload": reference.group(1), "mapping": MAPPING, "dry_run": "on"}
    )
    assert started.status_code == 303
    done = re.sub(r"\s+", " ", finished_page(client, started.headers["location"]))
    assert "A dry run: nothing was kept" in done
    assert '<dt>Would have created (nothing kept)</dt><dd class="stat">2</dd>' in done
    assert stored(imports_hub) == before


def test_staged_uploads_expire_and_belong_to_their_owner(tmp_path: Path) -> None:
    from pimhub.transfer.staging import (
        STAGED_FOR,
        EmptyUpload,
        StagedUploads,
        UnknownUpload,
    )

    staged = StagedUploads(tmp_path / "staged", clock=time.time)
    reference = staged.stage("ann", "../../a.csv", lambda p: p.write_text("sku\nA\n"))
    assert staged.path("ann", reference).name == "a.csv"  # never a directory of ours
    with pytest.raises(UnknownUpload):
        staged.path("bob", reference)
    with pytest.raises(EmptyUpload):
        staged.stage("ann", "empty.csv", lambda p: p.write_bytes(b""))
    assert len(list((tmp_path / "staged").rglob("*.csv"))) == 1  # the empty one is gone
    old = time.time() - STAGED_FOR - 60  # uploaded a day and a minute ago
    os.utime(staged.path("ann", reference).parent, (old, old))
    staged.stage("bob", "b.csv", lambda p: p.write_text("sku\nB\n"))
    with pytest.raises(UnknownUpload):
        staged.path("ann", reference)
    name, save = staged.take("bob", next(iter(_references(tmp_path / "staged"))))
    save(tmp_path / "moved.csv")
    assert name == "b.csv" and (tmp_path / "moved.csv").read_text() == "sku\nB\n"
    assert not list((tmp_path / "staged").rglob("*.csv"))


def _references(folder: Path) -> list[str]:
    return [p.parent.name for p in folder.rglob("*.csv")]


def test_a_double_clicked_run_makes_one_job_and_409s_naming_it(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    """Parallel 'Run' submits of one staged upload: one job; every other answer is a 409
    naming that job (never a 500, never a failed job of its own)."""
    clients = [signed_in("manager") for _ in range(8)]
    preview = upload(clients[0])
    assert preview.status_code == 200, preview.text
    reference = UPLOAD.search(preview.text)
    assert reference
    form = {"upload": reference.group(1), "mapping": MAPPING, "mode": "upsert", "on_error": "skip"}
    barrier = threading.Barrier(len(clients))

    def run(client: AdminClient) -> Any:
        barrier.wait()
        return client.post_form("/admin/imports", form)

    with ThreadPoolExecutor(len(clients)) as pool:
        answers = list(pool.map(run, clients))
    imports_hub.imports.wait()
    codes = sorted(a.status_code for a in answers)
    assert codes == [303] + [409] * 7, codes
    job_id = next(a for a in answers if a.status_code == 303).headers["location"].split("/")[-1]
    for refused in (a for a in answers if a.status_code == 409):
        assert f"this upload was already started as job {job_id}" in refused.text
        assert f'href="/admin/imports/{job_id}"' in refused.text
    assert [j.id for j in imports_hub.imports.recent(50)] == [job_id]
    assert imports_hub.imports.get(job_id).status.value == "completed-with-errors"
    # Later, the same reference still names the job it became.
    again = clients[1].post_form("/admin/imports", form)
    assert again.status_code == 409 and job_id in again.text


def test_a_claimed_upload_refused_before_its_job_can_be_started_again(tmp_path: Path) -> None:
    from pimhub.transfer.staging import AlreadyStarted, StagedUploads

    staged = StagedUploads(tmp_path / "staged", clock=time.time)
    reference = staged.stage("ann", "a.csv", lambda p: p.write_text("sku\nA\n"))
    claimed = staged.claim("ann", reference)
    claimed.release()  # e.g. the submission was refused: no job
    claimed = staged.claim("ann", reference)
    claimed.save(tmp_path / "job.csv")
    claimed.started("imp_x")
    with pytest.raises(AlreadyStarted) as refused:
        staged.claim("ann", reference)
    assert refused.value.job_id == "imp_x"
    os.utime(tmp_path / "staged", None)
    old = time.time() - 25 * 3600
    for marker in (tmp_path / "staged").rglob("*.job"):
        os.utime(marker, (old, old))
    staged.forget_stale()
    assert not list((tmp_path / "staged").rglob("*.job"))


def test_a_cell_over_the_preview_bound_stops_the_preview_with_a_row_error(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    """The preview reads no row over 2 MiB (it would hold it whole): the rows before it are
    shown, then one refused row saying the preview stops there."""
    content = b'sku,name,price\nOK-1,fine,3\nBIG-1,"' + b"x" * (3 << 20) + b'",3\nOK-2,b,4\n'
    page = upload(signed_in("manager"), content)
    assert page.status_code == 200, page.text[:2000]
    text = re.sub(r"\s+", " ", page.text)
    assert "a record over 2 MiB of text: the preview stops here (an import reads it)" in text
    assert text.count('<span class="badge bad">refused</span>') == 1
    assert "OK-2" not in text and len(page.content) < 50_000


def test_a_burst_of_uploads_spares_the_young_so_no_preview_loses_its_file(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    """Seven uploads at once: the quota would drop the oldest, but each may still be read by
    the preview that staged it; all seven preview (before: a 500, FileNotFoundError)."""
    client = signed_in("manager")
    with ThreadPoolExecutor(7) as pool:
        pages = list(pool.map(lambda n: upload(client, name=f"burst-{n}.csv"), range(7)))
    assert [p.status_code for p in pages] == [200] * 7


def test_a_user_keeps_at_most_five_staged_uploads(
    imports_hub: Hub, signed_in: Callable[[str], AdminClient]
) -> None:
    """A sixth preview drops the user's oldest staged upload: its preview is refused,
    saying the file is gone; the newest still previews."""
    client = signed_in("manager")
    references = []
    staged = imports_hub.imports.folder / "staged"
    for n in range(6):
        if n == 5:  # the first five are past the time a parallel preview may still read them
            for age, reference in enumerate(reversed(references), start=2):
                (folder,) = [f for f in staged.rglob(reference) if f.is_dir()]
                os.utime(folder, (time.time() - age * IN_USE_SECONDS,) * 2)
        page = upload(client, name=f"quota-{n}.csv")
        assert page.status_code == 200, page.text[:2000]
        found = UPLOAD.search(page.text)
        assert found
        references.append(found.group(1))
    assert len(list(staged.rglob("*.csv"))) == 5
    form = {"choice": "custom", "mapping": MAPPING}
    gone = client.post_form("/admin/imports/preview", {**form, "upload": references[0]})
    assert gone.status_code == 422
    assert "no longer on the server" in gone.text
    kept = client.post_form("/admin/imports/preview", {**form, "upload": references[5]})
    assert kept.status_code == 200 and "quota-5.csv" in kept.text
