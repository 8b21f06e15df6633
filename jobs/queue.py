"""The job queue: Redis and ``rq worker`` when REDIS_URL is set, inline otherwise.

Inline mode is RQ itself with ``is_async=False`` on an in-memory Redis, so a job runs the same
code path (including RQ's Job bookkeeping) whether it is queued or not. Jobs are queued by
their dotted name; the workflow reaches this module only through ``workflow/queue.py``, where
``jobs/adapter.py`` installs it, so the jobs (which call the workflow) never form an import
cycle with it.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app
from redis import Redis
from rq import Queue

EXTENSION_KEY = "changeorder.queue"
CDC_POLL_WAITING = "qbo-cdc-poll"  # a QuickBooks changes poll is queued (enqueue_once)
log = logging.getLogger(__name__)


def init_queue(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = None  # built on first use, so importing the app needs no Redis


def _build_queue(app: Flask) -> Queue:
    url = app.config.get("REDIS_URL")
    name = app.config["RQ_QUEUE"]
    if url:
        return Queue(name, connection=Redis.from_url(url))
    import fakeredis

    return Queue(name, connection=fakeredis.FakeRedis(), is_async=False)


def get_queue() -> Queue:
    app = current_app._get_current_object()
    queue = app.extensions.get(EXTENSION_KEY)
    if queue is None:
        queue = app.extensions[EXTENSION_KEY] = _build_queue(app)
    return queue


def is_inline() -> bool:
    return not get_queue().is_async


def enqueue(job: str, *args, **options) -> bool:
    """Queue ``job`` (a dotted name) after the caller's commit; False if the queue did not
    take it (the caller's record says what must still happen, so nothing is lost)."""
    try:
        get_queue().enqueue(job, *args, **options)
    except Exception:
        log.exception("could not queue %s%r", job, args)
        return False
    return True



# ---- a job queued once while it waits -----------------------------------------------------------

def enqueue_once(job: str, waiting_key: str, seconds: int = 300) -> bool:
    """Queue ``job`` unless one queued by this function under ``waiting_key`` has not started
    yet (it will see whatever the caller wanted seen). The job calls ``started(waiting_key)``
    first; ``seconds`` bounds how long a job lost with its worker can hold the next back."""
    queue = get_queue()
    if queue.is_async:
        try:
            if not queue.connection.set(_waiting(queue, waiting_key), 1, nx=True, ex=seconds):
                return True
        except Exception:  # Redis unreachable: enqueue says whether it could be queued
            log.warning("could not check for a waiting %s", job, exc_info=True)
    return enqueue(job)


def started(waiting_key: str) -> None:
    """The job queued by ``enqueue_once`` runs: what happens from now needs a new one."""
    queue = get_queue()
    if queue.is_async:
        try:
            queue.connection.delete(_waiting(queue, waiting_key))
        except Exception:
            log.warning("could not clear %s", waiting_key, exc_info=True)


def _waiting(queue: Queue, waiting_key: str) -> str:
    return f"changeorder:waiting:{queue.name}:{waiting_key}"  # per queue (and test)
