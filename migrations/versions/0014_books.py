"""start from real books: link a commitment to an existing PurchaseOrder, unlink

* ``commitments.qbo_link``: the link to a PurchaseOrder that was already in QuickBooks (JSON:
  its Id, DocNumber and, per SOV line, the PO line it was matched to with that line's amount
  and description when linked). Its first export is a sparse update of that PO.
* ``change_orders.erp_unlink``: what an unlinked CCO had put into QuickBooks (JSON: how many
  times it was unlinked, its changes per SOV line, its new lines' Ids), so its next export
  can tell whether the bookkeeper removed it (docs/quickbooks.md, "Unlink").
* A PurchaseOrder is linked to at most one commitment: a unique index on
  ``commitments.qbo_purchase_order_id`` (NULLs allowed, many).

Revision ID: 0014_books
Revises: 0013
Create Date: 2026-12-06 02:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0014_books'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('commitments') as batch:
        batch.add_column(sa.Column('qbo_link', sa.Text(), nullable=True))
        batch.create_index('ux_commitments_qbo_purchase_order_id', ['qbo_purchase_order_id'],
                           unique=True)
    with op.batch_alter_table('change_orders') as batch:
        batch.add_column(sa.Column('erp_unlink', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('change_orders') as batch:
        batch.drop_column('erp_unlink')
    with op.batch_alter_table('commitments') as batch:
        batch.drop_index('ux_commitments_qbo_purchase_order_id')
        batch.drop_column('qbo_link')
