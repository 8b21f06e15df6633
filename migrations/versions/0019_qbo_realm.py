"""which QuickBooks company a commitment's PurchaseOrder link belongs to

``commitments.qbo_realm_id``: the company (realm) whose PurchaseOrder ``qbo_purchase_order_id``
names. QuickBooks ids are per company: PurchaseOrder 42 of one company is an unrelated PO of
another, so after the connection is switched to another company a link to the old one is
history, never read or written (docs/quickbooks.md, "Switching QuickBooks company").

Every existing link is the connected company's (the app has one connection, and links made
before it existed were made with it): they get the connection's realm, so an upgrade changes
nothing for a company that never switched. The unique index on the PurchaseOrder Id becomes
unique per company: the new company may hand out an Id the old one already did.

Downgrading drops the column and makes the index unique on the Id alone again; it fails if two
commitments hold the same Id in two companies (unlink one first).

Revision ID: 0019_qbo_realm
Revises: 0018_qbo_last_write
Create Date: 2026-12-07 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0019_qbo_realm'
down_revision = '0018_qbo_last_write'
branch_labels = None
depends_on = None


# Plain ALTER TABLE (no batch copy): other tables refer to commitments, and SQLite (3.35+)
# adds and drops a column in place.
def upgrade():
    op.add_column('commitments', sa.Column('qbo_realm_id', sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE commitments SET qbo_realm_id = (SELECT realm_id FROM qbo_connections "
        "ORDER BY id LIMIT 1) WHERE qbo_purchase_order_id IS NOT NULL")
    op.drop_index('ux_commitments_qbo_purchase_order_id', table_name='commitments')
    op.create_index('ux_commitments_qbo_realm_purchase_order', 'commitments',
                    ['qbo_realm_id', 'qbo_purchase_order_id'], unique=True)


def downgrade():
    op.drop_index('ux_commitments_qbo_realm_purchase_order', table_name='commitments')
    op.create_index('ux_commitments_qbo_purchase_order_id', 'commitments',
                    ['qbo_purchase_order_id'], unique=True)
    op.drop_column('commitments', 'qbo_realm_id')
