"""Imports in the browser (the issue's "run a dry-run import and then the import"): a manager
uploads a small CSV with one bad row, sees the dry-run preview with that row's error, runs
the import, watches its progress reach the final status, and downloads the error report."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from tests.browser.conftest import Site, assert_accessible, screenshot

MAPPING = """class: Product
fields:
  sku: sku
  name.en: name
  price.amount: {column: price, number: true}
  price.currency: {value: EUR}
"""


def test_a_manager_previews_runs_and_follows_an_import(
    site: Site, sign_in: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    tag = uuid.uuid4().hex[:8].upper()
    csv = tmp_path / f"products-{tag}.csv"
    csv.write_text(
        "sku,name,price\n"
        f"IMP-{tag}-1,Imported one,10\n"
        f"IMP-{tag}-2,Imported two,cheap\n"
        f"IMP-{tag}-3,Imported three,12\n"
    )
    page = sign_in("manager")
    page.get_by_role("link", name="Imports", exact=True).click()
    expect(page.get_by_role("heading", name="Imports", level=1)).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="New import").click()
    expect(page.get_by_role("heading", name="New import")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("File (CSV, JSON Lines, JSON, XML or XLSX)").set_input_files(str(csv))
    page.get_by_label("Class", exact=True).select_option("Product")
    page.get_by_label("This mapping (YAML):").check()
    page.get_by_label("Mapping YAML").fill(MAPPING)
    page.get_by_role("button", name="Upload and preview").click()

    expect(page.get_by_role("heading", name=f"Preview: {csv.name}")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Nothing was written")).to_contain_text(
        "2 would be created"
    )
    bad_row = page.get_by_role("row").filter(has_text=f"IMP-{tag}-2")
    expect(bad_row).to_contain_text("refused")
    expect(bad_row).to_contain_text("'cheap' is not a number")
    assert_accessible(page)
    screenshot(page, "import-preview")

    page.get_by_role("button", name="Run import").click()
    page.wait_for_url(re.compile(r".*/admin/imports/imp_[0-9a-f]+$"))
    expect(page.get_by_role("heading", name=f"Import of {csv.name}")).to_be_visible()
    # The status block polls until the job ends: its badge reaches the final status.
    expect(page.locator("#job-status .badge")).to_have_text("partially failed", timeout=20_000)
    expect(page.locator("#job-status progress")).to_have_attribute("value", "1")
    expect(page.locator("#job-status")).to_contain_text("3 rows read")
    expect(page.locator("#job-status dd.stat").first).to_have_text("2")  # created
    assert_accessible(page)
    screenshot(page, "import-job")

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download the error report")).click()
    report = Path(download.value.path()).read_text()
    assert report.splitlines()[0] == "row,line,column,value,message,code"
    assert "2,3,price,cheap,'cheap' is not a number,transform" in report
    assert download.value.suggested_filename.endswith("-errors.csv")

    page.get_by_role("link", name="Imports", exact=True).first.click()
    row = page.get_by_role("row").filter(has_text=csv.name)
    expect(row).to_contain_text("partially failed")
    expect(row).to_contain_text("manager")
    assert_accessible(page)
    screenshot(page, "imports")


def test_a_viewer_has_no_imports(site: Site, sign_in: Any) -> None:
    page = sign_in("viewer")
    answer = page.goto(site.admin("/imports/new"))
    assert answer is not None and answer.status == 403


def test_a_whole_file_dry_run_is_marked_as_one_on_every_page(
    site: Site, sign_in: Any, tmp_path: Path
) -> None:
    """A dry-run job says so on its page (counts as 'would have', nothing kept), in the
    imports list and on the dashboard, in the same words."""
    from playwright.sync_api import expect

    tag = uuid.uuid4().hex[:8].upper()
    csv = tmp_path / f"dry-{tag}.csv"
    csv.write_text(f"sku,name,price\nDRY-{tag}-1,Dry one,10\nDRY-{tag}-2,Dry two,cheap\n")
    page = sign_in("manager")
    page.goto(site.admin("/imports/new"))
    page.get_by_label("File (CSV, JSON Lines, JSON, XML or XLSX)").set_input_files(str(csv))
    page.get_by_label("Class", exact=True).select_option("Product")
    page.get_by_label("This mapping (YAML):").check()
    page.get_by_label("Mapping YAML").fill(MAPPING)
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_label("Dry run only: check every row of the file as a job, keep nothing").check()
    page.get_by_role("button", name="Run import").click()
    page.wait_for_url(re.compile(r".*/admin/imports/imp_[0-9a-f]+$"))
    label = "partially failed (dry run)"
    expect(page.locator("#job-status .badge")).to_have_text(label, timeout=20_000)
    expect(page.locator("#job-status progress")).to_have_attribute("max", "1")
    expect(page.locator("#job-status")).to_contain_text("A dry run: nothing was kept")
    expect(page.locator("#job-status dt").first).to_have_text("Would have created (nothing kept)")
    assert_accessible(page)
    page.goto(site.admin("/imports"))
    expect(page.get_by_role("row").filter(has_text=csv.name)).to_contain_text(label)
    page.goto(site.admin("/"))
    expect(page.get_by_role("row").filter(has_text=csv.name)).to_contain_text(label)
    assert_accessible(page)


def test_an_integrator_schedules_an_import(site: Site, sign_in: Any) -> None:
    from playwright.sync_api import expect

    name = f"erp-{uuid.uuid4().hex[:8]}"
    page = sign_in("integrator")
    page.goto(site.admin("/imports"))
    page.get_by_role("link", name="Scheduled imports").click()
    expect(page.get_by_role("heading", name="Scheduled imports", level=1)).to_be_visible()
    page.get_by_role("link", name="New scheduled import").click()
    assert_accessible(page)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Source (an http(s) URL)").fill("https://erp.example.com/products.csv")
    page.get_by_label("Schedule (cron, UTC: m h dom mon dow, or @daily)").fill("not a schedule")
    page.get_by_label("Mapping (YAML, or the name of a shipped mapping)").fill(MAPPING)
    page.get_by_role("button", name="Create").click()
    # Refused field by field, with what was typed kept.
    expect(page.get_by_role("alert")).to_contain_text("problem")
    cron = page.get_by_label("Schedule (cron, UTC: m h dom mon dow, or @daily)")
    expect(cron).to_have_attribute("aria-invalid", "true")
    expect(cron).to_have_value("not a schedule")
    assert_accessible(page)
    cron.fill("0 3 * * *")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_have_text(f"Scheduled import {name} created.")
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("enabled")
    expect(row).to_contain_text("never")
    assert_accessible(page)
    screenshot(page, "import-profiles")
    page.get_by_role("button", name=f"Disable {name}").click()
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("disabled")
    page.get_by_role("button", name=f"Delete {name}").click()
    expect(page.get_by_role("status")).to_have_text(f"Scheduled import {name} deleted.")
    expect(page.get_by_role("row").filter(has_text=name)).to_have_count(0)
