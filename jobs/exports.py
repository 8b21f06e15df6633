"""The RQ job that exports to QuickBooks. It takes an Export id and records everything in it.

What must run is in the database (jobs/outbox.py): a job is only the messenger, and a lost
one is replaced. What the job does with each outcome:

* Synced: recorded, the subject turns Synced.
* A permanent QuickBooks answer (validation, mapping, a PO deleted in QuickBooks): "Failed to
  Export" with QuickBooks' words; Retry Export after it is put right.
* Throttled, a 5xx, a timeout, a dropped connection, Redis out of reach: queued again after
  the next of ``EXPORT_RETRY_INTERVALS`` (the Export row keeps the due time, so a retry
  survives a Redis restart); after the last one, "Failed to Export".
* Anything else raised in the job (a database error, a bug, RQ's job timeout): "Failed to
  Export" with what stopped it.
* The worker killed under it: the outbox queues it again; a job that keeps dying ends in
  "Failed to Export" after as many tries as a throttled one gets.
* Stopped by an operator (``rq`` stop/cancel): "Failed to Export".
"""

from __future__ import annotations

import logging
import time

from flask import current_app
from rq import get_current_job
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from jobs.context import job_app_context
from jobs.locks import drop_lock, purchase_order_lock
from jobs.outbox import dispatch_export
from jobs.queue import is_inline
from models import Export, ExportStatus
from quickbooks_online.errors import QboError, QboTransientError
from workflow import erp
from workflow.errors import AlreadyHandled

log = logging.getLogger(__name__)

RETRY_LATER = "Press Retry Export to try again."


def run_export(export_id: int) -> str:
    """Send the export's record to QuickBooks; safe to run any number of times."""
    with job_app_context():
        try:
            return _export(export_id)
        except Exception as error:  # never leave the record Exporting
            log.exception("export %s stopped unexpectedly", export_id)
            give_up(export_id, "error", unexpected_message(error))
            return "failed"


export_commitment = run_export  # jobs queued by earlier releases name this function


def _export(export_id: int) -> str:
    from quickbooks_online.export import push

    export = db.session.get(Export, export_id)
    if export is None:
        log.warning("export %s no longer exists", export_id)
        return "missing"
    job = get_current_job()
    if not erp.claim_export(export, None if is_inline() or job is None else job.id):
        log.info("export %s: nothing to do (done, or another job has it)", export_id)
        return "skipped"
    pauses = list(current_app.config["EXPORT_INLINE_PAUSES"]) if is_inline() else []
    while True:
        try:
            with purchase_order_lock(export.commitment_id):
                result = push(export)
        except QboTransientError as error:
            db.session.rollback()
            if pauses:
                time.sleep(pauses.pop(0))
                continue
            return _retry_later(export, error)
        except QboError as error:
            db.session.rollback()
            log.error("export %s failed: %s (%s)", export_id, error.message, error.code)
            erp.export_failed(export, error.code, error.message)
            return "failed"
        erp.export_synced(export, result)
        log.info("export %s synced: PurchaseOrder %s", export_id, result.purchase_order_id)
        return "synced"


def _retry_later(export: Export, error: QboError) -> str:
    intervals = list(current_app.config["EXPORT_RETRY_INTERVALS"])
    if is_inline() or export.retries >= len(intervals):
        log.error("export %s failed after retries: %s", export.id, error.message)
        erp.export_failed(export, error.code, f"{error.message} QuickBooks did not accept it "
                                              "after several tries; press Retry Export later.")
        return "failed"
    delay = intervals[export.retries]
    log.warning("export %s: %s; trying again in %s s", export.id, error.message, delay)
    erp.export_will_retry(export, error.code, error.message, delay)
    dispatch_export(export.id, delay)
    return "retrying"


def unexpected_message(error: BaseException) -> str:
    """What stopped an export, for the person who presses Retry Export."""
    if isinstance(error, JobTimeoutException):
        what = "it took longer than the job's time limit"
    elif isinstance(error, SQLAlchemyError):
        what = "a database error"
    else:
        what = f"an unexpected {type(error).__name__}"
    return f"The export stopped before it finished ({what}). {RETRY_LATER}"


def give_up(export_id: int, code: str, message: str) -> bool:
    """Export → failed and its record Exporting → Failed to Export, if it is still so.

    False when there was nothing to do (synced meanwhile, or the record moved on)."""
    db.session.rollback()  # whatever failed may have left the transaction unusable
    export = db.session.get(Export, export_id)
    if export is None or export.status in (ExportStatus.SYNCED, ExportStatus.FAILED):
        return False
    try:
        erp.export_failed(export, code, message)
    except AlreadyHandled:
        log.info("export %s: its record is no longer Exporting", export_id)
        return False
    return True


def export_job_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ ``on_failure``: an exception escaped the job. A worker that vanished mid-job
    (AbandonedJobError) is left to the outbox, which queues the export again."""
    from rq.exceptions import AbandonedJobError

    if isinstance(exc_value, AbandonedJobError):
        return
    with job_app_context():
        give_up(job.args[0], "error", unexpected_message(exc_value))


def export_job_stopped(job, connection) -> None:
    """RQ ``on_stopped``: someone stopped the job by hand; the export will not finish."""
    with job_app_context():
        give_up(job.args[0], "stopped", f"The export job was stopped before it finished. "
                                         f"{RETRY_LATER}")


def work_horse_died(export_id: int, job_id: str) -> None:
    """The process running the export was killed. Queue it again (it is idempotent) unless it
    has died as often as a throttled export may be retried."""
    export = db.session.get(Export, export_id)
    if export is None or export.status not in (ExportStatus.QUEUED, ExportStatus.RUNNING):
        return
    drop_lock(export.commitment_id)  # its holder is dead
    if export.retries >= len(current_app.config["EXPORT_RETRY_INTERVALS"]):
        give_up(export_id, "worker", "The export job stopped without finishing (its worker "
                                     "process was stopped, and it had no retry left). "
                                     f"{RETRY_LATER}")
        return
    export.retries += 1
    db.session.commit()
    dispatch_export(export_id, expected_job_id=job_id)
