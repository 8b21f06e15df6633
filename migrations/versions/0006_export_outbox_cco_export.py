"""exports as an outbox, CCO exports, DocNumber prefixes, in-app notices

* ``exports.next_attempt_at``, ``exports.retries``: when a queued export may run again (a retry
  after throttling), and how many such retries this round has had;
  the worker's dispatcher queues every queued or running export that has no live job.
* ``projects.qbo_doc_prefix``: an optional prefix for the QuickBooks DocNumber of the project's
  commitments (commitment numbers are unique per project, DocNumbers per QuickBooks company).
* ``commitments.qbo_total``: the PurchaseOrder's TotalAmt as QuickBooks last answered it, to
  show drift without calling QuickBooks on a page load.
* ``change_orders.erp_reopen_pending``: a rejected CCO waits for the reopen job.
* ``change_order_lines.qbo_line_id``: the PurchaseOrder line a CCO's new line became.
* ``notices``: in-app messages shown on a user's next page.

Columns only added; nothing dropped or rewritten.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 01:00:00

"""
import sqlalchemy as sa
from alembic import op

import models.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exports') as batch:
        batch.add_column(sa.Column('next_attempt_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('retries', sa.Integer(), nullable=False, server_default='0'))
        batch.create_index('ix_exports_status', ['status'])
    with op.batch_alter_table('projects') as batch:
        batch.add_column(sa.Column('qbo_doc_prefix', sa.String(length=8), nullable=False,
                                   server_default=''))
    with op.batch_alter_table('commitments') as batch:
        batch.add_column(sa.Column('qbo_total', sa.Numeric(14, 2), nullable=True))
    with op.batch_alter_table('change_orders') as batch:
        batch.add_column(sa.Column('erp_reopen_pending', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table('change_order_lines') as batch:
        batch.add_column(sa.Column('qbo_line_id', sa.String(length=40), nullable=True))
    op.create_table(
        'notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('link', sa.String(length=500), nullable=True),
        sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('seen_at', models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notices_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
    )
    op.create_index('ix_notices_user_id_seen_at', 'notices', ['user_id', 'seen_at'])


def downgrade():
    op.drop_index('ix_notices_user_id_seen_at', table_name='notices')
    op.drop_table('notices')
    with op.batch_alter_table('change_order_lines') as batch:
        batch.drop_column('qbo_line_id')
    with op.batch_alter_table('change_orders') as batch:
        batch.drop_column('erp_reopen_pending')
    with op.batch_alter_table('commitments') as batch:
        batch.drop_column('qbo_total')
    with op.batch_alter_table('projects') as batch:
        batch.drop_column('qbo_doc_prefix')
    with op.batch_alter_table('exports') as batch:
        batch.drop_index('ix_exports_status')
        batch.drop_column('next_attempt_at')
        batch.drop_column('retries')
