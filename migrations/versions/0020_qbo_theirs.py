"""what a PurchaseOrder holds on lines that are not ours (a bookkeeper's own lines)

``qbo_purchase_order_states.theirs_total``: the sum of the PurchaseOrder's lines that are none
of ours (the lines a bookkeeper had on a PO before it was linked, or added and an ERP admin
acknowledged), as change data capture last read it. The drift line compares QuickBooks' total
without it against the revised schedule of values, so a linked PO with its bookkeeper's
freight line does not show as differing for ever (docs/quickbooks.md, "Seeing QuickBooks").
A nullable column only: existing rows count it as 0, as before, until the PO is read again.

Revision ID: 0020_qbo_theirs
Revises: 0019_qbo_realm
Create Date: 2026-12-06 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0020_qbo_theirs'
down_revision = '0019_qbo_realm'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('qbo_purchase_order_states',
                  sa.Column('theirs_total', sa.Numeric(14, 2), nullable=True))


def downgrade():
    op.drop_column('qbo_purchase_order_states', 'theirs_total')
