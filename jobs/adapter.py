"""The workflow's queue interface (``workflow/queue.py``) backed by RQ: ``create_app`` calls
``init_queue``. Here, and only here, the queue (``jobs/queue.py``) and the exports outbox
(``jobs/outbox.py``) meet, so neither imports the other."""

from __future__ import annotations

from flask import Flask

from jobs import locks, outbox, queue
from workflow import queue as workflow_queue


class RqJobQueue:
    """``workflow.queue.JobQueue`` on RQ."""

    def enqueue(self, job: str, *args, **options) -> bool:
        return queue.enqueue(job, *args, **options)

    def dispatch_export(self, export_id: int, delay: float | None = None) -> None:
        outbox.dispatch_export(export_id, delay)

    def export_lock(self, target_key: str):
        return locks.export_lock(target_key)

    def runs_inline(self) -> bool:
        return queue.is_inline()

    def current_job_id(self) -> str | None:
        from rq import get_current_job

        job = get_current_job()
        return job.id if job is not None else None


def init_queue(app: Flask) -> None:
    queue.init_queue(app)
    workflow_queue.install(RqJobQueue())
