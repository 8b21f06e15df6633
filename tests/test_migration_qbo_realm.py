"""0019_qbo_realm gives every existing PurchaseOrder link the connected company and keeps every
commitment as it was, both ways (tests/test_migrations.py's way: records made with today's
models, the schema moved under them)."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from extensions import db
from tests.migration_app import migration_app

REALM = "9341453050298165"


def _row(commitment_id: int) -> tuple:
    return tuple(db.session.execute(text(
        "SELECT number, title, erp_status, qbo_purchase_order_id, qbo_sync_token, qbo_total, "
        "qbo_link, version FROM commitments WHERE id = :id"), {"id": commitment_id}).one())


def _realm_of(commitment_id: int) -> str | None:
    return db.session.execute(text("SELECT qbo_realm_id FROM commitments WHERE id = :id"),
                              {"id": commitment_id}).scalar()


def test_0019_backfills_the_connected_company_and_keeps_every_commitment(tmp_path):
    from models import Commitment, QboConnection
    from quickbooks_online import company
    from tests.factories import Factory

    app = migration_app(tmp_path)
    with app.app_context():
        upgrade()
        factory = Factory(password="x" * 12)
        project = factory.project()
        synced = factory.commitment(project, number="SC-1042", sov=("1000.00", "2000.00"))
        synced.qbo_purchase_order_id, synced.qbo_sync_token = "101", "4"
        unsent = factory.commitment(project, number="SC-1043", sov=("10.00",))
        db.session.add(QboConnection(realm_id=REALM, company_name="Riverside Builders LLC"))
        db.session.commit()
        ids = synced.id, unsent.id
        db.session.remove()

        downgrade(revision="0018_qbo_last_write")
        columns = {c["name"] for c in inspect(db.engine).get_columns("commitments")}
        assert "qbo_realm_id" not in columns
        before = {cid: _row(cid) for cid in ids}
        db.session.remove()

        upgrade()
        assert {cid: _row(cid) for cid in ids} == before  # nothing lost, versions untouched
        assert (_realm_of(ids[0]), _realm_of(ids[1])) == (REALM, None)
        # Read by the new code: the link is the connected company's, as before the upgrade.
        linked = db.session.get(Commitment, ids[0])
        assert not company.elsewhere(linked)
        assert company.purchase_order_here(linked) == "101"

        # Unique per company now: the same Id in another company is another PO.
        db.session.execute(text(
            "UPDATE commitments SET qbo_purchase_order_id = '101', qbo_realm_id = 'other' "
            "WHERE id = :id"), {"id": ids[1]})
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text(
                "UPDATE commitments SET qbo_realm_id = :realm WHERE id = :id"),
                {"realm": REALM, "id": ids[1]})
            db.session.flush()
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def test_0019_without_a_connection_leaves_the_company_unset(tmp_path):
    """No connection row (never connected): nothing to backfill from, nothing is guessed."""
    from tests.factories import Factory

    app = migration_app(tmp_path)
    with app.app_context():
        upgrade()
        factory = Factory(password="x" * 12)
        commitment = factory.commitment(factory.project(), number="SC-7", sov=("1.00",))
        commitment.qbo_purchase_order_id = "7"
        db.session.commit()
        commitment_id = commitment.id
        db.session.remove()
        downgrade(revision="0018_qbo_last_write")
        before = _row(commitment_id)
        db.session.remove()
        upgrade()
        assert _row(commitment_id) == before and _realm_of(commitment_id) is None
        db.session.remove()
        db.engine.dispose()
