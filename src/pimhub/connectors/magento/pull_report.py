"""What a pull did: counts, the first warnings, and the checkpoint it reached."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_WARNINGS = 50


@dataclass(slots=True)
class PullReport:
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)  # the first MAX_WARNINGS
    warning_count: int = 0
    checkpoint: str | None = None  # the highest updated_at pulled, Magento's format

    def warn(self, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "warnings": list(self.warnings),
            "warningCount": self.warning_count,
            "checkpoint": self.checkpoint,
        }
