"""connectors: destinations that speak another system's API (Magento), with their sync state

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:00:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column(
        "webhook_endpoints",
        sa.Column("kind", sa.String(16), server_default=sa.text("'webhook'"), nullable=False),
    )
    op.create_table(
        "connectors",
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
            name="fk_connectors_endpoint_id_webhook_endpoints",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("name", name="pk_connectors"),
        sa.UniqueConstraint("endpoint_id", name="uq_connectors_endpoint_id"),
    )
    op.create_table(
        "connector_sections",
        sa.Column("connector", sa.String(30), nullable=False),
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("section", sa.String(40), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sent", JSON, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("connector", "sku", "section", name="pk_connector_sections"),
    )
    op.create_table(
        "connector_items",
        sa.Column("connector", sa.String(30), nullable=False),
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("object_uuid", sa.String(36), nullable=True),
        sa.Column("remote_id", sa.Integer(), nullable=True),
        sa.Column("created_by_hub", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("synced_version", sa.Integer(), nullable=True),
        sa.Column("synced_at", TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("connector", "sku", name="pk_connector_items"),
    )
    op.create_index("ix_connector_items_connector_state", "connector_items", ["connector", "state"])
    op.create_table(
        "connector_ids",
        sa.Column("connector", sa.String(30), nullable=False),
        sa.Column("kind", sa.String(70), nullable=False),
        sa.Column("code", sa.String(255), nullable=False),
        sa.Column("remote_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("connector", "kind", "code", name="pk_connector_ids"),
    )
    op.create_table(
        "connector_bulk_operations",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(30), nullable=False),
        sa.Column("bulk_uuid", sa.String(40), nullable=False),
        sa.Column("request_index", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("store", sa.String(40), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("submitted_at", TIME, nullable=False),
        sa.Column("checked_at", TIME, nullable=True),
        sa.Column("next_check_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_connector_bulk_operations"),
    )
    op.create_index(
        "ix_connector_bulk_operations_connector_status_next_check_at",
        "connector_bulk_operations",
        ["connector", "status", "next_check_at"],
    )
    op.create_index(
        "ix_connector_bulk_operations_bulk_uuid_request_index",
        "connector_bulk_operations",
        ["bulk_uuid", "request_index"],
    )
    op.create_index(
        "ix_connector_bulk_operations_connector_sku",
        "connector_bulk_operations",
        ["connector", "sku"],
    )
    op.create_table(
        "connector_checkpoints",
        sa.Column("connector", sa.String(30), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("connector", "name", name="pk_connector_checkpoints"),
    )


def downgrade() -> None:
    for table in (
        "connector_checkpoints",
        "connector_bulk_operations",
        "connector_ids",
        "connector_items",
        "connector_sections",
        "connectors",
    ):
        op.drop_table(table)
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("kind")
