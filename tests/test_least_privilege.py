"""Permissions read at the moment of action, and totals that only add up what a viewer sees."""

from __future__ import annotations

from sqlalchemy import update

from extensions import db
from models import ChangeOrderStatus, ProjectMembership, ProjectRole
from tests.conftest import fingerprint


def _url(commitment, rest=""):
    return f"/projects/{commitment.project_id}/commitments/{commitment.id}{rest}"


def test_a_reviewer_demoted_to_read_only_can_no_longer_approve(client, auth, people, factory):
    commitment = factory.commitment(people.project, sov=("1000.00",))
    cco = factory.change_order(commitment, status="pending_in_review", reviewer=people.standard,
                               lines=((commitment.sov_lines[0], "100.00"),))
    auth.login(people.standard)
    page = client.get(_url(commitment, f"/change-orders/{cco.id}")).get_data(as_text=True)
    assert 'value="approve"' in page  # the review box is there while they hold standard
    db.session.execute(update(ProjectMembership)
                       .where(ProjectMembership.user_id == people.standard.id)
                       .values(role=ProjectRole.READ_ONLY))
    db.session.commit()
    before = fingerprint()
    response = client.post(_url(commitment, f"/change-orders/{cco.id}/review"),
                           data={"decision": "approve", "version": cco.version})
    assert response.status_code == 403
    assert fingerprint() == before
    db.session.refresh(cco)
    assert cco.status == ChangeOrderStatus.PENDING_IN_REVIEW
    page = client.get(_url(commitment, f"/change-orders/{cco.id}")).get_data(as_text=True)
    assert 'value="approve"' not in page


def _commitment_with_a_private_pending_cco(factory, people):
    commitment = factory.commitment(people.project, sov=("10000.00",))
    sov = commitment.sov_lines[0]
    factory.change_order(commitment, status="pending_in_review", lines=((sov, "7800.00"),))
    factory.change_order(commitment, status="pending_in_review", private=True,
                         title="Backcharge", lines=((sov, "777.77"),))
    return commitment


def test_pending_changes_add_up_only_what_the_viewer_may_see(client, auth, people, factory):
    commitment = _commitment_with_a_private_pending_cco(factory, people)
    auth.login(people.read_only)
    page = client.get(_url(commitment)).get_data(as_text=True)
    assert "$7,800.00" in page
    assert "8,577.77" not in page and "777.77" not in page
    assert "1 private change order you cannot see" in page
    auth.logout()
    auth.login(people.project_admin)  # a project admin sees every change order
    page = client.get(_url(commitment)).get_data(as_text=True)
    assert "$8,577.77" in page and "you cannot see" not in page


def test_approved_private_changes_stay_out_of_a_viewers_list_totals(client, auth, people,
                                                                     factory):
    commitment = factory.commitment(people.project, sov=("10000.00",))
    sov = commitment.sov_lines[0]
    factory.change_order(commitment, status="approved", lines=((sov, "500.00"),))
    factory.change_order(commitment, status="approved", private=True, lines=((sov, "777.77"),))
    auth.login(people.read_only)
    page = client.get(f"/projects/{people.project.id}/commitments/").get_data(as_text=True)
    assert "$10,500.00" in page and "777.77" not in page and "11,277.77" not in page
    assert "private change order you cannot see" in page


def test_an_erp_reader_outside_the_project_cannot_read_a_never_sent_commitments_card(
        client, auth, people, factory):
    from models import ErpPermission

    reader = factory.user(erp=ErpPermission.READ_ONLY)
    never_sent = factory.commitment(people.project, title="Secret bid", sov=("4321.00",))
    auth.login(reader)
    response = client.get(f"/erp/commitments/{never_sent.id}/card")
    assert response.status_code == 404
    assert b"Secret bid" not in response.data and b"4,321.00" not in response.data
    auth.logout()
    auth.login(people.company_admin)  # a member (here an admin) still sees it
    assert client.get(f"/erp/commitments/{never_sent.id}/card").status_code == 200
