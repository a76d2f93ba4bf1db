"""The map's clusters kept per zoom (map_cells), and the position of each indexed item in
search_documents (what a changed item's old cells were). ix_objects_map also holds `public`: the
map shows what the search indexes (no item addressed to followers only), read from the index.

`archipel migrate` fills both for the items already stored (search_index.reindex, run after the
migrations: a migration must not depend on models later ones change).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# As tables.MAP_COLUMNS and MAP_WHERE today (a migration keeps its own copy: the code may change).
_MAP_BEFORE = ("kind", "latitude", "longitude", "state", "deleted_at", "hidden_at", "in_reply_to", "is_local",
               "origin_host", "shared_by", "id")
_MAP_COLUMNS = (*_MAP_BEFORE[:-1], "public", "id")
_MAP_WHERE = "deleted_at IS NULL AND hidden_at IS NULL AND in_reply_to IS NULL"


def upgrade() -> None:
    op.add_column("search_documents", sa.Column("latitude", sa.Float(), nullable=True))
    op.add_column("search_documents", sa.Column("longitude", sa.Float(), nullable=True))
    op.create_table(
        "map_cells",
        sa.Column("id", sa.Integer(), primary_key=True),
        *(sa.Column(name, column_type, nullable=False) for name, column_type in (
            ("zoom", sa.Integer()), ("x", sa.Integer()), ("y", sa.Integer()), ("island", sa.String(255)),
            ("local", sa.Boolean()), ("via", sa.String(255)), ("count", sa.Integer()),
            ("latitude", sa.BigInteger()), ("longitude", sa.BigInteger()), ("ids", sa.BigInteger()))),
    )
    op.create_index("ix_map_cells_cell", "map_cells", ["zoom", "x", "y", "island", "local", "via", "count",
                                                       "latitude", "longitude", "ids"])
    op.drop_index("ix_objects_map", table_name="objects")
    op.create_index("ix_objects_map", "objects", list(_MAP_COLUMNS), postgresql_where=sa.text(_MAP_WHERE))


def downgrade() -> None:
    op.drop_index("ix_objects_map", table_name="objects")
    op.create_index("ix_objects_map", "objects", list(_MAP_BEFORE), postgresql_where=sa.text(_MAP_WHERE))
    op.drop_index("ix_map_cells_cell", table_name="map_cells")
    op.drop_table("map_cells")
    with op.batch_alter_table("search_documents") as batch:
        batch.drop_column("longitude")
        batch.drop_column("latitude")
