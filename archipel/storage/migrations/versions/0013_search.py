"""Search: the facets of every listed item (search_documents), their totals per origin
(search_facet_totals), and its words (search_text).

The words table is each database's own full-text structure: on SQLite an FTS5 virtual table
(rowid = the item's id; bm25 ranking with column weights), on PostgreSQL a tsvector (title A,
pitch B, body C) with a GIN index. Both hold the same terms, made by archipel/search_terms.py;
`archipel reindex DIR` fills them for the items already stored.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from archipel.storage.tables import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("object_id", sa.Integer(), sa.ForeignKey("objects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("island", sa.String(255), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("via", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("licence", sa.String(32), nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("audience", sa.String(200), nullable=False),
        sa.Column("started_year", sa.Integer(), nullable=True),
        sa.Column("published", UTCDateTime(), nullable=False),
        sa.Column("themes", sa.Text(), nullable=False),
    )
    origin = (("island", sa.String(255)), ("local", sa.Boolean()), ("via", sa.String(255)))
    op.create_table(
        "search_facet_totals",
        sa.Column("id", sa.Integer(), primary_key=True),
        *(sa.Column(name, column_type, nullable=False) for name, column_type in (
            *origin, ("facet", sa.String(16)), ("value", sa.String(200)), ("label", sa.String(200)),
            ("count", sa.Integer()))),
    )
    op.create_table(
        "search_combinations",
        sa.Column("id", sa.Integer(), primary_key=True),
        *(sa.Column(name, column_type, nullable=False) for name, column_type in (
            *origin, ("kind", sa.String(16)), ("region", sa.String(200)), ("place", sa.String(200)),
            ("language", sa.String(16)), ("licence", sa.String(32)), ("audience", sa.String(200)),
            ("started_year", sa.Integer()), ("count", sa.Integer()))),
    )
    op.create_index("ix_search_documents_island", "search_documents", ["island"])
    op.create_index("ix_search_documents_published", "search_documents", ["published", "object_id"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE search_text USING fts5(title, pitch, body, "
                   "tokenize = 'unicode61 remove_diacritics 0')")
    else:
        op.execute("CREATE TABLE search_text (object_id INTEGER PRIMARY KEY "
                   "REFERENCES objects(id) ON DELETE CASCADE, vector TSVECTOR NOT NULL)")
        op.execute("CREATE INDEX ix_search_text_vector ON search_text USING GIN (vector)")
    # The items already stored are indexed by `archipel reindex` (run by `archipel migrate`).


def downgrade() -> None:
    op.execute("DROP TABLE search_text")
    op.drop_index("ix_search_documents_published", table_name="search_documents")
    op.drop_index("ix_search_documents_island", table_name="search_documents")
    op.drop_table("search_combinations")
    op.drop_table("search_facet_totals")
    op.drop_table("search_documents")
