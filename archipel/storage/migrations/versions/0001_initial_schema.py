"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 07:30:53.546592
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('follows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('follower_uri', sa.String(length=2000), nullable=False),
    sa.Column('followed_uri', sa.String(length=2000), nullable=False),
    sa.Column('activity_uri', sa.String(length=2000), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('follower_uri', 'followed_uri')
    )
    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follows_followed_uri'), ['followed_uri'], unique=False)

    op.create_table('host_health',
    sa.Column('host', sa.String(length=300), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('paused_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('host')
    )
    op.create_table('incoming_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_uri', sa.String(length=2000), nullable=True),
    sa.Column('activity_type', sa.String(length=32), nullable=False),
    sa.Column('actor_uri', sa.String(length=2000), nullable=False),
    sa.Column('signer_uri', sa.String(length=2000), nullable=False),
    sa.Column('body_trusted', sa.Boolean(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('activity_uri')
    )
    with op.batch_alter_table('incoming_activities', schema=None) as batch_op:
        batch_op.create_index('ix_incoming_state', ['state', 'id'], unique=False)

    op.create_table('interactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_uri', sa.String(length=2000), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('actor_uri', sa.String(length=2000), nullable=False),
    sa.Column('object_uri', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('activity_uri'),
    sa.UniqueConstraint('type', 'actor_uri', 'object_uri')
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interactions_object_uri'), ['object_uri'], unique=False)

    op.create_table('local_actors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('private_key_pem', sa.Text(), nullable=False),
    sa.Column('public_key_pem', sa.Text(), nullable=False),
    sa.Column('manually_approves_followers', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('remote_actors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=2000), nullable=False),
    sa.Column('host', sa.String(length=300), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('display_name', sa.String(length=500), nullable=False),
    sa.Column('inbox', sa.String(length=2000), nullable=False),
    sa.Column('shared_inbox', sa.String(length=2000), nullable=True),
    sa.Column('followers_uri', sa.String(length=2000), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('icon_url', sa.String(length=2000), nullable=True),
    sa.Column('key_id', sa.String(length=2000), nullable=True),
    sa.Column('public_key_pem', sa.Text(), nullable=True),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('remote_actors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remote_actors_host'), ['host'], unique=False)
        batch_op.create_index(batch_op.f('ix_remote_actors_key_id'), ['key_id'], unique=False)

    op.create_table('objects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=2000), nullable=False),
    sa.Column('is_local', sa.Boolean(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('author_uri', sa.String(length=2000), nullable=False),
    sa.Column('local_author_id', sa.Integer(), nullable=True),
    sa.Column('in_reply_to', sa.String(length=2000), nullable=True),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('published', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['local_author_id'], ['local_actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_objects_author_uri'), ['author_uri'], unique=False)
        batch_op.create_index(batch_op.f('ix_objects_in_reply_to'), ['in_reply_to'], unique=False)
        batch_op.create_index(batch_op.f('ix_objects_local_author_id'), ['local_author_id'], unique=False)

    op.create_table('outgoing_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_uri', sa.String(length=2000), nullable=False),
    sa.Column('activity_type', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('object_uri', sa.String(length=2000), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['local_actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('activity_uri')
    )
    with op.batch_alter_table('outgoing_activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outgoing_activities_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outgoing_activities_object_uri'), ['object_uri'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['local_actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id')
    )
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outgoing_id', sa.Integer(), nullable=False),
    sa.Column('inbox_url', sa.String(length=2000), nullable=False),
    sa.Column('host', sa.String(length=300), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['outgoing_id'], ['outgoing_activities.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('outgoing_id', 'inbox_url')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_due', ['state', 'next_try_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_due')

    op.drop_table('deliveries')
    op.drop_table('users')
    with op.batch_alter_table('outgoing_activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outgoing_activities_object_uri'))
        batch_op.drop_index(batch_op.f('ix_outgoing_activities_actor_id'))

    op.drop_table('outgoing_activities')
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_objects_local_author_id'))
        batch_op.drop_index(batch_op.f('ix_objects_in_reply_to'))
        batch_op.drop_index(batch_op.f('ix_objects_author_uri'))

    op.drop_table('objects')
    with op.batch_alter_table('remote_actors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remote_actors_key_id'))
        batch_op.drop_index(batch_op.f('ix_remote_actors_host'))

    op.drop_table('remote_actors')
    op.drop_table('local_actors')
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interactions_object_uri'))

    op.drop_table('interactions')
    with op.batch_alter_table('incoming_activities', schema=None) as batch_op:
        batch_op.drop_index('ix_incoming_state')

    op.drop_table('incoming_activities')
    op.drop_table('host_health')
    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follows_followed_uri'))

    op.drop_table('follows')

