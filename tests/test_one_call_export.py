"""One QuickBooks call per export when nothing changed in QuickBooks (issue 27, item 5).

A CCO's update is computed from the PurchaseOrder as QuickBooks answered our last write and sent
with that SyncToken; QuickBooks refuses a stale one (5010), and only then is the PO read and the
update recomputed. A commitment's first try creates its PO directly. Every call is counted in
the sandbox's request log; the sandbox behaves as Intuit documents (each write raises the
SyncToken by one, a stale SyncToken is refused with 5010 and nothing is written).
"""

from __future__ import annotations

from decimal import Decimal

from extensions import db
from models import ChangeOrder, Commitment, ErpStatus, QboPurchaseOrderState
from quickbooks_online.marker import join_note, split_note
from tests import test_cco_export as cco_tests
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import DEMO_REALM, run_jobs
from tests.test_cco_export import (
    _approved_cco,
    _fresh,
    _marker_ccos,
    _po,
    _send_accept,
    assert_po_matches,
    fault_on_update,
)

# The fixtures of tests/test_cco_export.py: CCO #001 Approved, a mapped code (SC-1042 Synced is
# tests/erp_fixtures.py's ``synced``).
cco, new_code = cco_tests.cco, cco_tests.new_code


def _seq(sandbox) -> int:
    return max([e["seq"] for e in sandbox.request_log(DEMO_REALM)] or [0])


def _calls(sandbox, since: int) -> list[dict]:
    return sandbox.request_log(DEMO_REALM, since=since)


def _shape(calls: list[dict]) -> list[tuple]:
    """(method, what, status, fault code) of each call."""
    shape = []
    for call in calls:
        body = call.get("body")
        if call["method"] == "GET":
            what = "read" if call["path"].lower().startswith("purchaseorder/") else call["path"]
        elif isinstance(body, dict) and body.get("sparse"):
            what = f"sparse update @{body.get('SyncToken')}"
        elif "query" in call["path"].lower():
            what = "query"
        else:
            what = "create"
        shape.append((call["method"], what, call["status"], call.get("code")))
    return shape


def _amounts(po: dict) -> dict[str, Decimal]:
    return {line["Id"]: Decimal(str(line["Amount"])) for line in po["Line"]}


def test_a_cco_export_is_one_call_while_quickbooks_holds_our_last_write(
        people, approver, factory, synced, cco, sandbox):
    since = _seq(sandbox)
    first = _send_accept(cco, people, approver)
    assert first.erp_status == ErpStatus.SYNCED
    calls = _calls(sandbox, since)
    # The SyncToken the commitment's create answered (0): no read before the write.
    assert _shape(calls) == [("POST", "sparse update @0", 200, None)]
    assert calls[0]["requestid"]
    po = assert_po_matches(sandbox, synced.id)
    assert po["SyncToken"] == "1" and _marker_ccos(po) == ("001",)

    record = _fresh(Commitment, synced.id)
    sov2 = record.sov_lines[1]
    second = _approved_cco(factory, record, changes=((sov2, "-500.50"),), title="Credit")
    since = _seq(sandbox)
    assert _send_accept(second, people, approver).erp_status == ErpStatus.SYNCED
    assert _shape(_calls(sandbox, since)) == [("POST", "sparse update @1", 200, None)]
    po = assert_po_matches(sandbox, synced.id)
    assert _amounts(po)[sov2.qbo_line_id] == Decimal("96000.00")
    assert _marker_ccos(po) == ("001", "002")


