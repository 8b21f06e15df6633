"""The export lock: one export at a time writes to one QuickBooks record.

A Redis lock keyed by the export's ``target_key`` (the QuickBooks record it writes, its ERP
kind's ``target_key``: a commitment and its CCOs share ``purchase-order:<commitment id>``).
The holder's RQ job id is the lock's token, so the outbox can free the lock of a job whose
worker was killed outright instead of waiting for it to lapse. (Not the record's write lock,
``workflow/locking.py:take_write_lock``, nor a version check.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager

from rq import get_current_job

from jobs.queue import get_queue, is_inline
from quickbooks_online.errors import QboTransientError
from quickbooks_online.limits import REDIS_DOWN

log = logging.getLogger(__name__)

LOCK_SECONDS = 60  # a PurchaseOrder write takes seconds; a dead holder's lock lapses by then
LOCK_WAIT = 30


def lock_key(target_key: str) -> str:
    return f"changeorder:{get_queue().name}:export-lock:{target_key}"


@contextmanager
def export_lock(target_key: str, holder_is_dead: Callable[[str], bool] | None = None):
    """One writer per QuickBooks record: two CCOs of one commitment export one after the other.
    (Each update also carries the SyncToken it read, so a stale write is refused anyway;
    the lock only spares them the 5010s.) ``holder_is_dead(job_id)``: whether the job holding
    the lock is known to run no longer (jobs/adapter.py passes the outbox's answer)."""
    if is_inline():  # jobs run one at a time in the request: nothing to serialise
        yield
        return
    try:
        lock = get_queue().connection.lock(lock_key(target_key), timeout=LOCK_SECONDS,
                                           blocking_timeout=LOCK_WAIT)
        job = get_current_job()
        # The holder's job id is the lock's token: the outbox frees the lock of a job whose
        # worker was killed outright (free_lock_of) instead of waiting LOCK_SECONDS, and so
        # does the next export when the holder's job no longer runs (one whose release failed
        # because Redis was restarting left its lock to lapse).
        token = job.id if job is not None else None
        taken = lock.acquire(blocking=False, token=token)
        if not taken and holder_is_dead is not None and _free_if_dead(target_key,
                                                                       holder_is_dead):
            taken = lock.acquire(blocking=False, token=token)
        if not taken:
            taken = lock.acquire(token=token)
    except REDIS_DOWN as error:  # Redis is restarting: nothing was sent, try again later
        raise QboTransientError("The job queue's Redis could not be reached "
                                f"({type(error).__name__}).", "redis") from error
    if not taken:
        raise QboTransientError("Another export of this purchase order is still running.",
                                "busy")
    try:
        yield
    finally:
        try:
            lock.release()
        except Exception:  # lapsed meanwhile: nothing to release
            log.warning("export lock of %s had lapsed", target_key)


_FREE_IF_HELD_BY = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _free_if_dead(target_key: str, holder_is_dead: Callable[[str], bool]) -> bool:
    """Free the target's export lock if the job holding it is known to run no longer."""
    holder = get_queue().connection.get(lock_key(target_key))
    if holder is None:
        return True
    holder = holder.decode() if isinstance(holder, bytes) else holder
    return holder_is_dead(holder) and free_lock_of(target_key, holder)


def free_lock_of(target_key: str, job_id: str) -> bool:
    """Free the target's export lock if the (dead) job ``job_id`` holds it."""
    return bool(get_queue().connection.eval(_FREE_IF_HELD_BY, 1, lock_key(target_key),
                                            job_id))


def drop_lock(target_key: str) -> None:
    """Delete the target's export lock whoever holds it (its holder is known to be dead)."""
    get_queue().connection.delete(lock_key(target_key))
