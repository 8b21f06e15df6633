"""Email notifications, through a real SMTP server on loopback (aiosmtpd), read back.

With nothing configured jobs run inline and send at once; with REDIS_URL they run in a real RQ
worker (``run_jobs``), and the coalesced "sent to ERP" batches are mailed by the job the
worker's maintenance pass queues (``queue_due``).
"""

from __future__ import annotations

import email
import socket
import time
from datetime import timedelta
from email import policy

import pytest
from sqlalchemy import select

from extensions import db
from models import (
    Commitment,
    EmailOptOut,
    ErpPermission,
    ErpStatus,
    NotificationKind,
    PendingNotification,
    SentEmail,
)
from models.types import utcnow
from quickbooks_online.connection import get_connection
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import run_jobs
from workflow import erp, notifications

BASE = "https://desk.example.test"


class Inbox:
    """aiosmtpd handler: every message received, as (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()  # recipients this server answers 550

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for rcpt, m in self.received if address in rcpt]

    @staticmethod
    def body(message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(app):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_USE_TLS=False,
                      MAIL_USERNAME=None, MAIL_FROM="Desk <desk@example.test>",
                      PUBLIC_URL=BASE, MAIL_TIMEOUT=10)
    yield inbox
    controller.stop()


@pytest.fixture
def commitment(erp_commitment):
    return erp_commitment


def deliver() -> None:
    """Run the queued jobs; with a worker, also what its maintenance pass does once the
    coalescing window is over (the window is 0 here unless a test sets it)."""
    run_jobs()
    from jobs.notifications import queue_due
    from jobs.queue import is_inline

    if not is_inline():
        queue_due()
        run_jobs()


@pytest.fixture
def no_wait(app):
    app.config["NOTIFY_COALESCE_SECONDS"] = 0


# ---- sent and resent → approvers --------------------------------------------------------------

def test_send_emails_each_approver_a_link_to_the_card(smtp, no_wait, people, approver,
                                                      commitment, factory):
    outsider_approver = factory.user(name="Off Duty", erp=ErpPermission.ADMIN, can_push=True,
                                     active=False)
    erp.send_to_erp(people.project_admin, commitment)
    deliver()
    for person in (approver, people.company_admin):  # both hold Accept
        [message] = smtp.to(person.email)
        assert message["Subject"] == "Sent to ERP: SC-1042 (Cast-in-place concrete)"
        assert message["From"] == "Desk <desk@example.test>"
        body = smtp.body(message)
        assert f"{BASE}/erp/commitments/{commitment.id}" in body
        assert "$281,500.50" in body and "Summit Concrete Co." in body
        assert f"sent by {people.project_admin.name}" in body
    assert not smtp.to(people.project_admin.email)  # the sender, not an approver
    assert not smtp.to(outsider_approver.email)  # deactivated
    assert not smtp.to(people.standard.email)
    stored = db.session.scalars(select(SentEmail).order_by(SentEmail.id)).all()
    assert {(e.recipient, e.transport, e.kind) for e in stored} == {
        (approver.email, "smtp", "sent"), (people.company_admin.email, "smtp", "sent")}


def test_a_cco_send_links_to_its_card(smtp, no_wait, people, approver, commitment, factory):
    synced = send_and_accept(commitment, people, approver)
    deliver()
    smtp.received.clear()
    cco = factory.change_order(synced, status="approved", title="Rebar upgrade",
                               lines=((synced.sov_lines[0], "1200.00"),))
    erp.send_to_erp(people.project_admin, cco)
    deliver()
    [message] = smtp.to(approver.email)
    assert message["Subject"] == "Sent to ERP: CCO #001 of SC-1042 (Rebar upgrade)"
    assert f"{BASE}/erp/change-orders/{cco.id}" in smtp.body(message)


def test_two_sends_within_the_window_make_one_email(smtp, people, approver, commitment,
                                                    factory, monkeypatch):
    """The coalescing rule, with a controlled clock: a batch falls due 120 s after the first
    send; a second send joins it; after it is mailed the next send opens a new batch."""
    import jobs.notifications

    monkeypatch.setattr(jobs.notifications, "is_inline", lambda: False)  # let it wait
    second = factory.commitment(people.project, vendor=commitment.vendor, number="SC-1043",
                                title="Formwork", sov=("5000.00",))
    from tests import qbo_helpers

    qbo_helpers.map_for(second)
    erp.send_to_erp(people.project_admin, commitment)
    run_jobs()
    erp.send_to_erp(people.project_admin, db.session.get(Commitment, second.id))
    run_jobs()
    now = utcnow()
    assert notifications.mail_due(now=now) == 0  # not due yet
    assert not smtp.received
    assert notifications.mail_due(now=now + timedelta(seconds=121)) == 2  # one per approver
    [message] = smtp.to(approver.email)
    assert message["Subject"] == "2 items sent to ERP wait for you"
    body = smtp.body(message)
    assert f"/erp/commitments/{commitment.id}\r\n" in body
    assert f"/erp/commitments/{second.id}\r\n" in body
    assert notifications.mail_due(now=now + timedelta(hours=1)) == 0  # nothing twice

    # retrieved and resent after the batch went out: a new batch, due 120 s from now
    erp.retrieve_from_erp(people.project_admin, db.session.get(Commitment, second.id))
    erp.send_to_erp(people.project_admin, db.session.get(Commitment, second.id))
    run_jobs()
    pending = db.session.scalars(select(PendingNotification).where(
        PendingNotification.sent_at.is_(None), PendingNotification.user_id == approver.id)).all()
    assert [p.action for p in pending] == ["resent"] or [p.action for p in pending] == ["sent"]
    assert pending[0].due_at > utcnow() + timedelta(seconds=100)


def test_two_sends_make_one_email_through_a_real_worker(smtp, people, approver, commitment,
                                                        factory, app):
    from tests.qbo_helpers import use_redis

    use_redis(app)
    app.config["NOTIFY_COALESCE_SECONDS"] = 3
    from jobs.notifications import queue_due
    from tests import qbo_helpers

    second = factory.commitment(people.project, vendor=commitment.vendor, number="SC-1044",
                                sov=("700.00",))
    qbo_helpers.map_for(second)
    erp.send_to_erp(people.project_admin, commitment)
    erp.send_to_erp(people.project_admin, db.session.get(Commitment, second.id))
    run_jobs()  # a real RQ worker records both in each approver's batch
    assert not queue_due() and not smtp.received  # not due yet
    time.sleep(3.2)
    assert queue_due()  # the maintenance pass queues the mailing job
    run_jobs()
    [message] = smtp.to(approver.email)
    assert message["Subject"] == "2 items sent to ERP wait for you"


def test_an_approver_who_turned_sent_off_gets_none(smtp, no_wait, people, approver,
                                                   commitment):
    notifications.set_preferences(approver, set(NotificationKind) - {NotificationKind.SENT})
    erp.send_to_erp(people.project_admin, commitment)
    deliver()
    assert not smtp.to(approver.email)
    assert smtp.to(people.company_admin.email)


def test_an_item_handled_before_the_batch_is_mailed_is_left_out(smtp, people, approver,
                                                                commitment, monkeypatch):
    import jobs.notifications

    monkeypatch.setattr(jobs.notifications, "is_inline", lambda: False)
    erp.send_to_erp(people.project_admin, commitment)
    run_jobs()
    erp.retrieve_from_erp(people.project_admin, commitment)
    assert notifications.mail_due(now=utcnow() + timedelta(minutes=5)) == 0
    assert not smtp.received


# ---- rejected, synced, failed → the sender ----------------------------------------------------

def test_reject_emails_the_sender_the_reason(smtp, no_wait, people, approver, commitment):
    erp.send_to_erp(people.project_admin, commitment)
    deliver()
    erp.reject(approver, commitment, "Wrong cost code on line 2")
    deliver()
    [message] = smtp.to(people.project_admin.email)
    assert message["Subject"] == "Rejected by accounting: SC-1042 (Cast-in-place concrete)"
    body = smtp.body(message)
    assert "Reason: Wrong cost code on line 2" in body
    assert f"{approver.name} rejected" in body
    assert f"{BASE}/erp/commitments/{commitment.id}\r\n" in body  # its card's own page


def test_a_rejected_cco_emails_the_sender(smtp, no_wait, people, approver, commitment,
                                          factory):
    synced = send_and_accept(commitment, people, approver)
    cco = factory.change_order(synced, status="approved", lines=((synced.sov_lines[0],
                                                                  "50.00"),))
    erp.send_to_erp(people.project_admin, cco)
    deliver()
    erp.reject(approver, cco, "Needs the quote attached")
    deliver()
    [message] = [m for m in smtp.to(people.project_admin.email)
                 if m["Subject"].startswith("Rejected")]
    assert message["Subject"] == "Rejected by accounting: CCO #001 of SC-1042 (Extra work)"
    body = smtp.body(message)
    assert "Reason: Needs the quote attached" in body
    assert f"{BASE}/erp/change-orders/{cco.id}\r\n" in body


def test_synced_emails_the_sender(smtp, no_wait, people, approver, commitment):
    send_and_accept(commitment, people, approver)
    deliver()
    [message] = smtp.to(people.project_admin.email)
    assert message["Subject"] == "In QuickBooks: SC-1042 (Cast-in-place concrete)"
    assert f"{BASE}/erp/commitments/{commitment.id}\r\n" in smtp.body(message)


def test_failed_to_export_emails_the_sender_the_message(smtp, no_wait, people, approver,
                                                        commitment):
    erp.send_to_erp(people.project_admin, commitment)
    connection = get_connection()
    connection.ap_account_id = None
    db.session.commit()
    erp.accept(approver, db.session.get(Commitment, commitment.id))
    deliver()
    [message] = smtp.to(people.project_admin.email)
    assert message["Subject"] == "Failed to export: SC-1042 (Cast-in-place concrete)"
    body = smtp.body(message)
    assert "QuickBooks said: " in body and "No AP account is chosen" in body
    assert f"/commitments/{commitment.id}" in body


def test_a_sender_who_turned_kinds_off_gets_none(smtp, no_wait, people, approver,
                                                 commitment):
    notifications.set_preferences(people.project_admin, set())
    erp.send_to_erp(people.project_admin, commitment)
    deliver()
    assert smtp.to(approver.email)  # their own settings are untouched
    erp.accept(approver, commitment)
    deliver()
    assert erp.latest_export(commitment).status.value == "synced"
    assert not smtp.to(people.project_admin.email)


def test_a_job_run_twice_mails_once(smtp, no_wait, people, approver, commitment):
    from jobs import notifications as jobs

    erp.send_to_erp(people.project_admin, commitment)
    deliver()
    erp.reject(approver, commitment, "Twice?")
    deliver()
    jobs.rejected("commitment", commitment.id)
    assert len(smtp.to(people.project_admin.email)) == 1


# ---- the digest -----------------------------------------------------------------------------

def test_digest_mails_each_approver_what_waits(smtp, people, approver, commitment, factory,
                                               runner):
    from tests import qbo_helpers

    failing = factory.commitment(people.project, vendor=commitment.vendor, number="SC-2001",
                                 title="Steel", sov=("900.00",))
    qbo_helpers.map_for(failing)
    erp.send_to_erp(people.project_admin, commitment)
    erp.send_to_erp(people.project_admin, db.session.get(Commitment, failing.id))
    failing = db.session.get(Commitment, failing.id)
    failing.erp_status = ErpStatus.FAILED_TO_EXPORT
    db.session.commit()
    run_jobs()
    smtp.received.clear()
    db.session.query(PendingNotification).delete()
    db.session.commit()
    idle = factory.user(name="Idle Approver", erp=ErpPermission.STANDARD, can_push=True)
    notifications.set_preferences(idle, set(NotificationKind) - {NotificationKind.DIGEST})

    result = runner.invoke(args=["erp", "digest"])
    assert result.exit_code == 0, result.output
    assert "Digest: 2 of 2 approver(s)" in result.output
    run_jobs()
    [standard] = smtp.to(approver.email)
    assert standard["Subject"] == "1 item wait for you in ERP Integrations"
    body = smtp.body(standard)
    assert "Ready to Export (1):" in body and "Failed to Export" not in body
    assert f"{BASE}/erp/commitments/{commitment.id}" in body
    [admin] = smtp.to(people.company_admin.email)  # an ERP admin also sees the failed one
    assert admin["Subject"] == "2 items wait for you in ERP Integrations"
    assert f"{BASE}/erp/commitments/{failing.id}\r\n" in smtp.body(admin)
    assert not smtp.to(idle.email)


def test_digest_with_nothing_waiting_sends_nothing(smtp, approver, runner):
    result = runner.invoke(args=["erp", "digest"])
    assert result.exit_code == 0, result.output
    run_jobs()
    assert not smtp.received


# ---- the embedded default: the log and the outbox page ---------------------------------------

def test_without_a_mail_server_mail_goes_to_the_log_and_the_outbox(
        client, auth, people, approver, commitment, no_wait, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="workflow.mail")
    erp.send_to_erp(people.project_admin, commitment)
    deliver()
    stored = db.session.scalars(select(SentEmail)).all()
    assert {e.transport for e in stored} == {"log"} and len(stored) == 2
    assert "Sent to ERP: SC-1042" in caplog.text
    auth.login(people.company_admin)
    page = client.get("/mail/outbox").get_data(as_text=True)
    assert "Sent to ERP: SC-1042 (Cast-in-place concrete)" in page
    assert approver.email in page and "log only" in page
    # the app's links in an email are links on the page (to this site, whatever PUBLIC_URL)
    own = notifications.public_url()
    assert (f'<a href="/erp/commitments/{commitment.id}">{own}/erp/commitments/'
            f'{commitment.id}</a>') in page


@pytest.mark.parametrize("role,allowed", [("anonymous", False), ("outsider", False),
                                          ("read_only", False), ("project_admin", False),
                                          ("company_admin", True)])
def test_only_company_admins_open_the_outbox(client, auth, people, role, allowed):
    if role != "anonymous":
        auth.login(people.by_role(role))
    response = client.get("/mail/outbox")
    if allowed:
        assert response.status_code == 200
    elif role == "anonymous":
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    else:
        assert response.status_code == 403


# ---- the preferences page ---------------------------------------------------------------------

def test_preferences_page_needs_a_login(client):
    for response in (client.get("/account/notifications"),
                     client.post("/account/notifications", data={})):
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert not db.session.scalars(select(EmailOptOut)).all()


def test_preferences_page_changes_only_ones_own_settings(client, auth, people, approver):
    auth.login(approver)
    page = client.get("/account/notifications").get_data(as_text=True)
    assert "Email notifications" in page and 'value="sent" checked' in page
    assert 'value="digest" checked' in page
    response = client.post("/account/notifications",
                           data={"kind": ["rejected", "synced", "failed", "digest"]})
    assert response.status_code == 303
    assert notifications.preferences(approver)[NotificationKind.SENT] is False
    assert notifications.preferences(approver)[NotificationKind.DIGEST] is True
    assert notifications.preferences(people.company_admin)[NotificationKind.SENT] is True
    page = client.get("/account/notifications").get_data(as_text=True)
    assert 'value="sent">' in page and "Email notifications saved." in page


def test_a_project_manager_sees_only_the_kinds_that_reach_them(client, auth, people):
    auth.login(people.project_admin)
    page = client.get("/account/notifications").get_data(as_text=True)
    assert 'value="rejected"' in page and 'value="sent"' not in page
    client.post("/account/notifications", data={"kind": ["synced"]})
    prefs = notifications.preferences(people.project_admin)
    assert prefs[NotificationKind.SYNCED] and not prefs[NotificationKind.REJECTED]
    assert prefs[NotificationKind.SENT]  # not shown, so not changed


# ---- never blocks, never loses, never collapses ---------------------------------------------

def _approver(factory, name):
    return factory.user(name=name, erp=ErpPermission.STANDARD, can_push=True)


def test_a_name_with_a_line_break_stops_nobody_elses_email(smtp, no_wait, people, commitment,
                                                          factory):
    broken = _approver(factory, "Avery Approver")
    later = _approver(factory, "Blake Approver")
    broken.name = "Avery\r\nApprover2"  # written before the forms refused it
    db.session.commit()
    erp.send_to_erp(people.project_admin, commitment)
    deliver()
    assert smtp.to(later.email), "an approver after the bad name got nothing"
    [message] = smtp.to(broken.email)
    assert message["To"] == f"Avery Approver2 <{broken.email}>"


def test_a_title_with_a_line_break_stays_one_header(smtp, no_wait, people, approver,
                                                   commitment):
    commitment.title = "Cast\r\nBcc: someone@evil.example"
    db.session.commit()
    erp.send_to_erp(people.project_admin, commitment)
    deliver()
    [message] = smtp.to(approver.email)
    assert message["Subject"] == "Sent to ERP: SC-1042 (Cast Bcc: someone@evil.example)"
    assert message["Bcc"] is None
    assert not smtp.to("someone@evil.example")


def test_one_refused_message_fails_alone_and_is_sent_later(smtp, no_wait, people, approver,
                                                          commitment, factory):
    first = _approver(factory, "Avery Approver")
    later = _approver(factory, "Blake Approver")
    smtp.refuse.add(first.email)
    erp.send_to_erp(people.project_admin, commitment)
    deliver()
    assert smtp.to(later.email) and smtp.to(approver.email)
    assert not smtp.to(first.email)
    waiting = db.session.scalars(select(PendingNotification).where(
        PendingNotification.user_id == first.id)).all()
    assert [row.sent_at for row in waiting] == [None]  # kept for the next pass
    smtp.refuse.clear()
    assert notifications.mail_due() == 1
    assert notifications.mail_due() == 0
    assert len(smtp.to(first.email)) == 1 and len(smtp.to(later.email)) == 1


def test_after_an_outage_the_sender_hears_of_every_rejection_once(smtp, no_wait, people,
                                                                 approver, commitment,
                                                                 factory, app):
    from tests import qbo_helpers

    second = factory.commitment(people.project, vendor=commitment.vendor, number="SC-1045",
                                title="Rebar", sov=("900.00",))
    qbo_helpers.map_for(second)
    erp.send_to_erp(people.project_admin, commitment)
    erp.send_to_erp(people.project_admin, db.session.get(Commitment, second.id))
    deliver()
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = _free_port()  # the SMTP server is down
    erp.reject(approver, db.session.get(Commitment, commitment.id), "Wrong cost code")
    erp.reject(approver, db.session.get(Commitment, second.id), "Missing quote")
    deliver()
    assert not smtp.to(people.project_admin.email)
    app.config["MAIL_PORT"] = port  # back: the worker's next maintenance pass
    from jobs.notifications import queue_due

    assert queue_due()
    run_jobs()
    assert notifications.mail_due(ignore_due=True) == 0  # nothing twice
    said = "\n".join(m["Subject"] + "\n" + smtp.body(m)
                     for m in smtp.to(people.project_admin.email))
    assert said.count("Reason: Wrong cost code") == 1
    assert said.count("Reason: Missing quote") == 1
    assert "SC-1042 (Cast-in-place concrete)" in said and "SC-1045 (Rebar)" in said


def test_a_send_while_redis_is_down_still_notifies(smtp, no_wait, people, approver, commitment,
                                                  app):
    from redis import Redis
    from rq import Queue

    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions["changeorder.queue"] = Queue("changeorder",
                                                connection=Redis.from_url("redis://127.0.0.1:1/0"))
    erp.send_to_erp(people.project_admin, commitment)  # answers; the queue is down
    assert db.session.get(Commitment, commitment.id).erp_status == ErpStatus.READY_TO_EXPORT
    assert not smtp.received
    app.config["REDIS_URL"] = None  # Redis is back: the worker's pass mails what is owed
    app.extensions["changeorder.queue"] = None
    from jobs.notifications import mail_due

    mail_due()
    assert smtp.to(approver.email) and smtp.to(people.company_admin.email)


def test_a_member_removed_from_the_project_is_not_told(smtp, no_wait, people, approver,
                                                      commitment):
    from models import ProjectMembership

    erp.send_to_erp(people.project_admin, commitment)
    deliver()
    db.session.execute(ProjectMembership.__table__.delete().where(
        ProjectMembership.user_id == people.project_admin.id))
    db.session.commit()
    erp.reject(approver, db.session.get(Commitment, commitment.id), "Not for you any more")
    deliver()
    assert not smtp.to(people.project_admin.email)
    assert notifications.mail_due(ignore_due=True) == 0  # handled, not retried for ever
