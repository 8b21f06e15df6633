"""Switching QuickBooks company, the paths around the switch itself (docs/quickbooks.md,
"Switching QuickBooks company"): switching back to a company, a poll under way while the
company is switched, a disconnect before connecting another company, and a link recorded
without its company.

As in tests/test_switch_company.py, both sandbox companies hold a PurchaseOrder with the Id
SC-1042's PO has in the first: a read or write by the old Id would land on Harbor's own PO.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from extensions import db
from models import ChangeOrder, Commitment, ErpStatus, QboPurchaseOrderState
from models.types import utcnow
from quickbooks_online import cdc
from quickbooks_online.connection import get_connection
from tests import qbo_helpers
from tests import test_switch_company as switch
from tests.qbo_helpers import DEMO_REALM, run_jobs
from tests.test_switch_company import OTHER, _calls_on, _fresh, _message, _seq, _switch, _text
from workflow import erp, qbo_drift
from workflow.errors import Locked

harbor_po = switch.harbor_po  # its fixture, used here too (erp_admin: tests/erp_fixtures.py)


def _connect_to(people, realm: str) -> None:
    """The OAuth round trip to ``realm`` (an ERP admin's Connect to QuickBooks)."""
    answer = qbo_helpers.approve_in_sandbox(qbo_helpers.authorization_url("again"),
                                            realm_id=realm)
    qbo_helpers.complete_connection(people.company_admin, answer["code"], answer["realmId"])


def _state(commitment_id: int) -> QboPurchaseOrderState | None:
    db.session.expire_all()
    return db.session.scalar(select(QboPurchaseOrderState).where(
        QboPurchaseOrderState.commitment_id == commitment_id))


# ---- switching back: what the old company's bookkeeper changed meanwhile ----------------------

def test_connecting_the_old_company_again_shows_what_its_bookkeeper_changed_meanwhile(
        client, auth, people, erp_admin, synced, harbor_po, sandbox):
    """While Harbor was connected, the first company's bookkeeper changed SC-1042's line, and
    Harbor's polls moved the change data capture checkpoint past that change. Connected
    again, the first company's poll must still find it: the change is shown, not lost."""
    po_id = synced.qbo_purchase_order_id
    second = synced.sov_lines[1]
    qbo_drift.poll()  # the first company, as we wrote it: nothing differs
    assert not _state(synced.id).differs
    _switch(people, synced)
    sandbox.edit_purchase_order(DEMO_REALM, po_id, lines={second.qbo_line_id: {"Amount": 97000}})
    qbo_drift.poll(now=utcnow() + timedelta(minutes=10))  # Harbor's poll, a little later

    _connect_to(people, DEMO_REALM)
    qbo_drift.poll(now=utcnow() + timedelta(minutes=15))

    commitment = _fresh(Commitment, synced.id)
    view = qbo_drift.drift_of(commitment)
    assert view is not None and view.differs
    assert [change.text.split(" (")[0] for change in view.changes] == [
        "line 2 Line 2: ours $96,500.50, QuickBooks $97,000.00"]
    auth.login(erp_admin)
    page = _text(client.get(f"/projects/{people.project.id}/commitments/{synced.id}"))
    assert "ours $96,500.50, QuickBooks $97,000.00" in page
    assert sandbox.get(OTHER, "PurchaseOrder", harbor_po["Id"]) == harbor_po


def test_a_poll_under_way_when_the_company_is_switched_does_not_move_the_new_ones_checkpoint(
        monkeypatch, people, erp_admin, synced, harbor_po, sandbox):
    """Harbor's poll has read Harbor's changes when an admin connects the first company
    again: recording where Harbor's next poll starts must not become where the first
    company's starts, or its bookkeeper's change made while Harbor was connected is lost."""
    po_id = synced.qbo_purchase_order_id
    second = synced.sov_lines[1]
    qbo_drift.poll()
    _switch(people, synced)
    sandbox.edit_purchase_order(DEMO_REALM, po_id, lines={second.qbo_line_id: {"Amount": 97000}})

    real = cdc.changes_since

    def read_then_switch(since, now):
        found = real(since, now)
        _connect_to(people, DEMO_REALM)  # meanwhile, in another request
        return found

    monkeypatch.setattr(cdc, "changes_since", read_then_switch)
    qbo_drift.poll(now=utcnow() + timedelta(minutes=10))  # Harbor's, the switch in its midst
    monkeypatch.undo()
    assert get_connection().realm_id == DEMO_REALM

    qbo_drift.poll(now=utcnow() + timedelta(minutes=15))
    state = _state(synced.id)
    assert state.differs and state.sync_token == str(
        sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)["SyncToken"])
    assert sandbox.get(OTHER, "PurchaseOrder", harbor_po["Id"]) == harbor_po


# ---- disconnect, then connect another company ---------------------------------------------------

