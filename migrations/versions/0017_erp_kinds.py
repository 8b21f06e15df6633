"""an Export points at (kind, record id) and the QuickBooks record it writes

``exports.record_id``: the id of the record sent, of the kind in ``subject_type`` (its ERP
kind, workflow/kinds.py). ``exports.target_key``: the QuickBooks record the export writes, the
key of its export lock (``purchase-order:<commitment id>`` for a commitment and its CCOs).
Every existing row is filled from what it meant before (a CCO's export: its
``change_order_id``; a commitment's: its ``commitment_id``), so nothing is lost, and
``commitment_id`` may now be empty for a kind that has no commitment. Downgrading drops the
two columns again; it refuses while an export without a commitment exists (0016 could not
hold it).

Revision ID: 0017_erp_kinds
Revises: 0016_qbo_drift
Create Date: 2026-12-06 05:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0017_erp_kinds'
down_revision = '0016_qbo_drift'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('target_key', sa.String(60), nullable=True))
    op.execute("UPDATE exports SET record_id = CASE WHEN subject_type = 'change_order' "
               "THEN change_order_id ELSE commitment_id END, "
               "target_key = 'purchase-order:' || CAST(commitment_id AS VARCHAR(20))")
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.alter_column('record_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('target_key', existing_type=sa.String(60), nullable=False)
        batch_op.alter_column('commitment_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index('ix_exports_subject_type_record_id',
                              ['subject_type', 'record_id'])


def downgrade():
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM exports WHERE commitment_id IS NULL")
                    ).scalar():
        raise RuntimeError("Exports of a kind without a commitment exist; 0016 cannot hold "
                           "them. Delete them first if that is really meant.")
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.drop_index('ix_exports_subject_type_record_id')
        batch_op.alter_column('commitment_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('target_key')
        batch_op.drop_column('record_id')
