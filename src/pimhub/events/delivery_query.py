"""The delivery log's filter from the texts of a request (REST's query parameters, the admin's
form or query string): one parser, so both refuse and accept the same values. Every bad value
is reported at once, named by its parameter."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.events.deliveries import DeliveryFilter, DeliveryStatus

# The parameters, by the names REST documents (docs/webhooks.md).
PARAMETERS = (
    "endpoint",
    "status",
    "eventType",
    "eventId",
    "uuid",
    "businessKey",
    "since",
    "until",
)
# Each status name with what it asks of the log: the status and whether the delivery was
# tried already (None: either way).
STATUSES: Mapping[str, tuple[DeliveryStatus, bool | None]] = {
    s.value: (s, None) for s in DeliveryStatus
}
# Unix seconds (as REST took them before it parsed times itself); ASCII digits only: '²' is a
# digit to str.isdigit but no number to int().
_EPOCH = re.compile(r"-?[0-9]{1,11}(\.[0-9]{1,9})?")
TIME_MESSAGE = "must be a date and time like 2026-12-04T21:30 (UTC unless an offset is given)"


class InvalidParameter(InvalidInput):
    code = "invalid-parameter"
    title = "Invalid parameter"


def parse_delivery_filter(
    given: Mapping[str, str | None],
    statuses: Mapping[str, tuple[DeliveryStatus, bool | None]] = STATUSES,
) -> DeliveryFilter:
    """A DeliveryFilter from parameter texts (absent or empty: no condition), or
    InvalidParameter naming each bad one. `statuses`: the status names accepted."""
    values = {name: given.get(name) or None for name in PARAMETERS}
    errors = [
        FieldError(name, "contains a NUL character", "nul")
        for name, value in values.items()
        if value is not None and "\x00" in value
    ]
    if errors:
        raise InvalidParameter("a filter parameter is not valid", errors)
    status, attempted = None, None
    if (name := values["status"]) is not None:
        if name in statuses:
            status, attempted = statuses[name]
        else:
            message = f"must be one of {', '.join(statuses)}"
            errors.append(FieldError("status", message, "option"))
    since = parse_time(values["since"], "since", errors)
    until = parse_time(values["until"], "until", errors)
    if errors:
        raise InvalidParameter("a filter parameter is not valid", errors)
    return DeliveryFilter(
        endpoint_id=values["endpoint"],
        status=status,
        event_type=values["eventType"],
        event_id=values["eventId"],
        object_uuid=values["uuid"],
        business_key=values["businessKey"],
        since=since,
        until=until,
        attempted=attempted,
    )


def parse_time(value: str | None, name: str, errors: list[FieldError]) -> datetime | None:
    """A time in UTC from ISO 8601 text (without an offset it is UTC; the browser's date-time
    input sends 2026-12-04T21:30) or Unix seconds; a bad one is added to `errors`."""
    if value is None:
        return None
    text = value.strip()
    try:
        if _EPOCH.fullmatch(text):
            return datetime.fromtimestamp(float(text), UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        errors.append(FieldError(name, TIME_MESSAGE, "format"))
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # 9999-12-31T23:59:59-23:59 is past the year 9999 in UTC.
        errors.append(FieldError(name, "is outside the years 1 to 9999 in UTC", "out-of-range"))
        return None


def parse_count(raw: str, *, maximum: int) -> int | None:
    """A positive whole number from ASCII digits, at most `maximum`; None when `raw` is not
    one (a delivery id in an address, a page cursor)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(maximum)):
        return None
    number = int(raw)
    return number if 0 < number <= maximum else None
