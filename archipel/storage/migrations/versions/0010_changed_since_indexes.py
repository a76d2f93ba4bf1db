"""Indexes for reading what changed since a moment: actors by when they were fetched, items by
when they were updated or deleted (the remote pictures' sync reads only those between its full
passes, and without them would scan both tables every few seconds).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_remote_actors_fetched_at", "remote_actors", ["fetched_at"])
    op.create_index("ix_objects_updated", "objects", ["updated"])
    op.create_index("ix_objects_deleted_at", "objects", ["deleted_at"])


def downgrade() -> None:
    op.drop_index("ix_objects_deleted_at", table_name="objects")
    op.drop_index("ix_objects_updated", table_name="objects")
    op.drop_index("ix_remote_actors_fetched_at", table_name="remote_actors")
