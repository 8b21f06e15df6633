"""users get a session token (sessions that end) and a one-time password reset link

``session_token`` is part of every session's id: a new one ends every session of the user at
once. Existing users each get a random one, so sessions from before the upgrade end and
everyone logs in again once. ``reset_token_hash`` / ``reset_token_expires_at`` hold the
SHA-256 of a one-time "set your password" link and when it stops working.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_token", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reset_token_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reset_token_expires_at", sa.DateTime(timezone=True),
                                   nullable=True))
    conn = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("session_token", sa.String))
    for (user_id,) in conn.execute(sa.select(users.c.id)).all():
        conn.execute(users.update().where(users.c.id == user_id)
                     .values(session_token=secrets.token_urlsafe(32)))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("session_token", existing_type=sa.String(64), nullable=False)


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("reset_token_expires_at")
        batch.drop_column("reset_token_hash")
        batch.drop_column("session_token")
