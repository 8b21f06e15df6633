"""The workflow's queue interface (``workflow/queue.py``) backed by RQ: ``create_app`` calls
``init_queue``. Here, and only here, the queue (``jobs/queue.py``) and the exports outbox
(``jobs/outbox.py``) meet, so neither imports the other."""

from __future__ import annotations

from flask import Flask

from jobs import locks, outbox, queue
from workflow import queue as workflow_queue


class RqJobQueue:
    """``workflow.queue.JobQueue`` on RQ: which job does each kind of work the workflow asks
    for (queued by the job's dotted name, so importing this module runs no job module)."""

    def mail_notifications(self, description: str) -> bool:
        return queue.enqueue("jobs.notifications.mail_due", description=description)

    def reopen_rejected(self, change_order_id: int) -> bool:
        return queue.enqueue("jobs.change_orders.reopen_rejected_cco", change_order_id,
                             description=f"reopen rejected CCO {change_order_id}")

    def poll_quickbooks_changes(self) -> bool:
        # Intuit sends a webhook per change (and again after a slow answer): a burst queues
        # one read, not one CDC call each out of the 500 a minute that exports share.
        return queue.enqueue_once("jobs.quickbooks_changes.poll_quickbooks_changes",
                                  queue.CDC_POLL_WAITING)

    def dispatch_export(self, export_id: int, delay: float | None = None) -> None:
        outbox.dispatch_export(export_id, delay)

    def export_lock(self, target_key: str):
        return locks.export_lock(target_key, holder_is_dead=_job_is_dead)

    def runs_inline(self) -> bool:
        return queue.is_inline()

    def current_job_id(self) -> str | None:
        from rq import get_current_job

        job = get_current_job()
        return job.id if job is not None else None


def _job_is_dead(job_id: str) -> bool:
    """The export lock's holder is known to run no longer (jobs/outbox.py:job_is_running)."""
    return outbox.job_is_running(queue.get_queue().connection, [job_id]) is False


def queue_digest(user_id: int) -> bool:
    """``flask erp digest``: one approver's daily digest (jobs/notifications.py:digest)."""
    return queue.enqueue("jobs.notifications.digest", user_id,
                         description=f"digest for user {user_id}")


def init_queue(app: Flask) -> None:
    queue.init_queue(app)
    workflow_queue.install(RqJobQueue())
