"""Catalog syncs: backfill and catch-up of followed islands.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_syncs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("actor_uri", sa.String(2000), nullable=False, unique=True),
        sa.Column("catalog_url", sa.String(2000), nullable=False),
        sa.Column("cursor", sa.String(100), nullable=False),
        sa.Column("backfilled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("items_applied", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_catalog_syncs_next_run_at", "catalog_syncs", ["next_run_at"])


def downgrade() -> None:
    op.drop_table("catalog_syncs")
