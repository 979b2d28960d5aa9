"""Change events written to the outbox in the same transaction as the change."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pimhub.catalog.objects import CatalogObject, iso


class EventType(StrEnum):
    OBJECT_CREATED = "object.created"
    OBJECT_UPDATED = "object.updated"
    OBJECT_DELETED = "object.deleted"
    OBJECT_PUBLISHED = "object.published"
    OBJECT_UNPUBLISHED = "object.unpublished"
    WORKFLOW_TRANSITIONED = "workflow.transitioned"
    CLASS_CHANGED = "class.changed"
    # Operational: raised when the hub disables a failing webhook endpoint. Delivered only to
    # endpoints that name it in their event types, never to "all events" subscribers.
    WEBHOOK_ENDPOINT_DISABLED = "webhook.endpoint_disabled"


OPERATIONAL_EVENTS = frozenset({EventType.WEBHOOK_ENDPOINT_DISABLED})


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event waiting for delivery; `event_id` becomes the webhook-id, stable on retries."""

    event_id: str
    type: EventType
    class_name: str
    object_uuid: str | None
    business_key: str | None
    version: int
    changed_fields: tuple[str, ...]
    payload: dict[str, Any]
    created_at: datetime


def object_event_type(before: CatalogObject | None, after: CatalogObject | None) -> EventType:
    """One event per save; a flip of `published` names the event, otherwise create/update."""
    if after is None:
        return EventType.OBJECT_DELETED
    if before is None:
        return EventType.OBJECT_CREATED
    if before.published != after.published:
        return EventType.OBJECT_PUBLISHED if after.published else EventType.OBJECT_UNPUBLISHED
    return EventType.OBJECT_UPDATED


def object_event(
    event_type: EventType, obj: CatalogObject, changed: list[str], at: datetime
) -> OutboxEvent:
    """The Standard-Webhooks-shaped body `{type, timestamp, data}` for one object change."""
    data: dict[str, Any] = {
        "objectType": obj.class_name,
        "uuid": obj.uuid,
        "businessKey": obj.key,
        "version": obj.version,
        "changedFields": changed,
    }
    if event_type != EventType.OBJECT_DELETED:
        data["object"] = obj.to_dict()
    return OutboxEvent(
        event_id=f"evt_{uuidlib.uuid4().hex}",
        type=event_type,
        class_name=obj.class_name,
        object_uuid=obj.uuid,
        business_key=obj.key,
        version=obj.version,
        changed_fields=tuple(changed),
        payload={"type": event_type.value, "timestamp": iso(at), "data": data},
        created_at=at,
    )


def class_event(class_name: str, version: int, action: str, at: datetime) -> OutboxEvent:
    return OutboxEvent(
        event_id=f"evt_{uuidlib.uuid4().hex}",
        type=EventType.CLASS_CHANGED,
        class_name=class_name,
        object_uuid=None,
        business_key=None,
        version=version,
        changed_fields=(),
        payload={
            "type": EventType.CLASS_CHANGED.value,
            "timestamp": iso(at),
            "data": {"objectType": class_name, "version": version, "action": action},
        },
        created_at=at,
    )


def endpoint_disabled_event(endpoint_id: str, url: str, reason: str, at: datetime) -> OutboxEvent:
    return OutboxEvent(
        event_id=f"evt_{uuidlib.uuid4().hex}",
        type=EventType.WEBHOOK_ENDPOINT_DISABLED,
        class_name="WebhookEndpoint",
        object_uuid=None,
        business_key=endpoint_id,
        version=0,
        changed_fields=(),
        payload={
            "type": EventType.WEBHOOK_ENDPOINT_DISABLED.value,
            "timestamp": iso(at),
            "data": {"endpoint": endpoint_id, "url": url, "reason": reason},
        },
        created_at=at,
    )
