"""0020_qbo_theirs keeps every QuickBooks state row as it was, both ways; a row from before it
counts no lines as the bookkeeper's until its PO is read again."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from extensions import db
from tests.migration_app import migration_app


def _state(commitment_id: int) -> tuple:
    return tuple(db.session.execute(text(
        "SELECT purchase_order_id, sync_token, total, lines, differs "
        "FROM qbo_purchase_order_states WHERE commitment_id = :id"), {"id": commitment_id}).one())


def test_0020_adds_theirs_and_keeps_every_state_both_ways(tmp_path):
    from decimal import Decimal

    from models import QboPurchaseOrderState
    from tests.factories import Factory

    app = migration_app(tmp_path)
    with app.app_context():
        upgrade()
        factory = Factory(password="x" * 12)
        commitment = factory.commitment(factory.project(), number="SC-1042", sov=("1000.00",))
        commitment.qbo_purchase_order_id, commitment.qbo_sync_token = "101", "4"
        db.session.add(QboPurchaseOrderState(
            commitment_id=commitment.id, purchase_order_id="101", sync_token="4",
            total=Decimal("2500.00"), lines='[{"id": "1", "description": "", "amount": "1000.00"}]',
            theirs_total=Decimal("1500.00")))
        db.session.commit()
        commitment_id = commitment.id
        before = _state(commitment_id)
        db.session.remove()

        downgrade(revision="0019_qbo_realm")
        columns = {c["name"] for c in inspect(db.engine).get_columns("qbo_purchase_order_states")}
        assert "theirs_total" not in columns
        assert _state(commitment_id) == before
        db.session.remove()

        upgrade()
        assert _state(commitment_id) == before
        state = db.session.scalar(db.select(QboPurchaseOrderState))
        assert state.theirs_total is None  # not known until the PO is read again
