"""What the import sources share: the formats, a record, the options and limits a file is
read with, and the errors and checks that refuse a file (a duplicate column, nesting too
deep) whatever its format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pimhub.catalog.errors import FieldError, InvalidInput


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    JSON = "json"
    XML = "xml"
    XLSX = "xlsx"


class UnreadableSource(InvalidInput):
    code = "unreadable-source"
    title = "Unreadable source"


class RecordTooLarge(UnreadableSource):
    code = "record-too-large"
    title = "Record too large"


MAX_DEPTH = 64
RATIO_FROM = 1 << 20  # a small part may compress well without being a bomb


@dataclass(frozen=True, slots=True)
class SourceLimits:
    """What a file may demand of the reader (the settings PIMHUB_IMPORT_XLSX_*)."""

    max_depth: int = MAX_DEPTH  # nesting of JSON values and XML elements
    xlsx_max_part_bytes: int = 100 << 20  # a part read whole: shared strings, styles, ...
    xlsx_max_total_bytes: int = 1 << 30  # all parts, the streamed worksheets included
    xlsx_max_ratio: float = 100.0  # unpacked / packed, for parts over RATIO_FROM bytes
    xlsx_max_shared_strings: int = 1_000_000
    # A preview's bounds (None for an import): characters of one CSV or JSON Lines record,
    # and of all records read, before the reader stops with RecordTooLarge, so a huge cell
    # is never read whole.
    max_record_chars: int | None = None
    max_read_chars: int | None = None


@dataclass(frozen=True, slots=True)
class Record:
    # 1-based, counting records only (blank lines and empty sheet rows are none): the data
    # row of a CSV or sheet, the record of JSONL, the item of JSON. Its place is `line`.
    number: int
    values: Mapping[str, Any]
    # The columns of a source with a header (CSV, XLSX), one tuple shared by its records;
    # None where each record has its own keys (JSON, XML).
    header: tuple[str, ...] | None = None
    # Why this record could not be read (a JSON Lines line that is no JSON object, a CSV
    # row with more cells than columns): the import refuses this row only and goes on.
    problem: FieldError | None = None
    # The line of the file where the record starts (1-based, a header counts), where the
    # source has lines: a CSV record whose quoted cells hold line breaks spans several.
    line: int | None = None


@dataclass(frozen=True, slots=True)
class SourceOptions:
    format: Format | None = None  # None: from the file name
    delimiter: str | None = None  # CSV; None: sniffed
    encoding: str = "utf-8-sig"  # utf-8-sig reads files with and without a BOM
    record_path: str | None = None  # XML: the element of one record, e.g. "products/product"
    sheet: str | None = None  # XLSX; None: the first


def check_header(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UnreadableSource(
                f"the header names the column '{name}' twice",
                [FieldError(name, "duplicate column", "shape")],
            )
        seen.add(name)


def too_deep(where: str, limit: int) -> UnreadableSource:
    return UnreadableSource(
        f"{where} nests deeper than {limit} levels",
        [FieldError(where, f"nested deeper than {limit} levels", "too-deep")],
    )


def deeper_than(value: Any, limit: int) -> bool:
    """Whether the JSON value nests more than `limit` containers (the value itself is 1)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            return True
        for child in container.values() if isinstance(container, dict) else container:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False
