"""The database schema. Migrations in storage/migrations must match it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from pimhub.storage.column_types import (
    AssetPath as AssetPath,
)
from pimhub.storage.column_types import (
    BigId as BigId,
)
from pimhub.storage.column_types import (
    Json as Json,
)
from pimhub.storage.column_types import (
    UtcDateTime as UtcDateTime,
)
from pimhub.storage.column_types import (
    metadata as metadata,
)

# Inbound and broker tables live in their own module on the same metadata; re-exported so
# that every table of the schema is found here.
from pimhub.storage.hardening_tables import (
    audit_log as audit_log,
)
from pimhub.storage.hardening_tables import (
    rate_limits as rate_limits,
)
from pimhub.storage.inbound_tables import (
    brokers as brokers,
)
from pimhub.storage.inbound_tables import (
    inbound_messages as inbound_messages,
)
from pimhub.storage.inbound_tables import (
    inbound_refusals as inbound_refusals,
)
from pimhub.storage.inbound_tables import (
    inbound_sources as inbound_sources,
)

class_definitions = Table(
    "class_definitions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("definition", Json, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(255), nullable=False),
)

class_definition_versions = Table(
    "class_definition_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("author", String(255), nullable=False),
)

objects = Table(
    "objects",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("class_name", String(64), nullable=False),
    Column("business_key", String(255), nullable=False),
    Column("published", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("modified_at", UtcDateTime, nullable=False),
    Column("data", Json, nullable=False),
    # A variant's parent (same class), and the names of the fields in `data` it takes from
    # that parent; NULL for everything else.
    Column("parent_uuid", String(36)),
    Column("inherited", Json),
    # Per completeness channel and language {"ratio", "missing"} (catalog.completeness),
    # written with the row; {} for a class without channels.
    Column("completeness", Json, nullable=False, server_default=text("'{}'")),
    # The object's state in its class's workflow (catalog.workflows); NULL for classes
    # without one.
    Column("workflow_state", String(64)),
    UniqueConstraint("class_name", "business_key"),
    Index(None, "parent_uuid"),
    Index(None, "class_name", "modified_at"),
    # Listings default to id order within a class; without this, every page sorts the class.
    Index(None, "class_name", "id"),
)

object_references = Table(
    "object_references",
    metadata,
    Column("source_id", BigId, ForeignKey("objects.id", ondelete="CASCADE"), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("target_uuid", String(36), primary_key=True),
    Index(None, "target_uuid"),
)

# Files the catalog refers to (pimhub.assets). The content lives in a blob store under its
# SHA-256 (`checksum`), so two assets with the same bytes share one blob; versions of an
# asset are rows of object_versions (class_name "Asset"), its events go to the outbox.
assets = Table(
    "assets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("path", AssetPath, nullable=False, unique=True),  # "/products/shirt.jpg"
    Column("folder", AssetPath, nullable=False),  # "/products"
    Column("mimetype", String(127), nullable=False),
    Column("filesize", BigInteger, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("metadata", Json, nullable=False),
    # Where an import took it from, and that source's validator (ETag or Last-Modified),
    # so that the next run asks for it conditionally and downloads nothing unchanged.
    Column("source", String(2048)),
    Column("source_validator", String(255)),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("modified_at", UtcDateTime, nullable=False),
    Index(None, "checksum"),
    Index(None, "folder", "path"),
    Index(None, "source"),
)

object_versions = Table(
    "object_versions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("object_uuid", String(36), nullable=False),
    Column("class_name", String(64), nullable=False),
    Column("business_key", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("author", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("published", Boolean, nullable=False),
    Column("changed_fields", Json, nullable=False),
    Column("data", Json, nullable=False),
    UniqueConstraint("object_uuid", "version"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False, unique=True),
    Column("event_type", String(40), nullable=False),
    Column("class_name", String(64), nullable=False),
    Column("object_uuid", String(36)),
    Column("business_key", String(255)),
    Column("version", Integer, nullable=False),
    Column("changed_fields", Json, nullable=False),
    Column("payload", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("dispatched_at", UtcDateTime),
    # Deliveries with the same order key go out one at a time: set for inbound events (their
    # source and key, such as an order id); NULL means the object's uuid, or the class.
    Column("order_key", String(80)),
    Index(None, "dispatched_at", "id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(32), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("environment", String(32), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("description", Text),
    # A rotation keeps the key id and scopes; the previous secret stays valid until
    # previous_valid_until, so clients switch without refused requests.
    Column("previous_secret_hash", String(64)),
    Column("previous_valid_until", UtcDateTime),
    Column("rotated_at", UtcDateTime),
    # CIDR networks the key may be used from (None: anywhere) and its own rate ("N/minute").
    Column("allowed_networks", Json),
    Column("rate_limit", String(32)),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("password_changed_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime),
)

ui_sessions = Table(
    "ui_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index(None, "user_id"),
    Index(None, "expires_at"),
)

# A saved grid view is the grid's query string under a name (the filters live in the URL).
ui_saved_views = Table(
    "ui_saved_views",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("class_name", String(64), nullable=False),
    Column("name", String(128), nullable=False),
    Column("query", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("user_id", "class_name", "name"),
)

import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("class_name", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("options", Json, nullable=False),
    Column("summary", Json, nullable=True),
    Column("error", Text, nullable=True),
    Column("author", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("owner", String(255), nullable=True),  # host:pid:token of the process running it
    Column("heartbeat_at", UtcDateTime, nullable=True),  # refreshed while queued or running
    Index(None, "created_at"),
)

import_profiles = Table(
    "import_profiles",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("source", Text, nullable=False),
    Column("mapping", Text, nullable=False),
    Column("class_name", String(64), nullable=True),
    Column("cron", String(128), nullable=False),
    Column("options", Json, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("next_run_at", UtcDateTime, nullable=False),
    Column("last_job_id", String(40), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

datahub_configs = Table(
    "datahub_configs",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("definition", Json, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(255), nullable=False),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(40), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("event_types", Json, nullable=False),
    Column("classes", Json, nullable=False),
    Column("changed_fields", Json, nullable=False),
    Column("payload", String(8), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("rate_limit", Float),
    # 'webhook' (a signed POST to url), or a connector kind such as 'magento' whose settings
    # are in the connectors table: every destination shares the one delivery pipeline.
    Column("kind", String(16), nullable=False, server_default=text("'webhook'")),
    # Inbound events (magento.order.placed) reach an endpoint only from these sources; empty:
    # from every source whose event types it names.
    Column("sources", Json, nullable=False, server_default=text("'[]'")),
    # A JMESPath expression that reshapes the event body for this destination (events.transform).
    Column("transform", Text),
    # Only events after this outbox id are for the endpoint: a new endpoint hears about
    # changes from its creation on, not the whole history.
    Column("after_outbox_id", BigId, nullable=False),
    # Secrets are encrypted at rest (events/secret_box.py); the previous one signs too until
    # previous_secret_until, so receivers can switch without dropping deliveries.
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),
    Column("previous_secret_until", UtcDateTime),
    Column("secret_rotated_at", UtcDateTime),
    Column("consecutive_failures", Integer, nullable=False),
    Column("failing_since", UtcDateTime),
    Column("paused_until", UtcDateTime),
    Column("disabled_reason", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "endpoint_id",
        Integer,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("outbox_id", BigId, ForeignKey("outbox.id"), nullable=False),
    Column("event_id", String(40), nullable=False),
    # Deliveries with the same order key go out one at a time, in outbox order: the object's
    # uuid, or "class:<name>" for class events.
    Column("order_key", String(80), nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("lease_until", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    UniqueConstraint("endpoint_id", "outbox_id"),
    Index(None, "status", "next_attempt_at", "id"),
    Index(None, "endpoint_id", "order_key", "outbox_id"),
    Index(None, "outbox_id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        BigId,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("endpoint_id", Integer, nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("status_code", Integer),
    Column("duration_ms", Float, nullable=False),
    Column("response_excerpt", Text),
    Column("error", Text),
    Index(None, "delivery_id"),
    Index(None, "attempted_at"),
)


connectors = Table(
    "connectors",
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

# What a connector last sent for one business key and one section (the product at the global
# scope, a store view's values, stock, configurable links): the hash skips calls that would
# change nothing, and `sent` lets the next change send only the attributes that differ.
connector_sections = Table(
    "connector_sections",
    metadata,
    Column("connector", String(30), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("section", String(40), primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("sent", Json, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One row per business key a connector has dealt with: its state in the other system.
connector_items = Table(
    "connector_items",
    metadata,
    Column("connector", String(30), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("object_uuid", String(36)),
    Column("remote_id", Integer),
    # Only what the hub created is ever deleted or disabled by it.
    Column("created_by_hub", Boolean, nullable=False),
    Column("state", String(16), nullable=False),  # synced | failed | disabled | deleted
    Column("synced_version", Integer),
    Column("synced_at", UtcDateTime),
    Column("last_error", Text),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "connector", "state"),
)

# Remembered ids in the other system: select options by (attribute, option code) and
# categories by hub key (kind 'option:<attribute>' or 'category').
connector_ids = Table(
    "connector_ids",
    metadata,
    Column("connector", String(30), primary_key=True),
    Column("kind", String(70), primary_key=True),
    Column("code", String(255), primary_key=True),
    Column("remote_id", Integer, nullable=False),
)

# The ledger of Magento's asynchronous bulks: one row per operation, polled until Magento says
# how it ended; a full sync resumes from it after a crash without sending anything twice.
connector_bulk_operations = Table(
    "connector_bulk_operations",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("connector", String(30), nullable=False),
    Column("bulk_uuid", String(40), nullable=False),
    Column("request_index", Integer, nullable=False),
    Column("sku", String(255), nullable=False),
    Column("store", String(40), nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("payload", Json, nullable=False),
    # open | complete | retrying | failed | rejected | resubmitted
    Column("status", String(12), nullable=False),
    Column("message", Text),
    Column("attempts", Integer, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("checked_at", UtcDateTime),
    Column("next_check_at", UtcDateTime),
    Index(None, "connector", "status", "next_check_at"),
    Index(None, "bulk_uuid", "request_index"),
    Index(None, "connector", "sku"),
)

# Checkpoints of long-running connector work (a pull's updated_at mark, a full sync's
# position), so that it resumes after a crash.
connector_checkpoints = Table(
    "connector_checkpoints",
    metadata,
    Column("connector", String(30), primary_key=True),
    Column("name", String(40), primary_key=True),
    Column("value", Json, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


def owned_by_tables_py(name: str | None, type_: str) -> bool:
    """False for the search index's tables (and FTS5's shadow tables), which the search
    package creates with dialect-specific DDL outside this metadata."""
    return not (type_ == "table" and name is not None and name.startswith("search_"))
