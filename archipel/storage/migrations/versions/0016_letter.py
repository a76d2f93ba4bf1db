"""The weekly letter: subscribers (double opt-in), issues, each subscriber's letter of an issue,
the editorial; the mail queue gains extra headers, an HTML part and the mark of a claim.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from archipel.storage.tables import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outgoing_mail") as batch:
        batch.add_column(sa.Column("claimed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("headers", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("html", sa.Text(), nullable=True))
    op.create_table(
        "letter_subscribers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("radius_km", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("sent_until", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_letter_subscribers_unconfirmed", "letter_subscribers", ["confirmed_at", "created_at"])
    op.create_table(
        "letter_issues",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("period", sa.String(16), nullable=False, unique=True),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("monthly", sa.Boolean(), nullable=False),
        sa.Column("editorial", sa.Text(), nullable=False),
        sa.Column("article_uri", sa.String(2000), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("composed_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "letter_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscriber_id", sa.Integer(), sa.ForeignKey("letter_subscribers.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("issue_id", sa.Integer(), sa.ForeignKey("letter_issues.id", ondelete="CASCADE"), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("subscriber_id", "issue_id", name="uq_letter_deliveries_subscriber_issue"),
    )
    op.create_index("ix_letter_deliveries_issue_id", "letter_deliveries", ["issue_id"])
    op.create_table(
        "letter_editorial",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("letter_editorial")
    op.drop_index("ix_letter_deliveries_issue_id", table_name="letter_deliveries")
    op.drop_table("letter_deliveries")
    op.drop_table("letter_issues")
    op.drop_index("ix_letter_subscribers_unconfirmed", table_name="letter_subscribers")
    op.drop_table("letter_subscribers")
    with op.batch_alter_table("outgoing_mail") as batch:
        batch.drop_column("html")
        batch.drop_column("headers")
        batch.drop_column("claimed_at")
