"""Facet counts whatever the origin (search_value_totals), and an index of search_facet_totals by
origin: counts over the islands shown are the first minus the rows of the few origins not shown,
instead of a sum over every origin's rows. Filled here from search_facet_totals.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_value_totals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("facet", sa.String(16), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_search_value_totals_facet", "search_value_totals", ["facet", "value", "label", "count"])
    op.create_index("ix_search_facet_totals_origin", "search_facet_totals",
                    ["island", "local", "via", "facet", "value", "count"])
    op.execute("INSERT INTO search_value_totals (facet, value, label, count) "
               "SELECT facet, value, min(label), sum(count) FROM search_facet_totals "
               "GROUP BY facet, value HAVING sum(count) <> 0")


def downgrade() -> None:
    op.drop_index("ix_search_facet_totals_origin", table_name="search_facet_totals")
    op.drop_index("ix_search_value_totals_facet", table_name="search_value_totals")
    op.drop_table("search_value_totals")
