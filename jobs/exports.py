"""The RQ side of an export: the job gives ``workflow/exports.py:run`` (the lifecycle: claim,
lock, push, record, retry or fail) an app context, and hears from RQ when a job died.

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

from flask import current_app
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from jobs.context import job_app_context
from jobs.locks import drop_lock
from jobs.outbox import dispatch_export
from models import Export, ExportStatus
from workflow import exports

log = logging.getLogger(__name__)

RETRY_LATER = "Press Retry Export to try again."


def run_export(export_id: int) -> str:
    """Send the export's record to QuickBooks; safe to run any number of times."""
    with job_app_context():
        try:
            return exports.run(export_id)
        except Exception as error:  # never leave the record Exporting
            log.exception("export %s stopped unexpectedly", export_id)
            exports.give_up(export_id, "error", unexpected_message(error))
            return "failed"


export_commitment = run_export  # jobs queued by earlier releases name this function


def unexpected_message(error: BaseException) -> str:
    """What stopped an export, for the person who presses Retry Export."""
    if isinstance(error, JobTimeoutException):
        what = "it took longer than the job's time limit"
    elif isinstance(error, SQLAlchemyError):
        what = "a database error"
    else:
        what = f"an unexpected {type(error).__name__}"
    return f"The export stopped before it finished ({what}). {RETRY_LATER}"


def export_job_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ ``on_failure``: an exception escaped the job. A worker that vanished mid-job
    (AbandonedJobError) is left to the outbox, which queues the export again."""
    from rq.exceptions import AbandonedJobError

    if isinstance(exc_value, AbandonedJobError):
        return
    with job_app_context():
        exports.give_up(job.args[0], "error", unexpected_message(exc_value))


def export_job_stopped(job, connection) -> None:
    """RQ ``on_stopped``: someone stopped the job by hand; the export will not finish."""
    with job_app_context():
        exports.give_up(job.args[0], "stopped",
                        f"The export job was stopped before it finished. {RETRY_LATER}")


def work_horse_died(export_id: int, job_id: str) -> None:
    """The process running the export was killed. Queue it again (it is idempotent) unless it
    has died as often as a throttled export may be retried."""
    export = db.session.get(Export, export_id)
    if export is None or export.status not in (ExportStatus.QUEUED, ExportStatus.RUNNING):
        return
    drop_lock(export.target_key)  # its holder is dead
    if export.retries >= len(current_app.config["EXPORT_RETRY_INTERVALS"]):
        exports.give_up(export_id, "worker", "The export job stopped without finishing (its "
                        "worker process was stopped, and it had no retry left). "
                        f"{RETRY_LATER}")
        return
    export.retries += 1
    db.session.commit()
    dispatch_export(export_id, expected_job_id=job_id)
