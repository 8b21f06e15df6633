"""Upgrades keep data and read old rows the way the new code means them."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from extensions import db
from tests.migration_app import migration_app


def test_a_connection_disconnected_before_0005_reads_as_not_connected(tmp_path):
    from quickbooks_online.connection import get_connection, needs_reconnect

    app = migration_app(tmp_path)
    with app.app_context():
        upgrade(revision="0004")
        # What Disconnect left before 0005: the realm and connected_at kept, no tokens.
        db.session.execute(text(
            "INSERT INTO qbo_connections (realm_id, company_name, connected_at, "
            "token_generation, ap_account_id) VALUES "
            "('9341453050298165', 'Riverside Builders LLC', '2026-11-20 10:00:00', 3, '33')"))
        db.session.commit()
        upgrade()
        connection = get_connection()
        assert connection.connected_at is None
        assert not needs_reconnect(connection)  # "Not connected", not "Reconnect needed"
        assert (connection.realm_id, connection.company_name, connection.ap_account_id) == (
            "9341453050298165", "Riverside Builders LLC", "33")  # nothing else lost
        db.session.remove()
        db.engine.dispose()


def test_users_from_before_0007_get_a_session_token_each(tmp_path):
    app = migration_app(tmp_path)
    with app.app_context():
        upgrade(revision="0005")
        for n in (1, 2):
            db.session.execute(text(
                "INSERT INTO users (email, name, password_hash, active, is_company_admin, "
                "erp_permission, can_push_to_accounting, created_at) VALUES "
                "(:email, :name, 'x', 1, 0, 'none', 0, '2026-11-20 10:00:00')"),
                {"email": f"u{n}@example.com", "name": f"U{n}"})
        db.session.commit()
        upgrade()
        tokens = db.session.execute(text("SELECT session_token FROM users")).scalars().all()
        assert len(set(tokens)) == 2 and all(len(t) >= 32 for t in tokens)
        db.session.remove()
        db.engine.dispose()


def test_commitment_co_history_keeps_its_cco_as_a_reference_both_ways(tmp_path):
    """0011: a "Commitment CO" event written as a sentence gets the CCO's id; downgrading
    writes the sentence of an event that had only the reference; no words are lost."""
    from flask_migrate import downgrade

    from models import ChangeOrder, ProjectRole
    from tests.factories import Factory
    from workflow import change_events, history

    app = migration_app(tmp_path)
    with app.app_context():
        upgrade()
        factory = Factory(password="x" * 12)
        project = factory.project()
        admin = factory.user()
        factory.member(project, admin, ProjectRole.ADMIN)
        cco = factory.change_order(factory.commitment(project, number="SC-1042"))
        ce = factory.change_event(project)
        # Recorded the new way: a reference only.
        history.record(admin, ce, "changed", field="Commitment CO", refers_to=cco)
        db.session.commit()
        ce_id, cco_id, project_id, admin_id = ce.id, cco.id, project.id, admin.id
        db.session.remove()
        downgrade(revision="0009")
        # Recorded before 0011: the sentence only, one naming a CCO that cannot be found.
        for sentence in ("CCO #001 of SC-1042", "CCO #007 of SC-0000"):
            db.session.execute(text(
                "INSERT INTO history_events (at, subject_type, subject_id, project_id, action, "
                "field, new_value) VALUES ('2026-11-20 10:00:00', 'change_event', :ce, "
                ":project, 'changed', 'Commitment CO', :sentence)"),
                {"ce": ce_id, "project": project_id, "sentence": sentence})
        db.session.commit()
        assert db.session.execute(text(
            "SELECT new_value FROM history_events ORDER BY id")).scalars().all() == [
            "CCO #001 of SC-1042", "CCO #001 of SC-1042", "CCO #007 of SC-0000"]

        upgrade()
        rows = db.session.execute(text(
            "SELECT new_value, ref_type, ref_id FROM history_events ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [
            ("CCO #001 of SC-1042", "change_order", cco_id),
            ("CCO #001 of SC-1042", "change_order", cco_id),
            ("CCO #007 of SC-0000", None, None)]
        ce = db.session.get(type(ce), ce_id)
        assert isinstance(history.referenced(history.history_for(ce)[1]), ChangeOrder)
        shown = change_events.history_for(ce, db.session.get(type(admin), admin_id))
        assert [event.new_value for event in shown] == [
            "CCO #007 of SC-0000", "CCO #001 of SC-1042", "CCO #001 of SC-1042"]
        db.session.remove()
        db.engine.dispose()


def test_ccos_approved_before_0014_keep_their_approval_and_can_still_be_sent(tmp_path):
    """0014: each Approved CCO gets the record of its current lines, approved by its reviewer
    at its review time; an unseen "Accounting rejected" notice learns its CCO."""
    from decimal import Decimal

    from models import ChangeOrder, ProjectRole
    from tests.factories import Factory
    from workflow import approvals, erp

    app = migration_app(tmp_path)
    with app.app_context():
        # The records are made with today's models, then the schema goes back to 0013 (the
        # models may have columns that 0013 lacks), where the old state is written by hand.
        upgrade()
        factory = Factory(password="x" * 12)
        project = factory.project()
        sam = factory.user(name="Sam Ortiz")
        factory.member(project, sam, ProjectRole.STANDARD)
        commitment = factory.commitment(project, number="SC-1042", sov=("1000.00", "2000.00"))
        sov1, sov2 = commitment.sov_lines
        cco = factory.change_order(commitment, status="pending_in_review", reviewer=sam,
                                   lines=((sov1, "1150.50"), (sov2, "2400.00")))
        cco_id, sam_id, project_id, commitment_id = cco.id, sam.id, project.id, commitment.id
        db.session.commit()
        db.session.remove()
        downgrade(revision="0013")
        db.session.execute(text(
            "UPDATE change_orders SET status = 'approved', reviewed_by_id = :sam, "
            "reviewed_at = '2026-12-05 15:30:00' WHERE id = :id"), {"sam": sam_id, "id": cco_id})
        db.session.execute(text(
            "INSERT INTO notices (user_id, message, link, created_at) VALUES (:sam, "
            "'Accounting rejected CCO #001 of SC-1042 (Extra work): no. It is editable again; "
            "correct it and Resend to ERP.', :link, '2026-12-05 16:00:00')"),
            {"sam": sam_id, "link": f"/projects/{project_id}/commitments/{commitment_id}"
                                   f"/change-orders/{cco_id}"})
        db.session.commit()
        db.session.remove()

        upgrade()
        cco = db.session.get(ChangeOrder, cco_id)
        approval = cco.approval
        assert approval.approved_by_id == sam_id and approval.total == Decimal("3550.50")
        assert f"{approval.approved_at:%Y-%m-%d %H:%M}" == "2026-12-05 15:30"
        assert approvals.mismatch(cco) is None
        assert not [b for b in erp.send_blockers(cco)
                    if "approved" in str(b) or "Approved" in str(b)]
        assert db.session.execute(text(
            "SELECT subject_type, subject_id, about FROM notices")).one() == (
            "change_order", cco_id, "erp_rejected")
        db.session.remove()
        db.engine.dispose()


def test_exports_from_before_0017_point_at_their_record_and_purchase_order(tmp_path):
    """0017: each Export row gets its record (a CCO's export its CCO, a commitment's its
    commitment) and its target (the commitment's PurchaseOrder); the workflow finds each
    record's latest export as before, and a downgrade keeps every row."""
    from models import ChangeOrder, Commitment, Export
    from tests.factories import Factory
    from workflow import erp, exports

    app = migration_app(tmp_path)
    with app.app_context():
        upgrade()
        factory = Factory(password="x" * 12)
        project = factory.project()
        commitment = factory.commitment(project, number="SC-1042", sov=("1000.00",))
        cco = factory.change_order(commitment, lines=((commitment.sov_lines[0], "150.00"),))
        commitment_id, cco_id = commitment.id, cco.id
        db.session.commit()
        db.session.remove()
        downgrade(revision="0016_qbo_drift")
        for key, change_order_id, kind, status in (
                ("cod-commitment-1-a", None, "commitment", "synced"),
                ("cod-cco-1-b", cco_id, "change_order", "failed"),
                ("cod-commitment-1-c", None, "commitment", "queued")):
            db.session.execute(text(
                "INSERT INTO exports (subject_type, commitment_id, change_order_id, "
                "idempotency_key, status, attempts, accepted_at, retries) VALUES "
                "(:kind, :commitment, :cco, :key, :status, 1, '2026-12-05 10:00:00', 0)"),
                {"kind": kind, "commitment": commitment_id, "cco": change_order_id,
                 "key": key, "status": status})
        db.session.commit()
        db.session.remove()

        upgrade()
        rows = db.session.execute(text(
            "SELECT idempotency_key, subject_type, record_id, target_key, commitment_id, "
            "change_order_id, status FROM exports ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [
            ("cod-commitment-1-a", "commitment", commitment_id,
             f"purchase-order:{commitment_id}", commitment_id, None, "synced"),
            ("cod-cco-1-b", "change_order", cco_id, f"purchase-order:{commitment_id}",
             commitment_id, cco_id, "failed"),
            ("cod-commitment-1-c", "commitment", commitment_id,
             f"purchase-order:{commitment_id}", commitment_id, None, "queued")]
        commitment = db.session.get(Commitment, commitment_id)
        cco = db.session.get(ChangeOrder, cco_id)
        assert erp.latest_export(commitment).idempotency_key == "cod-commitment-1-c"
        assert erp.latest_export(cco).idempotency_key == "cod-cco-1-b"
        assert {key: export.idempotency_key for key, export in
                erp.latest_exports_of([commitment, cco]).items()} == {
            ("commitment", commitment_id): "cod-commitment-1-c",
            ("change_order", cco_id): "cod-cco-1-b"}
        assert exports.exported_record(db.session.get(Export, 2)) == cco
        db.session.remove()

        downgrade(revision="0016_qbo_drift")
        assert db.session.execute(text(
            "SELECT idempotency_key, commitment_id, change_order_id FROM exports ORDER BY id")
        ).all() == [("cod-commitment-1-a", commitment_id, None),
                    ("cod-cco-1-b", commitment_id, cco_id),
                    ("cod-commitment-1-c", commitment_id, None)]
        db.session.remove()
        db.engine.dispose()
