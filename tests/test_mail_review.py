"""Adversarial review of what email and in-app notices reveal and where their links lead.

A private CCO is named only to those who may open it (``change_orders.can_view``): its
designated reviewer or a listed viewer removed from the project may no longer, so the "sent
to ERP" email, the digest, the inbox and the notices at the top of a page name it no more.
The outbox page links only to this site.
"""

from __future__ import annotations

from sqlalchemy import delete

from extensions import db
from models import ErpPermission, ProjectMembership, ProjectRole
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import run_jobs
from tests.test_notifications import BASE, deliver, no_wait, smtp  # noqa: F401 (fixtures)
from workflow import erp, notifications


def _private_cco_of_a_former_member(people, approver, commitment, factory):
    """A private CCO whose designated reviewer, an approver, was then removed from the
    project: (the CCO, that former member)."""
    synced = send_and_accept(commitment, people, approver)
    deliver()
    former = factory.user(name="Fran Former", erp=ErpPermission.STANDARD, can_push=True)
    factory.member(people.project, former, ProjectRole.STANDARD)
    cco = factory.change_order(synced, status="approved", title="Secret settlement",
                               reviewer=former, private=True, creator=people.project_admin,
                               lines=((synced.sov_lines[0], "7777.00"),))
    db.session.execute(delete(ProjectMembership).where(ProjectMembership.user_id == former.id))
    db.session.commit()
    return cco, former


def test_a_former_member_is_not_emailed_a_private_cco_sent_to_erp(
        smtp, no_wait, people, approver, erp_commitment, factory):  # noqa: F811
    cco, former = _private_cco_of_a_former_member(people, approver, erp_commitment, factory)
    smtp.received.clear()
    erp.send_to_erp(people.project_admin, cco)
    deliver()
    assert smtp.to(people.company_admin.email)  # one who may see it is told
    for message in smtp.to(former.email):
        body = smtp.body(message)
        assert "Secret settlement" not in message["Subject"] + body
        assert "$7,777.00" not in body and f"/erp/change-orders/{cco.id}" not in body


def test_a_former_member_s_digest_leaves_a_private_cco_out(
        smtp, people, approver, erp_commitment, factory):  # noqa: F811
    cco, former = _private_cco_of_a_former_member(people, approver, erp_commitment, factory)
    erp.send_to_erp(people.project_admin, cco)
    run_jobs()
    smtp.received.clear()
    assert notifications.compose_digest(former) is None
    assert "Secret settlement" in notifications.compose_digest(people.company_admin)[1]


def test_a_former_member_s_inbox_leaves_a_private_cco_out(
        client, auth, people, approver, erp_commitment, factory, no_wait):  # noqa: F811
    cco, former = _private_cco_of_a_former_member(people, approver, erp_commitment, factory)
    erp.send_to_erp(people.project_admin, cco)
    run_jobs()
    auth.login(former)
    page = client.get("/erp/").get_data(as_text=True)
    assert "Secret settlement" not in page
    assert client.get(f"/erp/change-orders/{cco.id}").status_code in (403, 404)


# ---- the outbox page: where its links lead ----------------------------------------------------

def test_the_outbox_links_only_to_this_site_and_escapes_a_reason(
        app, client, auth, people, approver, erp_commitment, no_wait):  # noqa: F811
    """A rejection reason is typed by a person: a look-alike of the app's own address must not
    become a link to another site (``//other.example`` is another host), and its HTML is text."""
    from models import Commitment

    app.config["PUBLIC_URL"] = BASE
    erp.send_to_erp(people.project_admin, erp_commitment)
    deliver()
    erp.reject(approver, db.session.get(Commitment, erp_commitment.id),
               f"See {BASE}//evil.example/login and {BASE}/\\evil.example/x "
               "<img src=x onerror=alert(1)>")
    deliver()
    auth.login(people.company_admin)
    page = client.get("/mail/outbox").get_data(as_text=True)
    assert "Rejected by accounting: SC-1042" in page
    assert 'href="//' not in page and 'href="/\\' not in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert f'href="/erp/commitments/{erp_commitment.id}"' in page  # its own link still works


# ---- in-app notices ---------------------------------------------------------------------------

def test_a_former_reviewer_is_shown_no_notice_naming_a_cco_they_may_not_open(
        client, auth, people, approver, erp_commitment, factory):
    """The reviewer who approved a private CCO, since removed from its project, is not shown
    the notice that its approval was withdrawn (its number, title and what changed)."""
    from decimal import Decimal

    from models import Notice
    from workflow.approvals import withdraw_if_changed

    cco, former = _private_cco_of_a_former_member(people, approver, erp_commitment, factory)
    cco.lines[0].amount = Decimal("9999.00")
    withdraw_if_changed(people.project_admin, cco)
    db.session.commit()
    assert db.session.query(Notice).filter_by(user_id=former.id).count() == 1
    auth.login(former)
    page = client.get("/account/notifications").get_data(as_text=True)
    assert "Secret settlement" not in page and "9,999.00" not in page
