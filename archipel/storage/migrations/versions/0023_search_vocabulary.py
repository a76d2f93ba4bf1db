"""SQLite: search_vocabulary, FTS5's own view of how many items hold each term of search_text
(an fts5vocab table: nothing stored, nothing to keep up to date). A search with words reads the
counts of its words' versions there to rank the items of every language on one scale
(archipel/search_rarity.py). PostgreSQL: nothing (ts_rank reads no such counts).

Revision ID: 0023
Revises: 0022
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE search_vocabulary USING fts5vocab(search_text, 'row')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_vocabulary")
