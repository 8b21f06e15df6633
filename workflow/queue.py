"""How the workflow asks for work to run after its commit, without importing the jobs.

The workflow names a job by its dotted name (``"jobs.notifications.sent"``) and hands it to
the queue installed here; ``jobs/queue.py`` installs itself when the app starts
(``init_queue``). So ``jobs`` imports ``workflow`` and never the other way round
(docs/architecture.md, "The queue interface").
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class JobQueue(Protocol):
    def enqueue(self, job: str, *args, **options) -> bool:
        """Queue ``job`` (a dotted name); False if the queue did not take it."""

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


def enqueue(job: str, *args, **options) -> bool:
    return _queue().enqueue(job, *args, **options)


def dispatch_export(export_id: int, delay: float | None = None) -> None:
    _queue().dispatch_export(export_id, delay)


def export_lock(target_key: str) -> AbstractContextManager:
    return _queue().export_lock(target_key)


def runs_inline() -> bool:
    return _queue().runs_inline()


def current_job_id() -> str | None:
    return _queue().current_job_id()
