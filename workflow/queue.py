"""How the workflow asks for work to run after its commit, without importing the jobs.

The workflow asks for each kind of work by name (``mail_notifications()``,
``reopen_rejected(cco_id)``, ``dispatch_export(export_id)``, …) of the queue installed here;
``jobs/adapter.py`` installs RQ when the app starts (``init_queue``) and knows which job does
each. So ``jobs`` imports ``workflow`` and never the other way round, and no job's name
travels between them as a string (docs/architecture.md, "The queue interface").
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class JobQueue(Protocol):
    """Each method queues its work after the caller's commit and says whether the queue took
    it (the caller's records say what must still happen, so nothing is lost if not)."""

    def mail_notifications(self, description: str) -> bool:
        """Mail the notification rows that are due (workflow/notifications.py:mail_due)."""

    def reopen_rejected(self, change_order_id: int) -> bool:
        """Hand a rejected CCO back to its project (workflow/erp.py:reopen_rejected)."""

    def poll_quickbooks_changes(self) -> bool:
        """Read QuickBooks' change data capture now (quickbooks_online/cdc.py)."""

    def dispatch_export(self, export_id: int, delay: float | None = None) -> None:
        """Queue the export job of this outbox row (now, or after ``delay`` seconds)."""

    def export_lock(self, target_key: str) -> AbstractContextManager:
        """Held while an export writes to the QuickBooks record ``target_key``: one writer
        per record (it raises QboTransientError when it cannot be had)."""

    def runs_inline(self) -> bool:
        """Jobs run in the request that queues them (no worker, no Redis)."""

    def current_job_id(self) -> str | None:
        """The id of the job running now, if any."""


_installed: JobQueue | None = None


def install(queue: JobQueue) -> None:
    global _installed
    _installed = queue


def _queue() -> JobQueue:
    if _installed is None:
        raise RuntimeError("no job queue installed: create_app() installs jobs/queue.py")
    return _installed


def mail_notifications(description: str = "mail notifications") -> bool:
    return _queue().mail_notifications(description)


def reopen_rejected(change_order_id: int) -> bool:
    return _queue().reopen_rejected(change_order_id)


def poll_quickbooks_changes() -> bool:
    return _queue().poll_quickbooks_changes()


def dispatch_export(export_id: int, delay: float | None = None) -> None:
    _queue().dispatch_export(export_id, delay)


def export_lock(target_key: str) -> AbstractContextManager:
    return _queue().export_lock(target_key)


def runs_inline() -> bool:
    return _queue().runs_inline()


def current_job_id() -> str | None:
    return _queue().current_job_id()
