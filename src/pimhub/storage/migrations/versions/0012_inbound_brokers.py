"""inbound sources, their messages and refused feed items; broker destinations; per-key
order and reshaping for every destination

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 00:30:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("outbox", sa.Column("order_key", sa.String(80), nullable=True))
    op.add_column(
        "webhook_endpoints",
        sa.Column("sources", JSON, server_default=sa.text("'[]'"), nullable=False),
    )
    op.add_column("webhook_endpoints", sa.Column("transform", sa.Text(), nullable=True))
    op.create_table(
        "inbound_sources",
        sa.Column("name", sa.String(30), nullable=False),
        sa.Column("scheme", sa.String(24), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", TIME, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_inbound_sources"),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(30), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("event_type", sa.String(40), nullable=True),
        sa.Column("key", sa.String(255), nullable=True),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("verification", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("problem", sa.String(40), nullable=True),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("remote", sa.String(64), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("event_id", sa.String(40), nullable=True),
        sa.Column("duplicate_of", BIG_ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_messages"),
        sqlite_autoincrement=True,
    )
    for columns in (
        ["source", "id"],
        ["event_type", "id"],
        ["key", "id"],
        ["received_at"],
        ["event_id"],
    ):
        op.create_index(f"ix_inbound_messages_{'_'.join(columns)}", "inbound_messages", columns)
    op.create_index(
        "uq_inbound_messages_accepted",
        "inbound_messages",
        ["source", "message_id"],
        unique=True,
        sqlite_where=sa.text("outcome = 'accepted'"),
        postgresql_where=sa.text("outcome = 'accepted'"),
    )
    op.create_table(
        "inbound_refusals",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(30), nullable=False),
        sa.Column("message", BIG_ID, nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("item_index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(255), nullable=True),
        sa.Column("errors", JSON, nullable=False),
        sa.Column("item", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_refusals"),
        sa.UniqueConstraint(
            "event_id", "item_index", name="uq_inbound_refusals_event_id_item_index"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_inbound_refusals_source_resolved_at_id",
        "inbound_refusals",
        ["source", "resolved_at", "id"],
    )
    op.create_index("ix_inbound_refusals_message_id", "inbound_refusals", ["message", "id"])
    op.create_table(
        "brokers",
        sa.Column("name", sa.String(30), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_brokers_endpoint_id_webhook_endpoints",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("name", name="pk_brokers"),
        sa.UniqueConstraint("endpoint_id", name="uq_brokers_endpoint_id"),
    )


def downgrade() -> None:
    op.drop_table("brokers")
    op.drop_table("inbound_refusals")
    op.drop_table("inbound_messages")
    op.drop_table("inbound_sources")
    with op.batch_alter_table("webhook_endpoints") as batch_op:
        batch_op.drop_column("transform")
        batch_op.drop_column("sources")
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("order_key")
