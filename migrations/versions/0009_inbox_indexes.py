"""indexes for the approver's inbox: one ERP status, oldest waiting first

Keyset pages of the inbox read commitments and change orders by (erp_status, updated_at,
id); these indexes make each page an index range scan at any size. Indexes only.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 02:00:00

"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_commitments_erp_status_updated_at', 'commitments',
                    ['erp_status', 'updated_at', 'id'])
    op.create_index('ix_change_orders_erp_status_updated_at', 'change_orders',
                    ['erp_status', 'updated_at', 'id'])


def downgrade():
    op.drop_index('ix_change_orders_erp_status_updated_at', table_name='change_orders')
    op.drop_index('ix_commitments_erp_status_updated_at', table_name='commitments')
