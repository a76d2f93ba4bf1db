"""PostgreSQL: search_text keeps a copy of each item's facets beside its words, so that a search
with words finds the matching items, ranks them and counts their facets in one table, instead of
joining the matches to every row of search_documents (« réemploi » at 100,000 items: 62 → 40 ms
for its one statement). search_documents keeps its narrow rows for the searches without words.

The table is built again with the facets copied from search_documents (an UPDATE of every row
would write every row's words into the GIN index a second time), and keeps each row whole in its
page up to a page's size (toast_tuple_target): by default PostgreSQL moved every row over 2 KB
(a third of them) to its TOAST table, read back for each match's ranking, or each match checked
when the words are in so many items that their bitmap is lossy (« réemploi » 40 → 33 ms; the
count of « atelier », in nine items of ten, 132 → 59 ms). SQLite: nothing (its FTS5 table holds
words only; its searches read search_documents for the facets).

Revision ID: 0022
Revises: 0021
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# As search_documents holds them (migration 0013), but for the position.
_FACETS = (("island", "VARCHAR(255) NOT NULL"), ("local", "BOOLEAN NOT NULL"), ("via", "VARCHAR(255) NOT NULL"),
           ("kind", "VARCHAR(16) NOT NULL"), ("language", "VARCHAR(16) NOT NULL"),
           ("licence", "VARCHAR(32) NOT NULL"), ("region", "VARCHAR(200) NOT NULL"),
           ("place", "VARCHAR(200) NOT NULL"), ("audience", "VARCHAR(200) NOT NULL"),
           ("started_year", "INTEGER"), ("published", "TIMESTAMP WITH TIME ZONE NOT NULL"),
           ("themes", "TEXT NOT NULL"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    names = ", ".join(name for name, _ in _FACETS)
    op.execute("CREATE TABLE search_text_new (object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE, "
               "vector TSVECTOR NOT NULL, " + ", ".join(f"{name} {kind}" for name, kind in _FACETS) + ") "
               "WITH (toast_tuple_target = 8160)")  # 8160: the most a page holds (8 KB pages)
    op.execute(f"INSERT INTO search_text_new (object_id, vector, {names}) "
               f"SELECT t.object_id, t.vector, {', '.join('d.' + name for name, _ in _FACETS)} "
               "FROM search_text t JOIN search_documents d ON d.object_id = t.object_id")
    op.execute("DROP TABLE search_text")
    op.execute("ALTER TABLE search_text_new RENAME TO search_text")
    op.execute("ALTER TABLE search_text ADD CONSTRAINT search_text_pkey PRIMARY KEY (object_id)")
    op.execute("ALTER TABLE search_text RENAME CONSTRAINT search_text_new_object_id_fkey "
               "TO search_text_object_id_fkey")
    op.execute("CREATE INDEX ix_search_text_vector ON search_text USING GIN (vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("ALTER TABLE search_text " + ", ".join(f"DROP COLUMN {name}" for name, _ in _FACETS))
    op.execute("ALTER TABLE search_text RESET (toast_tuple_target)")
