"""The delivery log's filters as they travel in a query string or a replay form: parsed into
the service's DeliveryFilter, every bad value named, and back into a query string."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from pimhub.admin.webhook_forms import ENDPOINT_ID
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.events import EventType
from pimhub.catalog.query import INT64_MAX
from pimhub.events.deliveries import DeliveryFilter, DeliveryStatus

# The statuses offered, with what each asks of the service. "retrying": failed at least once
# and waiting for its next attempt.
STATUSES: dict[str, tuple[DeliveryStatus, bool | None]] = {
    "pending": (DeliveryStatus.PENDING, None),
    "retrying": (DeliveryStatus.PENDING, True),
    "delivering": (DeliveryStatus.DELIVERING, None),
    "delivered": (DeliveryStatus.DELIVERED, None),
    "dead": (DeliveryStatus.DEAD, None),
}
FIELDS = ("status", "eventType", "endpoint", "object", "since", "until")
MAX_OBJECT = 255


@dataclass
class LogFilter:
    """The filter as given (kept for the form) and as the service takes it."""

    given: dict[str, str] = field(default_factory=dict)
    where: DeliveryFilter = field(default_factory=DeliveryFilter)
    errors: list[FieldError] = field(default_factory=list)

    def query(self, **extra: str | int) -> str:
        """The query string of this filter (only the fields given), plus `extra`."""
        pairs = [(k, v) for k, v in self.given.items() if v] + [
            (k, str(v)) for k, v in extra.items()
        ]
        return urlencode(pairs)

    def refused(self) -> InvalidInput:
        return InvalidInput("the filter is not valid", self.errors)


def parse_filter(raw: Mapping[str, object]) -> LogFilter:
    """A LogFilter from query parameters or form fields; values that are not text count as
    absent, bad ones are collected in `errors` (the where then ignores them)."""
    found = LogFilter()
    for name in FIELDS:
        value = raw.get(name)
        if isinstance(value, str) and value.strip():
            found.given[name] = value.strip()
    g, errors = found.given, found.errors
    for name, value in g.items():
        if "\x00" in value:
            errors.append(FieldError(name, "contains a NUL character", "nul"))
    if errors:
        return found
    status, attempted = None, None
    if "status" in g:
        if g["status"] in STATUSES:
            status, attempted = STATUSES[g["status"]]
        else:
            errors.append(FieldError("status", f"must be one of {', '.join(STATUSES)}", "option"))
    event_type = g.get("eventType")
    if event_type is not None and event_type not in {t.value for t in EventType}:
        errors.append(FieldError("eventType", "is not an event type", "option"))
    endpoint = g.get("endpoint")
    if endpoint is not None and not ENDPOINT_ID.fullmatch(endpoint):
        errors.append(FieldError("endpoint", "is not an endpoint id", "format"))
    obj = g.get("object")
    if obj is not None and len(obj) > MAX_OBJECT:
        errors.append(FieldError("object", f"is longer than {MAX_OBJECT} characters", "length"))
    since = _time(g.get("since"), "since", errors)
    until = _time(g.get("until"), "until", errors)
    if errors:
        return found
    by_uuid = obj is not None and _is_uuid(obj)
    found.where = DeliveryFilter(
        endpoint_id=endpoint,
        status=status,
        event_type=event_type,
        object_uuid=str(uuid.UUID(obj)) if obj is not None and by_uuid else None,
        business_key=obj if obj is not None and not by_uuid else None,
        since=since,
        until=until,
        attempted=attempted,
    )
    return found


def parse_cursor(raw: object) -> int | None:
    """The `after` of a page: the last id of the previous one."""
    if not isinstance(raw, str) or not raw:
        return None
    if not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= INT64_MAX:
        raise InvalidInput(
            "the page cursor is not valid", [FieldError("after", "must be a delivery id", "format")]
        )
    return int(raw)


def parse_delivery_id(raw: str) -> int | None:
    """A delivery id from the address; None when it cannot be one."""
    if not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= INT64_MAX:
        return None
    return int(raw)


def _time(value: str | None, name: str, errors: list[FieldError]) -> datetime | None:
    """A time from an ISO 8601 text (the browser's date-time input sends 2026-12-04T21:30);
    without an offset it is UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        errors.append(FieldError(name, "must be a date and time like 2026-12-04T21:30", "format"))
        return None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36
