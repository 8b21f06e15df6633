"""How the workflow asks for work to run after its commit, without importing the jobs.

The workflow names a job by its dotted name (``"jobs.notifications.sent"``) and hands it to
the queue installed here; ``jobs/queue.py`` installs itself when the app starts
(``init_queue``). So ``jobs`` imports ``workflow`` and never the other way round
(docs/architecture.md, "The queue interface").
"""

from __future__ import annotations

from typing import Protocol


class JobQueue(Protocol):
    def enqueue(self, job: str, *args, **options) -> bool:
        """Queue ``job`` (a dotted name); False if the queue did not take it."""

    def dispatch_export(self, export_id: int, delay: float | None = None) -> None:
        """Queue the export job of this outbox row (now, or after ``delay`` seconds)."""


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
