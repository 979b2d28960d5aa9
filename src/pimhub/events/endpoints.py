"""Webhook endpoints: what they want to hear about and how their body is shaped."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import orjson

from pimhub.catalog.errors import FieldError
from pimhub.catalog.events import OPERATIONAL_EVENTS, EventType
from pimhub.catalog.objects import iso
from pimhub.events.errors import InvalidEndpoint
from pimhub.events.transform import apply_transform, transform_problem

MAX_URL_LENGTH = 2048
# Event types of inbound sources (magento.order.placed, erp.stock.changed): dotted lower-case
# names outside the hub's own families, at most as long as the outbox column.
MAX_EVENT_TYPE = 40
_INBOUND_TYPE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+")
_HUB_FAMILIES = ("object.", "workflow.", "class.", "asset.", "webhook.")
# What may come before ".*" in a subscription pattern: magento, or magento.order.
_TYPE_PREFIX = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*")
CATALOG_TYPES = frozenset(t.value for t in EventType)
# An inbound source's name, as it appears in /inbound/{name} and an endpoint's `sources`.
SOURCE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,29}")
MAX_SOURCES = 100
EDITABLE = (
    "url",
    "description",
    "eventTypes",
    "classes",
    "changedFields",
    "payload",
    "sources",
    "transform",
)
EDITABLE_ALL = (*EDITABLE, "enabled", "rateLimit")


class PayloadMode(StrEnum):
    FULL = "full"  # data.object carries the object's current state
    THIN = "thin"  # only the identity and changed field names; the receiver fetches the rest


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """What an operator sets on an endpoint. Empty filters mean "everything"."""

    url: str
    description: str = ""
    event_types: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    changed_fields: tuple[str, ...] = ()
    payload: PayloadMode = PayloadMode.FULL
    enabled: bool = True
    rate_limit: float | None = None  # deliveries per second per worker; None: unlimited
    # Inbound events (types outside the catalog's, e.g. magento.order.placed) come only when
    # event_types names them (or their prefix, "magento.*"), and only from these sources
    # (empty: any source).
    sources: tuple[str, ...] = ()
    transform: str | None = None  # a JMESPath expression reshaping the body (events.transform)

    def wants(self, event_type: str, class_name: str, changed: tuple[str, ...]) -> bool:
        if is_inbound_type(event_type):
            # class_name is the source's name. "All events" subscribers (no types named)
            # never get inbound events: they were written against the catalog's shapes.
            if self.sources and class_name not in self.sources:
                return False
            return any(type_matches(p, event_type) for p in self.event_types)
        if event_type in OPERATIONAL_EVENTS:
            return event_type in self.event_types  # only when asked for by name
        if self.event_types and event_type not in self.event_types:
            return False
        if self.classes and class_name not in self.classes:
            return False
        # A field filter only narrows updates: creates, deletes and publishing flips always
        # matter to a receiver that keeps a copy, whatever fields they touched.
        if self.changed_fields and event_type == EventType.OBJECT_UPDATED:
            return any(f in self.changed_fields for f in changed)
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "description": self.description,
            "eventTypes": list(self.event_types),
            "classes": list(self.classes),
            "changedFields": list(self.changed_fields),
            "payload": self.payload.value,
            "enabled": self.enabled,
            "rateLimit": self.rate_limit,
            "sources": list(self.sources),
            "transform": self.transform,
        }


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """An endpoint as stored, with its delivery health."""

    id: int
    endpoint_id: str
    spec: EndpointSpec
    created_at: datetime
    updated_at: datetime
    consecutive_failures: int = 0
    failing_since: datetime | None = None
    paused_until: datetime | None = None
    disabled_reason: str | None = None
    secret_rotated_at: datetime | None = None
    previous_secret_until: datetime | None = None
    # "webhook", or the kind of connector (e.g. "magento") that this pipeline destination is.
    kind: str = "webhook"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.endpoint_id,
            **self.spec.to_dict(),
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "health": {
                "consecutiveFailures": self.consecutive_failures,
                "failingSince": iso(self.failing_since) if self.failing_since else None,
                "pausedUntil": iso(self.paused_until) if self.paused_until else None,
                "disabledReason": self.disabled_reason,
            },
            "secretRotation": {
                "rotatedAt": iso(self.secret_rotated_at) if self.secret_rotated_at else None,
                "previousSecretValidUntil": iso(self.previous_secret_until)
                if self.previous_secret_until
                else None,
            },
        }


def inbound_type_problem(name: str) -> str | None:
    """Why `name` cannot be an inbound event type, or None."""
    if len(name) > MAX_EVENT_TYPE:
        return f"is longer than {MAX_EVENT_TYPE} characters"
    if name.startswith(_HUB_FAMILIES):
        families = ", ".join(_HUB_FAMILIES)
        return f"starts like the hub's own event types ({families})"
    if not _INBOUND_TYPE.fullmatch(name):
        return "must be dotted lower-case words, such as magento.order.placed"
    return None


def is_inbound_type(event_type: str) -> bool:
    """True for an event an inbound source sent, False for the hub's own."""
    return event_type not in CATALOG_TYPES


