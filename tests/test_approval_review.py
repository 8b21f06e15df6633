"""Approval is a record, probed from the sides (docs/lifecycle.md): paths that move a CCO's
money somewhere else without touching the CCO's own lines. The SOV line a CCO line changes
carries that line's cost code and category, so re-classifying the SOV line moves where the
approved money goes; a CCO that is not Approved (or whose lines changed outside the app) is
never accepted or retried into QuickBooks."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import select, update

from extensions import db
from models import (
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    CostMapping,
    ErpStatus,
    Export,
    HistoryEvent,
    Notice,
    SovLine,
)
from tests import qbo_helpers
from tests.conftest import HTMX, at_once, commitment_url
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import run_jobs
from tests.test_approval import cco, codes, sam  # noqa: F401 (fixtures reused)
from workflow import books, erp

ITEM = "Concrete - Subcontract"


def _text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def _fresh(model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


def _cco_url(record, rest: str = "") -> str:
    return commitment_url(record.commitment, f"/change-orders/{record.id}{rest}")


def _sov_data(line: SovLine, **changes) -> dict:
    data = {"description": line.description, "cost_code_id": line.cost_code_id,
            "category_id": line.category_id, "amount": f"{line.amount:.2f}",
            "version": line.version}
    data.update(changes)
    return data


def _withdrawals(cco_id: int) -> list[HistoryEvent]:
    return list(db.session.scalars(select(HistoryEvent).where(
        HistoryEvent.subject_type == "change_order", HistoryEvent.subject_id == cco_id,
        HistoryEvent.action == "approval_withdrawn")))


@pytest.fixture
def other_code(factory, connected):
    """A second cost code, mapped to the same QuickBooks item (so only the approval stops a
    send)."""
    cost_code = factory.cost_code("05-100", "Structural steel")
    category = factory.category("Subcontract")
    db.session.add(CostMapping(cost_code_id=cost_code.id, category_id=category.id,
                               qbo_item_id=qbo_helpers._qbo_id("Item", ITEM), qbo_name=ITEM))
    db.session.commit()
    return cost_code


@pytest.fixture
def approved_on_unsynced(client, auth, factory, people, erp_commitment, sam):  # noqa: F811
    """CCO #001 of SC-1042 while SC-1042 is not yet in QuickBooks (Not Sent, editable): +1,000.00
    on SOV line 1, approved by Sam Ortiz through the page; the project manager signed in."""
    sov1 = erp_commitment.sov_lines[0]
    record = factory.change_order(erp_commitment, status="pending_in_review", reviewer=sam,
                                  lines=((sov1, "1000.00"),), title="Footing at grid C-4")
    auth.login(sam)
    assert client.post(_cco_url(record, "/review"), data={
        "decision": "approve", "version": record.version}).status_code == 303
    auth.logout()
    auth.login(people.project_admin)
    approved = _fresh(ChangeOrder, record.id)
    assert approved.status == ChangeOrderStatus.APPROVED and approved.approval is not None
    return approved


# ---- the SOV line a CCO changes, re-classified -------------------------------------------------

def test_reclassifying_the_sov_line_a_cco_changes_withdraws_its_approval(
        client, people, approver, erp_commitment, approved_on_unsynced, other_code, sam):  # noqa: F811
    """Sam approved +1,000.00 to SOV line 1 (its cost code); the project manager then moves SOV
    line 1 to 05-100. The CCO's money now goes to 05-100: nobody approved that."""
    sov1 = erp_commitment.sov_lines[0]
    before = sov1.cost_code.code
    saved = client.post(commitment_url(erp_commitment, f"/sov/{sov1.id}"), headers=HTMX,
                        data=_sov_data(sov1, cost_code_id=other_code.id))
    assert saved.status_code == 200, saved.get_data(as_text=True)

    after = _fresh(ChangeOrder, approved_on_unsynced.id)
    assert after.status == ChangeOrderStatus.PENDING_REVISED and after.approval is None
    said = f"line 1 cost code {before} → 05-100"
    [event] = _withdrawals(after.id)
    assert said in event.comment
    [notice] = db.session.scalars(select(Notice).where(Notice.user_id == sam.id)).all()
    assert said in notice.message and "Your approval is withdrawn" in notice.message

    # SC-1042 goes to QuickBooks as it now is; the CCO waits for Sam
    send_and_accept(_fresh(type(erp_commitment), erp_commitment.id), people, approver)
    refused = client.post(_cco_url(after, "/erp/send"), headers=HTMX)
    assert refused.status_code == 409
    assert "The change order must be Approved (it is Pending – Revised)." in _text(refused)
    assert _fresh(ChangeOrder, after.id).erp_status == ErpStatus.NOT_SENT


@pytest.mark.parametrize("field,value", [("description", "Footings, grid C"),
                                         ("amount", "1500.00")])
