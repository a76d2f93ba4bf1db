"""Incoming activities carry their sender's host, indexed with the state, so that the inbox
worker can take work round-robin by server without scanning the queue.

Revision ID: 0009
Revises: 0008
"""

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _host(uri: str | None) -> str:
    try:
        return urlsplit(uri or "").netloc.lower()[:255]
    except ValueError:
        return ""


def upgrade() -> None:
    with op.batch_alter_table("incoming_activities") as batch:
        batch.add_column(sa.Column("actor_host", sa.String(255), nullable=False, server_default=""))
    # Only the waiting rows matter to the worker; finished ones keep an empty host.
    table = sa.table("incoming_activities", sa.column("id", sa.Integer()), sa.column("actor_uri", sa.String()),
                     sa.column("state", sa.String()), sa.column("actor_host", sa.String()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(table.c.id, table.c.actor_uri).where(table.c.state == "received")).all()
    for row_id, actor_uri in rows:
        connection.execute(table.update().where(table.c.id == row_id).values(actor_host=_host(actor_uri)))
    op.create_index("ix_incoming_fair", "incoming_activities", ["state", "actor_host", "id"])


def downgrade() -> None:
    op.drop_index("ix_incoming_fair", table_name="incoming_activities")
    with op.batch_alter_table("incoming_activities") as batch:
        batch.drop_column("actor_host")
