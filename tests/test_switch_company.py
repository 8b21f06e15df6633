"""Reconnecting QuickBooks to another company (realm) keeps each commitment's PurchaseOrder
link as history, marked as the old company's, and nothing reads or writes by that Id any more
(docs/quickbooks.md, "Switching QuickBooks company").

QuickBooks ids are per company. Both sandbox companies are seeded with the same lists, so once
the new company's lists are linked the vendor, job and items have the very ids they had in the
old one, and the new company holds a PurchaseOrder with the same Id as the old company's PO of
SC-1042: the case where a write by the old Id would land on an unrelated PO of the new company.
"""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import select

from extensions import db
from models import (
    ChangeOrder,
    Commitment,
    ErpStatus,
    HistoryEvent,
    QboPurchaseOrderState,
)
from quickbooks_online import ours
from quickbooks_online.lists import import_lists
from tests import qbo_helpers
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import DEMO_REALM, run_jobs
from workflow import books, erp, qbo_drift
from workflow.errors import Locked

OTHER = "4620816365000000042"
SUMMIT, CONCRETE_SUB, JOB = "56", "11", "2"  # the same ids in both sandbox companies
HTMX = {"HX-Request": "true"}


def item_line(amount, description) -> dict:
    return {"DetailType": "ItemBasedExpenseLineDetail", "Amount": float(amount),
            "Description": description,
            "ItemBasedExpenseLineDetail": {"ItemRef": {"value": CONCRETE_SUB}, "Qty": 1,
                                           "UnitPrice": float(amount),
                                           "CustomerRef": {"value": JOB}}}


@pytest.fixture
def harbor_po(sandbox):
    """The other company, holding a PurchaseOrder of its own (for the same vendor id) whose Id
    is the one the first company gives its first PO: SC-1042's."""
    sandbox.add_company(OTHER, "Harbor Renovations Inc (Sandbox)")
    return sandbox.add_purchase_order(
        OTHER, SUMMIT, [item_line("4200.00", "Site fence (Harbor's own)")],
        doc_number="H-7001", memo="Harbor's own purchase order",
        private_note="Entered by Harbor's bookkeeper.")


