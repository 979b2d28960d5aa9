"""The delivery log's filters as they travel in a query string or a replay form: parsed into
the service's DeliveryFilter, every bad value named, and back into a query string."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.query import INT64_MAX
from pimhub.events.deliveries import DeliveryFilter, DeliveryStatus
from pimhub.events.delivery_query import parse_count, parse_delivery_filter

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
    absent, bad ones are collected in `errors` (the where then ignores them). The values are
    checked by the parser REST uses (events/delivery_query.py); the admin adds only its
    "object" (a uuid or a business key) and the "retrying" status."""
    found = LogFilter()
    for name in FIELDS:
        value = raw.get(name)
        if isinstance(value, str) and value.strip():
            found.given[name] = value.strip()
    g = found.given
    obj = g.get("object")
    if obj is not None and len(obj) > MAX_OBJECT:
        found.errors.append(
            FieldError("object", f"is longer than {MAX_OBJECT} characters", "length")
        )
        return found
    by_uuid = obj is not None and _is_uuid(obj)
    params = {
        "endpoint": g.get("endpoint"),
        "status": g.get("status"),
        "eventType": g.get("eventType"),
        "uuid": str(uuid.UUID(obj)) if obj is not None and by_uuid else None,
        "businessKey": obj if not by_uuid else None,
        "since": g.get("since"),
        "until": g.get("until"),
    }
    try:
        found.where = parse_delivery_filter(params, STATUSES)
    except InvalidInput as exc:
        # The form has one input for the object, whichever parameter it became.
        found.errors = [
            replace(e, field="object") if e.field in ("uuid", "businessKey") else e
            for e in exc.errors
        ]
    return found


def parse_cursor(raw: object) -> int | None:
    """The `after` of a page: the last id of the previous one."""
    if not isinstance(raw, str) or not raw:
        return None
    found = parse_count(raw, maximum=INT64_MAX)
    if found is None:
        raise InvalidInput(
            "the page cursor is not valid", [FieldError("after", "must be a delivery id", "format")]
        )
    return found


def parse_delivery_id(raw: str) -> int | None:
    """A delivery id from the address; None when it cannot be one."""
    return parse_count(raw, maximum=INT64_MAX)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36