def test_a_bookkeeper_edit_since_our_last_write_costs_a_5010_then_a_read_and_is_kept(
        people, approver, factory, synced, cco, new_code, sandbox):
    """Between our last write and this export the bookkeeper changes the PO in QuickBooks: our
    line 2's amount, a line of their own, the Memo, their text above our marker. The update sent
    from our last write is refused (5010, nothing written); the PO is read, the CCO applied once
    to what QuickBooks holds, and every edit of theirs is still there."""
    _send_accept(cco, people, approver)
    record = _fresh(Commitment, synced.id)
    sov1, sov2 = record.sov_lines
    po_id = record.qbo_purchase_order_id
    marker = split_note(_po(sandbox, record)["PrivateNote"])[1]
    sandbox.edit_purchase_order(
        DEMO_REALM, po_id, memo="Call the site office first",
        private_note=join_note("Approved by J. Diaz on site", marker),
        lines={sov2.qbo_line_id: {"Amount": 97000}})
    sandbox.add_purchase_order_line(DEMO_REALM, po_id, "75.00",
                                    description="Delivery (added in QuickBooks)", item_id="11")
    assert _po(sandbox, record)["SyncToken"] == "3"  # our CCO's write was 1

    second = _approved_cco(factory, record, changes=((sov2, "500.00"),),
                           new=(("Dewatering", "1200.00", *new_code),), title="Dewatering")
    since = _seq(sandbox)
    done = _send_accept(second, people, approver)
    assert done.erp_status == ErpStatus.SYNCED
    assert _shape(_calls(sandbox, since)) == [
        ("POST", "sparse update @1", 400, "5010"),  # stale: refused, nothing written
        ("GET", "read", 200, None),
        ("POST", "sparse update @3", 200, None),
    ]
    po = _po(sandbox, record)
    assert po["SyncToken"] == "4"
    assert po["Memo"] == "Call the site office first"
    user_text, marker = split_note(po["PrivateNote"])
    assert user_text == "Approved by J. Diaz on site"
    assert marker.change_orders == ("001", "002")
    amounts = _amounts(po)
    assert amounts[sov1.qbo_line_id] == Decimal("188050.50")  # CCO 001 once, not again
    assert amounts[sov2.qbo_line_id] == Decimal("97500.00")  # theirs + this CCO's change
    theirs = [line for line in po["Line"]
              if line.get("Description") == "Delivery (added in QuickBooks)"]
    assert len(theirs) == 1 and Decimal(str(theirs[0]["Amount"])) == Decimal("75.00")
    done_line = next(line for line in _fresh(ChangeOrder, second.id).lines
                     if line.sov_line_id is None)
    assert amounts[done_line.qbo_line_id] == Decimal("1200.00")
    assert [line["Description"] for line in po["Line"]].count("CCO 002: Dewatering") == 1
    assert Decimal(str(po["TotalAmt"])) == sum(amounts.values())

    # What that update answered is recorded: the next CCO is one call again.
    third = _approved_cco(factory, _fresh(Commitment, synced.id),
                          changes=((sov1, "100.00"),), title="Rebar")
    since = _seq(sandbox)
    assert _send_accept(third, people, approver).erp_status == ErpStatus.SYNCED
    assert _shape(_calls(sandbox, since)) == [("POST", "sparse update @4", 200, None)]
    po = _po(sandbox, record)
    assert po["Memo"] == "Call the site office first"
    assert _marker_ccos(po) == ("001", "002", "003")
    assert _amounts(po)[sov1.qbo_line_id] == Decimal("188150.50")


def test_a_lost_answer_to_the_one_call_update_is_not_applied_twice(
        people, approver, synced, cco, sandbox):
    """The update from our last write is applied but its answer is lost. The job's next try in
    the same attempt repeats the requestid (QuickBooks answers it from the first response); a
    later attempt (the worker's retry) has a new requestid and the old SyncToken: QuickBooks
    refuses it (5010), the read finds the CCO in our marker block, and nothing is written."""
    since = _seq(sandbox)
    writes = sandbox.counters(DEMO_REALM)["writes"]
    with fault_on_update(sandbox, "drop_after_apply") as fired:
        done = _send_accept(cco, people, approver)
    assert fired == ["drop_after_apply"]
    assert done.erp_status == ErpStatus.SYNCED
    calls = _calls(sandbox, since)
    assert _shape(calls)[0] == ("POST", "sparse update @0", 0, None)  # applied, answer lost
    after = [c for c in calls[1:] if not c.get("replayed")]
    assert _shape(after) in ([], [("POST", "sparse update @0", 400, "5010"),
                                  ("GET", "read", 200, None)])
    assert sandbox.counters(DEMO_REALM)["writes"] == writes + 1
    po = assert_po_matches(sandbox, synced.id)
    assert po["SyncToken"] == "1" and _marker_ccos(po) == ("001",)


