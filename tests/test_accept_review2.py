"""Review of Accept-of-what-was-seen, the unlinked CCO, Restore ours and the card's
PurchaseOrder words (docs/lifecycle.md "Accept is of what the approver saw"; docs/quickbooks.md
"Unlink", "Seeing QuickBooks"). Two devices, stale pages, hand-made posts; the sandbox only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models import ChangeOrder, Commitment, ErpPermission, ErpStatus
from tests import test_accept_seen as accept_seen
from tests.qbo_helpers import DEMO_REALM, run_jobs
from tests.test_accept_seen import _exports, _form, _fresh, _multi, _opened_confirm, _words
from tests.test_books import SUMMIT, item_line
from workflow import books, erp, qbo_drift

HTMX = {"HX-Request": "true"}


# The same Sam (reviewer) and CCO #001 (+1,000.00 on SOV line 1, approved, Ready to Export).
sam, cco = accept_seen.sam, accept_seen.cco


def _card(client, slug: str, record_id: int) -> str:
    return _words(client.get(f"/erp/{slug}/{record_id}/card").get_data(as_text=True))


# ---- 1. Accept carries what was seen -----------------------------------------------------------

def test_an_old_cco_card_cannot_send_it_to_the_po_its_commitment_was_moved_to_since(
        client, auth, people, approver, erp_admin, cco, sandbox):
    """Phone: the approver opens CCO #001's confirmation, "Export $1,000.00 to QuickBooks
    PurchaseOrder SC-1042". Meanwhile the ERP admin unlinks SC-1042 and links it to the
    bookkeeper's PO 1007, which is accepted and Synced. Confirm Accept on the phone must not
    write the CCO into PO 1007, a PurchaseOrder the approver never saw: 409, nothing queued;
    the card opened again names 1007 and its Accept goes through."""
    auth.login(approver)
    action, fields = _opened_confirm(client, "change-orders", cco.id)
    old_po = cco.commitment.qbo_purchase_order_id
    commitment = _fresh(Commitment, cco.commitment_id)
    books.unlink_commitment(erp_admin, commitment, "Replaced by the bookkeeper's PO")
    po = sandbox.add_purchase_order(
        DEMO_REALM, SUMMIT, [item_line("185000.00", "Slab"), item_line("96500.50", "Walls")],
        doc_number="1007")
    commitment = _fresh(Commitment, cco.commitment_id)
    books.link(erp_admin, commitment, po["Id"],
               [(sov.id, po["Line"][i]["Id"]) for i, sov in enumerate(commitment.sov_lines)])
    erp.send_to_erp(people.project_admin, _fresh(Commitment, cco.commitment_id))
    erp.accept(approver, _fresh(Commitment, cco.commitment_id))
    run_jobs()
    assert _fresh(Commitment, cco.commitment_id).erp_status == ErpStatus.SYNCED
    before = sandbox.get(DEMO_REALM, "PurchaseOrder", po["Id"])

    response = client.post(action, data=dict(fields), headers=HTMX)
    assert response.status_code == 409
    assert "changed since you opened it" in _words(response.get_data(as_text=True))
    run_jobs()
    record = _fresh(ChangeOrder, cco.id)
    assert record.erp_status == ErpStatus.READY_TO_EXPORT and _exports(record) == 0
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", po["Id"]) == before
    assert old_po != po["Id"]
    # Looked at again: it names PO 1007, and goes there.
    action, fields = _opened_confirm(client, "change-orders", cco.id)
    assert "to QuickBooks PurchaseOrder 1007 (" in _card(client, "change-orders", cco.id)
    assert client.post(action, data=dict(fields), headers=HTMX).status_code == 200
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    after = sandbox.get(DEMO_REALM, "PurchaseOrder", po["Id"])
    assert Decimal(str(after["TotalAmt"])) == Decimal(str(before["TotalAmt"])) + 1000


def test_accept_selected_with_stale_fresh_garbled_duplicate_and_hidden_ids(
        client, auth, factory, people, approver, sam, cco, sandbox):
    """One post naming: a fresh CCO twice (one stale version, one right), a CCO with a version
    of another record, a garbled version, a private CCO the approver may not see, an id that
    does not exist and nonsense. Each fresh one is exported exactly once; the others are left
    as they were; no 500."""
    lines = cco.commitment.sov_lines
    second = factory.change_order(cco.commitment, status="approved", reviewer=sam,
                                  lines=((lines[1], "200.00"),))
    third = factory.change_order(cco.commitment, status="approved", reviewer=sam,
                                 lines=((lines[1], "300.00"),))
    hidden = factory.change_order(cco.commitment, status="approved", reviewer=sam,
                                  lines=((lines[0], "50.00"),), private=True)
    for record in (second, third, hidden):
        erp.send_to_erp(people.project_admin, record)
    cco, second, third, hidden = (_fresh(ChangeOrder, r.id) for r in (cco, second, third, hidden))
    auth.login(approver)
    data = _multi([
        ("selected", f"change-orders:{cco.id}"), ("selected", f"change-orders:{cco.id}"),
        ("selected", f"change-orders:{second.id}"), ("selected", f"change-orders:{third.id}"),
        ("selected", f"change-orders:{hidden.id}"), ("selected", "change-orders:999999"),
        ("selected", "commitments:-1"), ("selected", "nonsense"),
        ("version:change-orders:" + str(cco.id), str(cco.version)),
        ("version:change-orders:" + str(second.id), str(third.version + 7)),
        ("version:change-orders:" + str(third.id), "99999999999999999999"),
        ("version:change-orders:" + str(hidden.id), str(hidden.version)),
        ("confirm", "yes")])
    response = client.post("/erp/accept-selected", data=data)
    assert response.status_code == 303
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    assert _exports(_fresh(ChangeOrder, cco.id)) == 1
    for record in (second, third, hidden):
        record = _fresh(ChangeOrder, record.id)
        assert record.erp_status == ErpStatus.READY_TO_EXPORT and _exports(record) == 0
    assert client.get(response.location).status_code == 200


@pytest.mark.parametrize("who", ["read_only", "no_push"])
def test_accept_by_someone_who_may_not_push_changes_nothing(client, auth, factory, cco, who):
    user = factory.user(erp=ErpPermission.READ_ONLY if who == "read_only"
                        else ErpPermission.STANDARD, can_push=False)
    auth.login(user)
    for headers in (HTMX, {}):
        response = client.post(f"/erp/change-orders/{cco.id}/accept",
                               data={"version": str(cco.version)}, headers=headers)
        assert response.status_code == 403
        response = client.post("/erp/accept-selected", data={
            "selected": f"change-orders:{cco.id}", f"version:change-orders:{cco.id}":
            str(cco.version), "confirm": "yes"}, headers=headers)
        assert response.status_code == 403
    record = _fresh(ChangeOrder, cco.id)
    assert record.erp_status == ErpStatus.READY_TO_EXPORT and _exports(record) == 0


# ---- 2 and 3. Restore ours and the CCOs --------------------------------------------------------

def _restore(client, auth, people, commitment, sandbox) -> Commitment:
    po_id = commitment.qbo_purchase_order_id
    second = sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)["Line"][1]["Id"]
    sandbox.edit_purchase_order(DEMO_REALM, po_id, lines={second: {"Amount": 97000}})
    qbo_drift.poll()
    auth.login(people.company_admin)
    client.post(f"/projects/{commitment.project_id}/commitments/{commitment.id}"
                "/erp/quickbooks-changes/restore")
    auth.logout()
    restored = _fresh(Commitment, commitment.id)
    assert restored.erp_status == ErpStatus.READY_TO_EXPORT
    return restored


def test_a_cco_waiting_behind_a_restore_is_not_said_to_be_unlinked(
        client, auth, people, approver, cco, sandbox):
    """A CCO Ready to Export while its commitment's "Restore ours" waits for Accept: its card
    must not tell the approver the PurchaseOrder was unlinked (it was not: the restore is on
    its way). Once the restore is accepted the CCO is accepted as usual."""
    commitment = _restore(client, auth, people, cco.commitment, sandbox)
    auth.login(approver)
    card = _card(client, "change-orders", cco.id)
    assert "unlinked" not in card
    assert "Restore ours" in card
    erp.accept(approver, commitment)
    run_jobs()
    assert _fresh(Commitment, commitment.id).erp_status == ErpStatus.SYNCED
    erp.accept(approver, _fresh(ChangeOrder, cco.id))
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED


def test_a_rejected_restore_refuses_its_old_confirmation_and_the_waiting_cco_then_goes(
        client, auth, people, approver, cco, sandbox):
    """Two devices: the approver opens the restore's confirmation on one and rejects it on the
    other. The commitment is Synced again; the old confirmation is refused (409, nothing
    queued), a second Reject is already handled (409, no 500); the waiting CCO is accepted."""
    commitment = _restore(client, auth, people, cco.commitment, sandbox)
    version = commitment.version
    auth.login(approver)
    page = client.get(f"/erp/commitments/{commitment.id}?open=accept")
    action, fields = _form(page.get_data(as_text=True), "/accept")
    assert ("version", str(version)) in fields
    response = client.post(f"/erp/commitments/{commitment.id}/reject",
                           data={"comment": "The bookkeeper is right."}, headers=HTMX)
    assert response.status_code == 200
    # The old confirmation, posted after the reject: nothing happens.
    response = client.post(action, data=dict(fields), headers=HTMX)
    assert response.status_code == 409
    commitment = _fresh(Commitment, commitment.id)
    assert commitment.erp_status == ErpStatus.SYNCED and _exports(commitment) == 1
    # Rejecting or retrieving again: already handled, no 500.
    response = client.post(f"/erp/commitments/{commitment.id}/reject",
                           data={"comment": "again"}, headers=HTMX)
    assert response.status_code == 409
    erp.accept(approver, _fresh(ChangeOrder, cco.id))
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED


# ---- 4. The card's PurchaseOrder words -----------------------------------------------------------

def test_the_cards_purchase_order_words_through_unlink(
        client, auth, people, approver, erp_admin, cco):
    auth.login(approver)
    assert "changes PurchaseOrder SC-1042" in _card(client, "change-orders", cco.id)
    card = _card(client, "commitments", cco.commitment_id)
    assert "PurchaseOrder SC-1042" in card and "new PurchaseOrder" not in card
    assert "changes PurchaseOrder" not in card
    books.unlink_commitment(erp_admin, _fresh(Commitment, cco.commitment_id), "Replaced")
    erp.send_to_erp(people.project_admin, _fresh(Commitment, cco.commitment_id))
    assert "new PurchaseOrder SC-1042" in _card(client, "commitments", cco.commitment_id)


# ---- at once (two sessions; meaningful on PostgreSQL) ------------------------------------------

def test_two_approvers_confirm_the_same_version_at_once_one_export(
        app, factory, approver, cco, sandbox):
    from models import User
    from tests.conftest import at_once
    from workflow.errors import AlreadyHandled

    second = factory.user(name="Second Approver", erp=ErpPermission.ADMIN, can_push=True)
    cco_id, version, user_ids = cco.id, cco.version, (approver.id, second.id)
    po_id = cco.commitment.qbo_purchase_order_id
    before = Decimal(str(sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)["TotalAmt"]))

    def press(index):
        from extensions import db

        user = db.session.get(User, user_ids[index])
        target = db.session.get(ChangeOrder, cco_id)
        return lambda: erp.accept(user, target, expected_version=version)

    outcomes = at_once(app, 2, press)
    run_jobs()
    assert sorted(type(o).__name__ for o in outcomes) == ["AlreadyHandled", "Export"], outcomes
    assert any(isinstance(o, AlreadyHandled) for o in outcomes)
    record = _fresh(ChangeOrder, cco_id)
    assert record.erp_status == ErpStatus.SYNCED and _exports(record) == 1
    after = Decimal(str(sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)["TotalAmt"]))
    assert after == before + 1000


def test_accept_and_unlink_at_once_never_leave_an_export_without_a_po(
        app, approver, erp_admin, cco, sandbox):
    """Accept of the CCO and Unlink of its commitment pressed together: either the Accept
    wins (Unlink is refused: an export of its CCO is queued) or the Unlink wins (Accept is
    refused: the commitment is not Synced). Never both."""
    from models import User
    from tests.conftest import at_once

    cco_id, commitment_id = cco.id, cco.commitment_id
    ids = (approver.id, erp_admin.id)

    def press(index):
        from extensions import db

        user = db.session.get(User, ids[index])
        if index == 0:
            target = db.session.get(ChangeOrder, cco_id)
            return lambda: erp.accept(user, target)
        commitment = db.session.get(Commitment, commitment_id)
        return lambda: books.unlink_commitment(user, commitment, "Replaced")

    outcomes = at_once(app, 2, press)
    record = _fresh(ChangeOrder, cco_id)
    commitment = _fresh(Commitment, commitment_id)
    accepted = _exports(record) == 1
    unlinked = commitment.qbo_purchase_order_id is None
    assert accepted != unlinked, outcomes
