"""Change events written to the outbox in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pimhub.catalog.ids import new_event_id
from pimhub.catalog.objects import CatalogObject, iso


class EventType(StrEnum):
    OBJECT_CREATED = "object.created"
    OBJECT_UPDATED = "object.updated"
    OBJECT_DELETED = "object.deleted"
    OBJECT_PUBLISHED = "object.published"
    OBJECT_UNPUBLISHED = "object.unpublished"
    WORKFLOW_TRANSITIONED = "workflow.transitioned"
    CLASS_CHANGED = "class.changed"
    ASSET_CREATED = "asset.created"
    ASSET_UPDATED = "asset.updated"
    ASSET_DELETED = "asset.deleted"
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


def _event(
    event_type: EventType,
    class_name: str,
    at: datetime,
    data: dict[str, Any],
    *,
    object_uuid: str | None = None,
    business_key: str | None = None,
    version: int = 0,
    changed: tuple[str, ...] = (),
) -> OutboxEvent:
    """An outbox event with a fresh id and the Standard-Webhooks-shaped body
    `{type, timestamp, data}`."""
    return OutboxEvent(
        event_id=new_event_id(),
        type=event_type,
        class_name=class_name,
        object_uuid=object_uuid,
        business_key=business_key,
        version=version,
        changed_fields=changed,
        payload={"type": event_type.value, "timestamp": iso(at), "data": data},
        created_at=at,
    )


def object_event(
    event_type: EventType, obj: CatalogObject, changed: list[str], at: datetime
) -> OutboxEvent:
    """One object change."""
    data: dict[str, Any] = {
        "objectType": obj.class_name,
        "uuid": obj.uuid,
        "businessKey": obj.key,
        "version": obj.version,
        "changedFields": changed,
    }
    if event_type != EventType.OBJECT_DELETED:
        data["object"] = obj.to_dict()
    return _event(
        event_type,
        obj.class_name,
        at,
        data,
        object_uuid=obj.uuid,
        business_key=obj.key,
        version=obj.version,
        changed=tuple(changed),
    )


def asset_event(
    event_type: EventType,
    asset: dict[str, Any],
    changed: list[str],
    at: datetime,
    *,
    business_key: str,
) -> OutboxEvent:
    """One asset change; `asset` is Asset.to_dict(), left out of the body of a deletion as
    an object's is. The class name is "Asset" and `business_key` its path (cut to fit)."""
    data: dict[str, Any] = {
        "objectType": "Asset",
        "uuid": asset["uuid"],
        "path": asset["path"],
        "version": asset["version"],
        "changedFields": changed,
    }
    if event_type != EventType.ASSET_DELETED:
        data["asset"] = asset
    return _event(
        event_type,
        "Asset",
        at,
        data,
        object_uuid=asset["uuid"],
        business_key=business_key,
        version=asset["version"],
        changed=tuple(changed),
    )


def transition_event(
    obj: CatalogObject,
    transition: str,
    source: str | None,
    actor: str,
    comment: str | None,
) -> OutboxEvent:
    """A workflow transition of `obj` (as it is after it), written with the object's own
    event: both carry its version, and delivery keeps them in outbox order per object."""
    data = {
        "objectType": obj.class_name,
        "uuid": obj.uuid,
        "businessKey": obj.key,
        "version": obj.version,
        "transition": transition,
        "from": source,
        "to": obj.workflow_state,
        "actor": actor,
        "comment": comment,
    }
    return _event(
        EventType.WORKFLOW_TRANSITIONED,
        obj.class_name,
        obj.modified_at,
        data,
        object_uuid=obj.uuid,
        business_key=obj.key,
        version=obj.version,
        changed=("workflowState",),
    )


def class_event(class_name: str, version: int, action: str, at: datetime) -> OutboxEvent:
    data = {"objectType": class_name, "version": version, "action": action}
    return _event(EventType.CLASS_CHANGED, class_name, at, data, version=version)


def endpoint_disabled_event(endpoint_id: str, url: str, reason: str, at: datetime) -> OutboxEvent:
    data = {"endpoint": endpoint_id, "url": url, "reason": reason}
    return _event(
        EventType.WEBHOOK_ENDPOINT_DISABLED, "WebhookEndpoint", at, data, business_key=endpoint_id
    )
