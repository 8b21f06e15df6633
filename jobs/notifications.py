"""RQ jobs for email notifications (the rules: workflow/notifications.py). They take ids.

The workflow writes each notice into the database with the change it tells of (the outbox,
``notifications.record``) and queues ``mail_due`` after its commit; the worker's maintenance
pass (jobs/worker.py) queues ``mail_due`` too whenever a batch is due, so a notice whose job
was never queued (Redis down) or whose mail failed (SMTP down) still goes out. Inline (no
REDIS_URL) nothing runs later, so ``mail_due`` mails every batch at once. A mail job killed
mid-send holds its rows only until the worker notices (jobs/worker.py) or the next
maintenance pass (``release_dead_claims``).

``sent_to_erp``, ``rejected``, ``export_synced`` and ``export_failed`` are the jobs of the
version before the outbox: kept so that jobs queued by it still run (recording twice adds
nothing).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from extensions import db
from jobs.context import job_app_context
from jobs.queue import enqueue, is_inline
from models import Export, NotificationKind
from models.types import utcnow
from workflow import notifications

log = logging.getLogger(__name__)
# A claim whose mail job Redis no longer knows (Redis lost its data): freed after this long,
# well past the longest send (MAIL_TIMEOUT, 20 s, per SMTP step).
MISSING_JOB_GRACE = timedelta(minutes=2)


def sent_to_erp(subject_type: str, subject_id: int) -> int:
    """A commitment or CCO was sent or resent: approvers are told (coalesced). Emails sent."""
    with job_app_context():
        told = notifications.note_sent(subject_type, subject_id)
        if told and is_inline():
            return notifications.mail_due(user_ids=told, ignore_due=True)
        return 0


def _for_sender(kind: NotificationKind, subject_type: str, subject_id: int,
                detail: str | None = None) -> int:
    user_id = notifications.note_for_sender(kind, subject_type, subject_id, detail)
    if user_id is None:
        return 0
    return notifications.mail_due(user_ids=[user_id])


def rejected(subject_type: str, subject_id: int) -> int:
    """Accounting rejected it: the sender is told why."""
    with job_app_context():
        return _for_sender(NotificationKind.REJECTED, subject_type, subject_id)


def _export_outcome(kind: NotificationKind, export_id: int) -> int:
    from workflow.erp import subject_of

    export = db.session.get(Export, export_id)
    if export is None:
        return 0
    subject = subject_of(export)
    detail = None
    if kind == NotificationKind.FAILED:
        code = export.last_error_code
        detail = export.last_error_message or ""
        if code and code.isdigit():
            detail += f" (QuickBooks code {code})"
    subject_type = "change_order" if export.change_order_id else "commitment"
    return _for_sender(kind, subject_type, subject.id, detail)


def export_synced(export_id: int) -> int:
    with job_app_context():
        return _export_outcome(NotificationKind.SYNCED, export_id)


def export_failed(export_id: int) -> int:
    with job_app_context():
        return _export_outcome(NotificationKind.FAILED, export_id)


def mail_due() -> int:
    """Mail every batch that has fallen due (queued after a change and by the worker's
    maintenance pass); inline, every batch (nothing can wait)."""
    with job_app_context():
        sent = notifications.mail_due(ignore_due=is_inline())
        if sent:
            log.info("mailed %s notification email(s)", sent)
        return sent


def release_dead_claims(now: datetime | None = None) -> int:
    """Free the rows claimed by a mail job that no longer runs (its work horse or its whole
    worker was killed mid-send), so the next ``mail_due`` mails them; how many rows. A claim
    whose job Redis no longer knows is freed once it is MISSING_JOB_GRACE old."""
    if is_inline():
        return 0
    from jobs.queue import get_queue
    from jobs.worker import job_is_running

    now = now or utcnow()
    connection = get_queue().connection
    released = 0
    for token, claimed_at in notifications.held_claims():
        running = job_is_running(connection, notifications.job_ids_of(token))
        if running is None:
            running = claimed_at is not None and now - _as_utc(claimed_at) < MISSING_JOB_GRACE
        if not running:
            count = notifications.release(token)
            if count:
                log.warning("released %s notification(s) claimed by mail job %s, which no "
                            "longer runs; they are mailed now", count, token)
            released += count
    return released


def job_died(job_id: str) -> int:
    """The work horse running job ``job_id`` was killed (jobs/worker.py): free the emails it
    had claimed and queue their mailing now; how many rows."""
    released = notifications.release(notifications.claim_token(job_id))
    if released:
        log.warning("released %s notification(s) claimed by killed job %s", released, job_id)
        enqueue("jobs.notifications.mail_due", description="mail due notifications")
    return released


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def queue_due() -> bool:
    """The maintenance pass: free the claims of mail jobs that died, then queue ``mail_due``
    when a batch is due (one cheap query)."""
    release_dead_claims()
    if notifications.any_due():
        return enqueue("jobs.notifications.mail_due", description="mail due notifications")
    return False


def digest(user_id: int) -> bool:
    """The daily summary for one approver (``flask erp digest`` queues one per approver)."""
    with job_app_context():
        return notifications.mail_digest(user_id)
