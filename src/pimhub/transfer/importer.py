"""Running an import: records are mapped, written in batches through the catalog's batch
writer, and every refused row is reported with its row number, column, value and reason.

`on_error=skip` commits each batch's valid rows and reports the rest; a crash leaves whole
batches or nothing, and running the same file again completes the job (unchanged rows are
not written again). `on_error=abort` writes the whole file in one transaction and keeps
nothing if any row is refused. A dry run does everything but commit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from typing import Any

from pimhub.catalog.batch import (
    BatchWriter,
    Checked,
    ItemResult,
    Outcome,
    WriteMode,
    field_values,
    precheck,
)
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.errors import FieldError
from pimhub.catalog.validation import validate_values
from pimhub.catalog.variants import PARENT_ITEM_KEY
from pimhub.transfer.asset_fetch import AssetFetcher
from pimhub.transfer.cell_text import cell_readers, read_cells
from pimhub.transfer.import_assets import check_assets, resolve_assets
from pimhub.transfer.import_paths import CategoryPaths
from pimhub.transfer.mapping import ImportMapping, InvalidMapping
from pimhub.transfer.outcome import ERRORS_KEPT, row_error

# Re-exported: callers name an import's outcome types beside run_import.
from pimhub.transfer.outcome import ErrorSink as ErrorSink
from pimhub.transfer.outcome import ImportSummary as ImportSummary
from pimhub.transfer.outcome import RowError as RowError
from pimhub.transfer.sources import Record

DEFAULT_BATCH = 1000


class OnError(StrEnum):
    SKIP = "skip"
    ABORT = "abort"


@dataclass(frozen=True, slots=True)
class ImportOptions:
    mode: WriteMode = WriteMode.UPSERT
    on_error: OnError = OnError.SKIP
    dry_run: bool = False
    batch_size: int = DEFAULT_BATCH
    published: bool | None = None
    author: str = "import"
    language: str = "en"  # of the names of categories created from paths


Progress = Callable[[ImportSummary], None]


def run_import(
    open_writer: Callable[[], Any],
    records: Iterable[Record],
    mapping: ImportMapping,
    options: ImportOptions,
    *,
    on_row_error: ErrorSink | None = None,
    progress: Progress | None = None,
    assets: AssetFetcher | None = None,
) -> ImportSummary:
    """`open_writer()` is a context manager yielding a BatchWriter (CatalogService.
    batch_writer with the class and options bound). `assets` fetches the files of the
    mapping's `asset` steps (required when it has any)."""
    summary = ImportSummary(dry_run=options.dry_run)
    check_assets(mapping, assets)
    started = time.perf_counter()
    columns = _columns_by_field(mapping)
    measured = _measured_fields(mapping)
    paths = CategoryPaths(mapping, options.language)

    def report(error: RowError) -> None:
        summary.error_count += 1
        if len(summary.errors) < ERRORS_KEPT:
            summary.errors.append(error)
        if on_row_error is not None:
            on_row_error(error)

    def map_batch(batch: list[Record]) -> _Mapped:
        """The batch's records as items, and its refused cells (no storage involved)."""
        mapped = _Mapped(count=len(batch))
        for record in batch:
            if record.problem is not None:
                problem = record.problem
                mapped.refused.append(
                    row_error(record, problem.field, problem.message, problem.code, None)
                )
                continue
            if mapping.skip is not None and mapping.skip.skips(record.values):
                mapped.skipped += 1
                continue
            values, cell_errors = mapping.apply(record.values)
            for head in measured:
                _drop_without_amount(values, head)
            if cell_errors:
                mapped.partial.append((record, values, cell_errors))
                continue
            mapped.items.append(values)
            mapped.rows.append(record)
        if assets is not None:
            mapped.items, mapped.rows, refused = resolve_assets(
                mapped.items, mapped.rows, mapped.partial, assets, mapping
            )
            mapped.refused.extend(refused)
        return mapped

    def store(writer: BatchWriter, mapped: _Mapped, checked: Checked | None = None) -> bool:
        """Writes one mapped batch; False when a row was refused."""
        # Reported only now: a batch mapped while the previous one failed to commit is never
        # written, and its rows must not appear in the report.
        _read_cells(writer.definition, mapped, columns)
        summary.rows += mapped.count
        summary.skipped += mapped.skipped
        summary.failed += len({error.row for error in mapped.refused}) + len(mapped.partial)
        unmapped = list(mapped.refused)
        for record, values, cell_errors in mapped.partial:
            coded = paths.coded([values])[0]  # category paths as the codes they name
            unmapped.extend(_partial_errors(writer, record, coded, cell_errors, mapping, columns))
        for error in sorted(unmapped, key=lambda e: e.row):  # stable: a row's errors in order
            report(error)
        items, rows, clean = mapped.items, mapped.rows, not unmapped
        if paths.fields:
            refused = paths.resolve(writer, items)
            for n in sorted(refused, reverse=True):
                clean = False
                summary.failed += 1
                column, message = refused[n]
                report(row_error(rows[n], column, message, "path"))
                del items[n], rows[n]
                if checked is not None:
                    del checked.results[n]
        for record, item, result in zip(rows, items, writer.save(items, checked), strict=True):
            clean = _count(summary, record, result, columns, report) and clean
            if result.outcome != Outcome.FAILED:
                summary.count_family(result.key, item)
        summary.seconds = time.perf_counter() - started
        if progress is not None:
            progress(summary)
        return clean

    batches = _batches(records, options.batch_size, mapping)
    if options.on_error == OnError.ABORT or options.dry_run:
        mapped_batches: Iterable[_Mapped] = map(map_batch, batches)
        if assets is not None and not options.dry_run:
            # Files are fetched and stored (in units of work of their own) before the one
            # transaction opens: once it has written, it holds SQLite's write lock.
            mapped_batches = list(mapped_batches)
        # One transaction: abort keeps nothing; a dry run sees its own earlier batches
        # (a row may refer to an object an earlier row creates) and rolls all back.
        with open_writer() as writer:
            for mapped_batch in mapped_batches:
                if not store(writer, mapped_batch) and options.on_error == OnError.ABORT:
                    summary.aborted = True
                    break
            if not summary.aborted and not options.dry_run:
                writer.commit()
                summary.committed_rows = summary.rows
    else:
        _commit_behind(open_writer, batches, map_batch, store, paths, summary, columns)
    # Reported as found (category paths before saves, last row first): kept by row, as
    # readers of the summary expect. Stable, so a row's errors keep their order.
    summary.errors.sort(key=lambda error: error.row)
    summary.seconds = time.perf_counter() - started
    if assets is not None:
        summary.assets = assets.counts.to_dict()
    return summary