def type_matches(pattern: str, event_type: str) -> bool:
    """`pattern` is a type, or a prefix ending in ".*" (magento.* matches magento.order.placed)."""
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def parse_spec(body: Any, base: EndpointSpec | None = None) -> EndpointSpec:
    """An EndpointSpec from a JSON-like mapping; with `base`, only the given keys change (PATCH).
    Every bad key is reported at once."""
    if not isinstance(body, Mapping):
        raise InvalidEndpoint("the body must be a JSON object")
    errors: list[FieldError] = []
    unknown = sorted(set(body) - set(EDITABLE_ALL))
    errors += [FieldError(k, "unknown field", "unknown-field") for k in unknown]
    if base is None and "url" not in body:
        errors.append(FieldError("url", "is required", "required"))
    spec = base or EndpointSpec(url="")
    changes: dict[str, Any] = {}
    if "url" in body:
        changes["url"] = _url(body["url"], errors)
    if "description" in body:
        changes["description"] = _text(body["description"], "description", errors)
    if "eventTypes" in body:
        changes["event_types"] = _event_types(body["eventTypes"], errors)
    if "classes" in body:
        changes["classes"] = _names(body["classes"], "classes", errors, None)
    if "changedFields" in body:
        changes["changed_fields"] = _names(body["changedFields"], "changedFields", errors, None)
    if "payload" in body:
        changes["payload"] = _payload(body["payload"], errors)
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            errors.append(FieldError("enabled", "must be true or false", "type"))
        else:
            changes["enabled"] = body["enabled"]
    if "rateLimit" in body:
        changes["rate_limit"] = _rate(body["rateLimit"], errors)
    if "sources" in body:
        changes["sources"] = _sources(body["sources"], errors)
    if "transform" in body:
        changes["transform"] = _transform(body["transform"], errors)
    if errors:
        raise InvalidEndpoint("the webhook endpoint is not valid", errors)
    return replace(spec, **changes)


def _url(value: Any, errors: list[FieldError]) -> str:
    if not isinstance(value, str) or not value:
        errors.append(FieldError("url", "must be a non-empty string", "type"))
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(FieldError("url", "must be an absolute http(s) URL", "format"))
    elif len(value) > MAX_URL_LENGTH:
        errors.append(FieldError("url", f"is longer than {MAX_URL_LENGTH} characters", "length"))
    elif any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        errors.append(FieldError("url", "must not contain spaces or control characters", "format"))
    elif parts.username or parts.password:
        errors.append(FieldError("url", "must not carry credentials", "format"))
    return value


def _text(value: Any, name: str, errors: list[FieldError]) -> str:
    if not isinstance(value, str) or len(value) > 1000:
        errors.append(FieldError(name, "must be a string of at most 1000 characters", "type"))
        return ""
    return value


def _names(
    value: Any, name: str, errors: list[FieldError], valid: set[str] | None
) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        errors.append(FieldError(name, "must be a list of non-empty strings", "type"))
        return ()
    for i, item in enumerate(value):
        if valid is not None and item not in valid:
            allowed = ", ".join(sorted(valid))
            errors.append(FieldError(f"{name}[{i}]", f"'{item}' is not one of {allowed}", "option"))
    return tuple(dict.fromkeys(value))


