"""Themes of items, by normalised key.

Revision ID: 0004
Revises: 0003
"""

import json
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _key(label: str) -> str:  # a frozen copy of archipel.themes.theme_key: migrations never change
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


def upgrade() -> None:
    table = op.create_table(
        "item_themes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("object_id", sa.Integer(), sa.ForeignKey("objects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.UniqueConstraint("object_id", "key"),
    )
    op.create_index("ix_item_themes_object_id", "item_themes", ["object_id"])
    op.create_index("ix_item_themes_key", "item_themes", ["key"])
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, tags FROM objects")).fetchall()
    for object_id, tags in rows:
        tags = json.loads(tags) if isinstance(tags, str) else (tags or [])
        seen = set()
        for label in tags:
            key = _key(label)
            if key and key not in seen:
                seen.add(key)
                connection.execute(table.insert().values(object_id=object_id, key=key[:100], label=label[:100]))


def downgrade() -> None:
    op.drop_table("item_themes")
