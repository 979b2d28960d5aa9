"""Spreadsheet cells read by the field they feed, on both databases: numbers in relations are
the keys they show, date cells are dates (or ISO 8601 moments), and what a field cannot hold
(a time of day in a date field, true/false in a text business key) is refused by name, with
the cell shown as written in messages and reports, never as Python shows it."""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pimhub.bootstrap import Hub
from pimhub.transfer.cell_text import as_written, cell_readers, in_message, read_cells
from pimhub.transfer.importer import ImportOptions, RowError, run_import
from pimhub.transfer.mapping import parse_mapping
from pimhub.transfer.reports import error_report
from pimhub.transfer.sources import SourceOptions, read

MAPPING = parse_mapping(
    {
        "class": "Product",
        "fields": {
            "sku": "sku",
            "name.en": "name",
            "releasedOn": "released",
            "availableFrom": "from",
            "category": "category",
            "categories": {"column": "categories", "split": "|"},
            "@published": "published",
        },
    }
)
HEADER = ["sku", "name", "released", "from", "category", "categories", "published"]


def xlsx(tmp_path: Path, *rows: list[Any]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    file = tmp_path / "cells.xlsx"
    book.save(file)
    return file


def run(hub: Hub, file: Path, batch_size: int = 1000) -> tuple[Any, list[RowError]]:
    errors: list[RowError] = []

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="import")

    records = read(file, SourceOptions())
    options = ImportOptions(batch_size=batch_size)
    summary = run_import(writer, records, MAPPING, options, on_row_error=errors.append)
    return summary, errors


@pytest.mark.parametrize("batch_size", [1000, 1])  # 1: later batches are validated ahead
def test_numbers_feed_relations_and_date_cells_feed_date_fields(
    hub: Hub, tmp_path: Path, batch_size: int
) -> None:
    for code in ("100", "200"):
        hub.catalog.create("Category", {"code": code, "name": {"en": code}}, author="test")
    file = xlsx(
        tmp_path,
        ["XL-1", "a", datetime(2024, 1, 2), datetime(2024, 1, 2, 10, 30), 100, 200, "yes"],
        ["XL-2", "b", date(2024, 1, 3), datetime(2024, 1, 3), 100.0, 100.0, "yes"],
        [12345.0, "c", None, None, 200, "100|200", "yes"],
    )
    summary, errors = run(hub, file, batch_size)
    assert errors == [] and summary.created == 3
    found = {
        key: hub.catalog.get_object("Product", key, include_drafts=True).values
        for key in ("XL-1", "XL-2", "12345")
    }
    uuid = {
        code: hub.catalog.get_object("Category", code, include_drafts=True).uuid
        for code in ("100", "200")
    }
    assert [v.get("releasedOn") for v in found.values()] == ["2024-01-02", "2024-01-03", None]
    assert [v.get("availableFrom") for v in found.values()] == [
        "2024-01-02T10:30:00Z",  # a sheet holds no time zone: read as UTC
        "2024-01-03T00:00:00Z",
        None,
    ]
    assert [v["category"] for v in found.values()] == [uuid["100"], uuid["100"], uuid["200"]]
    assert [v["categories"] for v in found.values()] == [
        [uuid["200"]],
        [uuid["100"]],  # 100.0 split as its text "100", not "100.0"
        [uuid["100"], uuid["200"]],
    ]


