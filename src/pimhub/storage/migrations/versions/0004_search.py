"""the search index (SQLite FTS5, or PostgreSQL tsvector + trigram), filled from the catalog

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00
"""

from alembic import op

from pimhub.search.backends import create_index_tables, drop_index_tables
from pimhub.search.rebuild import rebuild_on

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    create_index_tables(conn)
    # Catalogs created before the index existed are searchable as soon as they upgrade.
    rebuild_on(conn)


def downgrade() -> None:
    drop_index_tables(op.get_bind())
