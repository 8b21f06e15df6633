"""RQ jobs for email notifications (the rules: workflow/notifications.py). They take ids.

The workflow writes each notice into the database with the change it tells of (the outbox,
``notifications.record``) and queues ``mail_due`` after its commit; the worker's maintenance
pass (jobs/worker.py) queues ``mail_due`` too whenever a batch is due, so a notice whose job
was never queued (Redis down) or whose mail failed (SMTP down) still goes out. Inline (no
REDIS_URL) nothing runs later, so ``mail_due`` mails every batch at once.

``sent_to_erp``, ``rejected``, ``export_synced`` and ``export_failed`` are the jobs of the
version before the outbox: kept so that jobs queued by it still run (recording twice adds
nothing).
"""

from __future__ import annotations

import logging

from extensions import db
from jobs.context import job_app_context
from jobs.queue import enqueue, is_inline
from models import Export, NotificationKind
from workflow import notifications

log = logging.getLogger(__name__)


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
    from workflow.exports import exported_record

    export = db.session.get(Export, export_id)
    if export is None:
        return 0
    subject = exported_record(export)
    detail = None
    if kind == NotificationKind.FAILED:
        code = export.last_error_code
        detail = export.last_error_message or ""
        if code and code.isdigit():
            detail += f" (QuickBooks code {code})"
    return _for_sender(kind, export.subject_type, subject.id, detail)


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


def queue_due() -> bool:
    """The maintenance pass: queue ``mail_due`` when a batch is due (one cheap query)."""
    if notifications.any_due():
        return enqueue("jobs.notifications.mail_due", description="mail due notifications")
    return False


def digest(user_id: int) -> bool:
    """The daily summary for one approver (``flask erp digest`` queues one per approver)."""
    with job_app_context():
        return notifications.mail_digest(user_id)
