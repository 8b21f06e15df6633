"""An adversarial review of the exactly-once export of CCOs (docs/quickbooks.md, "CCOs: one
sparse update, one call", "Exactly once, and never lost").

Each test puts QuickBooks or our own records in a state the one-call update must not be fooled
by (a note near QuickBooks' 4,000 characters, "Restore ours" pressed while a CCO is written, a
change data capture poll that read the PO before our write, a line the bookkeeper lowered, a
deleted PurchaseOrder, cents that do not add up in binary) and checks what a bookkeeper or the
approver would see: every line at its revised amount to the cent, their text and lines kept,
nothing written twice, nothing written silently.
"""

from __future__ import annotations

from decimal import Decimal

from extensions import db
from models import ChangeOrder, Commitment, ErpPermission, ErpStatus, QboPurchaseOrderState
from quickbooks_online.marker import NOTE_LIMIT, Marker, join_note, split_note
from tests import test_cco_export as cco_tests
from tests.qbo_helpers import DEMO_REALM, run_jobs
from tests.test_cco_export import (
    _approved_cco,
    _fresh,
    _marker_ccos,
    _po,
    _send_accept,
    assert_po_matches,
)
from tests.test_one_call_export import _amounts
from workflow import erp
from workflow.commitments import totals

# CCO #001 of SC-1042 (+1,000.00 and +2,050.50 on SOV line 1, a new line of 250.00), Approved;
# a mapped cost code for new lines (tests/test_cco_export.py).
cco, new_code = cco_tests.cco, cco_tests.new_code


def _writes(sandbox) -> int:
    return sandbox.counters(DEMO_REALM)["writes"]


# ---- the bookkeeper's note near QuickBooks' 4,000 characters ----------------------------------

def test_a_long_note_of_the_bookkeepers_is_never_cut_to_make_room_for_our_marker(
        people, approver, synced, cco, sandbox):
    """The bookkeeper's own text above our marker fills PrivateNote to the last character
    QuickBooks allows. Adding CCO 001 to our block would need nine more: their words must not
    be cut to make room. The export says so in words and writes nothing; once they shorten
    their note, Retry Export adds the CCO once and keeps their (shorter) note word for word."""
    po_id = synced.qbo_purchase_order_id
    block = Marker(synced.id)
    theirs = ("Terms agreed on site. " * 400)[:NOTE_LIMIT - len(block.render()) - 2].rstrip()
    sandbox.edit_purchase_order(DEMO_REALM, po_id, private_note=join_note(theirs, block))
    assert split_note(_po(sandbox, synced)["PrivateNote"]) == (theirs, block)
    writes = _writes(sandbox)

    done = _send_accept(cco, people, approver)

    assert done.erp_status == ErpStatus.FAILED_TO_EXPORT
    message = erp.latest_export(done).last_error_message
    assert "note" in message and "4,000" in message and "shorten" in message.lower(), message
    assert _writes(sandbox) == writes  # nothing written, their note whole
    assert split_note(_po(sandbox, synced)["PrivateNote"]) == (theirs, block)

    shorter = theirs[:3000].rstrip()
    sandbox.edit_purchase_order(DEMO_REALM, po_id, private_note=join_note(shorter, block))
    admin = db.session.merge(people.company_admin)
    admin.erp_permission, admin.can_push_to_accounting = ErpPermission.ADMIN, True
    db.session.commit()
    erp.retry_export(admin, _fresh(ChangeOrder, cco.id))
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    po = assert_po_matches(sandbox, synced.id)
    user_text, marker = split_note(po["PrivateNote"])
    assert user_text == shorter and marker.change_orders == ("001",)


# ---- "Restore ours" pressed while a CCO's update is on its way ---------------------------------

def _drifted(sandbox, commitment, line_id, amount) -> None:
    """The bookkeeper changes one of our lines in QuickBooks; change data capture sees it."""
    from workflow import qbo_drift

    sandbox.edit_purchase_order(DEMO_REALM, commitment.qbo_purchase_order_id,
                                lines={line_id: {"Amount": amount}})
    qbo_drift.poll()
    state = db.session.query(QboPurchaseOrderState).filter_by(
        commitment_id=commitment.id).one()
    assert state.differs


def test_restore_ours_pressed_while_a_cco_is_written_still_restores_with_every_cco(
        app, people, approver, factory, synced, cco, sandbox):
    """An ERP admin presses Restore ours while CCO 002's update is on its way to QuickBooks.
    The CCO's export finishing must not take the restore request away: the approver's Accept
    of the commitment then puts back our amounts, each SOV line with every Synced CCO's
    changes (not the original amounts, which would silently drop CCO 001 and 002 from
    QuickBooks while our marker still lists them)."""
    import threading

    from workflow import qbo_drift

    assert _send_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    record = _fresh(Commitment, synced.id)
    sov1, sov2 = record.sov_lines
    _drifted(sandbox, record, sov2.qbo_line_id, 90000)  # ours: 96,500.50
    admin = factory.user(name="Erin ERP Admin", erp=ErpPermission.ADMIN, can_push=True)
    second = _approved_cco(factory, _fresh(Commitment, synced.id),
                           changes=((sov1, "100.00"),), title="Rebar")
    erp.send_to_erp(people.project_admin, second)
    commitment_id, admin_id = synced.id, admin.id

    original = sandbox.handle_api
    pressed: list = []

    def restore_in_another_browser() -> None:
        with app.app_context():
            try:
                qbo_drift.restore_ours(db.session.get(type(admin), admin_id),
                                       db.session.get(Commitment, commitment_id))
                pressed.append("restore requested")
            except Exception as error:  # returned to the test
                pressed.append(error)
            finally:
                db.session.remove()

    def handle(method, realm_id, path, args, body, authorization):
        if not pressed and method == "POST" and '"sparse": true' in str(body):
            worker = threading.Thread(target=restore_in_another_browser)
            worker.start()
            worker.join(30)
        return original(method, realm_id, path, args, body, authorization)

    sandbox.handle_api = handle
    try:
        erp.accept(approver, _fresh(ChangeOrder, second.id))
        run_jobs()
    finally:
        sandbox.handle_api = original
    assert pressed == ["restore requested"], pressed
    assert _fresh(ChangeOrder, second.id).erp_status == ErpStatus.SYNCED
    restoring = _fresh(Commitment, commitment_id)
    assert restoring.erp_status == ErpStatus.READY_TO_EXPORT
    view = qbo_drift.drift_of(restoring)
    assert view is not None and view.restore_requested  # still asked for

    erp.accept(approver, restoring)
    run_jobs()
    record = _fresh(Commitment, commitment_id)
    assert record.erp_status == ErpStatus.SYNCED
    po = _po(sandbox, record)
    amounts = _amounts(po)
    assert amounts[sov1.qbo_line_id] == Decimal("188150.50")  # 185,000 + 001 + 002
    assert amounts[sov2.qbo_line_id] == Decimal("96500.50")  # ours, put back
    assert _marker_ccos(po) == ("001", "002")
    assert Decimal(str(po["TotalAmt"])) == totals(record).revised
