"""Listings by index: each item's origin host and the hub that re-shared it in their own
columns (content.in_archipelago compared every item's id with every followed host, and read
`extra.shared_by` as JSON, for every row of every listing), and the items in newest-first order.

Existing rows are backfilled with the same function that fills new ones (tables.origin_host_of).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from archipel.storage.tables import origin_host_of

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_objects = sa.table("objects", sa.column("id", sa.Integer), sa.column("uri", sa.String),
                    sa.column("extra", sa.JSON), sa.column("origin_host", sa.String),
                    sa.column("shared_by", sa.String))


def upgrade() -> None:
    op.add_column("objects", sa.Column("origin_host", sa.String(length=300), nullable=False, server_default=""))
    op.add_column("objects", sa.Column("shared_by", sa.String(length=2000), nullable=True))
    connection = op.get_bind()
    update = (sa.update(_objects).where(_objects.c.id == sa.bindparam("row_id"))
              .values(origin_host=sa.bindparam("host"), shared_by=sa.bindparam("by")))
    last = 0
    while True:
        rows = connection.execute(sa.select(_objects.c.id, _objects.c.uri, _objects.c.extra)
                                  .where(_objects.c.id > last).order_by(_objects.c.id).limit(5000)).all()
        if not rows:
            break
        values = []
        for row_id, uri, extra in rows:
            by = (extra or {}).get("shared_by") if isinstance(extra, dict) else None
            values.append({"row_id": row_id, "host": origin_host_of(uri),
                           "by": by if isinstance(by, str) and len(by) <= 2000 else None})
        connection.execute(update, values)
        last = rows[-1][0]
    op.create_index("ix_objects_shared_by", "objects", ["shared_by"])
    op.create_index("ix_objects_listing", "objects", ["deleted_at", "published", "id"])
    op.drop_index("ix_objects_deleted_at", table_name="objects")  # the prefix of ix_objects_listing
    op.create_index("ix_objects_newest", "objects", ["published", "id"], sqlite_where=sa.text("deleted_at IS NULL"),
                    postgresql_where=sa.text("deleted_at IS NULL"))
    op.create_index("ix_objects_withdrawn", "objects", ["uri"], sqlite_where=sa.text("deleted_at IS NOT NULL"),
                    postgresql_where=sa.text("deleted_at IS NOT NULL"))
    op.create_index("ix_objects_origin", "objects", ["origin_host", "published", "id"])
    op.create_index("ix_objects_local", "objects", ["is_local", "published", "id"])
    op.create_index("ix_item_themes_key_label", "item_themes", ["key", "label", "object_id"])
    op.create_index("ix_outgoing_outbox", "outgoing_activities", ["actor_id", "activity_type", "public", "object_uri"])


def downgrade() -> None:
    op.drop_index("ix_outgoing_outbox", table_name="outgoing_activities")
    op.drop_index("ix_item_themes_key_label", table_name="item_themes")
    op.drop_index("ix_objects_local", table_name="objects")
    op.drop_index("ix_objects_origin", table_name="objects")
    op.drop_index("ix_objects_withdrawn", table_name="objects")
    op.drop_index("ix_objects_newest", table_name="objects")
    op.create_index("ix_objects_deleted_at", "objects", ["deleted_at"])
    op.drop_index("ix_objects_listing", table_name="objects")
    op.drop_index("ix_objects_shared_by", table_name="objects")
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("shared_by")
        batch.drop_column("origin_host")
