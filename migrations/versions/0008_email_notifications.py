"""email notifications: opt-outs, pending notifications, the sent-mail outbox

* ``email_opt_outs``: a kind of email (sent, rejected, synced, failed, digest) a user turned
  off for themselves; no row means they get it.
* ``pending_notifications``: one thing to tell one person, one row per person and history
  event; rows of one person and kind are mailed together when the earliest falls due (sends
  to ERP within a couple of minutes make one email).
* ``sent_emails``: every email sent, by SMTP or only to the log (the /mail/outbox page).

Tables only added; nothing existing is changed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00

"""
import sqlalchemy as sa
from alembic import op

import models.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

KINDS = ('sent', 'rejected', 'synced', 'failed', 'digest')


def _kind():
    return sa.Enum(*KINDS, name='notification_kind', native_enum=False, create_constraint=True,
                   length=32)


def upgrade():
    op.create_table(
        'email_opt_outs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', _kind(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_email_opt_outs_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_email_opt_outs')),
        sa.UniqueConstraint('user_id', 'kind', name=op.f('uq_email_opt_outs_user_id_kind')),
    )
    op.create_table(
        'pending_notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', _kind(), nullable=False),
        sa.Column('subject_type', sa.String(length=30), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('history_event_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('due_at', models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('claim', sa.String(length=32), nullable=True),
        sa.Column('claimed_at', models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('sent_at', models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_pending_notifications_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'],
                                name=op.f('fk_pending_notifications_actor_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['history_event_id'], ['history_events.id'],
                                name=op.f('fk_pending_notifications_history_event_id_history_events'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_notifications')),
        sa.UniqueConstraint('user_id', 'history_event_id',
                            name=op.f('uq_pending_notifications_user_id_history_event_id')),
    )
    op.create_index('ix_pending_notifications_sent_at_due_at', 'pending_notifications',
                    ['sent_at', 'due_at'])
    op.create_index('ix_pending_notifications_user_id_kind', 'pending_notifications',
                    ['user_id', 'kind'])
    op.create_table(
        'sent_emails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('recipient', sa.String(length=254), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('transport', sa.String(length=10), nullable=False),
        sa.Column('sent_at', models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_sent_emails_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_emails')),
    )
    op.create_index(op.f('ix_sent_emails_user_id'), 'sent_emails', ['user_id'])
    op.create_index(op.f('ix_sent_emails_sent_at'), 'sent_emails', ['sent_at'])


def downgrade():
    op.drop_index(op.f('ix_sent_emails_sent_at'), table_name='sent_emails')
    op.drop_index(op.f('ix_sent_emails_user_id'), table_name='sent_emails')
    op.drop_table('sent_emails')
    op.drop_index('ix_pending_notifications_user_id_kind', table_name='pending_notifications')
    op.drop_index('ix_pending_notifications_sent_at_due_at', table_name='pending_notifications')
    op.drop_table('pending_notifications')
    op.drop_table('email_opt_outs')
