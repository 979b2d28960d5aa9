"""How long ago something happened, in words a person reads at a glance ("4 min", "2 h")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def span(duration: timedelta) -> str:
    """A duration rounded to its largest unit: '45 s', '12 min', '3 h', '2 days'."""
    seconds = max(0, int(duration.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def ago(moment: datetime | None, now: datetime) -> str:
    """'12 min ago', or 'never' for None; a moment ahead of `now` reads 'in 3 days'."""
    if moment is None:
        return "never"
    if moment > now:
        return f"in {span(moment - now)}"
    return f"{span(now - moment)} ago"


def stamp(moment: datetime | None) -> str:
    """The moment in UTC to the minute, as tables show it: '2026-12-04 21:30 UTC'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""
