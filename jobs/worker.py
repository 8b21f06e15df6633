"""The RQ worker ChangeOrder Desk runs: ``rq worker --worker-class jobs.worker.Worker``.

* Every 30 seconds, and when it starts, it runs the outbox (jobs/outbox.py): every export
  the database says must run, and that has no live job, is queued again. It also reopens
  rejected CCOs whose reopen job was lost.
* Every QBO_CDC_INTERVAL_MINUTES (default 5) it queues a change data capture poll of the
  connected QuickBooks company (jobs/quickbooks_changes.py).
* RQ calls no job callback when the work horse dies (out of memory, SIGKILL); this worker
  hears of it and queues the export again (jobs.exports.work_horse_died).

Both run in the worker's main process, which forks every work horse: they close their
database connections afterwards, so no horse inherits one.
"""

from __future__ import annotations

import logging

from rq import Worker as RqWorker

log = logging.getLogger(__name__)

OUTBOX_INTERVAL = 30  # seconds between outbox passes (and the longest idle wait on Redis)


def _in_app(what: str, action) -> None:
    """Run ``action`` with the app's database, then close every connection it opened."""
    from extensions import db
    from jobs.context import job_app_context

    try:
        with job_app_context():
            try:
                action()
            finally:
                db.session.remove()
                db.engine.dispose()
    except Exception:  # the worker itself must keep going
        log.exception("could not %s", what)


class Worker(RqWorker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", OUTBOX_INTERVAL)
        super().__init__(*args, **kwargs)
        self.maintenance_interval = min(self.maintenance_interval, OUTBOX_INTERVAL)

    @property
    def dequeue_timeout(self) -> int:
        # Wake at least every OUTBOX_INTERVAL, so the outbox runs while the worker idles.
        return max(1, min(super().dequeue_timeout, OUTBOX_INTERVAL))

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        if not job.func_name.endswith(("run_export", "export_commitment")):
            return
        from jobs.exports import work_horse_died

        _in_app(f"record the end of job {job.id}", lambda: work_horse_died(job.args[0], job.id))

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()  # RQ's registry clean-up (on_failure callbacks)
        from jobs.change_orders import reopen_stalled
        from jobs.outbox import requeue_stalled_exports

        _in_app("run the exports outbox", requeue_stalled_exports)
        _in_app("reopen rejected change orders", reopen_stalled)
        from jobs.notifications import queue_due

        _in_app("queue due notification emails", queue_due)
        from jobs.quickbooks_changes import poll_if_due

        _in_app("poll QuickBooks for changes", poll_if_due)
