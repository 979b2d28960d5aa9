"""variants: an object's parent and the fields it inherits

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:50:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns without defaults: existing rows are standalone objects, and adding
    # them rewrites no row on either database.
    op.add_column("objects", sa.Column("parent_uuid", sa.String(length=36), nullable=True))
    op.add_column(
        "objects",
        sa.Column(
            "inherited",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
    )
    op.create_index(op.f("ix_objects_parent_uuid"), "objects", ["parent_uuid"])


def downgrade() -> None:
    op.drop_index(op.f("ix_objects_parent_uuid"), table_name="objects")
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("inherited")
        batch.drop_column("parent_uuid")
