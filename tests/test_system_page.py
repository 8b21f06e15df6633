"""The System page (company admins), its two test buttons, and the worker's watch over the
QuickBooks connection: a refresh before the refresh token dies unused, and emails to the ERP
admins before the connection ends and when a refresh fails."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from extensions import db
from models import SentEmail
from models.types import utcnow
from quickbooks_online.connection import get_connection
from tests.erp_fixtures import send_and_accept
from workflow import system

HTMX = {"HX-Request": "true"}


def _emails(kind: str) -> list[SentEmail]:
    db.session.expire_all()
    return list(db.session.scalars(select(SentEmail).where(SentEmail.kind == kind)))


def test_the_system_page_shows_health_jobs_exports_emails_and_the_connection(
        client, auth, people, approver, erp_commitment):
    send_and_accept(erp_commitment, people, approver)
    auth.login(people.company_admin)
    page = client.get("/system/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for words in ("Ready", "Database</strong>: OK", "Migrations</strong>: OK",
                  "Worker and jobs", "Exports", "Emails", "QuickBooks connection",
                  "Riverside Builders LLC (Sandbox)", "Access token expires", "Connection ends",
                  "Last successful call", "Test QuickBooks connection", "Send a test email"):
        assert words in html, words
    assert "<dt>Synced</dt><dd>1</dd>" in html
    from jobs.queue import is_inline

    if is_inline():
        assert "jobs run in the web process" in html
    else:  # on Redis with no worker running (the test ran the jobs itself)
        assert "<dt>Queued</dt><dd>0</dd>" in html and "No worker is registered" in html
    assert client.get("/admin/").get_data(as_text=True).count('href="/system/"') == 1


def test_test_quickbooks_connection_answers_with_the_company(client, auth, people, connected,
                                                            sandbox):
    auth.login(people.company_admin)
    response = client.post("/system/test-quickbooks", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "QuickBooks answered: connected to Riverside Builders LLC (Sandbox)." in html
    assert "Last successful call</dt><dd>—" not in html


def test_test_quickbooks_connection_says_why_it_failed(client, auth, people, connected,
                                                      sandbox):
    from tests.qbo_helpers import DEMO_REALM

    sandbox.inject_fault(DEMO_REALM, "500", count=5)
    auth.login(people.company_admin)
    html = client.post("/system/test-quickbooks", follow_redirects=True).get_data(as_text=True)
    assert "QuickBooks test failed: QuickBooks had a server error" in html


def test_send_a_test_email_mails_the_admin_who_pressed_it(client, auth, people):
    auth.login(people.company_admin)
    html = client.post("/system/test-email", follow_redirects=True).get_data(as_text=True)
    assert f"Test email to {people.company_admin.email} written to the log" in html
    [email] = _emails("test")
    assert email.recipient == people.company_admin.email
    assert "System page" in email.body


def test_a_refresh_token_near_its_end_is_refreshed_by_the_worker(app, people, connected,
                                                                sandbox):
    connection = get_connection()
    connection.refresh_token_expires_at = utcnow() + timedelta(days=20)
    db.session.commit()
    generation = connection.token_generation
    assert system.watch_connection() == "refreshed"
    connection = get_connection()
    assert connection.refresh_token_expires_at > utcnow() + timedelta(days=90)
    assert connection.token_generation > generation
    assert system.test_quickbooks(people.company_admin) == "Riverside Builders LLC (Sandbox)"
    assert system.watch_connection() == "idle"  # far from its end: nothing to do
    assert _emails(system.EXPIRY_KIND) == []


def test_erp_admins_are_told_14_days_before_the_connection_ends_once(app, people, connected,
                                                                     sandbox, factory):
    from models import ErpPermission

    second_admin = factory.user(name="ERP Admin", erp=ErpPermission.ADMIN)
    factory.user(name="Not an ERP admin", erp=ErpPermission.STANDARD)
    sandbox.configure(refresh_token_ttl=10 * 24 * 3600)  # Intuit's cap: renewing won't help
    connection = get_connection()
    connection.refresh_token_expires_at = utcnow() + timedelta(days=12)
    db.session.commit()
    assert system.watch_connection() == "warned"
    emails = _emails(system.EXPIRY_KIND)
    assert {e.recipient for e in emails} == {people.company_admin.email, second_admin.email}
    assert "ends on" in emails[0].subject and "/erp/settings" in emails[0].body
    assert system.watch_connection() != "warned"  # once per end date
    assert len(_emails(system.EXPIRY_KIND)) == 2


def test_erp_admins_are_told_when_a_refresh_fails(app, people, connected, sandbox):
    system._next_refresh_try = None
    sandbox.inject_oauth_fault("503", count=3)
    connection = get_connection()
    connection.refresh_token_expires_at = utcnow() + timedelta(days=25)
    db.session.commit()
    assert system.watch_connection() == "refresh failed"
    [email] = _emails(system.REFRESH_FAILED_KIND)
    assert email.recipient == people.company_admin.email
    assert "could not renew" in email.body
    assert system.watch_connection() == "idle"  # the next try waits an hour; no second email
    assert len(_emails(system.REFRESH_FAILED_KIND)) == 1
    system._next_refresh_try = None
