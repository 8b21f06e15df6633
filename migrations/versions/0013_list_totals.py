"""list totals kept as records change: each commitment's and change event's share of its
list's totals row, and those shares added up per project and filter (models/list_totals.py)

The commitments and change events lists end in a totals row over every record their filters
match. It was summed from every line when the list was read, which cost more as a project
grew; now it reads a few rows kept up to date by each change. The upgrade creates the four
tables and fills them from the records as they are (the amounts are summed, not copied, so
nothing of the records changes); downgrading drops them. Private CCOs are summed apart per
user who may see them, so each viewer's totals row still reads a few rows. The indexes find,
when a CCO changes, the users who may see it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 08:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

COMMITMENT_AMOUNTS = ('original', 'approved', 'pending', 'private_approved', 'private_pending',
                      'private_count')
CHANGE_EVENT_AMOUNTS = ('cost_rom', 'latest_cost')
INDEXES = (
    ('ix_cco_viewers_user_id', 'cco_viewers', ['user_id']),
    ('ix_change_orders_created_by_private', 'change_orders', ['created_by_id', 'private']),
    ('ix_change_orders_reviewer_private', 'change_orders', ['designated_reviewer_id', 'private']),
)


def _cents(*names):
    return [sa.Column(name, sa.BigInteger(), nullable=False, server_default='0')
            for name in names]


def upgrade():
    op.create_table(
        'commitment_sums',
        sa.Column('commitment_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('vendor_id', sa.Integer(), nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        *_cents(*COMMITMENT_AMOUNTS),
        sa.Column('viewers', sa.Text(), nullable=False, server_default=''),
        sa.PrimaryKeyConstraint('commitment_id', name=op.f('pk_commitment_sums')))
    op.create_table(
        'commitment_list_totals',
        sa.Column('project_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('vendor_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('viewer_id', sa.Integer(), autoincrement=False, nullable=False),
        *_cents('records', *COMMITMENT_AMOUNTS),
        sa.PrimaryKeyConstraint('project_id', 'vendor_id', 'type', 'status', 'viewer_id',
                                name=op.f('pk_commitment_list_totals')))
    op.create_table(
        'change_event_sums',
        sa.Column('change_event_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('vendor_ids', sa.Text(), nullable=False, server_default=''),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('scope', sa.String(length=32), nullable=False),
        *_cents(*CHANGE_EVENT_AMOUNTS),
        sa.PrimaryKeyConstraint('change_event_id', name=op.f('pk_change_event_sums')))
    op.create_table(
        'change_event_list_totals',
        sa.Column('project_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('vendor_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('scope', sa.String(length=32), nullable=False),
        *_cents('records', *CHANGE_EVENT_AMOUNTS),
        sa.PrimaryKeyConstraint('project_id', 'vendor_id', 'status', 'scope',
                                name=op.f('pk_change_event_list_totals')))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    # Sum the existing records with the same code that keeps them (it reads only columns
    # every revision from here on has).
    from models.list_totals import rebuild

    rebuild(op.get_bind())


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    for table in ('change_event_list_totals', 'change_event_sums', 'commitment_list_totals',
                  'commitment_sums'):
        op.drop_table(table)
