"""An index on items' positions: the map (archipel/geo.py) reads the items inside a bounding box.
With 100,000 positioned items (benchmarks/map.py) it turns a zoomed-in view from a scan of the
table into a range scan: a city at zoom 13 from 36 to 6 ms (SQLite) and from 155 to 17 ms
(PostgreSQL), a street at zoom 16 from 117 to 4 ms and from 181 to 7 ms; views of a whole country
read most rows, and are read without it (geo.INDEX_SPAN: through it, SQLite took twice as long).

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"

down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_objects_position", "objects", ["latitude", "longitude"])


def downgrade() -> None:
    op.drop_index("ix_objects_position", table_name="objects")
