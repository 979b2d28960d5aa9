"""What an import reports: each refused row's error (row, line, column, value, reason,
clipped so that one huge cell cannot bloat a job) and the summary of a run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pimhub.catalog.validation import spell_nul, without_nul
from pimhub.catalog.variants import CHILDREN_ITEM_KEY, PARENT_ITEM_KEY
from pimhub.transfer.cell_text import as_written
from pimhub.transfer.sources import Record

ERRORS_KEPT = 100  # in the summary; the report file gets all of them
VALUE_SHOWN = 200  # characters of a refused value in row errors
MESSAGE_SHOWN = 500  # characters of a row error's message


def clipped(text: str, keep: int) -> str:
    """`text`, or its first `keep` characters with an ellipsis and its length: one
    150-million-character cell must not make every job answer 300 MB."""
    return text if len(text) <= keep else f"{text[:keep]}… ({len(text)} characters)"


def shown_value(value: Any) -> Any:
    """A refused value as row errors show it: long text (or a long JSON list or object, as
    JSON text) clipped to VALUE_SHOWN characters."""
    if isinstance(value, str):
        return clipped(value, VALUE_SHOWN)
    if isinstance(value, (list, dict)) and len(value) > 0:
        text = orjson.dumps(value, default=str).decode()
        return value if len(text) <= VALUE_SHOWN else clipped(text, VALUE_SHOWN)
    return value


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    value: Any
    message: str
    code: str
    # The line of the file where the row starts (CSV, JSON Lines, XLSX); differs from `row`
    # once a quoted cell holds a line break. None where the source has no lines (JSON, XML).
    line: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", shown_value(self.value))
        object.__setattr__(self, "message", clipped(self.message, MESSAGE_SHOWN))
        object.__setattr__(self, "column", clipped(self.column, VALUE_SHOWN))

    def to_dict(self) -> dict[str, Any]:
        # The refused cell may be refused for holding a NUL, which a stored job summary
        # (JSON on PostgreSQL) cannot hold: it is spelled out.
        shown: dict[str, Any] = {"row": self.row}
        if self.line is not None:
            shown["line"] = self.line
        return {
            **shown,
            "column": spell_nul(self.column),
            "value": without_nul(_json_value(self.value)),
            "message": spell_nul(self.message),
            "code": self.code,
        }


def _json_value(value: Any) -> Any:
    """A spreadsheet's date, date-time, time or duration as written (2024-01-02 10:30:00):
    JSON has no such values, and a stored job summary is JSON."""
    return as_written(value) if isinstance(value, (dt.date, dt.time, dt.timedelta)) else value


@dataclass(slots=True)
class ImportSummary:
    rows: int = 0  # records read
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0  # rows refused (one row may have several errors)
    skipped: int = 0  # rows the mapping's `skip` filter left out: neither accepted nor refused
    error_count: int = 0  # row errors reported, at least one per refused row
    committed_rows: int = 0
    aborted: bool = False
    dry_run: bool = False
    seconds: float = 0.0
    errors: list[RowError] = field(default_factory=list)  # the first ERRORS_KEPT
    # Families the accepted rows describe (`@variants`, `@parent`): parent and variant keys.
    parent_keys: set[str] = field(default_factory=set)
    variant_keys: set[str] = field(default_factory=set)
    assets: dict[str, Any] | None = None  # files of `asset` steps (transfer.asset_fetch)

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def parents(self) -> int:
        return len(self.parent_keys)

    @property
    def variants(self) -> int:
        return len(self.variant_keys)

    def count_family(self, key: str | None, item: dict[str, Any]) -> None:
        children = item.get(CHILDREN_ITEM_KEY)
        if key and children:
            self.parent_keys.add(key)
            self.variant_keys.update(children)
        parent = item.get(PARENT_ITEM_KEY)
        if key and parent:
            self.parent_keys.add(parent)
            self.variant_keys.add(key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "accepted": self.accepted,
            "refused": self.failed,
            "failed": self.failed,  # the older name of `refused`
            "skipped": self.skipped,
            "errorCount": self.error_count,
            "parents": self.parents,
            "variants": self.variants,
            "committedRows": self.committed_rows,
            "aborted": self.aborted,
            "dryRun": self.dry_run,
            "seconds": round(self.seconds, 3),
            "errors": [e.to_dict() for e in self.errors],
        } | ({"assets": self.assets} if self.assets is not None else {})


ErrorSink = Callable[[RowError], None]


_CELL = object()  # the record's value in the column, unless a value is given


def row_error(record: Record, column: str, message: str, code: str, value: Any = _CELL) -> RowError:
    """An error of `record` at `column`, showing the column's cell."""
    shown = record.values.get(column) if value is _CELL else value
    return RowError(record.number, column, shown, message, code, record.line)
