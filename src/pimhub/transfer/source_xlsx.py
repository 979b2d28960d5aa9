"""XLSX sources: the rows of one sheet, read with openpyxl once the workbook's zip has been
checked against the limits (a zip bomb is refused before openpyxl opens it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from pimhub.catalog.errors import FieldError
from pimhub.transfer.source_types import (
    RATIO_FROM,
    Record,
    SourceLimits,
    SourceOptions,
    UnreadableSource,
    check_header,
)

_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s>/]")


def checkxlsx_records(path: Path, limits: SourceLimits) -> None:
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

    check_zip_directory(path)
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
                    count = count_shared_strings(book.open(info), limits.xlsx_max_shared_strings)
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


def check_zip_directory(path: Path) -> None:
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


def count_shared_strings(part: IO[bytes], limit: int) -> int:
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


def xlsx_records(path: Path, options: SourceOptions, limits: SourceLimits) -> Iterator[Record]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    checkxlsx_records(path, limits)
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
        check_header(list(columns))
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