def _fresh(model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


def _text(response) -> str:
    """The words a reader sees: tags dropped, entities unescaped, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def _switch(people, commitment) -> None:
    """Connect to the other company (the OAuth round trip), import its lists and link the
    project, vendor, cost codes and AP account again, as an ERP admin would."""
    answer = qbo_helpers.approve_in_sandbox(qbo_helpers.authorization_url("switch"),
                                            realm_id=OTHER)
    qbo_helpers.complete_connection(people.company_admin, answer["code"], answer["realmId"])
    import_lists()
    qbo_helpers.map_for(_fresh(Commitment, commitment.id))


def _calls_on(sandbox, realm: str, po_id: str, since: int = 0) -> list[dict]:
    """The API calls that read or wrote PurchaseOrder ``po_id`` of ``realm``."""
    return [call for call in sandbox.request_log(realm, since=since)
            if call["path"].lower() == f"purchaseorder/{po_id}"
            or (isinstance(call.get("body"), dict) and str(call["body"].get("Id")) == po_id)]


def _seq(sandbox) -> int:
    return max([call["seq"] for call in sandbox.request_log()] or [0])


def _message(commitment: Commitment, of_change_order: bool = False) -> str:
    po = commitment.qbo_purchase_order_id
    if of_change_order:
        return (f"Commitment {commitment.number} is linked to PurchaseOrder {po} in another "
                f"QuickBooks company (company {DEMO_REALM}). Unlink the commitment (then send "
                "it again, or link it to this company's purchase order) before exporting its "
                "change orders.")
    return (f"Linked to PurchaseOrder {po} in another QuickBooks company (company "
            f"{DEMO_REALM}). Unlink it (then send it again, or link it to this company's "
            "purchase order) before exporting.")


def _accepted_not_run(monkeypatch, approver, subject):
    """Accept, its job not run yet (queued before the switch, run after it)."""
    held = []
    monkeypatch.setattr(erp, "_dispatch", held.append)
    export = erp.accept(approver, subject)
    monkeypatch.undo()
    assert held == [export]
    return export


def _run(export) -> None:
    erp._dispatch(export)
    run_jobs()


# ---- (1) a CCO export ---------------------------------------------------------------------------

def test_a_cco_of_a_commitment_synced_in_the_old_company_writes_nothing_to_the_new_one(
        client, auth, monkeypatch, factory, people, approver, synced, harbor_po, sandbox):
    sov = synced.sov_lines[0]
    queued = factory.change_order(synced, status="approved", lines=((sov, "1000.00"),))
    waiting = factory.change_order(synced, status="approved", lines=((sov, "250.00"),),
                                   title="Waiting")
    unsent = factory.change_order(synced, status="approved", lines=((sov, "75.00"),),
                                  title="Unsent")
    erp.send_to_erp(people.project_admin, queued)
    export = _accepted_not_run(monkeypatch, approver, queued)  # accepted, not run yet
    erp.send_to_erp(people.project_admin, waiting)
    old_po = sandbox.get(DEMO_REALM, "PurchaseOrder", synced.qbo_purchase_order_id)
    assert harbor_po["Id"] == synced.qbo_purchase_order_id  # the same Id, another PO

    # Through the settings page: the warning says the link is kept as history.
    auth.login(people.company_admin)
    start = client.post("/erp/settings/connect")
    answer = qbo_helpers.approve_in_sandbox(start.headers["Location"], realm_id=OTHER)
    page = _text(client.get("/erp/settings/callback", query_string=answer,
                            follow_redirects=True))
    assert (f"1 commitment is linked to a PurchaseOrder of company {DEMO_REALM}: the link is "
            "kept as history and never read or written here. Unlink it (its ERP panel) to "
            "send it to this company.") in page
    import_lists()
    qbo_helpers.map_for(_fresh(Commitment, synced.id))
    qbo_drift.poll()  # the new company's changes read: its PO of that Id among them
    commitment = _fresh(Commitment, synced.id)
    assert (commitment.qbo_purchase_order_id, commitment.qbo_realm_id) == (
        harbor_po["Id"], DEMO_REALM)  # kept, as the old company's
    assert ours.last_write(commitment.id, harbor_po["Id"]) is None
    since = _seq(sandbox)

    # The job accepted before the switch refuses: nothing read or written, the reason shown.
    _run(export)
    failed = _fresh(ChangeOrder, queued.id)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    message = _message(commitment, of_change_order=True)
    assert erp.latest_export(failed).last_error_message == message
    # Retry Export is not offered, and refused on the server with the same words: no job.
    with pytest.raises(Locked) as retried:
        erp.retry_export(people.company_admin, failed)
    assert message in retried.value.message
    assert _fresh(ChangeOrder, queued.id).erp_status == ErpStatus.FAILED_TO_EXPORT
    auth.login(people.company_admin)
    card = client.get(f"/erp/change-orders/{queued.id}/card", headers=HTMX)
    assert "Retry Export</button>" not in card.get_data(as_text=True)
    assert f"Retry Export: {message}" in _text(card)
    posted = client.post(f"/erp/change-orders/{queued.id}/retry", headers=HTMX)
    assert posted.status_code == 409 and message in _text(posted)
    assert _fresh(ChangeOrder, queued.id).erp_status == ErpStatus.FAILED_TO_EXPORT

    # Accept of the one waiting is refused on the server, and the card says why.
    with pytest.raises(Locked) as refused:
        erp.accept(approver, _fresh(ChangeOrder, waiting.id))
    assert message in refused.value.message
    assert _fresh(ChangeOrder, waiting.id).erp_status == ErpStatus.READY_TO_EXPORT
    auth.login(approver)
    inbox = _text(client.get("/erp/?tab=ready_to_export"))
    assert f"Accept: {message} Reject it back to the project." in inbox
    # Its QuickBooks preview would be figured on the old company's PO: none is shown.
    assert (f"No preview: PurchaseOrder {harbor_po['Id']} is another QuickBooks company's, "
            "and nothing is sent to it.") in inbox
    assert 'class="preview-lines"' not in client.get("/erp/?tab=ready_to_export").get_data(
        as_text=True)
    failed_tab = _text(client.get("/erp/?tab=failed_to_export"))
    assert f"Failed to Export: {message}" in failed_tab

    # Send to ERP of the one not sent: blocked, the reason by the button with where to fix.
    assert message in erp.send_blockers(_fresh(ChangeOrder, unsent.id))
    auth.login(people.project_admin)
    cco_page = _text(client.get(f"/projects/{people.project.id}/commitments/{synced.id}"
                                f"/change-orders/{unsent.id}"))
    assert message in cco_page
    assert f"Commitment {commitment.number} is linked to PurchaseOrder {harbor_po['Id']} in " \
           "another QuickBooks company" in cco_page

    assert sandbox.get(OTHER, "PurchaseOrder", harbor_po["Id"]) == harbor_po
    assert _calls_on(sandbox, OTHER, harbor_po["Id"], since) == []
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", old_po["Id"]) == old_po
    assert len(sandbox.purchase_orders(OTHER)) == 1


# ---- (2) a commitment export --------------------------------------------------------------------

def test_a_commitment_export_to_a_po_of_the_old_company_writes_nothing(
        client, auth, monkeypatch, people, approver, erp_admin, synced, harbor_po, sandbox):
    """Restore ours asked in the old company (Ready to Export again), accepted, and the job runs
    after the switch: it refuses with words; Reject withdraws the restore (Synced again)."""
    po_id = synced.qbo_purchase_order_id
    first = synced.sov_lines[0].qbo_line_id
    sandbox.edit_purchase_order(DEMO_REALM, po_id, lines={first: {"Amount": 1}})
    qbo_drift.poll()
    qbo_drift.restore_ours(erp_admin, _fresh(Commitment, synced.id))
    export = _accepted_not_run(monkeypatch, approver, _fresh(Commitment, synced.id))
    _switch(people, synced)
    since = _seq(sandbox)

    _run(export)
    failed = _fresh(Commitment, synced.id)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    message = _message(failed)
    assert erp.latest_export(failed).last_error_message == message
    auth.login(people.project_admin)
    url = f"/projects/{people.project.id}/commitments/{synced.id}"
    page = _text(client.get(url))
    assert f"Failed to Export: {message}" in page
    assert f"QuickBooks PO {po_id} (another QuickBooks company)" in page
    assert (f"Linked to PurchaseOrder {po_id} in another QuickBooks company (company "
            f"{DEMO_REALM}), not the one connected now: kept as history, never read or "
            "written. Unlink it to send it to this company.") in page

    # Reject withdraws the restore: Synced again (its PO holds what it wrote), and the page
    # still says the way forward is Unlink.
    erp.reject(approver, failed, "Linked to the old company's PO.")
    assert _fresh(Commitment, synced.id).erp_status == ErpStatus.SYNCED
    assert not qbo_drift.restore_requested(synced.id)
    assert "Unlink it to send it to this company." in _text(client.get(url))

    assert sandbox.get(OTHER, "PurchaseOrder", harbor_po["Id"]) == harbor_po
    assert _calls_on(sandbox, OTHER, harbor_po["Id"], since) == []
    assert len(sandbox.purchase_orders(OTHER)) == 1


# ---- (3) change data capture ------------------------------------------------------------------

def test_change_data_capture_of_the_new_company_never_matches_the_old_companys_po(
        client, auth, people, erp_admin, synced, harbor_po, sandbox):
    po_id = synced.qbo_purchase_order_id
    sandbox.edit_purchase_order(DEMO_REALM, po_id,
                                lines={synced.sov_lines[1].qbo_line_id: {"Amount": 97000}})
    qbo_drift.poll()
    state = db.session.scalar(select(QboPurchaseOrderState).where(
        QboPurchaseOrderState.commitment_id == synced.id))
    before = (state.purchase_order_id, state.sync_token, state.lines, state.total,
              state.deleted, state.differs)
    assert state.differs  # the old company's bookkeeper changed a line
    recorded = _fresh(Commitment, synced.id).qbo_last_write
    _switch(people, synced)
    # The new company's PO of that Id changes; a poll reads it, then a full read.
    sandbox.edit_purchase_order(OTHER, harbor_po["Id"], memo="changed in Harbor")
    sandbox.edit_purchase_order(OTHER, harbor_po["Id"], memo="changed in Harbor again")
    assert sandbox.get(OTHER, "PurchaseOrder", harbor_po["Id"])["SyncToken"] != before[1]
    assert qbo_drift.poll().changed == 0
    from datetime import timedelta

    from models.types import utcnow
    full = qbo_drift.poll(now=utcnow() + timedelta(days=40))
    assert full.full_read and full.changed == 0
    db.session.expire_all()
    state = db.session.scalar(select(QboPurchaseOrderState).where(
        QboPurchaseOrderState.commitment_id == synced.id))
    # Neither compared with the new company's PO nor taken for deleted (it is not there).
    assert (state.purchase_order_id, state.sync_token, state.lines, state.total,
            state.deleted, state.differs) == before
    commitment = _fresh(Commitment, synced.id)
    assert commitment.qbo_last_write == recorded  # not overwritten with Harbor's PO
    assert qbo_drift.drift_of(commitment) is None or not qbo_drift.drift_of(commitment)
    assert erp.drift(commitment, []) is None
    assert qbo_drift.changed_in_quickbooks(erp_admin) == []
    auth.login(erp_admin)
    page = _text(client.get(f"/projects/{people.project.id}/commitments/{synced.id}"))
    assert "Changed in QuickBooks" not in page and "In QuickBooks $" not in page
    assert "Acknowledge" not in page and "Restore ours" not in page


# ---- (4) unlink, then send to the new company ---------------------------------------------------

def test_after_unlink_send_creates_a_new_po_in_the_new_company_and_its_ccos_follow(
        client, auth, factory, people, approver, erp_admin, synced, harbor_po, sandbox):
    sov = synced.sov_lines[0]
    cco = factory.change_order(synced, status="approved", lines=((sov, "1000.00"),))
    send_and_accept(cco, people, approver)
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    old_po_id = synced.qbo_purchase_order_id
    _switch(people, synced)

    # The panel offers Unlink, and says what it does here.
    auth.login(erp_admin)
    url = f"/projects/{people.project.id}/commitments/{synced.id}"
    page = _text(client.get(url))
    assert "Unlink from PurchaseOrder" in page
    assert ("Its PurchaseOrder is in another QuickBooks company. Unlinking writes nothing to "
            "QuickBooks and the old Id stays in the history") in page
    # Linking it directly is refused until it is unlinked.
    with pytest.raises(Locked, match="in another QuickBooks company"):
        books.linkable_purchase_orders(erp_admin, _fresh(Commitment, synced.id))
    response = client.post(f"/erp/books/commitments/{synced.id}/unlink",
                           data={"reason": "Moved to Harbor's QuickBooks company"},
                           follow_redirects=True)
    assert response.status_code == 200
    unlinked = _fresh(Commitment, synced.id)
    assert unlinked.erp_status == ErpStatus.NOT_SENT
    assert unlinked.qbo_purchase_order_id is None and unlinked.qbo_realm_id is None
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.NOT_SENT
    event = db.session.scalar(select(HistoryEvent).where(
        HistoryEvent.subject_type == "commitment", HistoryEvent.subject_id == synced.id,
        HistoryEvent.action == "unlinked"))
    assert event.old_value == f"{old_po_id} (company {DEMO_REALM})"  # the old Id, as history

    resent = send_and_accept(unlinked, people, approver)
    assert resent.erp_status == ErpStatus.SYNCED and resent.qbo_realm_id == OTHER
    assert resent.qbo_purchase_order_id != harbor_po["Id"]
    created = sandbox.get(OTHER, "PurchaseOrder", resent.qbo_purchase_order_id)
    assert created["DocNumber"] == "SC-1042"
    assert Decimal(str(created["TotalAmt"])) == Decimal("185000.00") + Decimal("96500.50")
    # Its CCO, unlinked with it, is sent onto the new PO, once.
    send_and_accept(_fresh(ChangeOrder, cco.id), people, approver)
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    created = sandbox.get(OTHER, "PurchaseOrder", resent.qbo_purchase_order_id)
    assert Decimal(str(created["TotalAmt"])) == Decimal("185000.00") + 1000 + Decimal("96500.50")
    assert sandbox.get(OTHER, "PurchaseOrder", harbor_po["Id"]) == harbor_po
    assert len(sandbox.purchase_orders(OTHER)) == 2


def test_the_new_company_may_give_a_po_the_id_an_old_companys_po_has(
        factory, people, approver, synced, sandbox):
    """Ids are unique per company, not across companies: the new company's first PO gets the
    Id of the old company's first, and both commitments keep theirs."""
    sandbox.add_company(OTHER, "Harbor Renovations Inc (Sandbox)")
    _switch(people, synced)
    other = factory.commitment(people.project, vendor=synced.vendor, number="SC-2001",
                               sov=("500.00",))
    qbo_helpers.map_for(other)
    exported = send_and_accept(other, people, approver)
    assert exported.erp_status == ErpStatus.SYNCED
    old = _fresh(Commitment, synced.id)
    assert exported.qbo_purchase_order_id == old.qbo_purchase_order_id
    assert (old.qbo_realm_id, exported.qbo_realm_id) == (DEMO_REALM, OTHER)


# ---- link and import in the new company ---------------------------------------------------------

def test_link_and_import_offer_the_new_companys_po_of_the_same_id(
        factory, people, erp_admin, synced, harbor_po, sandbox):
    _switch(people, synced)
    newcomer = factory.commitment(people.project, vendor=synced.vendor, number="SC-3001",
                                  sov=("4200.00",))
    qbo_helpers.map_for(newcomer)
    offered = {s.id for s in books.linkable_purchase_orders(erp_admin, newcomer)}
    assert offered == {harbor_po["Id"]}  # not "held" by SC-1042's old-company link
    page = books.import_page(erp_admin, people.project)
    assert [s.id for s in page.purchase_orders] == [harbor_po["Id"]]
    line = harbor_po["Line"][0]["Id"]
    books.link(erp_admin, newcomer, harbor_po["Id"], [(newcomer.sov_lines[0].id, line)])
    linked = _fresh(Commitment, newcomer.id)
    assert (linked.qbo_purchase_order_id, linked.qbo_realm_id) == (harbor_po["Id"], OTHER)
    old = _fresh(Commitment, synced.id)
    assert (old.qbo_purchase_order_id, old.qbo_realm_id) == (harbor_po["Id"], DEMO_REALM)


# ---- a switch while an export runs ------------------------------------------------------------

def test_a_call_pinned_to_one_company_is_not_made_once_another_is_connected(
        people, synced, harbor_po, sandbox):
    from quickbooks_online import purchase_orders
    from quickbooks_online.connection import company_pinned, get_connection
    from quickbooks_online.errors import QboOtherCompany

    with company_pinned(DEMO_REALM):
        assert purchase_orders.read(synced.qbo_purchase_order_id)["Id"] == harbor_po["Id"]
        # meanwhile, an admin connects the other company
        answer = qbo_helpers.approve_in_sandbox(qbo_helpers.authorization_url("switch"),
                                                realm_id=OTHER)
        qbo_helpers.complete_connection(people.company_admin, answer["code"], answer["realmId"])
        assert get_connection().realm_id == OTHER
        since = _seq(sandbox)
        with pytest.raises(QboOtherCompany, match="switched to another company"):
            purchase_orders.read(synced.qbo_purchase_order_id)
    assert _calls_on(sandbox, OTHER, harbor_po["Id"], since) == []
