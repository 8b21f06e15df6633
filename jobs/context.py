"""An app context for jobs: the caller's when run inline, a worker-wide app under rq worker."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager

from flask import has_app_context

_worker_app = None


_worker_pid = None


@contextmanager
def job_app_context():
    global _worker_app, _worker_pid
    if has_app_context():  # inline (RQ is_async=False): already inside the request's app
        yield
        return
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
        _worker_pid = os.getpid()
    with _worker_app.app_context():
        if _worker_pid != os.getpid():
            # A work horse forked from the worker: never use the parent's pooled connections
            # (SQLAlchemy's recipe for forks: drop them without closing the parent's sockets).
            from extensions import db

            db.engine.dispose(close=False)
            _worker_pid = os.getpid()
        yield


def _job_id() -> str | None:
    from rq import get_current_job

    try:
        job = get_current_job()
    except Exception:  # no Redis connection in this context
        return None
    return job.id if job else None


def _record_factory(default):
    """Every log line written while a job runs starts with ``[job <id>]`` (QuickBooks glue,
    workflow and SQLAlchemy alike), so one job's story can be read from the worker log."""

    def factory(*args, **kwargs):
        record = default(*args, **kwargs)
        job_id = _job_id()
        if job_id and not str(record.msg).startswith("[job "):
            record.msg = f"[job {job_id}] {record.msg}"
        return record

    factory.adds_job_id = True
    return factory


if not getattr(logging.getLogRecordFactory(), "adds_job_id", False):
    logging.setLogRecordFactory(_record_factory(logging.getLogRecordFactory()))

