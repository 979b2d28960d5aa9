"""The tables of the hardening work: the audit log of administrative actions and the shared
rate-limit buckets (registered on the same metadata as storage.tables, which re-exports them)."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, String, Table

from pimhub.storage.column_types import BigId, Json, UtcDateTime, metadata

# Every administrative action (keys, classes, datahub configurations, webhook endpoints,
# connectors, users, inbound sources, brokers): who, when, what, and the state before and
# after with secrets left out (access.audit).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_type", String(40), nullable=False),
    Column("target", String(200), nullable=False),
    Column("before", Json),
    Column("after", Json),
    Index(None, "at"),
    Index(None, "target_type", "target", "id"),
    Index(None, "actor", "id"),
    sqlite_autoincrement=True,  # ids never reused after pruning
)

# Token buckets shared by every process on one database (access.rate_limits): the bucket's
# theoretical arrival time (GCRA) in seconds since the epoch. UNLOGGED on PostgreSQL: losing it
# in a crash only forgives a few requests.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("bucket", String(200), primary_key=True),
    Column("tat", Float, nullable=False),
)
