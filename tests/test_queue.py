"""The job queue: real Redis when REDIS_URL is set, inline RQ otherwise."""

from __future__ import annotations

import signal

from jobs.queue import get_queue, is_inline
from tests.qbo_helpers import local_redis_url, work_burst


def double(value: int) -> int:
    return value * 2


def test_without_redis_url_jobs_run_inline(app):
    app.config["REDIS_URL"] = None
    app.extensions["changeorder.queue"] = None
    assert is_inline()
    job = get_queue().enqueue(double, 21)
    assert job.is_finished and job.return_value() == 42


def test_with_redis_url_jobs_wait_for_a_worker(app):
    url = local_redis_url()
    app.config["REDIS_URL"] = url
    app.config["RQ_QUEUE"] = "test-queue"
    app.extensions["changeorder.queue"] = None
    queue = get_queue()
    queue.empty()
    assert not is_inline()
    assert queue.connection.ping()
    job = queue.enqueue(double, 4)
    assert job.get_status() == "queued"  # nothing ran yet: it waits in Redis
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    work_burst(queue)
    assert job.return_value() == 8
    # The worker's own SIGINT/SIGTERM handlers do not outlive it in this process.
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    queue.empty()
