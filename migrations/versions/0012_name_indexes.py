"""indexes for the lists read by name: users (the admin's users list, a project's members),
and the active projects and vendors the inbox's filters and the project picker offer

Each of these lists is a keyset page (or the first CHOICES rows) in (name or number, id)
order; these indexes make it an index range scan at any size. Indexes only.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 05:00:00

"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_users_name_id', 'users', ['name', 'id']),
    ('ix_vendors_name_id', 'vendors', ['name', 'id']),
    ('ix_projects_active_number_id', 'projects', ['active', 'number', 'id']),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
