"""The export lifecycle, in one place (docs/lifecycle.md; docs/quickbooks.md, "Exactly once").

``workflow/erp.py:accept`` (and Retry Export) write the outbox row, an ``Export`` queued, and
ask the queue to run it after the commit. ``run`` is everything one run does: claim the export
(only the job the outbox queued last may run it), take the export lock of the QuickBooks
record it writes (its ``target_key``), push it through its kind's exporter, and record what
came of it: Synced; a QuickBooks fault that may pass, queued again after the next of
``EXPORT_RETRY_INTERVALS`` (in the request, after each ``EXPORT_INLINE_PAUSES``); anything
QuickBooks refuses, Failed to Export with QuickBooks' words. ``give_up`` ends an export that
cannot finish. ``jobs/exports.py`` is only the RQ side: an app context, and what to do when
RQ says the job died.

The queue and its export lock come through ``workflow/queue.py``; the settings through
``workflow/settings.py``.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

from sqlalchemy import update

from extensions import db
from models import ErpStatus, Export, ExportStatus, NotificationKind
from models.types import utcnow
from quickbooks_online.errors import QboError, QboTransientError
from quickbooks_online.export import push
from workflow import erp, history, kinds, notices, notifications, queue
from workflow.erp_status import move_erp_status
from workflow.errors import AlreadyHandled
from workflow.settings import config as settings

log = logging.getLogger(__name__)

AFTER_RETRIES = " QuickBooks did not accept it after several tries; press Retry Export later."


def run(export_id: int) -> str:
    """Send the export's record to QuickBooks; safe to run any number of times. What came of
    it: synced, retrying, failed, skipped (done, or another job has it) or missing."""
    export = db.session.get(Export, export_id)
    if export is None:
        log.warning("export %s no longer exists", export_id)
        return "missing"
    inline = queue.runs_inline()
    if not claim(export, None if inline else queue.current_job_id()):
        log.info("export %s: nothing to do (done, or another job has it)", export_id)
        return "skipped"
    pauses = list(settings()["EXPORT_INLINE_PAUSES"]) if inline else []
    while True:
        try:
            with queue.export_lock(export.target_key):
                result = push(export)
                # Recorded before the lock is let go: the next export of this PurchaseOrder
                # starts from what this one wrote (its SyncToken, its lines' Ids).
                synced(export, result)
        except QboTransientError as error:
            db.session.rollback()
            if pauses:
                time.sleep(pauses.pop(0))
                continue
            return _retry_later(export, error, inline)
        except QboError as error:
            db.session.rollback()
            log.error("export %s failed: %s (%s)", export_id, error.message, error.code)
            failed(export, error.code, error.message)
            return "failed"
        log.info("export %s synced: %s %s", export_id, result.entity, result.qbo_id)
        return "synced"


def _retry_later(export: Export, error: QboError, inline: bool) -> str:
    intervals = list(settings()["EXPORT_RETRY_INTERVALS"])
    if inline or export.retries >= len(intervals):
        log.error("export %s failed after retries: %s", export.id, error.message)
        failed(export, error.code, error.message + AFTER_RETRIES)
        return "failed"
    delay = intervals[export.retries]
    log.warning("export %s: %s; trying again in %s s", export.id, error.message, delay)
    will_retry(export, error.code, error.message, delay)
    queue.dispatch_export(export.id, delay)
    return "retrying"


def give_up(export_id: int, code: str, message: str) -> bool:
    """Export → failed and its record Exporting → Failed to Export, if it is still so.

    False when there was nothing to do (synced meanwhile, or the record moved on)."""
    db.session.rollback()  # whatever failed may have left the transaction unusable
    export = db.session.get(Export, export_id)
    if export is None or export.status in (ExportStatus.SYNCED, ExportStatus.FAILED):
        return False
    try:
        failed(export, code, message)
    except AlreadyHandled:
        log.info("export %s: its record is no longer Exporting", export_id)
        return False
    return True


def exported_record(export: Export):
    """The record ``export`` sends (of its kind, by its id)."""
    return db.session.get(kinds.named(export.subject_type).model, export.record_id)


def claim(export: Export, job_id: str | None) -> bool:
    """Mark the export running for this job; False if another job has it or it is done.

    The outbox (jobs/outbox.py) may queue an export again when its job looks lost; the
    ``job_id`` condition lets only the job it queued last run it."""
    condition = [Export.id == export.id,
                 Export.status.in_((ExportStatus.QUEUED, ExportStatus.RUNNING))]
    if job_id is not None:
        condition.append(Export.job_id == job_id)
    result = db.session.execute(
        update(Export).where(*condition)
        .values(status=ExportStatus.RUNNING, attempts=Export.attempts + 1,
                next_attempt_at=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.refresh(export)
    return result.rowcount == 1


def will_retry(export: Export, code: str, message: str, delay: float) -> None:
    export.status = ExportStatus.QUEUED
    export.retries += 1
    export.next_attempt_at = utcnow() + timedelta(seconds=delay)
    export.last_error_code, export.last_error_message = code, message
    db.session.commit()


def synced(export: Export, result) -> None:
    """Record what QuickBooks now holds; the subject turns Synced."""
    subject = exported_record(export)
    kind = kinds.of(subject)
    lines = kind.lines(subject)
    for line_id, qbo_line_id in result.line_ids.items():
        if line_id in lines:
            lines[line_id].qbo_line_id = qbo_line_id
    export.status = ExportStatus.SYNCED
    export.finished_at = utcnow()
    export.last_error_code = export.last_error_message = None
    export.qbo_ids = json.dumps({result.entity: result.qbo_id,
                                 "Realm": result.realm_id,  # ids are per company
                                 "SyncToken": result.sync_token,
                                 "Lines": {str(k): v for k, v in result.line_ids.items()}})
    db.session.flush()
    move_erp_status(subject, (ErpStatus.EXPORTING,), ErpStatus.SYNCED)
    kind.record_synced(subject, result)
    history.record(None, subject, "exported", field="ERP status", old=ErpStatus.EXPORTING,
                   new=ErpStatus.SYNCED, comment=f"QuickBooks {result.entity} {result.qbo_id}")
    notices.settle(kind.name, subject.id, erp.REJECTED_NOTICE)
    notifications.record(NotificationKind.SYNCED, kind.name, subject.id)
    db.session.commit()
    erp.deliver_notifications()


def failed(export: Export, code: str, message: str) -> None:
    subject = exported_record(export)
    kind = kinds.of(subject)
    export.status = ExportStatus.FAILED
    export.finished_at = utcnow()
    export.next_attempt_at = None
    export.last_error_code, export.last_error_message = code, message
    db.session.flush()
    move_erp_status(subject, (ErpStatus.EXPORTING,), ErpStatus.FAILED_TO_EXPORT)
    history.record(None, subject, "export failed", field="ERP status", old=ErpStatus.EXPORTING,
                   new=ErpStatus.FAILED_TO_EXPORT, comment=f"{message} (QuickBooks code {code})"
                   if code and code.isdigit() else message)
    detail = (message or "") + (f" (QuickBooks code {code})" if code and code.isdigit() else "")
    notifications.record(NotificationKind.FAILED, kind.name, subject.id, detail)
    db.session.commit()
    erp.deliver_notifications()
