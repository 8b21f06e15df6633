"""approval is a record: what the reviewer approved; notices that know what they are about

* ``change_order_approvals``: one row per approval of a CCO — who, when, the total, and each
  line's SOV line / cost code / category / amount (JSON); ``withdrawn_at`` once a change moved
  money or where it goes. Every CCO that is Approved now gets the record of its current lines
  (approved by its ``reviewed_by``, at its ``reviewed_at``), so it can still be sent.
* ``notices``: ``subject_type``, ``subject_id`` and ``about``, so a notice is put away once what
  it asks for is done. "Accounting rejected … Resend to ERP" notices not yet seen get their CCO
  from their link.
* the ``withdrawn`` kind of email (to the reviewer whose approval a change withdrew).

Revision ID: 0014_approval_record
Revises: 0013
Create Date: 2026-12-06 02:00:00

"""
import json
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

import models.types

revision = '0014_approval_record'
down_revision = '0013'
branch_labels = None
depends_on = None

OLD_KINDS = ('sent', 'rejected', 'synced', 'failed', 'digest')
NEW_KINDS = (*OLD_KINDS, 'withdrawn')
KIND_TABLES = ('email_opt_outs', 'pending_notifications')


def _kinds(tables, kinds):
    for table in tables:
        with op.batch_alter_table(table, recreate='always') as batch:
            batch.drop_constraint(op.f(f'ck_{table}_notification_kind'), type_='check')
            batch.create_check_constraint(
                'notification_kind',
                sa.column('kind').in_(kinds))


def upgrade():
    op.create_table(
        'change_order_approvals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('change_order_id', sa.Integer(), nullable=False),
        sa.Column('approved_by_id', sa.Integer(), nullable=True),
        sa.Column('approved_at', models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('lines', sa.Text(), nullable=False),
        sa.Column('withdrawn_at', models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
        sa.Column('withdrawn_because', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['change_order_id'], ['change_orders.id'],
                                name=op.f('fk_change_order_approvals_change_order_id_change_orders'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'],
                                name=op.f('fk_change_order_approvals_approved_by_id_users')),
        sa.ForeignKeyConstraint(['withdrawn_by_id'], ['users.id'],
                                name=op.f('fk_change_order_approvals_withdrawn_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_change_order_approvals')),
    )
    op.create_index(op.f('ix_change_order_approvals_change_order_id'),
                    'change_order_approvals', ['change_order_id'])
    with op.batch_alter_table('notices') as batch:
        batch.add_column(sa.Column('subject_type', sa.String(length=30), nullable=True))
        batch.add_column(sa.Column('subject_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('about', sa.String(length=30), nullable=True))
        batch.create_index('ix_notices_subject', ['subject_type', 'subject_id'])
    _kinds(KIND_TABLES, NEW_KINDS)
    _backfill_approvals()
    _backfill_notices()


def _backfill_approvals():
    """The record of what is Approved now: its current lines, as the reviewer left them."""
    conn = op.get_bind()
    when = models.types.UTCDateTime(timezone=True)
    change_orders = sa.table(
        'change_orders', sa.column('id'), sa.column('status'), sa.column('reviewed_by_id'),
        sa.column('reviewed_at', when), sa.column('updated_at', when),
        sa.column('created_at', when))
    ccos = conn.execute(
        sa.select(change_orders.c.id, change_orders.c.reviewed_by_id,
                  change_orders.c.reviewed_at, change_orders.c.updated_at,
                  change_orders.c.created_at)
        .where(change_orders.c.status == 'approved').order_by(change_orders.c.id)).all()
    approvals = sa.table(
        'change_order_approvals', sa.column('change_order_id'), sa.column('approved_by_id'),
        sa.column('approved_at', models.types.UTCDateTime(timezone=True)),
        sa.column('total', sa.Numeric(14, 2)), sa.column('lines'))
    rows = []
    for cco_id, reviewed_by_id, reviewed_at, updated_at, created_at in ccos:
        lines = conn.execute(sa.text(
            "SELECT l.id, l.sov_line_id, l.cost_code_id, l.category_id, l.amount, "
            "l.description, s.line_number, s.description, "
            "COALESCE(sc.code, oc.code), COALESCE(scat.name, ocat.name) "
            "FROM change_order_lines l "
            "LEFT JOIN sov_lines s ON s.id = l.sov_line_id "
            "LEFT JOIN cost_codes sc ON sc.id = s.cost_code_id "
            "LEFT JOIN categories scat ON scat.id = s.category_id "
            "LEFT JOIN cost_codes oc ON oc.id = l.cost_code_id "
            "LEFT JOIN categories ocat ON ocat.id = l.category_id "
            "WHERE l.change_order_id = :cco ORDER BY l.id"), {"cco": cco_id}).all()
        items = []
        total = Decimal('0.00')
        for (line_id, sov_line_id, cost_code_id, category_id, amount, description,
             sov_number, sov_description, code, category) in lines:
            amount = Decimal(str(amount)).quantize(Decimal('0.01'))
            total += amount
            items.append({
                "line_id": line_id, "sov_line_id": sov_line_id, "cost_code_id": cost_code_id,
                "category_id": category_id, "amount": f"{amount:.2f}",
                "sov_line": f"{sov_number}. {sov_description}" if sov_line_id else None,
                "cost_code": code, "category": category, "description": description})
        at = reviewed_at or updated_at or created_at
        rows.append({"change_order_id": cco_id, "approved_by_id": reviewed_by_id,
                     "approved_at": at, "total": total, "lines": json.dumps(items)})
    if rows:
        op.bulk_insert(approvals, rows)


def _backfill_notices():
    """Unseen "Accounting rejected …" notices name their CCO by the end of their link."""
    conn = op.get_bind()
    notices = conn.execute(sa.text(
        "SELECT id, link FROM notices WHERE seen_at IS NULL AND link IS NOT NULL "
        "AND message LIKE 'Accounting rejected %'")).all()
    for notice_id, link in notices:
        head, _, tail = link.rstrip('/').rpartition('/')
        if head.endswith('/change-orders') and tail.isdigit():
            conn.execute(sa.text(
                "UPDATE notices SET subject_type = 'change_order', subject_id = :cco, "
                "about = 'erp_rejected' WHERE id = :id"), {"cco": int(tail), "id": notice_id})


def downgrade():
    conn = op.get_bind()
    for table in KIND_TABLES:
        conn.execute(sa.text(f"DELETE FROM {table} WHERE kind = 'withdrawn'"))
    _kinds(KIND_TABLES, OLD_KINDS)
    with op.batch_alter_table('notices') as batch:
        batch.drop_index('ix_notices_subject')
        batch.drop_column('about')
        batch.drop_column('subject_id')
        batch.drop_column('subject_type')
    op.drop_index(op.f('ix_change_order_approvals_change_order_id'),
                  table_name='change_order_approvals')
    op.drop_table('change_order_approvals')
