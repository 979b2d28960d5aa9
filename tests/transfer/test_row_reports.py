"""Row errors show a refused value and its message clipped, with the original length: one
huge cell must not make every read of the job, or the report, carry it whole."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import orjson

from pimhub.bootstrap import Hub
from pimhub.transfer.importer import ImportOptions, RowError, run_import
from pimhub.transfer.jobs import public_error
from pimhub.transfer.reports import error_report
from pimhub.transfer.sources import Format, from_text
from tests.transfer.test_import import MAPPING


def test_a_huge_refused_cell_is_clipped_in_summary_and_reports(hub: Hub, tmp_path: Path) -> None:
    huge = "x" * 2_000_000
    text = f"sku,name,price,qty,brand\nH-1,Huge,{huge},1,\nH-2,Fine,1,1,\n"
    report = tmp_path / "errors.csv"

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="import")

    with error_report(report) as sink:
        summary = run_import(
            writer, from_text(text, Format.CSV), MAPPING, ImportOptions(), on_row_error=sink
        )
    assert (summary.created, summary.failed) == (1, 1)
    error = summary.to_dict()["errors"][0]
    assert error["value"] == "x" * 200 + "… (2000000 characters)"
    assert len(error["message"]) < 600 and error["message"].endswith("characters)")
    assert len(orjson.dumps(summary.to_dict())) < 2000
    with report.open(newline="") as rows:
        written = list(csv.DictReader(rows))
    assert written[0]["value"] == error["value"] and written[0]["message"] == error["message"]


def test_long_json_values_are_clipped_as_json_text(tmp_path: Path) -> None:
    long_list = list(range(100_000))
    error = RowError(3, "tags", long_list, "not a list of text", "type")
    assert isinstance(error.value, str) and error.value.startswith("[0,1,2,")
    assert error.value.endswith(
        f"… ({len(json.dumps(long_list, separators=(',', ':')))} characters)"
    )
    assert RowError(3, "tags", ["a", "b"], "m", "c").value == ["a", "b"]  # short: as it was
    assert RowError(3, "n", 12.5, "m", "c").value == 12.5
    report = tmp_path / "errors.json"
    with error_report(report) as sink:
        sink(RowError(1, "name", "y" * 10_000, "z" * 10_000, "long"))
    (written,) = json.loads(report.read_text())
    assert written["value"] == "y" * 200 + "… (10000 characters)"
    assert written["message"] == "z" * 500 + "… (10000 characters)"


def test_a_jobs_error_shows_the_first_line_of_a_database_error_only(tmp_path: Path) -> None:
    exc = RuntimeError(
        f"(psycopg.errors.OutOfMemory) out of shared memory in {tmp_path}/x\n"
        "[SQL: SELECT pg_advisory_xact_lock(k) ...]\n[parameters: {'keys': [1, 2]}]"
    )
    assert public_error(exc, tmp_path) == (
        "RuntimeError: (psycopg.errors.OutOfMemory) out of shared memory in …/x"
    )
