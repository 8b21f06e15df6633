"""Commitment change orders: numbers, lines, review, privacy, locking, bad input."""

from __future__ import annotations

from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import select

from extensions import db
from models import ChangeOrder, ChangeOrderLine, ChangeOrderStatus, ErpStatus
from tests.conftest import HTMX, at_once, commitment_url, error_for, fingerprint
from workflow.change_orders import ChangeOrderInput, create_change_order


@pytest.fixture
def commitment(factory, people):
    return factory.commitment(people.project, sov=("1000.00", "2000.00"))


def _cco_url(cco, rest=""):
    return commitment_url(cco.commitment, f"/change-orders/{cco.id}{rest}")


def _create(client, commitment, **overrides):
    data = {"title": "Added footing", "status": "draft"}
    data.update(overrides)
    return client.post(commitment_url(commitment, "/change-orders"), data=data)


# ---- numbers -------------------------------------------------------------------------------

def _numbers(commitment_id: int) -> list[str]:
    """The CCO numbers a commitment holds, in order."""
    return list(db.session.scalars(select(ChangeOrder.number)
                                   .where(ChangeOrder.commitment_id == commitment_id)
                                   .order_by(ChangeOrder.number)))


def test_numbers_run_per_commitment(client, pm, commitment, factory, people):
    other = factory.commitment(people.project)
    for _ in range(3):
        assert _create(client, commitment).status_code == 303
    assert _create(client, other).status_code == 303
    assert _numbers(commitment.id) == ["001", "002", "003"]
    assert _numbers(other.id) == ["001"]


def test_two_ccos_created_at_once_get_different_numbers(app, commitment, people):
    """Four creators in four threads, each with its own connection and transaction."""
    commitment_id, user_id = commitment.id, people.project_admin.id

    def create(_):
        from models import Commitment, User

        actor = db.session.get(User, user_id)
        target = db.session.get(Commitment, commitment_id)
        return lambda: create_change_order(actor, target, ChangeOrderInput(title="Race"))

    outcomes = at_once(app, 4, create)
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    assert _numbers(commitment_id) == ["001", "002", "003", "004"]


def test_numbers_skip_rows_put_in_directly(client, pm, commitment):
    """A CCO inserted without the counter (an import, a hand-made fix) is not numbered over."""
    db.session.add(ChangeOrder(commitment=commitment, number="002", title="Imported"))
    db.session.commit()
    assert commitment.last_cco_number == 0
    assert _create(client, commitment).status_code == 303
    assert _create(client, commitment).status_code == 303
    assert _numbers(commitment.id) == ["002", "003", "004"]


def test_cco_only_on_an_approved_commitment(client, pm, factory, people):
    draft = factory.commitment(people.project, status="draft")
    before = fingerprint()
    response = _create(client, draft)
    assert response.status_code == 409
    assert b"only on an Approved commitment" in response.data
    assert fingerprint() == before


@pytest.mark.parametrize("overrides,field,message", [
    ({"title": ""}, "title", "Enter a title."),
    ({"title": "x" * 10_240}, "title", "Use at most 255 characters."),
    ({"status": "approved"}, "status", "Only the designated reviewer can set Approved"),
    ({"due_date": "next tuesday"}, "due_date", "Not a valid date value."),
    ({"designated_reviewer_id": "999999"}, "designated_reviewer_id",
     "Choose a project member with standard or admin rights."),
])
def test_bad_cco_input(client, pm, commitment, overrides, field, message):
    before = fingerprint()
    response = _create(client, commitment, **overrides)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in error_for(html, field)
    assert fingerprint() == before


# ---- lines --------------------------------------------------------------------------------

def test_lines_modify_or_add_and_the_total_updates(client, pm, commitment, factory):
    cco = factory.change_order(commitment)
    sov = commitment.sov_lines[0]
    first = client.post(_cco_url(cco, "/lines"), headers=HTMX, data={
        "sov_line_id": sov.id, "description": "", "amount": "4,250.00"})
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert 'hx-swap-oob="beforeend:#cco-lines-table"' in html
    assert "SOV line 1" in html and sov.description in html  # description defaults to the line's
    code = factory.cost_code("01-500", "Temporary facilities")
    second = client.post(_cco_url(cco, "/lines"), headers=HTMX, data={
        "sov_line_id": "", "description": "Winter protection", "amount": "-250.55",
        "cost_code_id": code.id, "category_id": factory.category("Equipment").id})
    assert second.status_code == 200
    assert 'id="cco-grand-total"' in second.get_data(as_text=True)
    assert "$3,999.45" in second.get_data(as_text=True)
    db.session.refresh(cco)
    assert cco.grand_total == Decimal("3999.45")
    new_line = cco.lines[1]
    assert new_line.sov_line is None and new_line.cost_code.code == "01-500"


