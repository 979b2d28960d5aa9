"""completeness: each object's completeness per channel and language, stored with it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:00:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from pimhub.catalog.completeness import recompute_class
from pimhub.storage.class_repository import SqlClassRepository
from pimhub.storage.repositories import SqlObjectRepository

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "objects",
        sa.Column(
            "completeness",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
    )
    # Existing catalogs upgrade in place: objects of classes that already declare channels
    # get their completeness now (classes without channels keep the default {}).
    conn = op.get_bind()
    store = SqlObjectRepository(conn)
    for definition in SqlClassRepository(conn).all():
        if definition.completeness:
            recompute_class(store, definition)


def downgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("completeness")
