"""Staying under QuickBooks' per-company limits: calls at once, and calls a minute.

Intuit allows 10 concurrent requests and 500 a minute per realm; we stay below both
(QBO_MAX_CONCURRENT, QBO_MAX_PER_MINUTE). With Redis the counts are shared by every worker;
without it (inline jobs, one process) they are kept in memory.

Redis is infrastructure here, never the judge of an export: when it cannot be reached while a
slot is taken, the call is not made and a QboTransientError says "try again later" (the export
is retried); when it cannot be reached while the slot is freed, the call's result stands and
the slot lapses by itself after SLOT_TTL.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from contextlib import contextmanager, suppress

from flask import current_app
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from quickbooks_online.errors import QboTransientError

SLOT_TTL = 120  # seconds: a crashed worker's slot frees itself
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
log = logging.getLogger(__name__)
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
    """The Redis every worker shares the counts through (REDIS_URL), or None when jobs run
    inline in this one process. Its own connection, kept on the app: this package never
    imports ``jobs`` (docs/architecture.md)."""
    from redis import Redis

    app = current_app._get_current_object()
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    key = "changeorder.qbo_limits"
    connection, for_url = app.extensions.get(key) or (None, None)
    if connection is None or for_url != url:
        # Timeouts: a Redis that hangs is as good as one that is down (retried later).
        connection = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
        app.extensions[key] = (connection, url)
    return connection


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


# Both checks run inside Redis, so two workers can never both take the last slot. Times are
# Redis' own clock, so workers on machines whose clocks differ still share one minute.
_TAKE_SLOT = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  return 1
end
return 0
"""
_TAKE_CALL = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('EXPIRE', KEYS[1], 120)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(oldest[2] + 60 - now)
"""


@contextmanager
def _shared(redis, realm_id: str, concurrent: int, per_minute: int):
    key = f"changeorder:qbo:{realm_id}"
    token = uuid.uuid4().hex
    try:
        _take(redis, key, token, concurrent, per_minute)
    except REDIS_DOWN as error:
        # A slot taken before Redis went away would otherwise wait for SLOT_TTL.
        with suppress(*REDIS_DOWN):
            redis.zrem(f"{key}:slots", token)
        raise QboTransientError("The job queue's Redis could not be reached to pace the "
                                f"QuickBooks calls ({type(error).__name__}).",
                                "redis") from error
    try:
        yield
    finally:
        _free(redis, key, token)


def _take(redis, key: str, token: str, concurrent: int, per_minute: int) -> None:
    # A slot: a sorted set of holders, scored by when a crashed holder's slot frees itself.
    while not redis.eval(_TAKE_SLOT, 1, f"{key}:slots", token, concurrent, SLOT_TTL):
        time.sleep(0.05)
    # This minute's budget: the calls of the last 60 seconds, a sliding window as Intuit's.
    while True:
        wait = float(redis.eval(_TAKE_CALL, 1, f"{key}:calls", token, per_minute))
        if wait <= 0:
            return
        time.sleep(min(max(wait, 0.05), 1.0))


def _free(redis, key: str, token: str) -> None:
    """Give the slot back. The call is over, whatever Redis says now: an error here is
    logged, never raised (it would replace the call's result), and the slot lapses after
    SLOT_TTL."""
    try:
        redis.zrem(f"{key}:slots", token)
    except Exception as error:  # freeing a slot must never decide the outcome
        log.warning("could not free a QuickBooks slot (%s); it lapses in %s s",
                    type(error).__name__, SLOT_TTL)


# ---- the last call QuickBooks answered (the System page shows it) ------------------------------

_local_last_ok: dict[str, float] = {}


def note_success(realm_id: str) -> None:
    """Remember when QuickBooks last answered a call of this company (Redis when shared).
    Best effort: never raises."""
    now = time.time()
    _local_last_ok[realm_id] = now
    try:
        redis = _redis()
        if redis is not None:
            redis.set(f"changeorder:qbo:{realm_id}:last_ok", repr(now), ex=100 * 24 * 3600)
    except Exception as error:  # a note, never a reason to fail the call
        log.debug("could not note the last QuickBooks call: %s", error)


def last_success(realm_id: str) -> float | None:
    """When QuickBooks last answered a call of this company (epoch seconds), if known."""
    with suppress(Exception):  # Redis away: what this process saw itself
        redis = _redis()
        if redis is not None:
            value = redis.get(f"changeorder:qbo:{realm_id}:last_ok")
            return float(value) if value else None
    return _local_last_ok.get(realm_id)