def test_cells_a_field_cannot_hold_are_refused_by_name_and_shown_as_written(
    hub: Hub, tmp_path: Path
) -> None:
    hub.catalog.create("Category", {"code": "100", "name": {"en": "c"}}, author="test")
    file = xlsx(
        tmp_path,
        [True, "a", None, None, 100, None, "yes"],
        [time(10, 30), "b", None, None, None, None, "yes"],
        ["XL-3", "c", time(9, 0), timedelta(hours=30), None, None, "yes"],
        ["XL-4", "d", datetime(2024, 1, 2, 3, 0), date(2024, 1, 2), None, None, "yes"],
        ["XL-5", "e", None, None, None, None, datetime(2024, 1, 2)],
        ["XL-6", False, None, None, None, None, "yes"],
        ["XL-7", "g", None, None, None, None, "yes"],  # the one accepted row
    )
    report = tmp_path / "errors.csv"
    with error_report(report) as sink:
        errors: list[RowError] = []

        def both(error: RowError) -> None:
            errors.append(error)
            sink(error)

        records = read(file, SourceOptions())
        summary = run_import(
            lambda: hub.catalog.batch_writer("Product", author="import"),
            records,
            MAPPING,
            ImportOptions(),
            on_row_error=both,
        )
    assert (summary.created, summary.failed) == (1, 6)
    assert [(e.row, e.column, e.message, e.code) for e in errors] == [
        (1, "sku", "expected text, got a true/false value", "type"),
        (2, "sku", "expected text, got a time of day (10:30:00)", "type"),
        (3, "released", "expected a date, got a time of day (09:00:00)", "type"),
        (3, "from", "expected a date and time, got a duration (1 day, 6:00:00)", "type"),
        (
            4,
            "released",
            "expected a date, got a date and time (2024-01-02 03:00:00); "
            "a date field holds no time of day",
            "type",
        ),
        (5, "published", "2024-01-02 00:00:00 is not yes, no, true, false, 1 or 0", "transform"),
        (6, "name", "expected text, got a true/false value", "type"),
    ]
    # JSON (a job's summary) and the CSV report hold the cell as it would be written.
    assert [e.to_dict()["value"] for e in errors] == [
        True,
        "10:30:00",
        "09:00:00",
        "1 day, 6:00:00",
        "2024-01-02 03:00:00",
        "2024-01-02 00:00:00",
        False,
    ]
    with report.open(encoding="utf-8", newline="") as written:
        rows = list(csv.DictReader(written))
    assert [row["value"] for row in rows] == [
        "true",
        "10:30:00",
        "09:00:00",
        "1 day, 6:00:00",
        "2024-01-02 03:00:00",
        "2024-01-02 00:00:00",
        "false",
    ]


@pytest.mark.parametrize(
    ("value", "written", "quoted"),
    [
        (None, "", ""),
        (True, "true", "true"),
        (False, "false", "false"),
        (12345, "12345", "12345"),
        (12345.0, "12345", "12345"),
        (0.3, "0.3", "0.3"),
        (1e16, "1e+16", "1e+16"),  # beyond exact integer digits: the float's own form
        (datetime(2024, 1, 2), "2024-01-02 00:00:00", "2024-01-02 00:00:00"),
        (date(2024, 1, 2), "2024-01-02", "2024-01-02"),
        (time(10, 30, 5), "10:30:05", "10:30:05"),
        ([1.0, "a", date(2024, 1, 2)], '[1.0,"a","2024-01-02"]', '[1.0,"a","2024-01-02"]'),
        ({"en": True}, '{"en":true}', '{"en":true}'),
        ("x y", "x y", "'x y'"),
    ],
)
def test_a_cell_as_written_and_as_a_message_quotes_it(
    value: Any, written: str, quoted: str
) -> None:
    assert (as_written(value), in_message(value)) == (written, quoted)


def test_a_date_or_time_in_any_other_field_is_refused_by_what_it_is(hub: Hub) -> None:
    readers = cell_readers(hub.classes.get("Product"))
    item: dict[str, Any] = {
        "stock": datetime(2024, 1, 2),
        "price": {"amount": date(2024, 1, 2), "currency": "EUR"},
        "featured": time(1, 0),
        "name": {"en": 7.0, "de": "Sieben"},
        "related": [12, 13.5],
        "category": True,
        "@published": datetime(2024, 1, 2),  # no field: left to its own step
        # Sheets give naive date-times and dates; JSON neither: these come from code.
        "availableFrom": datetime(2024, 1, 2, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        "releasedOn": date(2024, 1, 2),
    }
    problems = read_cells(readers, item)
    assert [(p.field, p.message, p.code) for p in problems] == [
        ("stock", "expected a number, got a date and time (2024-01-02 00:00:00)", "type"),
        ("price.amount", "expected a number, got a date (2024-01-02)", "type"),
        ("featured", "expected true or false, got a time of day (01:00:00)", "type"),
        (
            "category",
            "expected a uuid or business key of a Category, got a true/false value",
            "type",
        ),
    ]
    assert item["name"] == {"en": "7", "de": "Sieben"} and item["related"] == ["12", "13.5"]
    assert item["@published"] == datetime(2024, 1, 2)
    assert (item["availableFrom"], item["releasedOn"]) == ("2024-01-02T10:00:00Z", "2024-01-02")
