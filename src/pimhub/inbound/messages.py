"""Inbound messages as the audit keeps them, and what receiving one came to."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pimhub.catalog.objects import iso

ORDER_KEY_CHARS = 80  # webhook_deliveries.order_key / outbox.order_key


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # stored and routed into the outbox (answered 202)
    DUPLICATE = "duplicate"  # its message id was accepted before (answered 200, not stored)
    REJECTED = "rejected"  # refused with a problem (answered 4xx/503)


class Verification(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not-checked"  # refused before the check (unknown size, disabled source)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the sender is told: accepted (a new event) or a duplicate of an earlier message."""

    outcome: Outcome
    message: int  # the audit row's id
    event_id: str | None  # the outbox event (the accepted original's, for a duplicate)
    duplicate_of: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.outcome.value,
            "message": self.message,
            "eventId": self.event_id,
            "duplicateOf": self.duplicate_of,
        }


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One request to /inbound/{source} as audited."""

    id: int
    source: str
    message_id: str | None
    event_type: str | None
    key: str | None
    received_at: datetime
    verification: Verification
    outcome: Outcome
    problem: str | None  # the rejection's stable code
    reason: str | None  # the rejection's detail
    payload_hash: str
    size: int
    remote: str | None
    event_id: str | None
    duplicate_of: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "messageId": self.message_id,
            "eventType": self.event_type,
            "key": self.key,
            "receivedAt": iso(self.received_at),
            "verification": self.verification.value,
            "outcome": self.outcome.value,
            "problem": self.problem,
            "reason": self.reason,
            "payloadHash": self.payload_hash,
            "size": self.size,
            "remote": self.remote,
            "eventId": self.event_id,
            "duplicateOf": self.duplicate_of,
        }


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """Which audited messages to list; every given condition must hold."""

    source: str | None = None
    event_type: str | None = None
    key: str | None = None
    outcome: Outcome | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """What the inbox stores for a verified, valid message, in one transaction with the
    outbox event it becomes (inbound_event_payload)."""

    source: str
    message_id: str
    event_type: str
    key: str | None
    received_at: datetime
    body: str  # the body as received, decoded
    payload: Any  # the body parsed
    payload_hash: str
    size: int
    remote: str | None


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    source: str
    received_at: datetime
    verification: Verification
    problem: str
    reason: str
    payload_hash: str
    size: int
    remote: str | None
    message_id: str | None = None
    event_type: str | None = None
    key: str | None = None


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def inbound_event_payload(message: AcceptedMessage) -> dict[str, Any]:
    """The outbox body of an inbound event, shaped like a catalog event's `{type, timestamp,
    data}` so that every destination (and a Standard Webhooks receiver) reads it the same way;
    the sender's own document is `data.payload`, untouched."""
    return {
        "type": message.event_type,
        "timestamp": iso(message.received_at),
        "data": {
            "source": message.source,
            "messageId": message.message_id,
            "key": message.key,
            "payload": message.payload,
        },
    }


def inbound_order_key(source: str, key: str | None, event_id: str) -> str:
    """Deliveries of one source's key (an order id, a SKU) go out one at a time, in the order
    received; a message without a key is ordered by nothing but itself."""
    if key is None:
        return f"in:{source}:#{event_id}"
    whole = f"in:{source}:{key}"
    if len(whole) <= ORDER_KEY_CHARS:
        return whole
    return f"in:{source}:#" + hashlib.sha256(key.encode()).hexdigest()[:40]
