"""Drafts saved while writing: what the item form held, per person and form.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

from archipel.storage.tables import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("user_id", "key", name="uq_drafts_user_key"),
    )


def downgrade() -> None:
    op.drop_table("drafts")
