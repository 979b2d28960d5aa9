"""The webhook endpoint form: what the user typed, as the REST body the service parses, and
back again for showing the form with their input kept."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData

from pimhub.catalog.errors import FieldError, NulCharacter
from pimhub.events.endpoints import CATALOG_TYPES, WebhookEndpoint
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
    # Inbound event types and patterns (magento.order.placed, erp.*), comma separated: the
    # catalog's are the checkboxes.
    inbound_types: str = ""
    sources: str = ""  # inbound sources heard, comma separated; empty: any
    transform: str = ""  # a JMESPath expression; empty: the body as is
    # The endpoint's updatedAt this form was made from (exact, to the microsecond): a save
    # over a newer one is refused instead of undoing it.
    updated_at: str = ""

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointForm:
        spec = endpoint.spec
        rate = "" if spec.rate_limit is None else f"{spec.rate_limit:g}"
        return cls(
            spec.url,
            spec.description,
            [t for t in spec.event_types if t in CATALOG_TYPES],
            list(spec.classes),
            ", ".join(spec.changed_fields),
            spec.payload.value,
            rate,
            ", ".join(t for t in spec.event_types if t not in CATALOG_TYPES),
            ", ".join(spec.sources),
            spec.transform or "",
            endpoint.updated_at.isoformat(),
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
            _text(form, "inboundTypes"),
            _text(form, "sources"),
            _text(form, "transform").strip(),
            _text(form, "updatedAt").strip(),
        )

    def expected(self) -> datetime | None:
        """The stamp this form was made from; None when absent or garbled."""
        try:
            stamp = datetime.fromisoformat(self.updated_at[:40])
        except ValueError:
            return None
        return stamp if stamp.tzinfo is not None else None

    def required_expected(self) -> datetime:
        """The stamp to save against. A save naming none is refused (as the object editor
        refuses one without a version): a form, or a script replaying an old one, that
        does not say what it started from would otherwise undo others' changes unseen."""
        stamp = self.expected()
        if stamp is None:
            message = "is missing or not a timestamp: reload the page and edit again"
            raise InvalidEndpoint(
                "the form does not say which version of the endpoint it was made from",
                [FieldError("updatedAt", message, "required")],
            )
        return stamp

    def differences(self, stored: EndpointForm) -> dict[str, str]:
        """The stored values, as the form shows them, of the inputs where they differ from
        this form's, keyed by input name."""
        pairs: dict[str, tuple[object, object]] = {
            "url": (self.url, stored.url),
            "description": (self.description, stored.description),
            "eventTypes": (sorted(self.event_types), sorted(stored.event_types)),
            "classes": (sorted(self.classes), sorted(stored.classes)),
            "changedFields": (_fields(self.changed_fields), _fields(stored.changed_fields)),
            "payload": (self.payload, stored.payload),
            "rateLimit": (self.rate_limit, stored.rate_limit),
            "inboundTypes": (_fields(self.inbound_types), _fields(stored.inbound_types)),
            "sources": (_fields(self.sources), _fields(stored.sources)),
            "transform": (self.transform, stored.transform),
        }
        shown = {
            "eventTypes": ", ".join(stored.event_types) or "(every catalog event)",
            "classes": ", ".join(stored.classes) or "(every class)",
            "changedFields": stored.changed_fields or "(any)",
            "rateLimit": stored.rate_limit or "(no limit)",
            "description": stored.description or "(empty)",
            "inboundTypes": stored.inbound_types or "(none)",
            "sources": stored.sources or "(any source)",
            "transform": stored.transform or "(none: the body as is)",
        }
        return {
            name: shown.get(name, str(theirs))
            for name, (mine, theirs) in pairs.items()
            if mine != theirs
        }

    def body(self) -> dict[str, Any]:
        """The REST body for the service; a rate that is not a number is refused here (the
        service takes numbers only, and a form has text), as is a ticked event type that is no
        checkbox's (the checkboxes are the catalog's types; others are typed)."""
        fields = _fields(self.changed_fields)
        unknown = [t for t in self.event_types if t not in CATALOG_TYPES]
        if unknown:
            message = (
                f"'{unknown[0][:60]}' is not one of the hub's event types: type inbound "
                "types in the field below"
            )
            raise InvalidEndpoint(
                "the webhook endpoint is not valid", [FieldError("eventTypes", message, "option")]
            )
        return {
            "url": self.url,
            "description": self.description,
            # One list, as REST takes it: a problem in a typed type is named by its place
            # after the ticked ones (errors_by_input shows it at the typed input).
            "eventTypes": [*self.event_types, *_fields(self.inbound_types)],
            "classes": self.classes,
            "changedFields": fields,
            "payload": self.payload,
            "rateLimit": _rate(self.rate_limit),
            "sources": _fields(self.sources),
            "transform": self.transform or None,
        }


def _fields(text: str) -> list[str]:
    return [f.strip() for f in text.split(",") if f.strip()]


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
    """Field errors by the form input they belong to (`classes[2]` is `classes`). A problem
    in one item of eventTypes is one in a typed inbound type: the ticked ones are checked
    against the checkboxes before (EndpointForm.body), and the hub's own types are fine."""
    found: dict[str, str] = {}
    for name, message in errors.items():
        base = name.split("[", 1)[0]
        if base == "eventTypes" and "[" in name:
            base = "inboundTypes"
        found.setdefault(base, message)
    return found
