"""An app context for jobs: the caller's when run inline, a worker-wide app under rq worker."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from flask import has_app_context

_worker_app = None


@contextmanager
def job_app_context():
    global _worker_app
    if has_app_context():  # inline (RQ is_async=False): already inside the request's app
        yield
        return
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        yield


class JobLogger(logging.LoggerAdapter):
    """Prefixes every line with the RQ job id."""

    def process(self, msg, kwargs):
        return f"[job {self.extra['job_id']}] {msg}", kwargs


def job_logger(name: str) -> JobLogger:
    from rq import get_current_job

    job = get_current_job()
    return JobLogger(logging.getLogger(name), {"job_id": job.id if job else "inline"})
