"""Row error reports, written as the import goes (CSV or JSON); mapping proposals are in
transfer.inference."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from pimhub.transfer.cell_text import as_written
from pimhub.transfer.importer import ErrorSink, RowError

# `line`: where the row starts in the file (empty for JSON and XML); it differs from `row`
# once a quoted cell holds a line break.
REPORT_COLUMNS = ("row", "line", "column", "value", "message", "code")


@contextmanager
def error_report(path: Path) -> Iterator[ErrorSink]:
    """A sink writing each row error to `path` at once (.json: an array; else CSV)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        if path.suffix.lower() == ".json":
            first = True
            out.write("[")

            def write_json(error: RowError) -> None:
                nonlocal first
                out.write(
                    ("" if first else ",\n") + orjson.dumps(error.to_dict(), default=str).decode()
                )
                first = False

            try:
                yield write_json
            finally:
                out.write("]\n")
            return
        writer = csv.writer(out)
        writer.writerow(REPORT_COLUMNS)

        def write_csv(error: RowError) -> None:
            # The value as written (true, 12345, 2024-01-02 10:30:00), not as Python shows it.
            value = as_written(error.value)
            writer.writerow([error.row, error.line, error.column, value, error.message, error.code])

        yield write_csv
