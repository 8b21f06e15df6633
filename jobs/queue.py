"""The job queue: Redis and ``rq worker`` when REDIS_URL is set, inline otherwise.

Inline mode is RQ itself with ``is_async=False`` on an in-memory Redis, so a job runs the same
code path (including RQ's Job bookkeeping) whether it is queued or not.
"""

from __future__ import annotations

from flask import Flask, current_app
from redis import Redis
from rq import Queue

EXTENSION_KEY = "changeorder.queue"


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