def test_sov_line_description_and_amount_edits_keep_the_approval(
        client, erp_commitment, approved_on_unsynced, sam, field, value):  # noqa: F811
    """The CCO's change to the line (+1,000.00) and where it goes stay what Sam approved."""
    sov1 = erp_commitment.sov_lines[0]
    saved = client.post(commitment_url(erp_commitment, f"/sov/{sov1.id}"), headers=HTMX,
                        data=_sov_data(sov1, **{field: value}))
    assert saved.status_code == 200, saved.get_data(as_text=True)
    after = _fresh(ChangeOrder, approved_on_unsynced.id)
    assert after.status == ChangeOrderStatus.APPROVED and after.approval is not None
    assert not _withdrawals(after.id)
    assert not db.session.scalars(select(Notice).where(Notice.user_id == sam.id)).all()


def _move_sov_line_outside_the_app(record, other_code):
    db.session.execute(update(SovLine).where(SovLine.id == record.lines[0].sov_line_id)
                       .values(cost_code_id=other_code.id))
    db.session.commit()


def test_send_is_refused_when_the_sov_line_was_reclassified_outside_the_app(
        client, cco, other_code):  # noqa: F811
    _move_sov_line_outside_the_app(cco, other_code)
    refused = client.post(_cco_url(cco, "/erp/send"), headers=HTMX)
    assert refused.status_code == 409
    text = _text(refused)
    assert "not what Sam Ortiz approved" in text and "cost code" in text and "05-100" in text
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.NOT_SENT


def test_accept_is_refused_when_the_sov_line_was_reclassified_outside_the_app(
        client, auth, cco, approver, other_code):  # noqa: F811
    assert client.post(_cco_url(cco, "/erp/send"), headers=HTMX).status_code == 200
    _move_sov_line_outside_the_app(cco, other_code)
    auth.logout()
    auth.login(approver)
    refused = client.post(f"/erp/change-orders/{cco.id}/accept", headers=HTMX)
    assert refused.status_code == 409 and "05-100" in _text(refused)
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.READY_TO_EXPORT
    assert db.session.scalar(select(Export).where(Export.change_order_id == cco.id)) is None


def test_a_sov_line_a_cco_with_accounting_changes_keeps_its_cost_code(
        client, cco, synced, erp_admin, other_code):  # noqa: F811
    """SC-1042 unlinked while CCO #001 waits for Accept: SC-1042 is editable again, but the
    SOV line CCO #001 changes keeps its cost code and category until the CCO comes back."""
    assert client.post(_cco_url(cco, "/erp/send"), headers=HTMX).status_code == 200
    books.unlink_commitment(erp_admin, _fresh(type(synced), synced.id), "PO replaced")
    commitment = _fresh(type(synced), synced.id)
    assert commitment.erp_status == ErpStatus.NOT_SENT and commitment.erp_editable
    sov1 = db.session.get(SovLine, cco.lines[0].sov_line_id)
    code_before = sov1.cost_code_id
    refused = client.post(commitment_url(commitment, f"/sov/{sov1.id}"), headers=HTMX,
                          data=_sov_data(sov1, cost_code_id=other_code.id))
    assert refused.status_code == 409
    assert "CCO #001 changes this line" in _text(refused)
    assert _fresh(SovLine, sov1.id).cost_code_id == code_before
    kept = _fresh(ChangeOrder, cco.id)
    assert kept.status == ChangeOrderStatus.APPROVED and kept.approval is not None
    assert kept.erp_status == ErpStatus.READY_TO_EXPORT
    # its description may still be corrected
    sov1 = _fresh(SovLine, sov1.id)
    assert client.post(commitment_url(commitment, f"/sov/{sov1.id}"), headers=HTMX,
                       data=_sov_data(sov1, description="Footings")).status_code == 200


# ---- Accept and Retry Export: only an Approved CCO, only the lines approved -------------------

def test_accept_refuses_a_cco_that_is_not_approved(client, auth, cco, approver):  # noqa: F811
    """A CCO waiting for Accept whose contract status is not Approved (set outside the app):
    nobody's approval stands behind it."""
    assert client.post(_cco_url(cco, "/erp/send"), headers=HTMX).status_code == 200
    db.session.execute(update(ChangeOrder).where(ChangeOrder.id == cco.id)
                       .values(status=ChangeOrderStatus.PENDING_REVISED))
    db.session.commit()
    auth.logout()
    auth.login(approver)
    card = _text(client.get(f"/erp/change-orders/{cco.id}/card", headers=HTMX))
    assert "Confirm Accept" not in card and "must be Approved" in card
    refused = client.post(f"/erp/change-orders/{cco.id}/accept", headers=HTMX)
    assert refused.status_code == 409
    assert "The change order must be Approved (it is Pending – Revised)." in _text(refused)
    assert db.session.scalar(select(Export).where(Export.change_order_id == cco.id)) is None
    bulk = client.post("/erp/accept-selected", data={
        "selected": f"change-orders:{cco.id}", "confirm": "yes"}, follow_redirects=True)
    assert "must be Approved" in _text(bulk)
    assert db.session.scalar(select(Export).where(Export.change_order_id == cco.id)) is None


