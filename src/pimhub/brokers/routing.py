"""Routing keys and headers of the messages a broker destination publishes.

Catalog events: catalog.<Class>.<action> (object.updated on a Product is
catalog.Product.updated; asset.created is catalog.Asset.created; class.changed is
catalog.<Class>.changed; workflow.transitioned is catalog.<Class>.transitioned). Inbound events
keep their own type (magento.order.placed). Anything else (webhook.endpoint_disabled) is
hub.<type>. A broker's routingKeyPrefix goes in front, joined by a dot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from pimhub.catalog.events import OPERATIONAL_EVENTS
from pimhub.events.deliveries import Delivery
from pimhub.events.endpoints import inbound_type_problem

CATALOG_FAMILIES = ("object.", "asset.", "class.", "workflow.")
# An asset event's class when nothing else names it.
ASSET_CLASS = "Asset"


@dataclass(frozen=True, slots=True)
class Subject:
    """What a delivery is about: its event's type and its class (or an inbound event's
    source)."""

    event_type: str
    class_name: str

    @property
    def inbound(self) -> bool:
        # Not merely "not the hub's": a name of the hub's families (webhook.ping) stays hub.*.
        return inbound_type_problem(self.event_type) is None

    def routing_key(self, prefix: str | None = None) -> str:
        key = self._key()
        return f"{prefix}.{key}" if prefix else key

    def _key(self) -> str:
        event_type = self.event_type
        if event_type in OPERATIONAL_EVENTS or not event_type.startswith(CATALOG_FAMILIES):
            return event_type if self.inbound else f"hub.{event_type}"
        class_name = self.class_name
        if not class_name and event_type.startswith("asset."):
            class_name = ASSET_CLASS
        action = event_type.rsplit(".", 1)[-1]
        return f"catalog.{class_name or 'unknown'}.{action}"

    def headers(self) -> dict[str, str]:
        """pimhub-event-type, and pimhub-source (an inbound event's) or pimhub-class."""
        which = "pimhub-source" if self.inbound else "pimhub-class"
        headers = {"pimhub-event-type": self.event_type}
        if self.class_name:
            headers[which] = self.class_name
        return headers


def subject_of(delivery: Delivery) -> Subject:
    """The delivery's type and class as the claim filled them; from its body when the claim
    did not (a body of type/data.objectType, or data.source for an inbound event)."""
    if delivery.event_type:
        return Subject(delivery.event_type, delivery.class_name)
    body = _document(delivery.body)
    event_type = body.get("type")
    data = body.get("data")
    data = data if isinstance(data, Mapping) else {}
    if not isinstance(event_type, str) or not event_type:
        return Subject("unknown", "")
    subject = Subject(event_type, "")
    owner = data.get("source") if subject.inbound else data.get("objectType")
    return Subject(event_type, owner if isinstance(owner, str) else "")


def _document(body: bytes) -> Mapping[str, Any]:
    try:
        found = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, Mapping) else {}
