"""Streaming readers: every format yields one record at a time, with its row number, so a
file of any size is read in constant memory.

A record is a flat mapping of column (or element, or key) names to values; CSV and XML give
strings, JSON gives what the JSON holds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from pimhub.catalog.errors import FieldError, InvalidInput

SNIFF_BYTES = 64 * 1024
# Magento exports hold descriptions of several hundred kilobytes in one cell.
csv.field_size_limit(64 * 1024 * 1024)


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    JSON = "json"
    XML = "xml"
    XLSX = "xlsx"


class UnreadableSource(InvalidInput):
    code = "unreadable-source"
    title = "Unreadable source"


@dataclass(frozen=True, slots=True)
class Record:
    number: int  # 1-based: the data row of a CSV or sheet, the line of JSONL, the item of JSON
    values: Mapping[str, Any]
    # The columns of a source with a header (CSV, XLSX), one tuple shared by its records;
    # None where each record has its own keys (JSON, XML).
    header: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class SourceOptions:
    format: Format | None = None  # None: from the file name
    delimiter: str | None = None  # CSV; None: sniffed
    encoding: str = "utf-8-sig"  # utf-8-sig reads files with and without a BOM
    record_path: str | None = None  # XML: the element of one record, e.g. "products/product"
    sheet: str | None = None  # XLSX; None: the first


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


def read(path: Path, options: SourceOptions = SourceOptions()) -> Iterator[Record]:
    """The records of `path`, streamed."""
    fmt = format_of(path, options)
    if fmt == Format.XLSX:
        yield from _xlsx(path, options)
        return
    if fmt == Format.XML:
        yield from _xml(path, options)
        return
    if fmt == Format.JSON:
        with path.open("rb") as raw:
            yield from _json_array(raw)
        return
    try:
        with path.open(encoding=options.encoding, newline="") as text:
            yield from (_jsonl(text) if fmt == Format.JSONL else _csv(text, options))
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


def _csv(text: IO[str], options: SourceOptions) -> Iterator[Record]:
    delimiter = options.delimiter or _sniff(text)
    reader = csv.DictReader(text, delimiter=delimiter, restkey="\x00extra")
    if not reader.fieldnames:
        return
    header = tuple(reader.fieldnames)
    _check_header(list(header))
    for number, row in enumerate(reader, start=1):
        if "\x00extra" in row:
            raise UnreadableSource(
                f"row {number} has more cells than the header has columns",
                [FieldError(f"row {number}", "more cells than columns", "shape")],
            )
        yield Record(number, {k: v for k, v in row.items() if v is not None}, header)


def _sniff(text: IO[str]) -> str:
    sample = text.read(SNIFF_BYTES)
    text.seek(0)
    try:
        return csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _check_header(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UnreadableSource(
                f"the header names the column '{name}' twice",
                [FieldError(name, "duplicate column", "shape")],
            )
        seen.add(name)


def _jsonl(text: IO[str]) -> Iterator[Record]:
    import orjson

    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise UnreadableSource(
                f"line {number} is not JSON: {exc}", [FieldError(f"line {number}", "not JSON")]
            ) from None
        yield Record(number, _object(value, f"line {number}"))


def _json_array(raw: IO[bytes]) -> Iterator[Record]:
    import ijson  # type: ignore[import-untyped]

    try:
        for number, value in enumerate(ijson.items(raw, "item", use_float=True), start=1):
            yield Record(number, _object(value, f"item {number}"))
    except ijson.JSONError as exc:
        raise UnreadableSource(
            f"the file is not a JSON array of objects: {exc}", [FieldError("", "not JSON")]
        ) from None


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise UnreadableSource(
            f"{where} is not a JSON object", [FieldError(where, "expected an object", "shape")]
        )
    return value


def _xml(path: Path, options: SourceOptions) -> Iterator[Record]:
    """Records are the elements at `record_path` (slash-separated from the root's children,
    e.g. "product" or "catalog/products/product"); a record's values are its attributes and
    its child elements' text."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    if not options.record_path:
        raise UnreadableSource(
            "an XML import needs the path of its record element (--record-path product)",
            [FieldError("record_path", "required for XML", "required")],
        )
    wanted = [p for p in options.record_path.strip("/").split("/") if p]
    stack: list[str] = []
    number = 0
    try:
        for event, element in iterparse(str(path), events=("start", "end")):
            if event == "start":
                stack.append(element.tag)
                continue
            if stack[-len(wanted) :] == wanted:
                number += 1
                values: dict[str, Any] = dict(element.attrib)
                for child in element:
                    values[child.tag] = (child.text or "").strip()
                yield Record(number, values)
                element.clear()  # constant memory: the record is done with
            stack.pop()
    except (SyntaxError, DefusedXmlException) as exc:  # ParseError; entity and DTD tricks
        raise UnreadableSource(
            f"the XML cannot be read: {exc}", [FieldError("", str(exc), "xml")]
        ) from None


def _xlsx(path: Path, options: SourceOptions) -> Iterator[Record]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise UnreadableSource(
            f"{path.name} is not an XLSX workbook: {exc}", [FieldError("", "not XLSX", "xlsx")]
        ) from None
    try:
        if options.sheet and options.sheet not in book.sheetnames:
            raise UnreadableSource(
                f"{path.name} has no sheet '{options.sheet}' "
                f"(sheets: {', '.join(book.sheetnames)})",
                [FieldError("sheet", "no such sheet", "xlsx")],
            )
        sheet = book[options.sheet] if options.sheet else book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        names = ["" if h is None else str(h).strip() for h in header]
        columns = tuple(n for n in names if n)
        _check_header(list(columns))
        for number, row in enumerate(rows, start=1):
            values = {n: v for n, v in zip(names, row, strict=False) if n and v is not None}
            if values:
                yield Record(number, values, columns)
    finally:
        book.close()


def from_text(text: str, fmt: Format, options: SourceOptions = SourceOptions()) -> Iterator[Record]:
    """Records of an in-memory CSV or JSONL text (tests, small uploads)."""
    buffer = io.StringIO(text, newline="")
    yield from (_jsonl(buffer) if fmt == Format.JSONL else _csv(buffer, options))