@pytest.mark.parametrize("data,field,message", [
    ({"sov_line_id": "", "description": "New", "amount": "5"}, "cost_code_id",
     "A new line needs a cost code."),
    ({"sov_line_id": "", "description": "New", "amount": "5"}, "category_id",
     "A new line needs a category."),
    ({"sov_line_id": "{sov}", "amount": "abc"}, "amount", "Enter an amount like 1250.00."),
    ({"sov_line_id": "{sov}", "amount": "1.999"}, "amount", "Use at most 2 decimal places."),
    ({"sov_line_id": "{sov}", "amount": "-123456789012"}, "amount", "Enter an amount between"),
    ({"sov_line_id": "{foreign}", "amount": "1"}, "sov_line_id",
     "Choose a line of this commitment's schedule of values."),
])
def test_bad_line_input(client, pm, commitment, factory, people, data, field, message):
    cco = factory.change_order(commitment)
    foreign = factory.commitment(people.project, sov=("1.00",)).sov_lines[0]
    data = {k: v.format(sov=commitment.sov_lines[0].id, foreign=foreign.id)
            for k, v in data.items()}
    before = fingerprint()
    response = client.post(_cco_url(cco, "/lines"), headers=HTMX, data=data)
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert message in error_for(html, field)
    assert fingerprint() == before


def test_line_edit_and_delete(client, pm, commitment, factory):
    sov = commitment.sov_lines[0]
    cco = factory.change_order(commitment, lines=((sov, "100.00"), (sov, "50.00")))
    line = cco.lines[0]
    edit = client.get(_cco_url(cco, f"/lines/{line.id}?edit=1"), headers=HTMX)
    assert edit.status_code == 200 and "<html" not in edit.get_data(as_text=True)
    saved = client.post(_cco_url(cco, f"/lines/{line.id}"), headers=HTMX, data={
        "sov_line_id": sov.id, "description": "Changed", "amount": "120.00",
        "version": line.version})
    assert saved.status_code == 200 and "$170.00" in saved.get_data(as_text=True)
    deleted = client.post(_cco_url(cco, f"/lines/{cco.lines[1].id}/delete"), headers=HTMX,
                          data={"version": cco.lines[1].version})
    assert deleted.status_code == 200 and "$120.00" in deleted.get_data(as_text=True)
    assert deleted.headers["HX-Reswap"] == "delete"  # htmx 4 removes the row
    assert db.session.scalar(select(ChangeOrderLine.amount)) == Decimal("120.00")


def test_stale_header_save_is_refused(client, pm, commitment, factory, auth, people):
    cco = factory.change_order(commitment, title="Original")
    version = cco.version
    assert client.post(_cco_url(cco), headers=HTMX, data={
        "title": "First save", "status": "draft", "version": version}).status_code == 200
    auth.logout()
    auth.login(people.standard)
    second = client.post(_cco_url(cco), headers=HTMX, data={
        "title": "Second save", "status": "draft", "version": version})
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    assert f"{pm.name} changed this at" in html and 'value="Second save"' in html
    db.session.expire_all()
    assert db.session.get(ChangeOrder, cco.id).title == "First save"


def test_header_line_and_review_without_a_version_are_refused(client, pm, commitment,
                                                              factory, people):
    sov = commitment.sov_lines[0]
    cco = factory.change_order(commitment, status="pending_in_review", reviewer=pm,
                               lines=((sov, "100.00"),))
    line = cco.lines[0]
    before = fingerprint()
    for url, data in (
        (_cco_url(cco), {"title": "No version", "status": "draft"}),
        (_cco_url(cco, f"/lines/{line.id}"), {"sov_line_id": sov.id, "amount": "9.00"}),
        (_cco_url(cco, f"/lines/{line.id}/delete"), {}),
        (_cco_url(cco, "/review"), {"decision": "approve"}),
    ):
        response = client.post(url, headers=HTMX, data=data)
        assert response.status_code == 409, url
        assert "did not say which version" in response.get_data(as_text=True), url
    assert fingerprint() == before


