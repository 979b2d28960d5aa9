"""The webhook endpoint form: what the user typed, as the REST body the service parses, and
back again for showing the form with their input kept."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from pimhub.catalog.errors import FieldError, NulCharacter
from pimhub.events.endpoints import WebhookEndpoint
from pimhub.events.errors import EndpointNotFound, InvalidEndpoint

# Webhook ids are "ep_" and hex; connectors' rows are named; anything else is no endpoint,
# refused before it reaches a query (PostgreSQL refuses a NUL in text with an error).
ENDPOINT_ID = re.compile(r"[A-Za-z0-9_.-]{1,40}")
MAX_OVERLAP_HOURS = 24 * 366


@dataclass
class EndpointForm:
    url: str = ""
    description: str = ""
    event_types: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    changed_fields: str = ""
    payload: str = "full"
    rate_limit: str = ""

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointForm:
        spec = endpoint.spec
        rate = "" if spec.rate_limit is None else f"{spec.rate_limit:g}"
        return cls(
            spec.url,
            spec.description,
            list(spec.event_types),
            list(spec.classes),
            ", ".join(spec.changed_fields),
            spec.payload.value,
            rate,
        )

    @classmethod
    def posted(cls, form: FormData) -> EndpointForm:
        return cls(
            _text(form, "url").strip(),
            _text(form, "description"),
            _many(form, "eventTypes"),
            _many(form, "classes"),
            _text(form, "changedFields"),
            _text(form, "payload") or "full",
            _text(form, "rateLimit").strip(),
        )

    def body(self) -> dict[str, Any]:
        """The REST body for the service; a rate that is not a number is refused here (the
        service takes numbers only, and a form has text)."""
        fields = [f.strip() for f in self.changed_fields.split(",") if f.strip()]
        return {
            "url": self.url,
            "description": self.description,
            "eventTypes": self.event_types,
            "classes": self.classes,
            "changedFields": fields,
            "payload": self.payload,
            "rateLimit": _rate(self.rate_limit),
        }


def checked_endpoint_id(raw: str) -> str:
    if not ENDPOINT_ID.fullmatch(raw):
        raise EndpointNotFound(f"no webhook endpoint '{raw[:60]!r}'")
    return raw


def overlap_hours(form: FormData) -> float | None:
    """The rotation overlap asked for, in hours; empty: the configured default."""
    raw = _text(form, "overlapHours").strip()
    if not raw:
        return None
    try:
        hours = float(raw)
    except ValueError:
        hours = math.nan
    if not math.isfinite(hours) or not 0 <= hours <= MAX_OVERLAP_HOURS:
        message = f"must be a number of hours from 0 to {MAX_OVERLAP_HOURS}"
        raise InvalidEndpoint(
            f"overlapHours: {message}", [FieldError("overlapHours", message, "range")]
        )
    return hours


def _rate(raw: str) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        message = "must be a positive number of deliveries per second, or empty"
        raise InvalidEndpoint(
            "the webhook endpoint is not valid", [FieldError("rateLimit", message, "type")]
        )
    return value


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    if "\x00" in value:
        raise NulCharacter("NUL characters are not allowed", [FieldError(name, "contains NUL")])
    return value


def _many(form: FormData, name: str) -> list[str]:
    values = [v for v in form.getlist(name) if isinstance(v, str) and v]
    if any("\x00" in v for v in values):
        raise NulCharacter("NUL characters are not allowed", [FieldError(name, "contains NUL")])
    return values


def errors_by_input(errors: dict[str, str]) -> dict[str, str]:
    """Field errors by the form input they belong to (`eventTypes[2]` is `eventTypes`)."""
    found: dict[str, str] = {}
    for name, message in errors.items():
        found.setdefault(name.split("[", 1)[0], message)
    return found
