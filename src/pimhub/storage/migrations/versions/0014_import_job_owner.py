"""Import jobs record the process that runs them and its last heartbeat

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 04:15:00
"""

from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Jobs left unfinished before this revision have neither: the next start interrupts them.
    op.add_column("import_jobs", sa.Column("owner", sa.String(255), nullable=True))
    op.add_column("import_jobs", sa.Column("heartbeat_at", TIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("owner")