def test_two_deletes_of_one_line_at_once_delete_it_once(app, client, auth, commitment, factory,
                                                        people):
    """Two people press Delete on the same line together: it is deleted once, with one
    history entry, and the second press is told someone deleted it (no error page)."""
    from models import User
    from workflow.change_orders import delete_line
    from workflow.errors import Gone

    sov = commitment.sov_lines[0]
    cco = factory.change_order(commitment, lines=((sov, "100.00"),))
    line_id, admin_id, cco_id = cco.lines[0].id, people.project_admin.id, cco.id

    def press(index):
        actor = db.session.get(User, admin_id)
        line = db.session.get(ChangeOrderLine, line_id)
        version = line.version
        return lambda: delete_line(actor, line, version)

    outcomes = at_once(app, 2, press)
    assert sorted(type(o).__name__ for o in outcomes) == ["Gone", "NoneType"], outcomes
    assert "Someone deleted this" in next(o for o in outcomes if isinstance(o, Gone)).message
    assert db.session.get(ChangeOrderLine, line_id) is None
    auth.login(people.project_admin)
    page = unescape(client.get(_cco_url(db.session.get(ChangeOrder, cco_id)))
                    .get_data(as_text=True))
    assert page.split('id="history"')[1].count("Line deleted") == 1


def test_stale_cco_line_delete_is_refused_with_who_and_when(client, pm, commitment, factory,
                                                           auth, people):
    sov = commitment.sov_lines[0]
    cco = factory.change_order(commitment, lines=((sov, "100.00"),))
    line = cco.lines[0]
    opened_version = line.version
    assert client.post(_cco_url(cco, f"/lines/{line.id}"), headers=HTMX, data={
        "sov_line_id": sov.id, "description": "Changed", "amount": "150.00",
        "version": opened_version}).status_code == 200
    auth.logout()
    auth.login(people.standard)
    before = fingerprint()
    refused = client.post(_cco_url(cco, f"/lines/{line.id}/delete"), headers=HTMX, data={
        "sov_line_id": sov.id, "description": "Change", "amount": "100.00",
        "version": opened_version})
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert f"{pm.name} changed this at" in html and "so it was not deleted" in html
    assert fingerprint() == before


def test_an_approved_cco_not_yet_sent_can_be_corrected(client, pm, commitment, factory):
    """docs/lifecycle.md: editability follows the ERP axis, so an Approved CCO that
    accounting has not taken (Not Sent, or Rejected back) can be corrected; its new amount is
    the approved change."""
    sov = commitment.sov_lines[0]
    cco = factory.change_order(commitment, status="approved", lines=((sov, "100.00"),))
    line = cco.lines[0]
    page = client.get(_cco_url(cco)).get_data(as_text=True)
    assert 'id="cco-line-new"' in page
    response = client.post(_cco_url(cco, f"/lines/{line.id}"), headers=HTMX, data={
        "sov_line_id": sov.id, "description": "Corrected", "amount": "250.00",
        "version": line.version})
    assert response.status_code == 200
    assert "$250.00" in response.get_data(as_text=True)
    commitment_page = client.get(commitment_url(commitment)).get_data(as_text=True)
    assert "$250.00" in commitment_page.split("Approved changes")[1]


def test_history_names_the_designated_reviewer(client, pm, commitment, factory, people):
    cco = factory.change_order(commitment)
    response = client.post(_cco_url(cco), data={
        "title": cco.title, "status": "pending_in_review",
        "designated_reviewer_id": people.standard.id, "version": cco.version})
    assert response.status_code == 303
    history = unescape(client.get(_cco_url(cco)).get_data(as_text=True)).split('id="history"')[1]
    assert "Designated reviewer" in history
    assert f"<td data-label=\"To\">{people.standard.name}</td>" in history
    assert "<User" not in history and people.standard.email not in history


def test_locked_while_with_accounting(client, pm, commitment, factory):
    cco = factory.change_order(commitment, status="approved",
                               lines=((commitment.sov_lines[0], "10.00"),))
    cco.erp_status = ErpStatus.SYNCED
    db.session.commit()
    before = fingerprint()
    response = client.post(_cco_url(cco, "/lines"), headers=HTMX, data={
        "sov_line_id": commitment.sov_lines[0].id, "amount": "1"})
    assert response.status_code == 409
    assert b"Synced in ERP Integrations" in response.data
    assert fingerprint() == before


# ---- review -------------------------------------------------------------------------------

