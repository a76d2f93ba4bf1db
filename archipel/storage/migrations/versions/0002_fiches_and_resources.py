"""Fiches d'innovation and training resources: structured fields, co-authors, revisions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="article"))
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="published"))
        batch.add_column(sa.Column("licence", sa.String(32), nullable=True))
        batch.add_column(sa.Column("based_on", sa.String(2000), nullable=True))
        batch.add_column(sa.Column("place", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("region", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("fields", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("private_fields", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("cover", sa.JSON(), nullable=True))
        batch.create_index("ix_objects_kind", ["kind"])
        batch.create_index("ix_objects_based_on", ["based_on"])
    # Notes received before this migration are replies or posts, not articles.
    op.execute("UPDATE objects SET kind = 'note' WHERE type <> 'Article'")

    op.create_table(
        "item_authors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("object_id", sa.Integer(), sa.ForeignKey("objects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("actor_uri", sa.String(2000), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("object_id", "actor_uri"),
    )
    op.create_index("ix_item_authors_object_id", "item_authors", ["object_id"])
    op.create_index("ix_item_authors_actor_uri", "item_authors", ["actor_uri"])
    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("object_id", sa.Integer(), sa.ForeignKey("objects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("editor_uri", sa.String(2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.UniqueConstraint("object_id", "number"),
    )
    op.create_index("ix_revisions_object_id", "revisions", ["object_id"])


def downgrade() -> None:
    op.drop_table("revisions")
    op.drop_table("item_authors")
    with op.batch_alter_table("objects") as batch:
        batch.drop_index("ix_objects_based_on")
        batch.drop_index("ix_objects_kind")
        for column in ("cover", "private_fields", "fields", "longitude", "latitude", "region", "place",
                       "based_on", "licence", "state", "kind"):
            batch.drop_column(column)
