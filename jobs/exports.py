"""RQ jobs that export to QuickBooks. They take an Export id and record everything in it."""

from __future__ import annotations

import logging
import time

from flask import current_app
from rq import Retry, get_current_job

from extensions import db
from jobs.context import job_app_context
from jobs.queue import get_queue, is_inline
from models import Export
from quickbooks_online.errors import QboError, QboTransientError
from workflow import erp

log = logging.getLogger(__name__)

# Throttling, 5xx and timeouts are retried with backoff: under a worker by RQ (rq worker
# --with-scheduler, EXPORT_RETRY_INTERVALS); inline there is no scheduler, so a few quick
# tries in-process instead (EXPORT_INLINE_PAUSES).


def enqueue_export(export: Export) -> None:
    """Queue the export job; the caller has committed, so a worker sees the Export."""
    queue = get_queue()
    intervals = current_app.config["EXPORT_RETRY_INTERVALS"]
    job = queue.enqueue(export_commitment, export.id,
                        retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
                        job_timeout=300, description=f"export commitment (export {export.id})")
    if not is_inline():
        export.job_id = job.id
        db.session.commit()


def export_commitment(export_id: int) -> str:
    """Create the commitment's PurchaseOrder in QuickBooks; safe to run any number of times."""
    with job_app_context():
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
                log.error("export %s failed: %s (%s)", export_id, error.message, error.code)
                erp.export_failed(export, error.code, error.message)
                return "failed"
            erp.export_synced(export, purchase_order_id=result.purchase_order_id,
                              sync_token=result.sync_token, line_ids=result.line_ids)
            log.info("export %s synced: PurchaseOrder %s", export_id, result.purchase_order_id)
            return "synced"