def test_what_change_data_capture_saw_lets_the_next_cco_take_one_call(
        people, approver, factory, synced, cco, sandbox):
    """The bookkeeper's edit was seen by the change data capture poll before the export: the
    update is sent from what the poll read, with its SyncToken, in one call, and keeps it."""
    from workflow import qbo_drift

    _send_accept(cco, people, approver)
    record = _fresh(Commitment, synced.id)
    sov2 = record.sov_lines[1]
    sandbox.edit_purchase_order(DEMO_REALM, record.qbo_purchase_order_id,
                                memo="Call the site office first",
                                lines={sov2.qbo_line_id: {"Amount": 97000}})
    qbo_drift.poll()
    state = db.session.query(QboPurchaseOrderState).filter_by(commitment_id=record.id).one()
    assert state.sync_token == "2" and state.differs

    second = _approved_cco(factory, _fresh(Commitment, synced.id),
                           changes=((sov2, "500.00"),), title="Credit")
    since = _seq(sandbox)
    assert _send_accept(second, people, approver).erp_status == ErpStatus.SYNCED
    assert _shape(_calls(sandbox, since)) == [("POST", "sparse update @2", 200, None)]
    po = _po(sandbox, record)
    assert po["Memo"] == "Call the site office first"
    assert _amounts(po)[sov2.qbo_line_id] == Decimal("97500.00")
    assert _marker_ccos(po) == ("001", "002")


def test_a_commitments_first_export_creates_its_purchase_order_in_one_call(
        erp_commitment, people, approver, sandbox):
    since = _seq(sandbox)
    record = send_and_accept(erp_commitment, people, approver)
    assert record.erp_status == ErpStatus.SYNCED
    calls = _calls(sandbox, since)
    assert _shape(calls) == [("POST", "create", 200, None)]
    assert calls[0]["requestid"]
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


def test_a_create_whose_answer_was_lost_is_adopted_not_made_twice(
        erp_commitment, people, approver, sandbox):
    """The first try's create is applied but its answer lost: the next try may have been
    preceded by a write, so it looks the DocNumber up first and adopts our PO."""
    original = sandbox.handle_api
    fired: list[str] = []

    def handle(method, realm_id, path, args, body, authorization):
        if not fired and method == "POST" and path.lower() == "purchaseorder":
            fired.append("drop_after_apply")
            sandbox.inject_fault(realm_id, "drop_after_apply", count=1)
        return original(method, realm_id, path, args, body, authorization)

    since = _seq(sandbox)
    sandbox.handle_api = handle
    try:
        record = send_and_accept(erp_commitment, people, approver)
        run_jobs()
    finally:
        sandbox.handle_api = original
    record = _fresh(Commitment, erp_commitment.id)
    assert fired and record.erp_status == ErpStatus.SYNCED
    calls = _calls(sandbox, since)
    assert _shape(calls)[0] == ("POST", "create", 0, None)  # applied, answer lost
    # Then the same requestid (answered from the first response), or a new attempt that
    # looks the DocNumber up before anything else and adopts the PO.
    after = [c for c in calls[1:] if not c.get("replayed")]
    assert not after or _shape(after)[0][1] == "query"
    assert "create" not in [what for _, what, *_ in _shape(after)]
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1
    assert record.qbo_purchase_order_id == sandbox.purchase_orders(DEMO_REALM)[0]["Id"]


def test_a_last_write_recorded_in_another_company_is_never_sent(synced):
    """QuickBooks ids are per company: PO 12 of one company is not PO 12 of another. What was
    recorded of a PO while connected to one company is not used once the connection points at
    another, so no update built from it can reach a record of the other company."""
    from models import QboConnection
    from quickbooks_online import ours

    po_id = synced.qbo_purchase_order_id
    assert ours.last_write(synced.id, po_id)["Id"] == po_id  # recorded by the create
    connection = db.session.scalar(db.select(QboConnection))
    connection.realm_id = "9130350000000000"  # as if another company were connected now
    db.session.flush()
    assert ours.last_write(synced.id, po_id) is None
