"""Magento's raw values as a pull reads them: its timestamps, extension attributes, numbers
and ids, which arrive as strings as often as not."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"  # Magento's updated_at, in UTC


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def extension(product: Mapping[str, Any]) -> Mapping[str, Any]:
    found = product.get("extension_attributes")
    return found if isinstance(found, Mapping) else {}


def number(value: Any) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(parsed):
        return None
    return int(parsed) if parsed.is_integer() else parsed


def whole(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
