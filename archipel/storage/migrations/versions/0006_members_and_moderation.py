"""Members from the fediverse, open contribution and moderation: theme actors and profiles,
shares, notifications, proposals, reports, blocks, the moderation log and outgoing mail.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _actor_ref(name: str, nullable: bool = True, **fk) -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("local_actors.id", **fk), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("local_actors") as batch:
        batch.add_column(sa.Column("theme_key", sa.String(100), nullable=True))
        batch.add_column(sa.Column("avatar", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("header", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("links", sa.JSON(), nullable=False, server_default="[]"))
        batch.create_unique_constraint("uq_local_actors_theme_key", ["theme_key"])
    with op.batch_alter_table("objects") as batch:
        batch.add_column(_when("hidden_at", nullable=True))

    op.create_table(
        "shares",
        sa.Column("id", sa.Integer(), primary_key=True),
        _actor_ref("actor_id", nullable=False, ondelete="CASCADE"),
        sa.Column("object_uri", sa.String(2000), nullable=False),
        sa.Column("activity_uri", sa.String(2000), nullable=False, unique=True),
        _when("created_at"),
        sa.UniqueConstraint("actor_id", "object_uri"),
    )
    op.create_index("ix_shares_actor_id", "shares", ["actor_id"])
    op.create_index("ix_shares_object_uri", "shares", ["object_uri"])

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        _actor_ref("recipient_id", nullable=False, ondelete="CASCADE"),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("actor_uri", sa.String(2000), nullable=True),
        sa.Column("object_uri", sa.String(2000), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        _when("created_at"),
        _when("read_at", nullable=True),
    )
    op.create_index("ix_notifications_recipient", "notifications", ["recipient_id", "id"])

    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("item_kind", sa.String(16), nullable=False),
        sa.Column("target_uri", sa.String(2000), nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("activity_uri", sa.String(2000), nullable=True, unique=True),
        sa.Column("proposer_name", sa.String(200), nullable=False),
        sa.Column("proposer_email", sa.String(320), nullable=True),
        sa.Column("proposer_actor_uri", sa.String(2000), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _actor_ref("decided_by_id"),
        _when("decided_at", nullable=True),
        sa.Column("published_uri", sa.String(2000), nullable=True),
        _when("created_at"),
    )
    op.create_index("ix_proposals_state", "proposals", ["state", "id"])

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("activity_uri", sa.String(2000), nullable=True, unique=True),
        sa.Column("reporter_uri", sa.String(2000), nullable=False),
        sa.Column("target_actor_uri", sa.String(2000), nullable=True),
        sa.Column("object_uris", sa.JSON(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _actor_ref("resolved_by_id"),
        _when("resolved_at", nullable=True),
        _when("created_at"),
    )
    op.create_index("ix_reports_target_actor_uri", "reports", ["target_actor_uri"])
    op.create_index("ix_reports_state", "reports", ["state", "id"])

    op.create_table(
        "blocks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _actor_ref("created_by_id"),
        _when("created_at"),
        sa.UniqueConstraint("kind", "target"),
    )

    op.create_table(
        "moderation_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        _actor_ref("moderator_id"),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(2000), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        _when("created_at"),
    )
    op.create_index("ix_moderation_log_created_at", "moderation_log", ["created_at"])

    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_try_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _when("created_at"),
        _when("sent_at", nullable=True),
    )
    op.create_index("ix_outgoing_mail_due", "outgoing_mail", ["state", "next_try_at"])


def downgrade() -> None:
    for table in ("outgoing_mail", "moderation_log", "blocks", "reports", "proposals",
                  "notifications", "shares"):
        op.drop_table(table)
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("hidden_at")
    with op.batch_alter_table("local_actors") as batch:
        batch.drop_constraint("uq_local_actors_theme_key", type_="unique")
        for column in ("links", "header", "avatar", "theme_key"):
            batch.drop_column(column)
