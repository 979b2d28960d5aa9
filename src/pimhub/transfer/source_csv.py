"""CSV sources: the delimiter sniffed unless given, one record per row with the file line
it starts on, a row with more cells than the header has columns refused on its own."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from typing import IO, Any

from pimhub.catalog.errors import FieldError
from pimhub.transfer.source_lines import BoundedLines, bounded
from pimhub.transfer.source_types import Record, SourceLimits, SourceOptions, check_header

SNIFF_BYTES = 64 * 1024
# Magento exports hold descriptions of several hundred kilobytes in one cell.
csv.field_size_limit(64 * 1024 * 1024)

_EXTRA = "\x00extra"  # DictReader's key for cells beyond the header (no column has a NUL)


def csv_records(
    text: IO[str], options: SourceOptions, limits: SourceLimits = SourceLimits()
) -> Iterator[Record]:
    delimiter = options.delimiter or _sniff(text)
    lines = bounded(text, limits)
    reader = csv.DictReader(lines, delimiter=delimiter, restkey=_EXTRA)
    if not reader.fieldnames:
        return
    header = tuple(reader.fieldnames)
    check_header(list(header))
    ended = reader.line_num  # the last line read so far: the header's
    for number, row in enumerate(_records(reader, lines), start=1):
        # Most records are one line; one that spans more starts as many lines before its
        # end as its cells hold line breaks (the reader skips blank lines before it).
        line = reader.line_num if reader.line_num - ended == 1 else reader.line_num - _breaks(row)
        ended = reader.line_num
        if _EXTRA in row:
            cells = len(header) + len(row[_EXTRA])
            message = f"more cells ({cells}) than the header has columns ({len(header)})"
            yield Record(number, {}, header, FieldError("", message, "shape"), line)
            continue
        yield Record(number, {k: v for k, v in row.items() if v is not None}, header, None, line)


def _records(
    reader: csv.DictReader[str], lines: IO[str] | BoundedLines
) -> Iterator[dict[str, Any]]:
    """The reader's rows, each counted afresh against a record's bound."""
    for row in reader:
        if isinstance(lines, BoundedLines):
            lines.record_ended()
        yield row


_BREAK = re.compile(r"\r\n|\r|\n")  # what ends a line of a file read with newline=""


def _breaks(row: Mapping[str, Any]) -> int:
    cells = [c for v in row.values() for c in (v if isinstance(v, list) else [v])]
    return sum(len(_BREAK.findall(c)) for c in cells if isinstance(c, str))


def _sniff(text: IO[str]) -> str:
    sample = text.read(SNIFF_BYTES)
    text.seek(0)
    try:
        return csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","
