"""Deliveries (one event for one endpoint), their attempts, and the filters to find them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pimhub.catalog.objects import iso

RESPONSE_EXCERPT_BYTES = 2048  # of the answer read; also the excerpt's length in characters
ERROR_CHARS = 4096  # an attempt's error as stored (a connector's may quote a whole answer)
# What no text column can take: NUL (PostgreSQL refuses it) and lone surrogates (they have no
# UTF-8 form, so neither driver can send them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str | None, limit: int) -> str | None:
    """Text that came from the network (an answer's body, an error's message) as a text column
    on either backend can hold it: at most `limit` characters, what it cannot hold replaced by
    U+FFFD as an undecodable byte is."""
    if text is None:
        return None
    text = text[:limit]
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub("\ufffd", text)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or for an earlier event of its object)
    DELIVERING = "delivering"  # claimed by a worker until its lease runs out
    DELIVERED = "delivered"
    DEAD = "dead"  # its retry schedule ran out; replay puts it back to pending


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed delivery, with what is needed to send it."""

    id: int
    endpoint: int  # internal endpoint id
    event_id: str
    body: bytes  # the JSON document to send, exactly as signed
    attempts: int  # attempts made before this one
    lease_until: datetime  # the claim's lease; also the token that fences its outcome
    event_type: str = ""  # the outbox event's type (a broker's routing key is made of it)
    class_name: str = ""  # the object's class, or an inbound event's source
    # Why it cannot be sent at all (its destination's transform failed on this event): the
    # dispatcher records a failed attempt without sending, not the receiver's fault.
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one HTTP attempt came to."""

    delivery: Delivery
    attempted_at: datetime
    duration_ms: float
    status_code: int | None
    response_excerpt: str | None
    error: str | None
    retry_after: timedelta | None = None
    skipped: bool = False  # not sent: its lease was about to run out; released, not counted
    # False for a failure that is the one delivery's own (a connector refusing one product's
    # data): it is retried like any other, but says nothing about the receiver's health, so
    # it neither opens the circuit nor disables the endpoint.
    receiver_fault: bool = True

    def __post_init__(self) -> None:
        # Made storable here, where every destination's outcome passes (the HTTP sender, a
        # connector, an exception's message): a receiver answering a NUL must not stop its
        # attempt from being recorded, or the batch it is recorded with.
        excerpt = storable(self.response_excerpt, RESPONSE_EXCERPT_BYTES)
        if excerpt is not self.response_excerpt:
            object.__setattr__(self, "response_excerpt", excerpt)
        error = storable(self.error, ERROR_CHARS)
        if error is not self.error:
            object.__setattr__(self, "error", error)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410

    def describe(self) -> str:
        if self.error:
            return self.error
        return f"HTTP {self.status_code}"


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery as listed to operators."""

    id: int
    endpoint_id: str
    event_id: str
    event_type: str
    class_name: str
    object_uuid: str | None
    business_key: str | None
    version: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint_id,
            "webhookId": self.event_id,
            "eventType": self.event_type,
            "objectType": self.class_name,
            "uuid": self.object_uuid,
            "businessKey": self.business_key,
            "version": self.version,
            "status": self.status.value,
            "attempts": self.attempts,
            "nextAttemptAt": iso(self.next_attempt_at) if self.next_attempt_at else None,
            "lastError": self.last_error,
            "createdAt": iso(self.created_at),
            "deliveredAt": iso(self.delivered_at) if self.delivered_at else None,
        }


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: int
    delivery_id: int
    attempted_at: datetime
    status_code: int | None
    duration_ms: float
    response_excerpt: str | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "delivery": self.delivery_id,
            "attemptedAt": iso(self.attempted_at),
            "statusCode": self.status_code,
            "durationMs": round(self.duration_ms, 2),
            "responseExcerpt": self.response_excerpt,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    """Which deliveries to list or replay; every given condition must hold."""

    endpoint_id: str | None = None
    status: DeliveryStatus | None = None
    event_type: str | None = None
    event_id: str | None = None  # one outbox event's deliveries (an inbound message's fate)
    object_uuid: str | None = None
    business_key: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # True: only deliveries tried at least once (with status=pending: failed, waiting to retry);
    # False: only untried ones.
    attempted: bool | None = None


@dataclass(frozen=True, slots=True)
class EndpointStats:
    endpoint_id: str
    url: str
    enabled: bool
    counts: Mapping[str, int]  # by DeliveryStatus value
    failed_attempts: int
    oldest_pending_at: datetime | None


@dataclass(frozen=True, slots=True)
class EndpointActivity:
    """An endpoint's attempts over recent hours (oldest first) and its latest attempt in that
    window, for the admin's delivery-rate sparklines."""

    endpoint_id: str
    hours: tuple[datetime, ...]  # the start of each hour
    succeeded: tuple[int, ...]
    failed: tuple[int, ...]
    last_attempt: AttemptRecord | None


@dataclass(frozen=True, slots=True)
class Backlog:
    """What the outbox still has to deliver: events no worker has fanned out yet, deliveries
    not yet delivered or dead-lettered, and when the oldest event among both was written."""

    undispatched_events: int
    open_deliveries: int
    oldest_pending_at: datetime | None