def _count(
    summary: ImportSummary,
    record: Record,
    result: ItemResult,
    columns: dict[str, str],
    report: ErrorSink,
) -> bool:
    if result.outcome == Outcome.CREATED:
        summary.created += 1
    elif result.outcome == Outcome.UPDATED:
        summary.updated += 1
    elif result.outcome == Outcome.UNCHANGED:
        summary.unchanged += 1
    else:
        summary.failed += 1
        for e in result.errors:
            column = _column_of(e, columns)
            report(row_error(record, column, e.message, e.code))
        return False
    return True


# The parts of a money or quantity value that say what its number is in: alone, without the
# number, they describe nothing.
_UNIT_PARTS = frozenset({"currency", "unit"})
_NUMBER_PARTS = frozenset({"amount", "value"})


def _measured_fields(mapping: ImportMapping) -> list[str]:
    """The fields mapped as a number and its currency or unit (`price.amount` with
    `price.currency`, `weight.value` with `weight.unit`)."""
    parts: dict[str, set[str]] = {}
    for fm in mapping.fields:
        head, _, tail = fm.target.partition(".")
        parts.setdefault(head, set()).add(tail)
    return [h for h, tails in parts.items() if tails & _NUMBER_PARTS and tails & _UNIT_PARTS]


def _drop_without_amount(values: dict[str, Any], head: str) -> None:
    """An empty amount is no price: a currency (or unit) left without its number, a static
    `{value: EUR}` most often, leaves the field out rather than refusing the row."""
    value = values.get(head)
    if isinstance(value, dict) and value.keys() <= _UNIT_PARTS:
        del values[head]


def _partial_errors(
    writer: BatchWriter,
    record: Record,
    values: dict[str, Any],
    cell_errors: list[FieldError],
    mapping: ImportMapping,
    columns: dict[str, str],
) -> list[RowError]:
    """The errors of a row refused for its cells: those, then what validating its other
    values finds, so one pass shows all of them. `required` is left out: whether a field is
    missing depends on the stored object, which only the write reads."""
    failed = {e.field for e in cell_errors}
    heads = {fm.target.split(".")[0] for fm in mapping.fields if (fm.column or fm.target) in failed}
    kept = {k: v for k, v in field_values(values).items() if k not in heads}
    _, problems = validate_values(writer.definition, kept, languages=writer.languages)
    errors = [row_error(record, e.field, e.message, e.code) for e in cell_errors]
    errors.extend(
        row_error(record, _column_of(e, columns), e.message, e.code)
        for e in problems
        if e.code != "required" and e.field.split("[")[0].split(".")[0] not in heads
    )
    return errors


def _columns_by_field(mapping: ImportMapping) -> dict[str, str]:
    """The source column of each field (its first mapping that reads a column)."""
    out: dict[str, str] = {}
    for fm in mapping.fields:
        if fm.column is not None:
            out.setdefault(fm.target, fm.column)
            out.setdefault(fm.target.split(".")[0], fm.column)
    if PARENT_ITEM_KEY in out:
        out.setdefault("parent", out[PARENT_ITEM_KEY])  # what a variant write calls it
    return out


