"""Approval is a record (issue 21): what the designated reviewer approved is what accounting
exports. A change that moves money or where it goes withdraws the approval and tells the
reviewer; title and description edits keep it; Send, Resend and Accept refuse lines that
differ from the approval. Everything through HTTP, as the people do it."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import select, update

from extensions import db
from models import (
    ChangeOrder,
    ChangeOrderApproval,
    ChangeOrderLine,
    ChangeOrderStatus,
    CostMapping,
    ErpStatus,
    Export,
    HistoryEvent,
    Notice,
    ProjectRole,
    SentEmail,
)
from tests import qbo_helpers
from tests.conftest import HTMX, commitment_url
from tests.qbo_helpers import run_jobs

ITEM = "Concrete - Subcontract"


def _words(html: str) -> str:
    """What a reader sees: tags gone, entities unescaped, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _text(response) -> str:
    return _words(response.get_data(as_text=True))


def _cco_url(cco, rest: str = "") -> str:
    return commitment_url(cco.commitment, f"/change-orders/{cco.id}{rest}")


def _fresh(model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


@pytest.fixture
def sam(factory, people):
    """The designated reviewer: a standard member of the project."""
    user = factory.user(name="Sam Ortiz", email="sam.ortiz@example.com")
    factory.member(people.project, user, ProjectRole.STANDARD)
    return user


@pytest.fixture
def codes(factory, connected):
    """Two mapped cost codes and two categories for new lines."""
    found = []
    for code, category in (("01-500", "Equipment"), ("01-510", "Material")):
        cost_code = factory.cost_code(code, "Temporary facilities")
        db.session.add(CostMapping(cost_code_id=cost_code.id,
                                   category_id=factory.category(category).id,
                                   qbo_item_id=qbo_helpers._qbo_id("Item", ITEM), qbo_name=ITEM))
        found.append((cost_code, factory.category(category)))
    db.session.commit()
    return found


@pytest.fixture
def cco(client, auth, factory, people, synced, sam, codes):
    """CCO #001 of SC-1042: line 1 +1,000.00 on SOV line 1, line 2 +2,400.00 on SOV line 2,
    line 3 a new line +150.50 (01-500 Equipment); Sam Ortiz approves it through the page."""
    sov1, sov2 = synced.sov_lines
    record = factory.change_order(synced, status="pending_in_review", reviewer=sam,
                                  lines=((sov1, "1000.00"), (sov2, "2400.00")),
                                  title="Footing at grid C-4")
    cost_code, category = codes[0]
    db.session.add(ChangeOrderLine(change_order=record, cost_code_own=cost_code,
                                   category_own=category, description="Winter protection",
                                   amount=Decimal("150.50")))
    db.session.commit()
    auth.login(sam)
    response = client.post(_cco_url(record, "/review"), data={
        "decision": "approve", "comment": "OK per RFI 14", "version": record.version})
    assert response.status_code == 303
    auth.logout()
    auth.login(people.project_admin)  # the project manager, from here on
    return _fresh(ChangeOrder, record.id)


def _line_data(line, **changes) -> dict:
    data = {"sov_line_id": line.sov_line_id or "", "description": line.description,
            "amount": f"{line.amount:.2f}", "cost_code_id": line.cost_code_id or "",
            "category_id": line.category_id or "", "version": line.version}
    data.update(changes)
    return data


def _history(cco_id: int) -> list[HistoryEvent]:
    return list(db.session.scalars(select(HistoryEvent).where(
        HistoryEvent.subject_type == "change_order", HistoryEvent.subject_id == cco_id)
        .order_by(HistoryEvent.id)))


def _approved_line(cco) -> str:
    approval = _fresh(ChangeOrder, cco.id).approval
    return f"Approved by Sam Ortiz on {approval.approved_at:%Y-%m-%d} for $3,550.50"


# ---- the record ------------------------------------------------------------------------------

def test_approving_keeps_who_when_each_line_and_the_total(client, cco, sam, synced, codes):
    approval = db.session.scalar(select(ChangeOrderApproval).where(
        ChangeOrderApproval.change_order_id == cco.id))
    assert approval.approved_by_id == sam.id and approval.withdrawn_at is None
    assert approval.total == Decimal("3550.50")
    lines = json.loads(approval.lines)
    sov1, sov2 = synced.sov_lines
    cost_code, category = codes[0]
    assert [(x["sov_line_id"], x["cost_code_id"], x["category_id"], x["amount"])
            for x in lines] == [(sov1.id, None, None, "1000.00"), (sov2.id, None, None, "2400.00"),
                                (None, cost_code.id, category.id, "150.50")]
    page = _text(client.get(_cco_url(cco)))
    assert _approved_line(cco) in page
    assert "Approved by <bdi>Sam Ortiz</bdi>" in client.get(_cco_url(cco)).get_data(as_text=True)


# ---- changes that withdraw the approval ------------------------------------------------------

def _change_amount(client, cco, synced, codes):
    line = cco.lines[1]
    return client.post(_cco_url(cco, f"/lines/{line.id}"), headers=HTMX,
                       data=_line_data(line, amount="2600.00")), "line 2 $2,400.00 → $2,600.00"


def _change_sov_line(client, cco, synced, codes):
    line = cco.lines[0]
    sov2 = synced.sov_lines[1]
    return (client.post(_cco_url(cco, f"/lines/{line.id}"), headers=HTMX,
                        data=_line_data(line, sov_line_id=sov2.id)),
            f"line 1 SOV line 1. Line 1 → SOV line 2. {sov2.description}")


def _change_cost_code(client, cco, synced, codes):
    line = cco.lines[2]
    other = codes[1][0]
    return (client.post(_cco_url(cco, f"/lines/{line.id}"), headers=HTMX,
                        data=_line_data(line, cost_code_id=other.id)),
            "line 3 cost code 01-500 → 01-510")


def _change_category(client, cco, synced, codes):
    line = cco.lines[2]
    other = codes[1][1]
    return (client.post(_cco_url(cco, f"/lines/{line.id}"), headers=HTMX,
                        data=_line_data(line, category_id=other.id)),
            "line 3 category Equipment → Material")


def _add_line(client, cco, synced, codes):
    return (client.post(_cco_url(cco, "/lines"), headers=HTMX, data={
        "sov_line_id": synced.sov_lines[0].id, "description": "Rebar", "amount": "75.00"}),
        "line 4 added: $75.00 (SOV line 1. Line 1)")


def _delete_line(client, cco, synced, codes):
    line = cco.lines[2]
    return (client.post(_cco_url(cco, f"/lines/{line.id}/delete"), headers=HTMX,
                        data={"version": line.version}),
            "line 3 deleted: $150.50 (01-500 Equipment)")


@pytest.mark.parametrize("change", [_change_amount, _change_sov_line, _change_cost_code,
                                    _change_category, _add_line, _delete_line],
                         ids=["amount", "sov line", "cost code", "category", "add line",
                              "delete line"])
def test_a_change_that_moves_money_withdraws_the_approval(client, cco, synced, codes, sam,
                                                          change):
    response, said = change(client, cco, synced, codes)
    assert response.status_code == 200, response.get_data(as_text=True)
    # the answer brings the header's status and the ERP panel along
    html = unescape(response.get_data(as_text=True))
    assert 'id="cco-status-fact" hx-swap-oob="true">Pending – Revised' in html
    assert 'id="erp" hx-swap-oob="true"' in html
    assert "Approved by" not in _text(response)

    after = _fresh(ChangeOrder, cco.id)
    assert after.status == ChangeOrderStatus.PENDING_REVISED
    assert after.approval is None
    [event] = [e for e in _history(cco.id) if e.action == "approval_withdrawn"]
    assert (event.old_value, event.new_value) == ("Approved", "Pending – Revised")
    assert said in event.comment

    page = _text(client.get(_cco_url(cco)))
    assert "Status Pending – Revised" in page
    assert "withdrawn on" in page and said in page
    assert "The change order must be Approved (it is Pending – Revised)." in page
    refused = client.post(_cco_url(cco, "/erp/send"), headers=HTMX)
    assert refused.status_code == 409
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.NOT_SENT

    # the reviewer is told, in the app and by email, with what changed
    run_jobs()  # with Redis, the email job waits for a worker
    [notice] = db.session.scalars(select(Notice).where(Notice.user_id == sam.id)).all()
    assert said in notice.message and "Your approval is withdrawn" in notice.message
    [mail] = db.session.scalars(select(SentEmail).where(SentEmail.user_id == sam.id)).all()
    assert mail.subject == "Approval withdrawn: CCO #001 of SC-1042 (Footing at grid C-4)"
    assert f"* {said}" in mail.body and _cco_url(cco) in mail.body


# ---- changes that keep it --------------------------------------------------------------------

def _header(client, cco, sam, **changes):
    data = {"title": cco.title, "description": cco.description or "", "status": "approved",
            "designated_reviewer_id": sam.id, "version": cco.version}
    data.update(changes)
    return client.post(_cco_url(cco), headers=HTMX, data=data)


@pytest.mark.parametrize("edit", ["title", "description", "line description"])
def test_title_and_description_edits_keep_the_approval(client, cco, sam, edit):
    if edit == "line description":
        line = cco.lines[0]
        response = client.post(_cco_url(cco, f"/lines/{line.id}"), headers=HTMX,
                               data=_line_data(line, description="Footing, deeper"))
    else:
        response = _header(client, cco, sam, **{edit: "Footing at grid C-4, revised wording"})
    assert response.status_code == 200, response.get_data(as_text=True)
    after = _fresh(ChangeOrder, cco.id)
    assert after.status == ChangeOrderStatus.APPROVED and after.approval is not None
    assert "approval_withdrawn" not in [e.action for e in _history(cco.id)]
    assert not db.session.scalars(select(Notice).where(Notice.user_id == sam.id)).all()
    page = _text(client.get(_cco_url(cco)))
    assert _approved_line(cco) in page and "Not yet:" not in page
    sent = client.post(_cco_url(cco, "/erp/send"), headers=HTMX)
    assert sent.status_code == 200 and "Ready to Export" in _text(sent)


# ---- Send, Resend and Accept check the lines against the approval ----------------------------

def _tamper_line(cco):
    """A line changed without the workflow (a script, a hand-made SQL fix)."""
    db.session.execute(update(ChangeOrderLine).where(ChangeOrderLine.id == cco.lines[0].id)
                       .values(amount=Decimal("25000.00")))
    db.session.commit()


def _tamper_snapshot(cco):
    """The record of what was approved edited in the database."""
    approval = _fresh(ChangeOrder, cco.id).approval
    lines = json.loads(approval.lines)
    lines[1]["amount"] = "2600.00"
    approval.lines = json.dumps(lines)
    db.session.commit()


@pytest.mark.parametrize("tamper,said", [
    (_tamper_line, "line 1 $1,000.00 → $25,000.00"),
    (_tamper_snapshot, "line 2 $2,600.00 → $2,400.00"),
], ids=["line", "snapshot"])
def test_send_is_refused_when_the_lines_are_not_what_was_approved(client, cco, tamper, said):
    tamper(cco)
    page = _text(client.get(_cco_url(cco)))
    assert "Not yet:" in page and said in page  # the blocker list says why
    response = client.post(_cco_url(cco, "/erp/send"), headers=HTMX)
    assert response.status_code == 409
    text = _text(response)
    assert "Cannot send to ERP" in text and "not what Sam Ortiz approved" in text and said in text
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.NOT_SENT


@pytest.mark.parametrize("tamper,said", [
    (_tamper_line, "line 1 $1,000.00 → $25,000.00"),
    (_tamper_snapshot, "line 2 $2,600.00 → $2,400.00"),
], ids=["line", "snapshot"])
def test_accept_is_refused_when_the_lines_are_not_what_was_approved(client, auth, cco, approver,
                                                                    tamper, said):
    assert client.post(_cco_url(cco, "/erp/send"), headers=HTMX).status_code == 200
    tamper(cco)
    auth.logout()
    auth.login(approver)
    card = _text(client.get(f"/erp/change-orders/{cco.id}/card", headers=HTMX))
    assert "Confirm Accept" not in card and said in card  # Accept is not offered, and why
    response = client.post(f"/erp/change-orders/{cco.id}/accept", headers=HTMX)
    assert response.status_code == 409
    text = _text(response)
    assert "Cannot accept CCO #001 of SC-1042" in text and said in text
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.READY_TO_EXPORT
    assert db.session.scalar(select(Export).where(Export.change_order_id == cco.id)) is None
    # nor in bulk
    bulk = client.post("/erp/accept-selected", data={
        "selected": f"change-orders:{cco.id}", "confirm": "yes"}, follow_redirects=True)
    assert said in _text(bulk)
    assert db.session.scalar(select(Export).where(Export.change_order_id == cco.id)) is None


def test_the_approver_reads_the_approval_on_the_card_and_the_confirmation(client, auth, cco,
                                                                         approver):
    assert client.post(_cco_url(cco, "/erp/send"), headers=HTMX).status_code == 200
    auth.logout()
    auth.login(approver)
    card = client.get(f"/erp/change-orders/{cco.id}/card", headers=HTMX).get_data(as_text=True)
    confirm = card.split('class="confirm-panel"')[1]
    assert _approved_line(cco) in _words(confirm)
    assert "Approved by <bdi>Sam Ortiz</bdi>" in confirm
    bulk = _text(client.get("/erp/accept-selected",
                            query_string={"selected": f"change-orders:{cco.id}"}))
    assert _approved_line(cco) in bulk


# ---- after an accounting rejection ------------------------------------------------------------

def test_a_corrected_cco_needs_the_reviewer_again_before_resend(client, auth, cco, approver, sam,
                                                                people):
    pm = people.project_admin
    assert client.post(_cco_url(cco, "/erp/send"), headers=HTMX).status_code == 200
    auth.logout()
    auth.login(approver)
    reason = "Line 2 is 2,600.00 per the signed quote."
    assert client.post(f"/erp/change-orders/{cco.id}/reject", headers=HTMX,
                       data={"comment": reason}).status_code == 200
    run_jobs()  # the reopen job hands it back
    auth.logout()
    auth.login(pm)
    reopened = _fresh(ChangeOrder, cco.id)
    assert reopened.erp_status == ErpStatus.REJECTED and reopened.erp_editable
    assert "Accounting rejected CCO #001" in _text(client.get("/"))

    # the PM corrects line 2: the approval is withdrawn, Resend waits for the reviewer
    line = reopened.lines[1]
    assert client.post(_cco_url(cco, f"/lines/{line.id}"), headers=HTMX,
                       data=_line_data(line, amount="2600.00")).status_code == 200
    page = _text(client.get(_cco_url(cco)))
    assert "Resend to ERP" in page and "Not yet:" in page
    assert "The change order must be Approved (it is Pending – Revised)." in page
    refused = client.post(_cco_url(cco, "/erp/send"), headers=HTMX)
    assert refused.status_code == 409
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.REJECTED
    run_jobs()
    [mail] = db.session.scalars(select(SentEmail).where(SentEmail.user_id == sam.id,
                                                        SentEmail.kind == "withdrawn")).all()
    assert "* line 2 $2,400.00 → $2,600.00" in mail.body and "$3,750.50" in mail.body

    # Sam reads the notice, approves again; the notice is put away
    auth.logout()
    auth.login(sam)
    home = _text(client.get("/"))
    assert "line 2 $2,400.00 → $2,600.00" in home and "Your approval is withdrawn" in home
    again = _fresh(ChangeOrder, cco.id)
    assert client.post(_cco_url(cco, "/review"), data={
        "decision": "approve", "comment": "OK at 2,600.00", "version": again.version}
    ).status_code == 303
    assert "Your approval is withdrawn" not in _text(client.get("/"))

    # now the PM resends, and the "Accounting rejected … Resend" notice goes
    auth.logout()
    auth.login(pm)
    resent = client.post(_cco_url(cco, "/erp/send"), headers=HTMX)
    assert resent.status_code == 200 and "Ready to Export" in _text(resent)
    assert "Approved by Sam Ortiz" in _text(resent) and "$3,750.50" in _text(resent)
    assert "Accounting rejected CCO #001" not in _text(client.get("/"))
    assert 'id="erp-fact" hx-swap-oob="true"' in resent.get_data(as_text=True)


# ---- what the project manager reads is current ------------------------------------------------

def test_the_cco_header_follows_send_to_erp(client, cco):
    page = _text(client.get(_cco_url(cco)))
    assert "ERP Not Sent" in page
    sent = client.post(_cco_url(cco, "/erp/send"), headers=HTMX)
    html = unescape(sent.get_data(as_text=True))
    fact = html.split('id="erp-fact" hx-swap-oob="true">')[1].split("</dd>")[0]
    assert "Ready to Export" in fact


def test_the_commitment_panel_follows_its_sov_lines(client, pm, factory, people):
    commitment = factory.commitment(people.project, sov=())
    page = _text(client.get(commitment_url(commitment)))
    assert "The schedule of values has no lines" in page
    added = client.post(commitment_url(commitment, "/sov"), headers=HTMX, data={
        "description": "Footings", "cost_code_id": factory.cost_code().id,
        "category_id": factory.category("Subcontract").id, "amount": "1000.00"})
    assert added.status_code == 200, added.get_data(as_text=True)
    html = unescape(added.get_data(as_text=True))
    assert 'id="erp" hx-swap-oob="true"' in html
    assert "The schedule of values has no lines" not in html
