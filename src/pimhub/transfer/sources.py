"""Streaming readers: every format yields one record at a time, with its row number, so a
file of any size is read in constant memory.

A record is a flat mapping of column (or element, or key) names to values; CSV and XML give
strings, JSON gives what the JSON holds.

Hostile files are refused before they cost memory or time (SourceLimits): JSON, JSON Lines
and XML nested deeper than `max_depth`, and XLSX workbooks whose parts unpack too large, too
compressed or to too many shared strings (a zip bomb), checked before openpyxl opens them.

This module picks the reader; each format's is in source_csv, source_json, source_xml and
source_xlsx, what they share in source_types and source_lines.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, cast

from pimhub.catalog.errors import FieldError
from pimhub.transfer.source_csv import csv_records
from pimhub.transfer.source_json import json_array_records, jsonl_records
from pimhub.transfer.source_lines import bounded
from pimhub.transfer.source_types import (
    Format,
    Record,
    RecordTooLarge,
    SourceLimits,
    SourceOptions,
    UnreadableSource,
)
from pimhub.transfer.source_xlsx import xlsx_records
from pimhub.transfer.source_xml import xml_records

__all__ = [
    "Format",
    "Record",
    "RecordTooLarge",
    "SourceLimits",
    "SourceOptions",
    "UnreadableSource",
    "format_of",
    "from_text",
    "read",
]


def format_of(path: Path, options: SourceOptions) -> Format:
    if options.format is not None:
        return options.format
    suffix = path.suffix.lower().lstrip(".")
    aliases = {"ndjson": Format.JSONL, "tsv": Format.CSV, "txt": Format.CSV}
    try:
        return aliases.get(suffix) or Format(suffix)
    except ValueError:
        known = ", ".join(f.value for f in Format)
        raise UnreadableSource(
            f"cannot tell the format of {path.name}; name it with --format ({known})",
            [FieldError("format", f"unknown file extension '.{suffix}'")],
        ) from None


def read(
    path: Path,
    options: SourceOptions = SourceOptions(),
    limits: SourceLimits = SourceLimits(),
    *,
    opened: Callable[[IO[bytes]], None] | None = None,
) -> Iterator[Record]:
    """The records of `path`, streamed; UnreadableSource when it cannot be read or breaks
    `limits`. `opened` is given the file's byte stream where the reader has one (CSV, JSON
    Lines, JSON), so a job can tell how far it has read (its tell(), while it is open)."""
    fmt = format_of(path, options)
    if fmt == Format.XLSX:
        yield from xlsx_records(path, options, limits)
        return
    if fmt == Format.XML:
        yield from xml_records(path, options, limits.max_depth)
        return
    if fmt == Format.JSON:
        with path.open("rb") as raw:
            if opened is not None:
                opened(raw)
            yield from json_array_records(raw, limits.max_depth)
        return
    try:
        with path.open(encoding=options.encoding, newline="") as text:
            if opened is not None:
                opened(cast(IO[bytes], text.buffer))
            yield from (
                jsonl_records(bounded(text, limits), limits.max_depth)
                if fmt == Format.JSONL
                else csv_records(text, options, limits)
            )
    except UnicodeDecodeError as exc:
        raise UnreadableSource(
            f"{path.name} is not {options.encoding} text (byte {exc.start} of a read block); "
            "name its encoding with --encoding",
            [FieldError("encoding", str(exc.reason), "encoding")],
        ) from None
    except csv.Error as exc:
        raise UnreadableSource(f"{path.name}: {exc}", [FieldError("", str(exc), "csv")]) from None
    except LookupError:
        raise UnreadableSource(
            f"unknown encoding '{options.encoding}'",
            [FieldError("encoding", "unknown encoding", "encoding")],
        ) from None


def from_text(text: str, fmt: Format, options: SourceOptions = SourceOptions()) -> Iterator[Record]:
    """Records of an in-memory CSV or JSONL text (tests, small uploads)."""
    buffer = io.StringIO(text, newline="")
    yield from (jsonl_records(buffer) if fmt == Format.JSONL else csv_records(buffer, options))