def test_retry_export_refuses_lines_changed_after_the_failed_export(
        client, auth, cco, approver, erp_admin, codes, sandbox):  # noqa: F811
    """Accepted, failed (a mapping removed); a line is then changed outside the app and the
    mapping put back. Retry Export would send $25,000.00 nobody approved."""
    assert client.post(_cco_url(cco, "/erp/send"), headers=HTMX).status_code == 200
    cost_code, category = codes[0]
    mapping = db.session.scalar(select(CostMapping).filter_by(cost_code_id=cost_code.id,
                                                              category_id=category.id))
    kept = {"cost_code_id": mapping.cost_code_id, "category_id": mapping.category_id,
            "qbo_item_id": mapping.qbo_item_id, "qbo_name": mapping.qbo_name}
    db.session.delete(mapping)
    db.session.commit()
    erp.accept(approver, _fresh(ChangeOrder, cco.id))
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.FAILED_TO_EXPORT
    db.session.add(CostMapping(**kept))
    db.session.execute(update(ChangeOrderLine).where(ChangeOrderLine.id == cco.lines[0].id)
                       .values(amount=Decimal("25000.00")))
    db.session.commit()

    auth.logout()
    auth.login(erp_admin)
    card = _text(client.get(f"/erp/change-orders/{cco.id}/card", headers=HTMX))
    assert "line 1 $1,000.00 → $25,000.00" in card
    refused = client.post(f"/erp/change-orders/{cco.id}/retry", headers=HTMX)
    assert refused.status_code == 409
    text = _text(refused)
    assert "not what Sam Ortiz approved" in text and "line 1 $1,000.00 → $25,000.00" in text
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.FAILED_TO_EXPORT
    # the approver may still hand it back
    auth.logout()
    auth.login(approver)
    assert client.post(f"/erp/change-orders/{cco.id}/reject", headers=HTMX, data={
        "comment": "Line 1 is not what was approved."}).status_code == 200
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.REJECTED


# ---- races: an edit against Send, an edit against the reviewer's Approve -----------------------

def test_a_line_edit_against_send_to_erp_never_sends_unapproved_lines(app, people, cco):  # noqa: F811
    """The project manager changes line 1 while another project admin presses Send to ERP:
    one goes first. Either the CCO is Ready to Export with the lines Sam approved, or the
    approval is withdrawn and nothing was sent."""
    from models import User
    from workflow.change_orders import LineInput, update_line

    cco_id, line_id, pm_id = cco.id, cco.lines[0].id, people.project_admin.id

    def press(index):
        user = db.session.get(User, pm_id)
        target = db.session.get(ChangeOrder, cco_id)
        if index == 0:
            line = db.session.get(ChangeOrderLine, line_id)
            data = LineInput(line.sov_line_id, line.description, Decimal("25000.00"))
            version = line.version
            return lambda: update_line(user, line, data, version)
        return lambda: erp.send_to_erp(user, target)

    edited, sent = at_once(app, 2, press)
    record = _fresh(ChangeOrder, cco_id)
    amount = db.session.get(ChangeOrderLine, line_id).amount
    if record.erp_status == ErpStatus.READY_TO_EXPORT:  # Send first: the edit is refused
        assert sent is None and isinstance(edited, Exception), (edited, sent)
        assert amount == Decimal("1000.00")
        assert record.status == ChangeOrderStatus.APPROVED and record.approval is not None
    else:  # the edit first: the approval is withdrawn, Send refused
        assert isinstance(edited, ChangeOrderLine), edited
        assert amount == Decimal("25000.00")
        assert record.status == ChangeOrderStatus.PENDING_REVISED and record.approval is None
        assert "must be Approved" in str(getattr(sent, "message", sent))


def test_a_line_edit_against_approve_never_records_other_lines(app, people, factory, synced,
                                                              sam):  # noqa: F811
    """Sam presses Approve while the project manager changes the amount: the approval in
    force, if any, is of the lines as they are."""
    from models import User
    from workflow.approvals import approved_lines, current_lines
    from workflow.change_orders import LineInput, review, update_line

    record = factory.change_order(synced, status="pending_in_review", reviewer=sam,
                                  lines=((synced.sov_lines[0], "1000.00"),))
    cco_id, line_id, ids = record.id, record.lines[0].id, (people.project_admin.id, sam.id)
    cco_version = record.version

    def press(index):
        user = db.session.get(User, ids[index])
        target = db.session.get(ChangeOrder, cco_id)
        if index == 0:
            line = db.session.get(ChangeOrderLine, line_id)
            data = LineInput(line.sov_line_id, line.description, Decimal("25000.00"))
            version = line.version
            return lambda: update_line(user, line, data, version)
        target.lines  # noqa: B018 (what Sam's page showed)
        return lambda: review(user, target, approve=True, comment="", version=cco_version)

    outcomes = at_once(app, 2, press)
    record = _fresh(ChangeOrder, cco_id)
    if record.approval is not None:
        assert record.status == ChangeOrderStatus.APPROVED
        assert [(x.line_id, x.amount) for x in approved_lines(record.approval)] == \
            [(x.line_id, x.amount) for x in current_lines(record)], outcomes
    else:
        assert record.status != ChangeOrderStatus.APPROVED, outcomes
