"""what QuickBooks holds for every linked PurchaseOrder (change data capture), and the poll's
place on the connection

``qbo_purchase_order_states``: one row per commitment linked to a PurchaseOrder, with the PO's
SyncToken, DocNumber, TotalAmt, lines and deleted flag as QuickBooks' change data capture last
answered, whether it differs from what we wrote, and the acknowledge / restore facts.
``qbo_connections.cdc_changed_since`` / ``cdc_polled_at``: where the next poll starts and when
the last one finished. New tables and nullable columns only: nothing existing changes, and the
first poll fills the rows (a full read, as after a long downtime).

Revision ID: 0014_qbo_drift
Revises: 0015_books
Create Date: 2026-12-06 02:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0016_qbo_drift'
down_revision = '0015_books'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'qbo_purchase_order_states',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('commitment_id', sa.Integer(),
                  sa.ForeignKey('commitments.id', ondelete='CASCADE'), nullable=False,
                  unique=True),
        sa.Column('purchase_order_id', sa.String(40), nullable=False),
        sa.Column('sync_token', sa.String(20), nullable=True),
        sa.Column('doc_number', sa.String(40), nullable=True),
        sa.Column('total', sa.Numeric(14, 2), nullable=True),
        sa.Column('lines', sa.Text(), nullable=False, server_default='[]'),
        sa.Column('deleted', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('changed_at', sa.String(40), nullable=True),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('differs', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('agreed_line_ids', sa.Text(), nullable=True),
        sa.Column('acknowledged_token', sa.String(20), nullable=True),
        sa.Column('restore_requested_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_qbo_purchase_order_states_purchase_order_id',
                    'qbo_purchase_order_states', ['purchase_order_id'])
    op.create_index('ix_qbo_purchase_order_states_differs', 'qbo_purchase_order_states',
                    ['differs'])
    with op.batch_alter_table('qbo_connections') as batch:
        batch.add_column(sa.Column('cdc_changed_since', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('cdc_polled_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('qbo_connections') as batch:
        batch.drop_column('cdc_polled_at')
        batch.drop_column('cdc_changed_since')
    op.drop_index('ix_qbo_purchase_order_states_differs', 'qbo_purchase_order_states')
    op.drop_index('ix_qbo_purchase_order_states_purchase_order_id',
                  'qbo_purchase_order_states')
    op.drop_table('qbo_purchase_order_states')
