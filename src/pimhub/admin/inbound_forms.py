"""What the inbound pages read from addresses, query strings and forms: source names and ids
(refused before they reach a query), the audit's filter, page cursors and the rotation
overlap; every bad value named."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData

from pimhub.admin.web import text_field
from pimhub.catalog.errors import FieldError, InvalidInput
from pimhub.catalog.query import INT64_MAX
from pimhub.events.delivery_query import parse_count, parse_time
from pimhub.inbound.errors import MessageNotFound, RefusalNotFound, SourceNotFound
from pimhub.inbound.messages import MessageFilter, Outcome
from pimhub.inbound.sources import SourceSpec

# inbound.sources: a source's name; anything else names no source and is answered 404 before
# a query (PostgreSQL refuses a NUL in text with an error, not an empty answer).
SOURCE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,29}")
# Half of a UTF-16 pair on its own: no page or database can encode it.
_SURROGATE = re.compile("[\ud800-\udfff]")
FILTER_FIELDS = ("source", "type", "key", "outcome", "since", "until")
MAX_TYPE = 200
MAX_KEY = 255
MAX_OVERLAP_HOURS = 24 * 366


def checked_source(raw: str) -> str:
    if not SOURCE_NAME.fullmatch(raw):
        raise SourceNotFound(f"no inbound source {raw[:40]!r}")
    return raw


def checked_message_id(raw: str) -> int:
    found = parse_count(raw, maximum=INT64_MAX)
    if found is None:
        raise MessageNotFound(f"no inbound message {raw[:40]!r}")
    return found


def checked_refusal_id(raw: str) -> int:
    found = parse_count(raw, maximum=INT64_MAX)
    if found is None:
        raise RefusalNotFound(f"no refused item {raw[:40]!r}")
    return found


def parse_cursor(raw: object, name: str) -> int | None:
    """A page's cursor (`before` of the audit, `after` of the refusals): a row id."""
    if not isinstance(raw, str) or not raw:
        return None
    found = parse_count(raw, maximum=INT64_MAX)
    if found is None:
        raise InvalidInput(
            "the page cursor is not valid", [FieldError(name, "must be a row id", "format")]
        )
    return found


@dataclass
class AuditFilter:
    """The audit's filter as given (kept for the form) and as the service takes it."""

    given: dict[str, str] = field(default_factory=dict)
    where: MessageFilter = field(default_factory=MessageFilter)
    errors: list[FieldError] = field(default_factory=list)

    def query(self, **extra: str | int) -> str:
        pairs = [(k, v) for k, v in self.given.items() if v] + [
            (k, str(v)) for k, v in extra.items()
        ]
        return urlencode(pairs)


def parse_audit_filter(raw: Mapping[str, Any]) -> AuditFilter:
    """An AuditFilter from query parameters; values that are not text count as absent, bad
    ones are collected in `errors` (nothing is listed until they are corrected)."""
    found = AuditFilter()
    for name in FILTER_FIELDS:
        value = raw.get(name)
        if isinstance(value, str) and value.strip():
            found.given[name] = value.strip()
    g, errors = found.given, found.errors
    for name, value in g.items():
        if "\x00" in value:
            errors.append(FieldError(name, "contains a NUL character", "nul"))
        elif _SURROGATE.search(value):
            errors.append(FieldError(name, "contains a lone surrogate", "surrogate"))
    if errors:
        return found
    source = g.get("source")
    if source is not None and not SOURCE_NAME.fullmatch(source):
        errors.append(FieldError("source", "is not a source name", "format"))
    for name, most in (("type", MAX_TYPE), ("key", MAX_KEY)):
        if len(g.get(name, "")) > most:
            errors.append(FieldError(name, f"is longer than {most} characters", "length"))
    outcome = g.get("outcome")
    if outcome is not None and outcome not in {o.value for o in Outcome}:
        message = f"must be one of {', '.join(o.value for o in Outcome)}"
        errors.append(FieldError("outcome", message, "option"))
    since = parse_time(g.get("since"), "since", errors)
    until = parse_time(g.get("until"), "until", errors)
    if errors:
        return found
    found.where = MessageFilter(
        source=source,
        event_type=g.get("type"),
        key=g.get("key"),
        outcome=Outcome(outcome) if outcome else None,
        since=since,
        until=until,
    )
    return found


def overlap(form: FormData) -> timedelta | None:
    """How long the previous secret stays valid after a rotation; empty: the default."""
    raw = text_field(form, "overlapHours").strip()
    if not raw:
        return None
    try:
        hours = float(raw) if raw.isascii() and len(raw) <= 20 else math.nan
    except ValueError:
        hours = math.nan
    if not math.isfinite(hours) or not 0 <= hours <= MAX_OVERLAP_HOURS:
        message = f"must be a number of hours from 0 to {MAX_OVERLAP_HOURS}"
        raise InvalidInput(
            f"overlapHours: {message}", [FieldError("overlapHours", message, "range")]
        )
    return timedelta(hours=hours)


def editable(spec: SourceSpec) -> dict[str, Any]:
    """A source's settings as the YAML editor shows them: its configuration without the
    settings left unset (null, empty text, lists and mappings, an empty type prefix or map), so the
    text is what one would write. Each left out reads back as the same default."""
    shown: dict[str, Any] = {}
    for key, value in spec.to_dict().items():
        if key == "eventType" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if v not in ("", {})}
        if value not in (None, "", [], {}):
            shown[key] = value
    return shown
