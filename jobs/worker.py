"""The RQ worker ChangeOrder Desk runs: ``rq worker --worker-class jobs.worker.Worker``.

RQ calls no job callback when the work horse dies (out of memory, SIGKILL), so an export
would say "Exporting" for ever. This worker class hears of it from RQ and, unless RQ will
run the job again, ends the export in "Failed to Export" with Retry Export offered.
"""

from __future__ import annotations

import logging

from rq import Worker as RqWorker

log = logging.getLogger(__name__)

HORSE_DIED = ("The export job stopped without finishing (its worker process was stopped). "
              "Press Retry Export to try again.")


class Worker(RqWorker):
    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        if not job.func_name.endswith("export_commitment") or job.should_retry:
            return  # not ours, or RQ runs it again and the export stays Exporting until then
        from extensions import db
        from jobs.context import job_app_context
        from jobs.exports import give_up

        try:
            with job_app_context():
                try:
                    give_up(job.args[0], "worker", HORSE_DIED)
                finally:
                    # The next work horse is forked from this process: it must not inherit
                    # this process's database connections.
                    db.session.remove()
                    db.engine.dispose()
        except Exception:  # the worker itself must keep going
            log.exception("could not record the end of job %s", job.id)
