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
Revises: 0014_approval_record
Create Date: 2026-12-06 02:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0015_books'
down_revision = '0014_approval_record'
branch_labels = None
depends_on = None


# Plain ALTER TABLE (no batch copy): other tables refer to commitments and change_orders, and
# SQLite (3.35+) adds and drops a column in place.
def upgrade():
    op.add_column('commitments', sa.Column('qbo_link', sa.Text(), nullable=True))
    op.create_index('ux_commitments_qbo_purchase_order_id', 'commitments',
                    ['qbo_purchase_order_id'], unique=True)
    op.add_column('change_orders', sa.Column('erp_unlink', sa.Text(), nullable=True))


def downgrade():
    op.drop_column('change_orders', 'erp_unlink')
    op.drop_index('ux_commitments_qbo_purchase_order_id', table_name='commitments')
    op.drop_column('commitments', 'qbo_link')
