"""assets and workflows: files the catalog refers to, and each object's workflow state

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:30:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Byte order on PostgreSQL whatever the database's collation: folder listings are a range
# scan of the path index (see tables.AssetPath).
ASSET_PATH = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")


def upgrade() -> None:
    op.add_column("objects", sa.Column("workflow_state", sa.String(64), nullable=True))
    op.create_table(
        "assets",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("path", ASSET_PATH, nullable=False),
        sa.Column("folder", ASSET_PATH, nullable=False),
        sa.Column("mimetype", sa.String(127), nullable=False),
        sa.Column("filesize", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("source", sa.String(2048), nullable=True),
        sa.Column("source_validator", sa.String(255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("modified_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assets"),
        sa.UniqueConstraint("uuid", name="uq_assets_uuid"),
        sa.UniqueConstraint("path", name="uq_assets_path"),
    )
    op.create_index("ix_assets_checksum", "assets", ["checksum"])
    op.create_index("ix_assets_folder_path", "assets", ["folder", "path"])
    op.create_index("ix_assets_source", "assets", ["source"])


def downgrade() -> None:
    op.drop_table("assets")
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("workflow_state")
