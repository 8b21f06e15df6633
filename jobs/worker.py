"""The RQ worker ChangeOrder Desk runs: ``rq worker --worker-class jobs.worker.Worker``.

RQ calls no job callback when the work horse dies (out of memory, SIGKILL), so an export
would say "Exporting" for ever. This worker class hears of it from RQ and, unless RQ will
run the job again, ends the export in "Failed to Export" with Retry Export offered. With
RQ's periodic maintenance it also fails exports whose job is gone from Redis.

Both run in the worker's main process, which forks every work horse: they close their
database connections afterwards, so no horse inherits one.
"""

from __future__ import annotations

import logging

from rq import Worker as RqWorker

log = logging.getLogger(__name__)

HORSE_DIED = ("The export job stopped without finishing (its worker process was stopped). "
              "Press Retry Export to try again.")


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
    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        if not job.func_name.endswith("export_commitment") or job.should_retry:
            return  # not ours, or RQ runs it again and the export stays Exporting until then
        from jobs.exports import give_up

        _in_app(f"record the end of job {job.id}",
                lambda: give_up(job.args[0], "worker", HORSE_DIED))

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()  # also RQ's registry clean-up (on_failure callbacks)
        from jobs.exports import fail_lost_exports

        _in_app("look for lost exports", fail_lost_exports)
