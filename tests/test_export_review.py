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

import pytest

from extensions import db
from models import ChangeOrder, Commitment, ErpPermission, ErpStatus, QboPurchaseOrderState
from quickbooks_online.mapping import sov_line_description
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
from tests.test_one_call_export import _amounts, _calls, _seq, _shape
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


# ---- what change data capture recorded, racing our own write -----------------------------------

def test_a_poll_that_read_the_po_before_our_write_never_takes_its_place(
        people, approver, factory, synced, cco, sandbox):
    """A change data capture poll read the PurchaseOrder before CCO 001's update and records
    it after: the older version must not become what the next CCO is computed from (it would
    only cost a refused update and a read, never a wrong write). The next CCO is one call and
    lands on top of CCO 001, each once."""
    from quickbooks_online import ours

    before = _po(sandbox, synced)  # SyncToken 0: what the poll read
    assert _send_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    ours.remember_seen(synced.id, before)  # ... and recorded after our write
    db.session.commit()
    assert ours.last_write(synced.id, synced.qbo_purchase_order_id)["SyncToken"] == "1"

    record = _fresh(Commitment, synced.id)
    sov1 = record.sov_lines[0]
    second = _approved_cco(factory, record, changes=((sov1, "0.10"), (sov1, "0.20")),
                           title="Cents")
    since = _seq(sandbox)
    assert _send_accept(second, people, approver).erp_status == ErpStatus.SYNCED
    assert _shape(_calls(sandbox, since)) == [("POST", "sparse update @1", 200, None)]
    po = assert_po_matches(sandbox, synced.id)
    assert _amounts(po)[sov1.qbo_line_id] == Decimal("188050.80")  # 185,000 + 3,050.50 + 0.30
    assert _marker_ccos(po) == ("001", "002")


def test_an_older_recorded_po_costs_a_read_and_is_never_written_from(
        people, approver, factory, synced, cco, sandbox):
    """The other way round: what is recorded is older than what QuickBooks holds (the poll
    recorded it after a write of ours whose answer was lost). The one-call update is refused,
    the PO read, and CCO 001 found in our marker: nothing is written."""
    from quickbooks_online import ours

    before = _po(sandbox, synced)
    done = _send_accept(cco, people, approver)
    assert done.erp_status == ErpStatus.SYNCED
    ours.remember(synced.id, before)  # as if our write's answer had never been recorded
    db.session.commit()
    export = erp.latest_export(done)
    writes = _writes(sandbox)
    from quickbooks_online.export import push

    result = push(export)
    db.session.rollback()
    assert _writes(sandbox) == writes
    assert result.sync_token == "1"
    [new_line] = [line for line in done.lines if line.sov_line_id is None]
    assert result.line_ids == {new_line.id: new_line.qbo_line_id}


# ---- a line the bookkeeper lowered: refused at export, then Retry Export -------------------------

