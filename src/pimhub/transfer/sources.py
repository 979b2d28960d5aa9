"""Streaming readers: every format yields one record at a time, with its row number, so a
file of any size is read in constant memory.

A record is a flat mapping of column (or element, or key) names to values; CSV and XML give
strings, JSON gives what the JSON holds.

Hostile files are refused before they cost memory or time (SourceLimits): JSON, JSON Lines
and XML nested deeper than `max_depth`, and XLSX workbooks whose parts unpack too large, too
compressed or to too many shared strings (a zip bomb), checked before openpyxl opens them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, cast

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
        yield from _xlsx(path, options, limits)
        return
    if fmt == Format.XML:
        yield from _xml(path, options, limits.max_depth)
        return
    if fmt == Format.JSON:
        with path.open("rb") as raw:
            if opened is not None:
                opened(raw)
            yield from _json_array(raw, limits.max_depth)
        return
    try:
        with path.open(encoding=options.encoding, newline="") as text:
            if opened is not None:
                opened(cast(IO[bytes], text.buffer))
            yield from (
                _jsonl(_bounded(text, limits), limits.max_depth)
                if fmt == Format.JSONL
                else _csv(text, options, limits)
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


_EXTRA = "\x00extra"  # DictReader's key for cells beyond the header (no column has a NUL)


def _csv(
    text: IO[str], options: SourceOptions, limits: SourceLimits = SourceLimits()
) -> Iterator[Record]:
    delimiter = options.delimiter or _sniff(text)
    lines = _bounded(text, limits)
    reader = csv.DictReader(lines, delimiter=delimiter, restkey=_EXTRA)
    if not reader.fieldnames:
        return
    header = tuple(reader.fieldnames)
    _check_header(list(header))
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


class _BoundedLines:
    """The lines of `text`, each read at most as far as the limits allow: a record (one or,
    quoted in CSV, several lines) over `record` characters, or more than `total` in all, is
    refused (RecordTooLarge) before it is held in memory."""

    def __init__(self, text: IO[str], record: int, total: int) -> None:
        self.text, self.record, self.total = text, record, total
        self.used = self.read = 0

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        # One character more than allowed tells a line that goes over.
        line = self.text.readline(min(self.record - self.used, self.total - self.read) + 1)
        if not line:
            raise StopIteration
        self.used += len(line)
        self.read += len(line)
        if self.used > self.record:
            raise RecordTooLarge(
                f"a record over {_chars(self.record)}",
                [FieldError("", f"a record over {_chars(self.record)}", "too-large")],
            )
        if self.read > self.total:
            raise RecordTooLarge(
                f"more than {_chars(self.total)} in all",
                [FieldError("", f"more than {_chars(self.total)} in all", "too-large")],
            )
        return line

    def record_ended(self) -> None:
        self.used = 0


def _records(
    reader: csv.DictReader[str], lines: IO[str] | _BoundedLines
) -> Iterator[dict[str, Any]]:
    """The reader's rows, each counted afresh against a record's bound."""
    for row in reader:
        if isinstance(lines, _BoundedLines):
            lines.record_ended()
        yield row


def _bounded(text: IO[str], limits: SourceLimits) -> IO[str] | _BoundedLines:
    if limits.max_record_chars is None and limits.max_read_chars is None:
        return text
    unbounded = 1 << 62
    return _BoundedLines(
        text, limits.max_record_chars or unbounded, limits.max_read_chars or unbounded
    )


def _chars(count: int) -> str:
    return f"{count >> 20} MiB of text" if count % (1 << 20) == 0 else f"{count} characters"


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


def _check_header(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UnreadableSource(
                f"the header names the column '{name}' twice",
                [FieldError(name, "duplicate column", "shape")],
            )
        seen.add(name)


def _too_deep(where: str, limit: int) -> UnreadableSource:
    return UnreadableSource(
        f"{where} nests deeper than {limit} levels",
        [FieldError(where, f"nested deeper than {limit} levels", "too-deep")],
    )


def _deeper_than(value: Any, limit: int) -> bool:
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


def _jsonl(text: Iterable[str], max_depth: int = MAX_DEPTH) -> Iterator[Record]:
    import orjson

    # A record's number counts the records (a blank line is none); its line is the file's.
    number = 0
    for line_number, line in enumerate(text, start=1):
        if isinstance(text, _BoundedLines):
            text.record_ended()
        if not line.strip():
            continue
        number += 1
        try:
            value = orjson.loads(line)  # refuses more than 1024 levels itself
        except orjson.JSONDecodeError as exc:
            if "depth limit" in str(exc):
                raise _too_deep(f"line {line_number}", max_depth) from None
            # Lines stand alone: one that is not JSON is refused, the others go on.
            problem = FieldError("", f"not JSON: {exc}", "not-json")
            yield Record(number, {}, None, problem, line_number)
            continue
        if isinstance(value, (dict, list)) and _deeper_than(value, max_depth):
            raise _too_deep(f"line {line_number}", max_depth)
        if not isinstance(value, dict):
            message = f"expected a JSON object, got {type(value).__name__}"
            yield Record(number, {}, None, FieldError("", message, "shape"), line_number)
            continue
        yield Record(number, value, line=line_number)


def _json_array(raw: IO[bytes], max_depth: int) -> Iterator[Record]:
    """Items built from ijson's basic events, counting depth as they come: ijson.items keeps
    a prefix string per level, so its memory grows with the square of the depth, and a
    small file nested 100,000 deep took gigabytes before the first item."""
    import ijson  # type: ignore[import-untyped]

    events = ijson.basic_parse(raw, use_float=True)
    number = 0
    stack: list[Any] = []  # the containers of the item being built, outermost first
    key: str = ""
    try:
        first = next(events, None)
        if first is None or first[0] != "start_array":
            raise UnreadableSource(
                "the file is not a JSON array of objects",
                [FieldError("", "expected an array", "shape")],
            )
        # ijson.ObjectBuilder's work, inlined: this loop runs for every value of the file.
        for event, value in events:
            if event == "map_key":
                key = value
                continue
            if event == "end_map" or event == "end_array":
                if not stack:
                    break  # the end of the file's array
                done = stack.pop()
                if not stack:
                    yield Record(number, _object(done, f"item {number}"))
                continue
            if event == "start_map" or event == "start_array":
                value = {} if event == "start_map" else []
            if not stack:
                number += 1
            elif type(stack[-1]) is dict:
                stack[-1][key] = value
            else:
                stack[-1].append(value)
            if type(value) is dict or type(value) is list:
                stack.append(value)
                if len(stack) > max_depth:
                    raise _too_deep(f"item {number}", max_depth)
            elif not stack:
                yield Record(number, _object(value, f"item {number}"))  # refused: no object
        for _ in events:  # anything after the array is an error of the parser's
            break
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


def _xml(path: Path, options: SourceOptions, max_depth: int) -> Iterator[Record]:
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
                if len(stack) > max_depth:
                    raise _too_deep(
                        f"the XML (element <{str(element.tag)[:100]}> after record {number})",
                        max_depth,
                    )
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


_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s>/]")


def _check_xlsx(path: Path, limits: SourceLimits) -> None:
    """Refuses a workbook whose parts unpack beyond `limits` before openpyxl reads it:
    openpyxl loads every part but the worksheets whole (shared strings into a list), so a
    small zip could otherwise take gigabytes and minutes. zipfile stops at each part's
    declared size, so the sizes checked here are the sizes read."""
    from zipfile import BadZipFile, ZipFile

    def refuse(part: str, why: str, setting: str) -> UnreadableSource:
        return UnreadableSource(
            f"{path.name}: the part {part} {why} (PIMHUB_IMPORT_XLSX_{setting})",
            [FieldError(part, why, "too-large")],
        )

    _check_zip_directory(path)
    try:
        with ZipFile(path) as book:
            total = 0
            for info in book.infolist():
                name, size = info.filename[:200], info.file_size
                total += size
                if total > limits.xlsx_max_total_bytes:
                    raise refuse(
                        name,
                        f"brings the unpacked workbook over {limits.xlsx_max_total_bytes} bytes",
                        "MAX_TOTAL_BYTES",
                    )
                streamed = name.startswith("xl/worksheets/") and name.endswith(".xml")
                if not streamed and size > limits.xlsx_max_part_bytes:
                    raise refuse(
                        name,
                        f"unpacks to {size} bytes, more than {limits.xlsx_max_part_bytes}",
                        "MAX_PART_BYTES",
                    )
                if size > RATIO_FROM and size > limits.xlsx_max_ratio * max(info.compress_size, 1):
                    raise refuse(
                        name,
                        f"unpacks {size // max(info.compress_size, 1)} times larger than "
                        f"it is packed, more than {limits.xlsx_max_ratio:g}",
                        "MAX_RATIO",
                    )
            for info in book.infolist():
                if info.filename.lower().endswith("sharedstrings.xml"):
                    count = _count_shared_strings(book.open(info), limits.xlsx_max_shared_strings)
                    if count > limits.xlsx_max_shared_strings:
                        raise refuse(
                            info.filename[:200],
                            f"holds more than {limits.xlsx_max_shared_strings} shared strings",
                            "MAX_SHARED_STRINGS",
                        )
    except (BadZipFile, OSError, EOFError) as exc:
        raise UnreadableSource(
            f"{path.name} is not an XLSX workbook: {exc}", [FieldError("", "not XLSX", "xlsx")]
        ) from None


XLSX_MAX_PARTS = 10_000  # a workbook has tens of parts; zipfile holds an object for each
_END_OF_DIRECTORY = b"PK\x05\x06"


def _check_zip_directory(path: Path) -> None:
    """Refuses a zip whose directory lists more than XLSX_MAX_PARTS entries before zipfile
    reads it: a directory of millions of tiny entries would take gigabytes as ZipInfos. A
    count of 0xFFFF is ZIP64's marker for more, and refused too."""
    import struct

    with path.open("rb") as raw:
        raw.seek(0, 2)
        size = raw.tell()
        raw.seek(max(size - (1 << 16) - 22, 0))
        tail = raw.read()
    at = tail.rfind(_END_OF_DIRECTORY)
    if at < 0 or len(tail) < at + 22:
        return  # not a zip: zipfile says so
    (entries,) = struct.unpack_from("<H", tail, at + 10)
    if entries > XLSX_MAX_PARTS:
        raise UnreadableSource(
            f"{path.name} holds {entries if entries < 0xFFFF else 'at least 65535'} parts; "
            f"an XLSX workbook has at most {XLSX_MAX_PARTS}",
            [FieldError("", "too many parts", "too-large")],
        )


