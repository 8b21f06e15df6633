"""the PurchaseOrder as QuickBooks answered our last write (one call per CCO export)

``commitments.qbo_last_write``: JSON of the PurchaseOrder's Id, SyncToken, DocNumber,
PrivateNote and Line array as QuickBooks answered our last write to it, or as change data
capture last saw it. A CCO's export sends its sparse update from it with that SyncToken;
QuickBooks answers a stale one with 5010, and only then is the PO read
(docs/quickbooks.md, "CCOs: one sparse update"). A nullable column only: existing rows keep
everything, and a commitment without it reads its PO once, as before, which fills it.

Revision ID: 0018_qbo_last_write
Revises: 0017_erp_kinds
Create Date: 2026-12-06 05:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0018_qbo_last_write'
down_revision = '0017_erp_kinds'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('commitments', sa.Column('qbo_last_write', sa.Text(), nullable=True))


def downgrade():
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+ too): the table is not rebuilt, so the rows
    # that reference commitments stay as they are.
    op.drop_column('commitments', 'qbo_last_write')
