"""Three indexes: the catalog's, the map's, and one facet's kept counts.

The catalog's items that were updated: content.catalog_page walks the local items
never updated by ix_objects_local (is_local, published, id) and the updated ones by this index, in
the order of their last change, and stops at a page; ordering all 5,000 local items of a 100,000-item
island by coalesce(updated, published) sorted them on every page (80–108 ms, benchmarks/RESULTS.md).

The map's count, extent and clusters of a wide view read every public positioned item: from the
rows (items are wide: HTML, JSON fields), 100,000 of them took 0.5–2 s; ix_objects_map holds every
column they read (geo.positioned), and is read instead (partial on PostgreSQL: see tables.py).

The theme counts of the home page, /federated and /carte summed the kept totals of one facet from
every facet's rows (search_facet_totals, ~28,000 rows at 100,000 items); ix_search_facet_totals_facet
holds that facet's rows in value order, every column the sum reads.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# As tables.MAP_COLUMNS and MAP_WHERE today (a migration keeps its own copy: the code may change).
_MAP_COLUMNS = ("kind", "latitude", "longitude", "state", "deleted_at", "hidden_at", "in_reply_to", "is_local",
                "origin_host", "shared_by", "id")
_MAP_WHERE = "deleted_at IS NULL AND hidden_at IS NULL AND in_reply_to IS NULL"


def upgrade() -> None:
    op.create_index("ix_objects_local_updated", "objects", ["is_local", "updated", "id"])
    op.create_index("ix_objects_map", "objects", list(_MAP_COLUMNS), postgresql_where=sa.text(_MAP_WHERE))
    op.create_index("ix_search_facet_totals_facet", "search_facet_totals",
                    ["facet", "value", "label", "island", "local", "via", "count"])


def downgrade() -> None:
    op.drop_index("ix_search_facet_totals_facet", table_name="search_facet_totals")
    op.drop_index("ix_objects_map", table_name="objects")
    op.drop_index("ix_objects_local_updated", table_name="objects")
