"""0018_qbo_last_write keeps every commitment as it was, both ways (tests/test_migrations.py's
way: records made with today's models, the schema moved under them)."""

from __future__ import annotations

import json

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from extensions import db
from tests.migration_app import migration_app


def _row(commitment_id: int) -> tuple:
    return tuple(db.session.execute(text(
        "SELECT number, title, erp_status, qbo_purchase_order_id, qbo_sync_token, version "
        "FROM commitments WHERE id = :id"), {"id": commitment_id}).one())


def test_0018_adds_the_last_write_and_keeps_every_commitment_both_ways(tmp_path):
    from models import Commitment
    from quickbooks_online import ours
    from tests.factories import Factory

    app = migration_app(tmp_path)
    with app.app_context():
        upgrade()
        factory = Factory(password="x" * 12)
        commitment = factory.commitment(factory.project(), number="SC-1042",
                                        sov=("1000.00", "2000.00"))
        commitment.qbo_purchase_order_id, commitment.qbo_sync_token = "101", "4"
        db.session.commit()
        commitment_id = commitment.id
        ours.remember(commitment_id, {"Id": "101", "SyncToken": "4", "Line": [], "Memo": "x"})
        db.session.commit()
        assert ours.last_write(commitment_id, "101") == {"Id": "101", "SyncToken": "4",
                                                         "Line": []}
        assert ours.last_write(commitment_id, "102") is None  # another PO: not its record
        before = _row(commitment_id)
        sov_lines = db.session.execute(text(
            "SELECT count(*) FROM sov_lines WHERE commitment_id = :id"),
            {"id": commitment_id}).scalar()
        db.session.remove()

        downgrade(revision="0017_erp_kinds")
        columns = {c["name"] for c in inspect(db.engine).get_columns("commitments")}
        assert "qbo_last_write" not in columns
        assert _row(commitment_id) == before
        db.session.remove()

        upgrade()
        assert _row(commitment_id) == before  # nothing lost, the version untouched
        assert db.session.execute(text(
            "SELECT count(*) FROM sov_lines WHERE commitment_id = :id"),
            {"id": commitment_id}).scalar() == sov_lines
        # Nothing recorded yet: the first CCO export reads the PO, as before, and records it.
        assert db.session.get(Commitment, commitment_id).qbo_last_write is None
        assert ours.last_write(commitment_id, "101") is None
        ours.remember(commitment_id, {"Id": "101", "SyncToken": "5", "Line": [{"Id": "1"}]})
        db.session.commit()
        assert json.loads(db.session.get(Commitment, commitment_id).qbo_last_write)[
            "SyncToken"] == "5"
        db.session.remove()
        db.engine.dispose()
