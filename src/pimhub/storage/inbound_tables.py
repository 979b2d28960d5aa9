"""The tables of inbound sources, their audited messages and refused feed items, and broker
destinations (registered on the same metadata as storage.tables, which re-exports them)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from pimhub.storage.column_types import BigId, Json, UtcDateTime, metadata

# Systems that send events to the hub at /inbound/{name} (inbound.sources): how they prove who
# they are, how to read a message's id, type and key, and what to validate and apply.
inbound_sources = Table(
    "inbound_sources",
    metadata,
    Column("name", String(30), primary_key=True),
    Column("scheme", String(24), nullable=False),
    Column("config", Json, nullable=False),
    Column("enabled", Boolean, nullable=False),
    # Encrypted (events.secret_box); NULL for the api-key scheme. The previous secret is still
    # accepted until previous_secret_until, so a sender can switch without refused messages.
    Column("secret", Text),
    Column("previous_secret", Text),
    Column("previous_secret_until", UtcDateTime),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Every request to /inbound/{source}, accepted or not: the audit. An accepted message keeps its
# body and the outbox event it became; the partial unique index is the de-duplication by the
# sender's message id (kept while accepted rows are, at least the source's dedupe window).
inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", String(30), nullable=False),
    Column("message_id", String(255)),
    Column("event_type", String(40)),
    Column("key", String(255)),
    Column("received_at", UtcDateTime, nullable=False),
    Column("verification", String(16), nullable=False),  # passed | failed | not-checked
    Column("outcome", String(16), nullable=False),  # accepted | duplicate | rejected
    Column("reason", Text),  # why it was rejected (the problem's detail)
    Column("problem", String(40)),  # the rejection's stable code
    Column("payload_hash", String(64), nullable=False),  # SHA-256 of the body as received
    Column("size", Integer, nullable=False),
    Column("remote", String(64)),
    Column("body", Text),  # accepted messages only
    Column("event_id", String(40)),  # the outbox event it became
    Column("duplicate_of", BigId),
    # The audit lists newest first (ORDER BY id DESC) filtered by source, type or key: these
    # end in id so that the order comes from the index, not a sort of every matching row.
    Index(None, "source", "id"),
    Index(None, "event_type", "id"),
    Index(None, "key", "id"),
    Index(None, "received_at"),  # pruning by age
    Index(None, "event_id"),  # a message by its event (refusals, fates)
    Index(
        "uq_inbound_messages_accepted",
        "source",
        "message_id",
        unique=True,
        sqlite_where=text("outcome = 'accepted'"),
        postgresql_where=text("outcome = 'accepted'"),
    ),
    sqlite_autoincrement=True,  # ids never reused after pruning (refusals point at them)
)

# Items of an inbound feed that the catalog refused (inbound.feeds): kept with the reason and
# the item itself, so they can be applied again after a fix.
inbound_refusals = Table(
    "inbound_refusals",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", String(30), nullable=False),
    Column("message", BigId, nullable=False),  # inbound_messages.id
    Column("event_id", String(40), nullable=False),
    Column("item_index", Integer, nullable=False),
    Column("key", String(255)),
    Column("errors", Json, nullable=False),  # [{field, code, message}]
    Column("item", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    UniqueConstraint("event_id", "item_index"),
    Index(None, "message", "id"),
    Index(None, "source", "resolved_at", "id"),
    sqlite_autoincrement=True,
)

# Broker destinations (brokers): a RabbitMQ exchange fed by the delivery pipeline through its
# own webhook_endpoints row (kind 'rabbitmq'), written together as connectors are.
brokers = Table(
    "brokers",
    metadata,
    Column("name", String(30), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column(
        "endpoint_id",
        Integer,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("config", Json, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
