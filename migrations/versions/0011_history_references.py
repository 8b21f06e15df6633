"""history events keep a reference to the record they name (ref_type, ref_id)

A "Commitment CO" event of a change event names the CCO made from its items. It was kept as
the sentence "CCO #001 of SC-1042" and parsed back to find the CCO; now it keeps the CCO's id
and its words are written when it is shown. Existing events get their reference from the CCO
their sentence names (in the change event's project); their sentence stays as it was, so
nothing is lost, and one whose CCO cannot be found keeps its sentence only. Downgrading
writes the sentence of every event that has only a reference, then drops the columns.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 04:00:00

"""
import re

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

COMMITMENT_CO = re.compile(r"CCO #(\d+) of (.+)")


def upgrade():
    with op.batch_alter_table('history_events') as batch:
        batch.add_column(sa.Column('ref_type', sa.String(length=30), nullable=True))
        batch.add_column(sa.Column('ref_id', sa.Integer(), nullable=True))
    connection = op.get_bind()
    events = connection.execute(sa.text(
        "SELECT h.id, h.new_value, ce.project_id FROM history_events h "
        "JOIN change_events ce ON ce.id = h.subject_id "
        "WHERE h.subject_type = 'change_event' AND h.field = 'Commitment CO' "
        "AND h.new_value IS NOT NULL")).all()
    for event_id, sentence, project_id in events:
        match = COMMITMENT_CO.fullmatch(sentence)
        if match is None:
            continue
        cco_id = connection.execute(sa.text(
            "SELECT co.id FROM change_orders co JOIN commitments c ON c.id = co.commitment_id "
            "WHERE c.project_id = :project AND c.number = :commitment AND co.number = :cco"),
            {"project": project_id, "commitment": match.group(2),
             "cco": match.group(1)}).scalar()
        if cco_id is not None:
            connection.execute(sa.text(
                "UPDATE history_events SET ref_type = 'change_order', ref_id = :cco "
                "WHERE id = :event"), {"cco": cco_id, "event": event_id})


def downgrade():
    connection = op.get_bind()
    events = connection.execute(sa.text(
        "SELECT h.id, co.number, c.number FROM history_events h "
        "JOIN change_orders co ON co.id = h.ref_id "
        "JOIN commitments c ON c.id = co.commitment_id "
        "WHERE h.ref_type = 'change_order' AND h.new_value IS NULL")).all()
    for event_id, cco_number, commitment_number in events:
        connection.execute(sa.text(
            "UPDATE history_events SET new_value = :sentence WHERE id = :event"),
            {"sentence": f"CCO #{cco_number} of {commitment_number}", "event": event_id})
    with op.batch_alter_table('history_events') as batch:
        batch.drop_column('ref_id')
        batch.drop_column('ref_type')
