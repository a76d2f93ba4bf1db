"""Events: their start and end as UTC instants (indexed: the agenda walks them in order) and the
time zone they are read in.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from archipel.storage.tables import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("objects", sa.Column("starts_at", UTCDateTime(), nullable=True))
    op.add_column("objects", sa.Column("ends_at", UTCDateTime(), nullable=True))
    op.add_column("objects", sa.Column("time_zone", sa.String(64), nullable=True))
    op.create_index("ix_objects_starts", "objects", ["starts_at", "id"],
                    sqlite_where=sa.text("starts_at IS NOT NULL"), postgresql_where=sa.text("starts_at IS NOT NULL"))
    op.create_index("ix_objects_ends", "objects", ["ends_at"],
                    sqlite_where=sa.text("ends_at IS NOT NULL"), postgresql_where=sa.text("ends_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_objects_ends", table_name="objects")
    op.drop_index("ix_objects_starts", table_name="objects")
    op.drop_column("objects", "time_zone")
    op.drop_column("objects", "ends_at")
    op.drop_column("objects", "starts_at")
