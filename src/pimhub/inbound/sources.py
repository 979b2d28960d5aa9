"""Inbound sources: who may send to /inbound/{name}, how the sender proves it, and how a
message's id, type and key are read from it.

Configuration (YAML or JSON, the REST body and `pimhub sources add --file`):

    name: magento                      # [a-z][a-z0-9_-]{0,29}; the URL is /inbound/magento
    scheme: mageos                     # standard-webhooks | mageos | shared-secret | api-key
    description: Luma store events
    enabled: true
    header: X-Feed-Token               # shared-secret: the header carrying it
    tolerance: 300                     # standard-webhooks: seconds a timestamp may be off
    maxBytes: 1048576                  # larger bodies get 413 before they are read
    dedupeDays: 7                      # message ids are remembered at least this long
    messageId: {path: id}              # {header: ...} | {path: <JMESPath>} | {hash: true}
    eventType:                         # found, renamed by map, else prefixed
      {path: type, prefix: "magento.", map: {sales.order.place.after: magento.order.placed}}
    eventTypes: [magento.order.placed] # allowed types after mapping; empty: any
    key: {path: data.increment_id}     # per-key delivery order (an order id, a SKU)
    schemas: {magento.order.placed: {<JSON Schema>}}
    apply:                             # optional: write the events into the catalog
      eventTypes: [erp.stock.changed]
      items: data.items                # JMESPath to the list of items (default: the payload)
      create: false                    # true: unknown keys create objects
      mapping: {class: Product, fields: {sku: sku, stock: {column: qty, number: true}}}

Each scheme has defaults for messageId and eventType (see SCHEME_DEFAULTS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pimhub.catalog.objects import iso
from pimhub.events.endpoints import EndpointSpec

FEED_KIND = "catalog-feed"  # the pipeline destination kind that applies a source's events
NAME_PATTERN = r"[a-z][a-z0-9_-]{0,29}"
MAX_BODY_LIMIT = 16 * 1024 * 1024  # the largest maxBytes a source may set
MAX_MESSAGE_ID = 255  # inbound_messages.message_id
MAX_KEY = 255  # inbound_messages.key, outbox.business_key
DEFAULT_SECRET_HEADER = "x-webhook-secret"  # shared-secret
IDEMPOTENCY_HEADER = "idempotency-key"  # shared-secret and api-key: the default message id


class Scheme(StrEnum):
    # webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of
    # "id.timestamp.body"> with a whsec_ secret; the timestamp must be within `tolerance`.
    STANDARD_WEBHOOKS = "standard-webhooks"
    # Mage-OS async events: x-magento-signature is the hex HMAC-SHA256 of the body; the body
    # is a CloudEvent whose `id` names the message and `type` the Magento event.
    MAGEOS = "mageos"
    # A secret the sender puts in a header as is (compared in constant time).
    SHARED_SECRET = "shared-secret"
    # A hub API key (Authorization: Bearer / X-API-Key) holding `inbound` or `inbound:<name>`.
    API_KEY = "api-key"


@dataclass(frozen=True, slots=True)
class Extract:
    """Where one value of a message comes from: a header, a JMESPath into the body, a fixed
    value, or (message ids only) the SHA-256 of the body."""

    header: str | None = None
    path: str | None = None
    value: str | None = None
    hash: bool = False

    def to_dict(self) -> dict[str, Any]:
        if self.header is not None:
            return {"header": self.header}
        if self.path is not None:
            return {"path": self.path}
        if self.value is not None:
            return {"value": self.value}
        return {"hash": True}


@dataclass(frozen=True, slots=True)
class TypeRule:
    """How a message's event type is found: extracted, renamed by `map`, else prefixed."""

    extract: Extract
    prefix: str = ""
    map: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.extract.to_dict(), "prefix": self.prefix, "map": dict(self.map)}


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """Events of these types are applied to the catalog (inbound.feeds)."""

    event_types: tuple[str, ...]
    mapping: Mapping[str, Any]  # the import mapping language (transfer.mapping), as given
    items: str | None = None  # JMESPath to the items; None: the payload is one item
    create: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "eventTypes": list(self.event_types),
            "items": self.items,
            "create": self.create,
            "mapping": dict(self.mapping),
        }


@dataclass(frozen=True, slots=True)
class SourceSpec:
    name: str
    scheme: Scheme
    event_type: TypeRule
    description: str = ""
    enabled: bool = True
    header: str | None = None  # shared-secret: the header that carries the secret
    tolerance: int = 300  # seconds; standard-webhooks only
    max_bytes: int = 1_048_576
    dedupe_days: int = 7
    message_id: Extract | None = None  # None: the scheme's default
    event_types: tuple[str, ...] = ()  # allowed after mapping; empty: any
    key: Extract | None = None
    schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    apply: FeedSpec | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scheme": self.scheme.value,
            "description": self.description,
            "enabled": self.enabled,
            "header": self.header,
            "tolerance": self.tolerance,
            "maxBytes": self.max_bytes,
            "dedupeDays": self.dedupe_days,
            "messageId": self.message_id.to_dict() if self.message_id else None,
            "eventType": self.event_type.to_dict(),
            "eventTypes": list(self.event_types),
            "key": self.key.to_dict() if self.key else None,
            "schemas": {k: dict(v) for k, v in self.schemas.items()},
            "apply": self.apply.to_dict() if self.apply else None,
        }

    def feed_endpoint(self) -> EndpointSpec | None:
        """The pipeline destination row that applies this source's events to the catalog:
        it hears only this source, only the types `apply` names."""
        if self.apply is None:
            return None
        return EndpointSpec(
            url=f"hub:catalog-feed/{self.name}",
            description=f"catalog feed of inbound source {self.name}",
            event_types=self.apply.event_types,
            sources=(self.name,),
            enabled=self.enabled,
        )


# What a source reads when it names no messageId or eventType. A message id of None means:
# the Idempotency-Key header when the sender sends one, else the SHA-256 of the body.
SCHEME_DEFAULTS: dict[Scheme, tuple[Extract | None, TypeRule]] = {
    Scheme.STANDARD_WEBHOOKS: (Extract(header="webhook-id"), TypeRule(Extract(path="type"))),
    Scheme.MAGEOS: (Extract(path="id"), TypeRule(Extract(path="type"), prefix="magento.")),
    Scheme.SHARED_SECRET: (None, TypeRule(Extract(path="type"))),
    Scheme.API_KEY: (None, TypeRule(Extract(path="type"))),
}


def feed_endpoint_id(source: str) -> str:
    return f"feed-{source}"


@dataclass(frozen=True, slots=True)
class StoredSource:
    spec: SourceSpec
    version: int
    created_at: datetime
    updated_at: datetime
    has_secret: bool
    previous_secret_until: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.spec.to_dict(),
            "url": f"/inbound/{self.spec.name}",
            "version": self.version,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "previousSecretValidUntil": iso(self.previous_secret_until)
            if self.previous_secret_until
            else None,
        }


@dataclass(frozen=True, slots=True)
class SourceSecrets:
    """A source's secrets as stored: encrypted."""

    sealed: str | None
    previous_sealed: str | None
    previous_until: datetime | None
