"""a QuickBooks connection disconnected before 0005 is not one that needs reconnecting

Until now Disconnect kept ``connected_at``; it now clears it, and a connection that still has
``connected_at`` but no refresh token is one QuickBooks refused ("Reconnect to QuickBooks").
Rows disconnected before this revision would read as refused, so clear their ``connected_at``.
Data only: no column changes, nothing lost (the realm and the links are kept).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 03:45:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE qbo_connections SET connected_at = NULL "
               "WHERE refresh_token_encrypted IS NULL AND connected_at IS NOT NULL")


def downgrade():
    pass  # the old code never read connected_at this way: nothing to undo