def _column_of(error: FieldError, columns: dict[str, str]) -> str:
    path = error.field
    # "color,size": the axes that a sibling already has; reported at the first one's column.
    head = path.split("[")[0].split(".")[0].split(",")[0]
    return columns.get(path) or columns.get(head) or path


def _batches(
    records: Iterable[Record], size: int, mapping: ImportMapping
) -> Iterator[list[Record]]:
    iterator = iter(records)
    if batch := list(islice(iterator, size)):
        _check_header(mapping, batch[0].header)
    while batch:
        yield batch
        batch = list(islice(iterator, size))


def _check_header(mapping: ImportMapping, header: tuple[str, ...] | None) -> None:
    """Refuses, before anything is written, a mapping that reads a column the file's header
    does not have: a misspelt column would otherwise leave its field empty in every row.
    (JSON and XML records have no header: a key any one of them lacks is just empty.)"""
    if header is None:
        return
    if problems := mapping.missing_columns(header):
        shown = ", ".join(header[:30]) + (", ..." if len(header) > 30 else "")
        fields = ", ".join(p.field.removeprefix("fields.") for p in problems)
        raise InvalidMapping(
            f"the file has no column for {fields} (its columns: {shown})", problems
        )


@dataclass(slots=True)
class _Mapped:
    count: int  # records read
    skipped: int = 0  # records the mapping's skip filter left out
    items: list[dict[str, Any]] = field(default_factory=list)
    rows: list[Record] = field(default_factory=list)
    refused: list[RowError] = field(default_factory=list)  # records that could not be read
    # Records with cells that could not be mapped: their other values, and those cells.
    partial: list[tuple[Record, dict[str, Any], list[FieldError]]] = field(default_factory=list)
    cells_read: bool = False  # by the fields they feed (_read_cells), once


def _read_cells(definition: ClassDefinition, mapped: _Mapped, columns: dict[str, str]) -> None:
    """Reads the cells of a mapped batch by the fields they feed (cell_text: a number in a
    text field is its text, a date cell a date); a row with a cell its field cannot hold
    joins the rows refused for their cells. Once per batch: the batch validated ahead of
    its unit of work is read before, and must not be read again."""
    if mapped.cells_read:
        return
    mapped.cells_read = True
    readers = cell_readers(definition)
    for _, values, cell_errors in mapped.partial:
        cell_errors.extend(_at_columns(read_cells(readers, values), columns))
    items, rows = [], []
    for record, values in zip(mapped.rows, mapped.items, strict=True):
        if problems := read_cells(readers, values):
            mapped.partial.append((record, values, _at_columns(problems, columns)))
        else:
            items.append(values)
            rows.append(record)
    mapped.items, mapped.rows = items, rows


def _at_columns(problems: list[FieldError], columns: dict[str, str]) -> list[FieldError]:
    return [FieldError(_column_of(p, columns), p.message, p.code) for p in problems]


def _commit_behind(
    open_writer: Callable[[], Any],
    batches: Iterator[list[Record]],
    map_batch: Callable[[list[Record]], _Mapped],
    store: Callable[[BatchWriter, _Mapped, Checked | None], bool],
    paths: CategoryPaths,
    summary: ImportSummary,
    columns: dict[str, str],
) -> None:
    """One unit of work per batch, each committed on a second thread while this one reads,
    maps and (when the last batch was mostly new objects) validates the next batch. A
    commit is mostly the database writing pages, which runs without the GIL, so the two
    overlap. The next unit of work opens only once the previous commit is done: batches
    still commit one after the other, whole or not at all."""
    pending: Future[None] | None = None
    submitted = 0  # rows read when the pending batch was handed over
    ahead: tuple[ClassDefinition, frozenset[str] | None] | None = None
    with ThreadPoolExecutor(1, thread_name_prefix="pimhub-import-commit") as committer:
        try:
            for batch in batches:
                mapped = map_batch(batch)
                checked = None
                if ahead is not None:
                    definition, languages = ahead
                    _read_cells(definition, mapped, columns)
                    checked = precheck(definition, paths.coded(mapped.items), languages)
                if pending is not None:
                    pending.result()
                    pending, summary.committed_rows = None, submitted
                context = open_writer()
                writer = context.__enter__()
                try:
                    created_before = summary.created
                    store(writer, mapped, checked)
                    pending = committer.submit(_commit_and_close, context, writer)
                except BaseException:
                    context.__exit__(*sys.exc_info())
                    raise
                submitted = summary.rows
                # Validating ahead is wasted on objects that exist (they are validated
                # merged), so it follows what the last batch was: mostly new or not.
                new = summary.created - created_before
                mostly_new = new * 2 >= len(mapped.items) > 0
                ahead = (writer.definition, writer.languages) if mostly_new else None
        finally:
            if pending is not None:
                pending.result()
                summary.committed_rows = submitted


def _commit_and_close(context: Any, writer: BatchWriter) -> None:
    try:
        writer.commit()
    except BaseException:
        context.__exit__(*sys.exc_info())
        raise
    context.__exit__(None, None, None)
