"""Search: the counts of one chosen facet value with each value of the other facets, per origin
(search_pair_totals), so that a search choosing a region or a theme without words counts the other
facets from a few thousand kept rows instead of every matching item (benchmarks/RESULTS.md).

The rows for the items already indexed are written by `archipel migrate` after this revision
(search_totals.rebuild_pairs, from search_documents), not here: a migration must not depend on
code that later migrations change.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_pair_totals",
        sa.Column("id", sa.Integer(), primary_key=True),
        *(sa.Column(name, column_type, nullable=False) for name, column_type in (
            ("island", sa.String(255)), ("local", sa.Boolean()), ("via", sa.String(255)),
            ("facet", sa.String(16)), ("value", sa.String(200)), ("counted", sa.String(16)),
            ("counted_value", sa.String(200)), ("count", sa.Integer()))),
    )
    op.create_index("ix_search_pair_totals_facet", "search_pair_totals",
                    ["facet", "value", "counted", "counted_value", "island", "local", "via", "count"])


def downgrade() -> None:
    op.drop_index("ix_search_pair_totals_facet", table_name="search_pair_totals")
    op.drop_table("search_pair_totals")