def event_type_problem(name: str) -> str | None:
    """Why an endpoint cannot subscribe to `name`, or None: the hub's own types, inbound ones
    (magento.order.placed) and prefix patterns of inbound ones (magento.*) are fine."""
    if name in CATALOG_TYPES:
        return None
    if name.startswith(_HUB_FAMILIES):
        # A typo in one of the hub's own (object.craeted) must not pass as an inbound type
        # that never comes; nor may a pattern over them (object.*), which would match nothing.
        allowed = ", ".join(sorted(CATALOG_TYPES))
        return f"'{name}' is not one of {allowed}"
    if name.endswith(".*"):
        prefix = name[:-2]
        if len(name) > MAX_EVENT_TYPE or not _TYPE_PREFIX.fullmatch(prefix):
            return (
                f"'{name}' is not a pattern: it must be dotted lower-case words ending in .* "
                f"(such as magento.*), at most {MAX_EVENT_TYPE} characters"
            )
        return None
    problem = inbound_type_problem(name)
    return None if problem is None else f"'{name}' {problem}"


def _event_types(value: Any, errors: list[FieldError]) -> tuple[str, ...]:
    names = _names(value, "eventTypes", errors, None)
    for i, name in enumerate(value if names else ()):
        problem = event_type_problem(name)
        if problem is not None:
            errors.append(FieldError(f"eventTypes[{i}]", problem, "option"))
    return names


def _sources(value: Any, errors: list[FieldError]) -> tuple[str, ...]:
    message = f"must be a list of at most {MAX_SOURCES} source names"
    if not isinstance(value, list) or len(value) > MAX_SOURCES:
        errors.append(FieldError("sources", message, "type"))
        return ()
    for i, item in enumerate(value):
        if not isinstance(item, str) or not SOURCE_NAME.fullmatch(item):
            shown = repr(item)[:60] if isinstance(item, str) else "this item"
            errors.append(
                FieldError(
                    f"sources[{i}]",
                    f"{shown} is not a source name: lower-case letters, digits, - and _, "
                    "starting with a letter, at most 30 characters",
                    "format",
                )
            )
    return tuple(dict.fromkeys(v for v in value if isinstance(v, str)))


def _transform(value: Any, errors: list[FieldError]) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append(FieldError("transform", "must be a JMESPath expression or null", "type"))
        return None
    problem = transform_problem(value)
    if problem is not None:
        errors.append(FieldError("transform", problem, "syntax"))
        return None
    return value


def _payload(value: Any, errors: list[FieldError]) -> PayloadMode:
    try:
        return PayloadMode(value)
    except ValueError:
        errors.append(FieldError("payload", "must be 'full' or 'thin'", "option"))
        return PayloadMode.FULL


def _rate(value: Any, errors: list[FieldError]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        errors.append(FieldError("rateLimit", "must be a positive number or null", "type"))
        return None
    return float(value)


def shaped_body(stored: str | bytes, mode: PayloadMode, transform: str | None = None) -> bytes:
    """The bytes to send for a stored event document: as stored for full payloads without a
    transform (no decode and re-encode on the hot path), else reshaped: thin first, then the
    transform. A transform failing on this event raises TransformFailed."""
    raw = stored.encode() if isinstance(stored, str) else stored
    if transform is None:
        if mode == PayloadMode.FULL:
            return raw
        return orjson.dumps(shaped_payload(orjson.loads(raw), mode))
    return apply_transform(transform, shaped_payload(orjson.loads(raw), mode), len(raw))


def shaped_payload(payload: Mapping[str, Any], mode: PayloadMode) -> Mapping[str, Any]:
    """The event body for an endpoint: thin drops the object's (or asset's) state."""
    state = ("object", "asset")
    if mode == PayloadMode.FULL or not any(k in payload.get("data", {}) for k in state):
        return payload
    data = {k: v for k, v in payload["data"].items() if k not in state}
    return {**payload, "data": data}
