"""RQ jobs that export to QuickBooks. They take an Export id and record everything in it.

An export never stays "Exporting" for good: whatever stops it ends in "Failed to Export" with
a plain message, and Retry Export sends it again (with a fresh key; the lookup by DocNumber
and our marker keeps it to one PurchaseOrder).

* A QuickBooks answer: the job records it (``QboError``; transient ones are retried first).
* Anything else raised in the job (a database error, a bug, RQ's job timeout): the job's
  catch-all records it.
* Something raised around the job (outside its own handling): RQ's ``on_failure`` callback,
  ``export_job_failed``, records it once no retry is left.
* The work horse killed (out of memory, SIGKILL), which RQ reports to no callback: the
  worker class in ``jobs/worker.py`` records it.
* The whole worker gone: another worker's cleanup of RQ's started-job registry calls
  ``on_failure`` with ``AbandonedJobError``.
* The job stopped by an operator (``rq`` stop/cancel): ``on_stopped``.
* The job gone from Redis (a flush, a restart without persistence): the worker's periodic
  maintenance runs ``fail_lost_exports``.
* The job could not even be queued (Redis down): ``enqueue_export`` records it at once.
"""

from __future__ import annotations

import logging
import time

from flask import current_app
from rq import Callback, Retry, get_current_job
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from jobs.context import job_app_context
from jobs.queue import get_queue, is_inline
from models import Export, ExportStatus
from quickbooks_online.errors import QboError, QboTransientError
from workflow import erp
from workflow.errors import AlreadyHandled

log = logging.getLogger(__name__)

RETRY_LATER = "Press Retry Export to try again."

# Throttling, 5xx and timeouts are retried with backoff: under a worker by RQ (rq worker
# --with-scheduler, EXPORT_RETRY_INTERVALS); inline there is no scheduler, so a few quick
# tries in-process instead (EXPORT_INLINE_PAUSES).


def enqueue_export(export: Export) -> None:
    """Queue the export job; the caller has committed, so a worker sees the Export.

    If the queue cannot take it, the export fails at once (Retry Export queues it again)."""
    config = current_app.config
    intervals = config["EXPORT_RETRY_INTERVALS"]
    export_id = export.id
    try:
        queue = get_queue()
        job = queue.enqueue(export_commitment, export_id,
                            retry=Retry(max=len(intervals), interval=intervals)
                            if intervals else None,
                            job_timeout=config["EXPORT_JOB_TIMEOUT"],
                            on_failure=Callback(export_job_failed),
                            on_stopped=Callback(export_job_stopped),
                            description=f"export commitment (export {export_id})")
        if not is_inline():
            export.job_id = job.id
            db.session.commit()
    except Exception as error:
        log.exception("export %s could not be queued", export_id)
        give_up(export_id, "queue",
                f"The export could not be queued (the job queue did not answer: "
                f"{type(error).__name__}). {RETRY_LATER}")


def export_commitment(export_id: int) -> str:
    """Create the commitment's PurchaseOrder in QuickBooks; safe to run any number of times."""
    with job_app_context():
        try:
            return _export(export_id)
        except QboTransientError:
            raise  # RQ retries it later (its on_failure callback leaves it Exporting)
        except Exception as error:  # never leave the commitment Exporting
            log.exception("export %s stopped unexpectedly", export_id)
            give_up(export_id, "error", unexpected_message(error))
            return "failed"


def _export(export_id: int) -> str:
    export = db.session.get(Export, export_id)
    if export is None:
        log.warning("export %s no longer exists", export_id)
        return "missing"
    job = get_current_job()
    if not erp.export_started(export, job.id if job else None):
        log.info("export %s already synced; nothing to do", export_id)
        return "synced"
    from quickbooks_online.export import push_commitment

    pauses = list(current_app.config["EXPORT_INLINE_PAUSES"]) if is_inline() else []
    while True:
        try:
            result = push_commitment(export)
        except QboTransientError as error:
            db.session.rollback()
            if pauses:
                time.sleep(pauses.pop(0))
                continue
            if job is not None and not is_inline() and (job.retries_left or 0) > 0:
                log.warning("export %s: %s; retrying later", export_id, error.message)
                erp.export_will_retry(export, error.code, error.message)
                raise
            log.error("export %s failed after retries: %s", export_id, error.message)
            erp.export_failed(export, error.code,
                              f"{error.message} QuickBooks did not accept it after several "
                              "tries; press Retry Export later.")
            return "failed"
        except QboError as error:
            db.session.rollback()
            log.error("export %s failed: %s (%s)", export_id, error.message, error.code)
            erp.export_failed(export, error.code, error.message)
            return "failed"
        erp.export_synced(export, purchase_order_id=result.purchase_order_id,
                          sync_token=result.sync_token, line_ids=result.line_ids)
        log.info("export %s synced: PurchaseOrder %s", export_id, result.purchase_order_id)
        return "synced"


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
    """Export → failed and its commitment Exporting → Failed to Export, if it is still so.

    False when there was nothing to do (synced meanwhile, or the commitment moved on)."""
    db.session.rollback()  # whatever failed may have left the transaction unusable
    export = db.session.get(Export, export_id)
    if export is None or export.status in (ExportStatus.SYNCED, ExportStatus.FAILED):
        return False
    try:
        erp.export_failed(export, code, message)
    except AlreadyHandled:
        log.info("export %s: its commitment is no longer Exporting", export_id)
        return False
    return True


def export_job_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ ``on_failure``: an exception escaped the job (also when RQ will retry it)."""
    with job_app_context():
        if (job.retries_left or 0) > 0 and not is_inline():
            return  # RQ runs it again; the export stays Exporting until then
        if isinstance(exc_value, QboError):
            code, message = exc_value.code, (f"{exc_value.message} QuickBooks did not accept "
                                             "it after several tries; press Retry Export "
                                             "later.")
        else:
            code, message = "error", unexpected_message(exc_value)
        give_up(job.args[0], code, message)


def export_job_stopped(job, connection) -> None:
    """RQ ``on_stopped``: someone stopped the job by hand; the export will not finish."""
    with job_app_context():
        give_up(job.args[0], "stopped", f"The export job was stopped before it finished. "
                                         f"{RETRY_LATER}")


LOST = {"failed", "finished", "stopped", "canceled"}


def fail_lost_exports() -> int:
    """Commitments still Exporting whose export's RQ job is over or gone from Redis: nothing
    will ever finish them. Mark them Failed to Export; return how many. The worker runs this
    with RQ's periodic maintenance (``jobs.worker.Worker``); pages never do, as a GET must not
    change state."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    from sqlalchemy import select

    from models import Commitment, ErpStatus

    if is_inline():
        return 0
    commitments = db.session.scalars(
        select(Commitment).where(Commitment.erp_status == ErpStatus.EXPORTING)).all()
    connection = get_queue().connection
    lost = 0
    for commitment in commitments:
        export = erp.latest_export(commitment)
        if (export is None or export.job_id is None
                or export.status not in (ExportStatus.QUEUED, ExportStatus.RUNNING)):
            continue  # being queued right now, or already recorded
        try:
            status = Job.fetch(export.job_id, connection=connection).get_status()
        except NoSuchJobError:
            status = None
        status = getattr(status, "value", status)
        if status is None or status in LOST:
            log.error("export %s: its job %s ended without recording a result (%s)",
                      export.id, export.job_id, status or "gone from Redis")
            if give_up(export.id, "worker", "The export job stopped without finishing (it "
                                            f"was lost by the job queue). {RETRY_LATER}"):
                lost += 1
    return lost
