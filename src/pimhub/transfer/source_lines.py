"""Lines of a text source (CSV, JSON Lines) read within a preview's bounds, so that a huge
record is refused before it is held in memory."""

from __future__ import annotations

from typing import IO

from pimhub.catalog.errors import FieldError
from pimhub.transfer.source_types import RecordTooLarge, SourceLimits


class BoundedLines:
    """The lines of `text`, each read at most as far as the limits allow: a record (one or,
    quoted in CSV, several lines) over `record` characters, or more than `total` in all, is
    refused (RecordTooLarge) before it is held in memory."""

    def __init__(self, text: IO[str], record: int, total: int) -> None:
        self.text, self.record, self.total = text, record, total
        self.used = self.read = 0

    def __iter__(self) -> BoundedLines:
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
                f"a record over {chars(self.record)}",
                [FieldError("", f"a record over {chars(self.record)}", "too-large")],
            )
        if self.read > self.total:
            raise RecordTooLarge(
                f"more than {chars(self.total)} in all",
                [FieldError("", f"more than {chars(self.total)} in all", "too-large")],
            )
        return line

    def record_ended(self) -> None:
        self.used = 0


def bounded(text: IO[str], limits: SourceLimits) -> IO[str] | BoundedLines:
    if limits.max_record_chars is None and limits.max_read_chars is None:
        return text
    unbounded = 1 << 62
    return BoundedLines(
        text, limits.max_record_chars or unbounded, limits.max_read_chars or unbounded
    )


def chars(count: int) -> str:
    return f"{count >> 20} MiB of text" if count % (1 << 20) == 0 else f"{count} characters"