def _count_shared_strings(part: IO[bytes], limit: int) -> int:
    """The <si> elements of a shared strings part, counted as it unpacks; stops past
    `limit`."""
    count = 0
    tail = b""
    with part:
        while chunk := part.read(1 << 20):
            block = tail + chunk
            # A tag cut at the block's end is counted with the next block.
            cut = max(len(block) - 64, 0)
            count += sum(1 for m in _SHARED_STRING.finditer(block) if m.start() < cut)
            tail = block[cut:]
            if count > limit:
                return count
    return count + len(_SHARED_STRING.findall(tail))


def _xlsx(path: Path, options: SourceOptions, limits: SourceLimits) -> Iterator[Record]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _check_xlsx(path, limits)
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
        # openpyxl starts at row 1 and fills in missing rows: the header is row 1, and a
        # record's line is its row on the sheet. Empty rows are no records, so a record's
        # number counts only the rows that hold something.
        number = 0
        for line, row in enumerate(rows, start=2):
            values = {n: v for n, v in zip(names, row, strict=False) if n and v is not None}
            if values:
                number += 1
                yield Record(number, values, columns, None, line)
    finally:
        book.close()


def from_text(text: str, fmt: Format, options: SourceOptions = SourceOptions()) -> Iterator[Record]:
    """Records of an in-memory CSV or JSONL text (tests, small uploads)."""
    buffer = io.StringIO(text, newline="")
    yield from (_jsonl(buffer) if fmt == Format.JSONL else _csv(buffer, options))
