"""The System page's reads and buttons, and the worker's watch over the QuickBooks connection.

* ``overview``: exports by state with the oldest waiting, emails pending and stuck, the
  QuickBooks connection (what the queue and workers look like is read by jobs/health.py).
* ``test_quickbooks`` / ``send_test_email``: the page's two buttons (company admins only).
* ``watch_connection``: run by the worker's maintenance pass. QuickBooks refresh tokens die
  after 100 days unused; the worker refreshes one ``REFRESH_AHEAD`` before that, mails the ERP
  admins ``WARN_AHEAD`` before the connection ends (when a refresh no longer moves the end,
  Intuit's cap on a connection's life) and when a refresh fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from extensions import db
from models import (
    ErpPermission,
    Export,
    ExportStatus,
    PendingNotification,
    QboConnection,
    SentEmail,
    User,
)
from models.types import utcnow
from workflow import mail
from workflow.errors import PermissionDenied
from workflow.permissions import is_company_admin

log = logging.getLogger(__name__)

REFRESH_AHEAD = timedelta(days=30)  # refresh a refresh token this long before it dies unused
WARN_AHEAD = timedelta(days=14)  # tell the ERP admins this long before the connection ends
FAILED_REFRESH_EVERY = timedelta(days=1)  # at most one "refresh failed" email a day
RETRY_REFRESH = timedelta(hours=1)  # after a failed ahead-of-time refresh, try again then
STUCK_EMAIL = timedelta(minutes=15)  # a claimed batch unsent this long: its mailing failed
EXPIRY_KIND, REFRESH_FAILED_KIND, TEST_KIND = "qbo_expiry", "qbo_refresh_failed", "test"


@dataclass
class Overview:
    exports: dict[ExportStatus, int]
    oldest_waiting: datetime | None
    emails_pending: int
    emails_stuck: int
    connection: QboConnection | None
    last_call_at: datetime | None


def _require_admin(actor: User) -> None:
    if not is_company_admin(actor):
        raise PermissionDenied("Only a company admin may use the System page.")


def overview(actor: User) -> Overview:
    from datetime import UTC

    from quickbooks_online.connection import get_connection
    from quickbooks_online.limits import last_success

    _require_admin(actor)
    counts = dict(db.session.execute(select(Export.status, func.count(Export.id))
                                     .group_by(Export.status)).all())
    waiting = (ExportStatus.QUEUED, ExportStatus.RUNNING)
    oldest = db.session.scalar(select(func.min(Export.accepted_at))
                               .where(Export.status.in_(waiting)))
    unsent = PendingNotification.sent_at.is_(None)
    pending = db.session.scalar(select(func.count(PendingNotification.id)).where(unsent))
    stuck = db.session.scalar(select(func.count(PendingNotification.id)).where(
        unsent, PendingNotification.claimed_at < utcnow() - STUCK_EMAIL))
    connection = get_connection()
    last = last_success(connection.realm_id) if connection and connection.realm_id else None
    return Overview(
        exports={status: counts.get(status, 0) for status in ExportStatus},
        oldest_waiting=oldest, emails_pending=pending or 0, emails_stuck=stuck or 0,
        connection=connection,
        last_call_at=datetime.fromtimestamp(last, UTC) if last else None)


def test_quickbooks(actor: User) -> str:
    """Ask QuickBooks for the company's name with the stored tokens (refreshing them if they
    are due). The company's name; a QboError says what failed."""
    from quickbooks.objects.company_info import CompanyInfo

    from quickbooks_online.connection import call, require_connection

    _require_admin(actor)
    realm_id = require_connection().realm_id
    info = call(lambda qb: CompanyInfo.get(realm_id, qb=qb))
    db.session.commit()
    return info.CompanyName


def send_test_email(actor: User) -> SentEmail:
    """Mail the admin pressing the button; an SMTP error propagates (the page shows it)."""
    from workflow.notifications import public_url

    _require_admin(actor)
    email = mail.send(actor, TEST_KIND, "ChangeOrder Desk test email",
                      "This is a test email from ChangeOrder Desk's System page. If you can read "
                      f"it, the app's email settings work.\n\n{public_url()}/system/\n")
    db.session.commit()
    return email


# ---- the worker's watch over the QuickBooks connection -------------------------------------

def erp_admins() -> list[User]:
    return list(db.session.scalars(select(User).where(
        User.erp_permission == ErpPermission.ADMIN, User.active.is_(True)).order_by(User.id)))


def _mailed_since(kind: str, since: datetime) -> bool:
    return db.session.scalar(select(func.count(SentEmail.id)).where(
        SentEmail.kind == kind, SentEmail.sent_at >= since)) > 0


def _mail_admins(kind: str, subject: str, body: str) -> int:
    sent = 0
    for admin in erp_admins():
        try:
            mail.send(admin, kind, subject, body)
            sent += 1
        except OSError as error:  # SMTP away: the next pass tries again
            log.warning("could not mail %s to %s: %s", kind, admin.email, error)
    db.session.commit()
    return sent


def _settings_link() -> str:
    from workflow.notifications import public_url

    return f"{public_url()}/erp/settings"


_next_refresh_try: datetime | None = None  # per worker process


def watch_connection(now: datetime | None = None) -> str:
    """One look at the connection (one read when nothing is due). What was done, in a word:
    "idle", "refreshed", "refresh failed", "warned"."""
    from quickbooks_online.connection import get_connection, refresh_access_token
    from quickbooks_online.errors import QboError

    now = now or utcnow()
    connection = get_connection()
    if connection is None or not connection.is_connected:
        return "idle"
    ends = connection.refresh_token_expires_at
    if ends is None:
        return "idle"
    global _next_refresh_try
    outcome = "idle"
    if ends - now <= REFRESH_AHEAD and (_next_refresh_try is None or now >= _next_refresh_try):
        try:
            refresh_access_token(connection.token_generation)
            db.session.refresh(connection)
            outcome = "refreshed"
            log.info("QuickBooks connection refreshed ahead of its end (now %s)",
                     connection.refresh_token_expires_at)
        except QboError as error:
            db.session.rollback()
            _next_refresh_try = now + RETRY_REFRESH
            log.warning("refreshing the QuickBooks connection ahead of its end failed: %s",
                        error.message)
            if not _mailed_since(REFRESH_FAILED_KIND, now - FAILED_REFRESH_EVERY):
                _mail_admins(REFRESH_FAILED_KIND, "QuickBooks connection: a refresh failed",
                             "ChangeOrder Desk could not renew its QuickBooks connection:\n\n"
                             f"{error.message}\n\nIf it is not renewed, exports stop on "
                             f"{ends:%Y-%m-%d}. An ERP admin can connect to QuickBooks again "
                             f"in ERP Integrations → Settings:\n{_settings_link()}\n")
            return "refresh failed"
    connection = get_connection()
    ends = connection.refresh_token_expires_at if connection else None
    if (connection is not None and connection.is_connected and ends is not None
            and ends - now <= WARN_AHEAD and not _mailed_since(EXPIRY_KIND, ends - WARN_AHEAD)):
        _mail_admins(EXPIRY_KIND, f"QuickBooks connection ends on {ends:%Y-%m-%d}",
                     f"ChangeOrder Desk's connection to QuickBooks ({connection.company_name}) "
                     f"ends on {ends:%Y-%m-%d %H:%M} UTC, and renewing it no longer moves that "
                     "date. After it, nothing can be exported. Before then, an ERP admin "
                     "connects to QuickBooks again in ERP Integrations → Settings:\n"
                     f"{_settings_link()}\n")
        return "warned"
    return outcome
