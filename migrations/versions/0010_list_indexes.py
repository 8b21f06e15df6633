"""indexes for the paged lists: each filter of the commitments and change events lists, in the
order the list is read (number, id)

A page of a project's commitments or change events is read by keyset in (number, id) order
under the project and at most one of its filters; these indexes make each such page an index
range scan at any size (the unfiltered list uses the unique (project_id, number) index). The
vendor filter of the change events list reads line items by vendor. Indexes only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 02:00:00

"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_commitments_project_type_number', 'commitments', ['project_id', 'type', 'number', 'id']),
    ('ix_commitments_project_status_number', 'commitments',
     ['project_id', 'status', 'number', 'id']),
    ('ix_commitments_project_vendor_number', 'commitments',
     ['project_id', 'vendor_id', 'number', 'id']),
    ('ix_change_events_project_status_number', 'change_events',
     ['project_id', 'status', 'number', 'id']),
    ('ix_change_events_project_scope_number', 'change_events',
     ['project_id', 'scope', 'number', 'id']),
    ('ix_change_event_lines_vendor_event', 'change_event_lines',
     ['vendor_id', 'change_event_id']),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
