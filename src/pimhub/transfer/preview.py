"""A dry run of a file's first rows: what each row's values become through the mapping, and
each row's errors, before anything is written (the import's own dry run: one transaction,
rolled back, so nothing is stored and nothing reaches the outbox)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pimhub.catalog.errors import FieldError
from pimhub.transfer.importer import ImportOptions, ImportSummary, OnError, run_import
from pimhub.transfer.jobs import ImportJobs, JobRequest
from pimhub.transfer.outcome import RowError, shown_value
from pimhub.transfer.sources import (
    Record,
    RecordTooLarge,
    SourceLimits,
    SourceOptions,
    read,
)

PREVIEW_ROWS = 20
# What a preview reads at most (CSV, JSON Lines): a row's text and all rows' text. Rows are
# shown clipped anyway, and parallel previews of files with huge cells must not each hold
# them (an import reads cells of up to 64 MiB). A row's bound is above the longest text a
# field takes by default (rich text: 1,000,000), so a cell just too long still shows the
# field's own error.
PREVIEW_RECORD_CHARS = 2 << 20
PREVIEW_READ_CHARS = 8 << 20


@dataclass(frozen=True, slots=True)
class PreviewRow:
    number: int
    line: int | None
    values: dict[str, Any]  # field -> value as the mapping resolves it (long text clipped)
    errors: tuple[RowError, ...]


@dataclass(frozen=True, slots=True)
class Preview:
    class_name: str
    rows: tuple[PreviewRow, ...]
    summary: ImportSummary

    @property
    def refused(self) -> int:
        return sum(1 for row in self.rows if row.errors)


def preview(
    jobs: ImportJobs,
    request: JobRequest,
    path: Path,
    *,
    author: str,
    authorize: Callable[[str], None] | None = None,
    limit: int = PREVIEW_ROWS,
) -> Preview:
    """The first `limit` rows of the file at `path` imported as a dry run. The mapping,
    class and file are checked as a submission checks them (`authorize` as in
    ImportJobs.check), so what the preview refuses, the job would too."""
    mapping, class_name, _ = jobs.check(request, path.name, authorize)
    records = first_records(path, request.source, jobs.limits, limit)
    options = ImportOptions(
        mode=request.mode,
        on_error=OnError.SKIP,
        dry_run=True,
        author=author,
        language=jobs.language,
    )

    def writer() -> Any:
        return jobs.catalog.batch_writer(class_name, mode=request.mode, author=author)

    summary = run_import(
        writer, records, mapping, options, assets=jobs._asset_fetcher(mapping, options)
    )
    by_row: dict[int, list[RowError]] = {}
    for error in summary.errors:
        by_row.setdefault(error.row, []).append(error)
    rows = []
    for record in records:
        values = {} if record.problem else mapping.apply(record.values)[0]
        shown = {k: shown_value(v) for k, v in _flat(values).items()}
        errors = tuple(by_row.get(record.number, []))
        rows.append(PreviewRow(record.number, record.line, shown, errors))
    return Preview(class_name, tuple(rows), summary)


def first_records(
    path: Path, source: SourceOptions, limits: SourceLimits, count: int
) -> list[Record]:
    """The first `count` records of the file, read within the preview's bounds; a record
    over them ends the list as a refused row saying so."""
    bounded = replace(
        limits, max_record_chars=PREVIEW_RECORD_CHARS, max_read_chars=PREVIEW_READ_CHARS
    )
    records: list[Record] = []
    reading: Iterator[Record] = read(path, source, bounded)
    try:
        for record in reading:
            records.append(record)
            if len(records) >= count:
                break
    except RecordTooLarge as exc:
        message = f"{exc.detail}: the preview stops here (an import reads it)"
        records.append(Record(len(records) + 1, {}, None, FieldError("", message, "too-large")))
    return records


def _flat(values: dict[str, Any]) -> dict[str, Any]:
    """Values by the targets a mapping names (name.en, price.amount), as the user wrote them."""
    flat: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dict) and value:
            flat.update((f"{name}.{part}", v) for part, v in value.items())
        else:
            flat[name] = value
    return flat
