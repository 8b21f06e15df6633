"""Staying under QuickBooks' per-company limits: calls at once, and calls a minute.

Intuit allows 10 concurrent requests and 500 a minute per realm; we stay below both
(QBO_MAX_CONCURRENT, QBO_MAX_PER_MINUTE). With Redis the counts are shared by every worker;
without it (inline jobs, one process) they are kept in memory.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from contextlib import contextmanager

from flask import current_app

SLOT_TTL = 120  # seconds: a crashed worker's slot frees itself
_local_lock = threading.Lock()
_local_slots: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_local_calls: dict[str, deque] = {}


@contextmanager
def realm_slot(realm_id: str):
    """Wait for a free slot and room in this minute's budget, then make the call."""
    config = current_app.config
    concurrent, per_minute = config["QBO_MAX_CONCURRENT"], config["QBO_MAX_PER_MINUTE"]
    redis = _redis()
    if redis is None:
        with _local(realm_id, concurrent, per_minute):
            yield
    else:
        with _shared(redis, realm_id, concurrent, per_minute):
            yield


def _redis():
    from jobs.queue import get_queue, is_inline

    return None if is_inline() else get_queue().connection


@contextmanager
def _local(realm_id: str, concurrent: int, per_minute: int):
    with _local_lock:
        slots = _local_slots.setdefault((realm_id, concurrent),
                                        threading.BoundedSemaphore(concurrent))
        calls = _local_calls.setdefault(realm_id, deque())
    with slots:
        while True:
            with _local_lock:
                now = time.monotonic()
                while calls and now - calls[0] > 60:
                    calls.popleft()
                if len(calls) < per_minute:
                    calls.append(now)
                    break
                wait = 60 - (now - calls[0])
            time.sleep(min(max(wait, 0.05), 1.0))
        yield


@contextmanager
def _shared(redis, realm_id: str, concurrent: int, per_minute: int):
    key = f"changeorder:qbo:{realm_id}"
    token = uuid.uuid4().hex
    while True:  # a slot: a sorted set of holders, scored by when their slot expires
        now = time.time()
        pipe = redis.pipeline()
        pipe.zremrangebyscore(f"{key}:slots", "-inf", now)
        pipe.zadd(f"{key}:slots", {token: now + SLOT_TTL})
        pipe.zrank(f"{key}:slots", token)
        _, _, rank = pipe.execute()
        if rank is not None and rank < concurrent:
            break
        redis.zrem(f"{key}:slots", token)
        time.sleep(0.05)
    try:
        while True:  # this minute's budget: a counter per minute window
            window = f"{key}:minute:{int(time.time() // 60)}"
            pipe = redis.pipeline()
            pipe.incr(window)
            pipe.expire(window, 120)
            used, _ = pipe.execute()
            if used <= per_minute:
                break
            time.sleep(max(0.05, 60 - time.time() % 60))
        yield
    finally:
        redis.zrem(f"{key}:slots", token)