def test_disconnect_then_connect_another_company_keeps_a_link_recorded_without_its_company(
        client, auth, monkeypatch, factory, people, approver, synced, harbor_po, sandbox):
    """A link recorded before the company was (a seed, an older release): no company on it.
    Disconnect, then connect Harbor: the link is the first company's, so its CCO's export
    writes nothing to Harbor's PO of that Id, and says why."""
    db.session.execute(update(Commitment).where(Commitment.id == synced.id)
                       .values(qbo_realm_id=None))
    db.session.commit()
    sov = synced.sov_lines[0]
    cco = factory.change_order(synced, status="approved", lines=((sov, "1000.00"),))
    erp.send_to_erp(people.project_admin, cco)
    held = []
    monkeypatch.setattr(erp, "_dispatch", held.append)
    export = erp.accept(approver, cco)  # accepted before the switch, run after it
    monkeypatch.undo()
    old_po = sandbox.get(DEMO_REALM, "PurchaseOrder", synced.qbo_purchase_order_id)

    auth.login(people.company_admin)  # Disconnect, then Connect to Harbor, on the settings page
    assert client.post("/erp/settings/disconnect").status_code == 303
    assert not get_connection().is_connected
    start = client.post("/erp/settings/connect")
    answer = qbo_helpers.approve_in_sandbox(start.headers["Location"], realm_id=OTHER)
    page = _text(client.get("/erp/settings/callback", query_string=answer,
                            follow_redirects=True))
    assert (f"1 commitment is linked to a PurchaseOrder of company {DEMO_REALM}: the link is "
            "kept as history") in page
    commitment = _fresh(Commitment, synced.id)
    assert commitment.qbo_realm_id == DEMO_REALM
    from quickbooks_online.lists import import_lists

    import_lists()
    qbo_helpers.map_for(commitment)
    since = _seq(sandbox)

    erp._dispatch(export)
    run_jobs()
    failed = _fresh(ChangeOrder, cco.id)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    assert erp.latest_export(failed).last_error_message == _message(commitment, True)
    assert sandbox.get(OTHER, "PurchaseOrder", harbor_po["Id"]) == harbor_po
    assert _calls_on(sandbox, OTHER, harbor_po["Id"], since) == []
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", old_po["Id"]) == old_po


def test_retry_after_connecting_the_old_company_again_sends_the_cco_to_its_own_po(
        monkeypatch, factory, people, approver, erp_admin, synced, harbor_po, sandbox):
    """Refused while Harbor was connected; connected to the first company again, Retry
    Export sends the CCO onto SC-1042's own PO, once, and Harbor's PO is never touched."""
    sov = synced.sov_lines[0]
    cco = factory.change_order(synced, status="approved", lines=((sov, "1000.00"),))
    erp.send_to_erp(people.project_admin, cco)
    _switch(people, synced)
    with pytest.raises(Locked):
        erp.accept(approver, _fresh(ChangeOrder, cco.id))
    _connect_to(people, DEMO_REALM)
    from quickbooks_online.lists import import_lists

    import_lists()
    qbo_helpers.map_for(_fresh(Commitment, synced.id))
    before = sandbox.get(DEMO_REALM, "PurchaseOrder", synced.qbo_purchase_order_id)
    erp.accept(approver, _fresh(ChangeOrder, cco.id))
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    after = sandbox.get(DEMO_REALM, "PurchaseOrder", synced.qbo_purchase_order_id)
    assert float(after["TotalAmt"]) == float(before["TotalAmt"]) + 1000
    assert sandbox.get(OTHER, "PurchaseOrder", harbor_po["Id"]) == harbor_po


# ---- sent again to the new company: the old PO's line Ids are not this PO's -------------------

def test_sent_to_the_new_company_after_unlink_each_line_is_on_its_po_once_if_an_answer_is_lost(
        factory, people, approver, erp_admin, synced, harbor_po, sandbox):
    """The first company's PO had lines 1 and 2 (SC-1042's export recorded them). In Harbor,
    after Unlink, the commitment gets a third SOV line and is sent: QuickBooks creates its
    PO (lines 1, 2, 3) but the answer is lost, so the retry finds it by its DocNumber and our
    marker. The old PO's line Ids must not decide which of the new PO's lines are ours: each
    SOV line is on it once, and its total is the commitment's."""
    from workflow import books

    _switch(people, synced)
    books.unlink_commitment(erp_admin, _fresh(Commitment, synced.id), "Moved to Harbor")
    commitment = _fresh(Commitment, synced.id)
    factory.sov_line(commitment, amount="4000.00", description="Pump truck standby",
                     cost_code=commitment.sov_lines[0].cost_code)
    commitment = _fresh(Commitment, synced.id)
    qbo_helpers.map_for(commitment)
    erp.send_to_erp(people.project_admin, commitment)
    original, fired = sandbox.handle_api, []

    def create_answer_lost(method, realm_id, path, args, body, authorization):
        if (not fired and method == "POST" and path.lower() == "purchaseorder"
                and '"sparse": true' not in str(body)):
            fired.append(path)
            sandbox.inject_fault(realm_id, "500_after_apply", count=1)
        return original(method, realm_id, path, args, body, authorization)

    sandbox.handle_api = create_answer_lost
    try:
        erp.accept(approver, commitment)
        run_jobs()
    finally:
        sandbox.handle_api = original
    assert fired  # QuickBooks created it; the answer was lost

    sent = _fresh(Commitment, synced.id)
    assert sent.erp_status == ErpStatus.SYNCED and sent.qbo_realm_id == OTHER
    po = sandbox.get(OTHER, "PurchaseOrder", sent.qbo_purchase_order_id)
    amounts = sorted(float(line["Amount"]) for line in po["Line"])
    assert amounts == [4000.0, 96500.5, 185000.0]
    assert float(po["TotalAmt"]) == 185000 + 96500.50 + 4000
    assert sandbox.get(OTHER, "PurchaseOrder", harbor_po["Id"]) == harbor_po
    assert len(sandbox.purchase_orders(OTHER)) == 2
