"""RQ jobs that read what changed in QuickBooks (workflow/qbo_drift.py): the change data
capture poll, every QBO_CDC_INTERVAL_MINUTES from the worker, and sooner on a webhook."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from jobs.context import job_app_context
from jobs.queue import CDC_POLL_WAITING, enqueue, started
from models.types import utcnow
from quickbooks_online.connection import get_connection
from workflow import qbo_drift

log = logging.getLogger(__name__)
POLL_JOB = "jobs.quickbooks_changes.poll_quickbooks_changes"


def poll_quickbooks_changes() -> dict:
    """One change data capture read of the connected company; never writes to QuickBooks."""
    with job_app_context():
        started(CDC_POLL_WAITING)  # a change from now on queues the next read
        result = qbo_drift.poll()
        return {"calls": result.calls, "changed": result.changed,
                "differing": result.differing, "full_read": result.full_read}


def poll_if_due() -> bool:
    """Queue a poll when the last one is older than the interval (the worker's maintenance)."""
    minutes = float(current_app.config.get("QBO_CDC_INTERVAL_MINUTES", 5))
    connection = get_connection()
    if minutes <= 0 or connection is None or not connection.refresh_token_encrypted:
        return False
    last = connection.cdc_polled_at
    if last is not None and utcnow() - last < timedelta(minutes=minutes):
        return False
    return enqueue(POLL_JOB, job_id="quickbooks-changes-poll")