def test_designated_reviewer_approves_and_the_creator_sees_it(client, auth, people, commitment,
                                                              factory):
    sov = commitment.sov_lines[0]
    cco = factory.change_order(commitment, status="pending_in_review", creator=people.standard,
                               reviewer=people.project_admin, lines=((sov, "300.00"),))
    auth.login(people.project_admin)
    response = client.post(_cco_url(cco, "/review"), data={
        "decision": "approve", "comment": "Agreed on site", "version": cco.version})
    assert response.status_code == 303
    auth.logout()
    auth.login(people.standard)
    page = client.get(_cco_url(cco)).get_data(as_text=True)
    assert f"Approved</strong> by {people.project_admin.name}" in page
    assert "Agreed on site" in page
    commitment_page = client.get(commitment_url(commitment)).get_data(as_text=True)
    assert "$300.00" in commitment_page.split("Approved changes")[1]


def test_reject_from_pending_revised_with_comment(client, auth, people, commitment, factory):
    cco = factory.change_order(commitment, status="pending_revised",
                               reviewer=people.project_admin)
    auth.login(people.project_admin)
    client.post(_cco_url(cco, "/review"), data={"decision": "reject", "comment": "Too high",
                                                "version": cco.version})
    db.session.refresh(cco)
    assert cco.status == ChangeOrderStatus.REJECTED and cco.review_comment == "Too high"


@pytest.mark.parametrize("status", ["draft", "approved", "pending_pricing", "void"])
def test_review_only_from_pending_review(client, auth, people, commitment, factory, status):
    cco = factory.change_order(commitment, status=status, reviewer=people.project_admin)
    auth.login(people.project_admin)
    before = fingerprint()
    response = client.post(_cco_url(cco, "/review"), data={"decision": "approve",
                                                           "version": cco.version})
    assert response.status_code == 409
    message = unescape(response.get_data(as_text=True))
    assert (f"This change order is {cco.status.label}; only one that is Pending – In Review "
            "or Pending – Revised can be approved or rejected.") in message
    assert fingerprint() == before


def test_only_the_designated_reviewer_may_review(client, auth, people, commitment, factory):
    cco = factory.change_order(commitment, status="pending_in_review", reviewer=people.standard)
    auth.login(people.company_admin)
    before = fingerprint()
    response = client.post(_cco_url(cco, "/review"), data={"decision": "approve"})
    assert response.status_code == 403
    assert f"Only {people.standard.name} can review".encode() in response.data
    assert fingerprint() == before


def test_editor_cannot_set_approved_nor_unapprove(client, pm, commitment, factory):
    cco = factory.change_order(commitment, status="approved")
    before = fingerprint()
    response = client.post(_cco_url(cco), data={"title": cco.title, "status": "draft",
                                                 "version": cco.version})
    assert response.status_code == 422
    assert b"An approved change order keeps its status." in response.data
    assert fingerprint() == before


# ---- privacy ------------------------------------------------------------------------------

def test_private_cco_is_seen_only_by_admins_and_listed_users(client, auth, people, commitment,
                                                             factory):
    cco = factory.change_order(commitment, title="Backcharge for damage", private=True)
    cco.viewers = [people.read_only]
    db.session.commit()
    for user, sees in ((people.standard, False), (people.read_only, True),
                       (people.project_admin, True), (people.company_admin, True)):
        auth.login(user)
        page = client.get(commitment_url(commitment)).get_data(as_text=True)
        assert ("Backcharge for damage" in page) is sees, user.name
        assert (client.get(_cco_url(cco)).status_code == 200) is sees, user.name
        auth.logout()


def test_hidden_private_cco_cannot_be_edited(client, auth, people, commitment, factory):
    cco = factory.change_order(commitment, private=True)
    auth.login(people.standard)
    before = fingerprint()
    response = client.post(_cco_url(cco), data={"title": "Sneaky", "status": "draft"})
    assert response.status_code == 404
    assert fingerprint() == before


def test_reviewer_who_edits_lines_in_place_can_still_approve(client, auth, people, commitment,
                                                             factory):
    """Each line change refreshes the review box (its version), so the reviewer's own edit
    does not make their Approve look stale."""
    import re

    cco = factory.change_order(commitment, status="pending_in_review",
                               reviewer=people.project_admin)
    auth.login(people.project_admin)
    response = client.post(_cco_url(cco, "/lines"), headers=HTMX, data={
        "sov_line_id": commitment.sov_lines[0].id, "amount": "75.00"})
    html = response.get_data(as_text=True)
    assert 'id="review" hx-swap-oob="true"' in html
    version = re.search(r'id="review-version" name="version" type="hidden" value="(\d+)"',
                        html).group(1)
    db.session.refresh(cco)
    assert int(version) == cco.version
    approved = client.post(_cco_url(cco, "/review"), data={"decision": "approve",
                                                           "version": version})
    assert approved.status_code == 303
    db.session.refresh(cco)
    assert cco.status == ChangeOrderStatus.APPROVED