def test_a_line_the_bookkeeper_lowered_below_the_change_fails_then_retry_applies_it_once(
        people, approver, factory, synced, sandbox):
    """Send to ERP allowed -500.00 on SOV line 2 (ours: 96,500.50). Meanwhile the bookkeeper
    lowered that line to 300.00 in QuickBooks: the export refuses to take it below zero, says
    which line and what it holds, and writes nothing. They put it back; Retry Export applies
    the CCO once, on what QuickBooks then holds."""
    record = _fresh(Commitment, synced.id)
    sov2 = record.sov_lines[1]
    po_id = record.qbo_purchase_order_id
    sandbox.edit_purchase_order(DEMO_REALM, po_id, lines={sov2.qbo_line_id: {"Amount": 300}},
                                memo="Checked with the vendor")
    credit = _approved_cco(factory, record, changes=((sov2, "-200.00"), (sov2, "-300.00")),
                           title="Credit")
    writes = _writes(sandbox)
    failed = _send_accept(credit, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    message = erp.latest_export(failed).last_error_message
    assert "SOV line 2 would go below zero" in message and "300.00" in message, message
    assert _writes(sandbox) == writes

    sandbox.edit_purchase_order(DEMO_REALM, po_id, lines={sov2.qbo_line_id: {"Amount": 96500.5}})
    admin = factory.user(erp=ErpPermission.ADMIN, can_push=True)
    erp.retry_export(admin, failed)
    run_jobs()
    assert _fresh(ChangeOrder, credit.id).erp_status == ErpStatus.SYNCED
    po = assert_po_matches(sandbox, synced.id)
    assert _amounts(po)[sov2.qbo_line_id] == Decimal("96000.50")
    assert po["Memo"] == "Checked with the vendor"
    assert _writes(sandbox) == writes + 1  # our one update (the put-back was in QuickBooks)
    assert _marker_ccos(po) == ("001",)


# ---- faults after the refused one-call update ----------------------------------------------------

@pytest.mark.parametrize("kind", ["401", "429", "500", "drop"])
def test_a_fault_on_the_read_after_a_refused_update_still_applies_the_cco_once(
        people, approver, synced, cco, sandbox, kind):
    """The bookkeeper edited the PO, so the one-call update is refused (5010); the read that
    follows meets a fault. The CCO lands once, on what QuickBooks holds, their edit kept."""
    _assert_once_after_5010(people, approver, synced, cco, sandbox, on="read", kind=kind)


@pytest.mark.parametrize("kind", ["5010", "401", "429", "500", "drop", "500_after_apply",
                                  "drop_after_apply"])
def test_a_fault_on_the_update_after_the_read_still_applies_the_cco_once(
        people, approver, synced, cco, sandbox, kind):
    _assert_once_after_5010(people, approver, synced, cco, sandbox, on="second update",
                            kind=kind)


def _assert_once_after_5010(people, approver, synced, cco, sandbox, *, on, kind) -> None:
    record = _fresh(Commitment, synced.id)
    sov2 = record.sov_lines[1]
    sandbox.edit_purchase_order(DEMO_REALM, record.qbo_purchase_order_id,
                                lines={sov2.qbo_line_id: {"Amount": 97000}},
                                memo="Call the site office first")
    original = sandbox.handle_api
    seen: list[str] = []

    def handle(method, realm_id, path, args, body, authorization):
        if method == "POST" and '"sparse": true' in str(body):
            seen.append("update")
        elif method == "GET" and path.lower().startswith("purchaseorder/"):
            seen.append("read")
        wanted = {"read": ["update", "read"], "second update": ["update", "read", "update"]}[on]
        if seen == wanted:
            seen.append(f"fault {kind}")
            sandbox.inject_fault(realm_id, kind, count=1)
        return original(method, realm_id, path, args, body, authorization)

    sandbox.handle_api = handle
    try:
        done = _send_accept(cco, people, approver)
    finally:
        sandbox.handle_api = original
    assert f"fault {kind}" in seen, seen
    assert done.erp_status == ErpStatus.SYNCED, erp.latest_export(done).last_error_message
    po = _po(sandbox, record)
    amounts = _amounts(po)
    assert amounts[sov2.qbo_line_id] == Decimal("97000.00")  # theirs, kept
    assert amounts[record.sov_lines[0].qbo_line_id] == Decimal("188050.50")  # CCO 001 once
    assert po["Memo"] == "Call the site office first"
    assert _marker_ccos(po) == ("001",)
    assert [line["Description"] for line in po["Line"]].count(
        "CCO 001: Winter protection") == 1
    [new_line] = [line for line in done.lines if line.sov_line_id is None]
    assert amounts[new_line.qbo_line_id] == Decimal("250.00")
    # The next CCO starts from QuickBooks' answer (one call), and the bookkeeper's 97,000
    # stays a difference: the commitment's token is not the one at which QuickBooks holds ours.
    from quickbooks_online.ours import last_write

    assert last_write(synced.id, po["Id"])["SyncToken"] == po["SyncToken"]
    assert _fresh(Commitment, synced.id).qbo_sync_token != po["SyncToken"]


# ---- two CCOs of one commitment, two rq worker processes -----------------------------------------

@pytest.mark.process
@pytest.mark.own_database("real rq worker processes read its records")
def test_two_workers_exporting_two_ccos_of_one_commitment_apply_each_once(
        app, people, approver, factory, synced, cco, new_code, workers, sandbox):
    """Two real rq workers take the two CCOs' jobs at the same moment (every QuickBooks call
    made slow, so they would overlap): the export lock and the SyncToken let each land once,
    the second on top of the first, every amount to the cent."""
    from tests.test_cco_export import _wait

    record = _fresh(Commitment, synced.id)
    sov1, sov2 = record.sov_lines
    other = _approved_cco(factory, record, title="Second change",
                          changes=((sov1, "-500.00"), (sov2, "0.10"), (sov2, "0.20")),
                          new=(("Dewatering", "880.01", *new_code),))
    for each in (cco, other):
        erp.send_to_erp(people.project_admin, _fresh(ChangeOrder, each.id))
    started = [workers("first"), workers("second")]
    sandbox.set_api_delay(DEMO_REALM, 0.3)
    since = _seq(sandbox)
    for each in (cco, other):
        erp.accept(approver, _fresh(ChangeOrder, each.id))
    ids = (cco.id, other.id)
    try:
        _wait(lambda: all(_fresh(ChangeOrder, i).erp_status in (ErpStatus.SYNCED,
                                                                ErpStatus.FAILED_TO_EXPORT)
                          for i in ids), 60)
    except AssertionError:
        raise AssertionError("\n".join(w.log_path.read_text()[-3000:] for w in started)) from None
    for i in ids:
        done = _fresh(ChangeOrder, i)
        assert done.erp_status == ErpStatus.SYNCED, erp.latest_export(done).last_error_message
    po = assert_po_matches(sandbox, synced.id)
    assert sorted(_marker_ccos(po)) == ["001", "002"]
    written = [c for c in _calls(sandbox, since)
               if c["method"] == "POST" and c["status"] == 200 and not c.get("replayed")]
    assert len(written) == 2 and po["SyncToken"] == "2"  # one update each
    amounts = _amounts(po)
    assert amounts[sov1.qbo_line_id] == Decimal("187550.50")
    assert amounts[sov2.qbo_line_id] == Decimal("96500.80")
    record = _fresh(Commitment, synced.id)
    assert Decimal(str(po["TotalAmt"])) == totals(record).revised == Decimal("285181.31")


# ---- "Restore ours" after the bookkeeper removed one of our lines ------------------------------

def _removed_then_restore(people, approver, factory, synced, cco, sandbox, line_of):
    """CCO 001 Synced; the bookkeeper deletes one of our lines (``line_of(commitment, cco)``'s
    Id) in QuickBooks; change data capture says so; an ERP admin presses Restore ours."""
    from workflow import qbo_drift

    assert _send_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    record = _fresh(Commitment, synced.id)
    sandbox.edit_purchase_order(DEMO_REALM, record.qbo_purchase_order_id, memo="bookkeeper",
                                remove_line_ids=[line_of(record, _fresh(ChangeOrder, cco.id))])
    qbo_drift.poll()
    assert [change.kind for change in qbo_drift.drift_of(record).changes] == ["removed"]
    admin = factory.user(erp=ErpPermission.ADMIN, can_push=True)
    qbo_drift.restore_ours(admin, record)
    return _fresh(Commitment, synced.id)


@pytest.mark.parametrize("fault", [None, "drop_after_apply", "500_after_apply"])
def test_restore_ours_puts_back_an_sov_line_removed_in_quickbooks_once(
        people, approver, factory, synced, cco, sandbox, fault):
    """The bookkeeper deleted SOV line 2's line; Restore ours, then Accept. The export must not
    end Synced with that line still missing (QuickBooks 96,500.50 short of ours, and no
    difference shown any more): the line is back at its amount, once, even when the answer
    to that update is lost, and its new Id is what drift compares from then on."""
    from tests.test_cco_export import fault_on_update
    from workflow import qbo_drift

    record = _removed_then_restore(people, approver, factory, synced, cco, sandbox,
                                   lambda commitment, _: commitment.sov_lines[1].qbo_line_id)
    old_id = record.sov_lines[1].qbo_line_id
    if fault is None:
        erp.accept(approver, record)
        run_jobs()
    else:
        with fault_on_update(sandbox, fault) as fired:
            erp.accept(approver, record)
            run_jobs()
        assert fired == [fault]
    record = _fresh(Commitment, synced.id)
    assert record.erp_status == ErpStatus.SYNCED, erp.latest_export(record).last_error_message
    assert record.sov_lines[1].qbo_line_id not in (None, old_id)
    po = assert_po_matches(sandbox, synced.id)  # every line at its revised amount, none twice
    assert _amounts(po)[record.sov_lines[1].qbo_line_id] == Decimal("96500.50")
    described = sov_line_description(record.sov_lines[1])
    assert [line.get("Description") for line in po["Line"]].count(described) == 1
    assert po["Memo"] == "bookkeeper"
    qbo_drift.poll()
    assert qbo_drift.drift_of(record).changes == []


def test_restore_ours_says_in_words_that_a_removed_cco_line_is_not_put_back(
        people, approver, factory, synced, cco, sandbox):
    record = _removed_then_restore(
        people, approver, factory, synced, cco, sandbox,
        lambda _, change_order: next(line.qbo_line_id for line in change_order.lines
                                     if line.sov_line_id is None))
    writes = _writes(sandbox)
    erp.accept(approver, record)
    run_jobs()
    record = _fresh(Commitment, synced.id)
    assert record.erp_status == ErpStatus.FAILED_TO_EXPORT
    message = erp.latest_export(record).last_error_message
    assert "CCO 001: Winter protection" in message and "Removed from PurchaseOrder" in message
    assert _writes(sandbox) == writes
