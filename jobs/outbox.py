"""The exports outbox: the database says what must run, Redis only carries the messages.

An Export that is ``queued`` or ``running`` must have a live job. Accept and Retry Export
commit the Export, then queue its job; if the web process dies in between, or Redis loses
the job (a restart, a flush), or the worker running it is killed, nothing would ever finish
it. So every worker (``jobs.worker.Worker``), when it starts and every 30 seconds, queues a
new job for each such Export whose job is missing, over, overdue or unattended (its worker
beat no heart for HEARTBEAT_GRACE, or its worker's process on this host is gone). Running an
export twice is safe (each run reads QuickBooks before it writes, docs/quickbooks.md), and
``workflow.exports.claim`` lets only the newest job of an Export run it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from rq import Callback
from sqlalchemy import or_, select, update

from extensions import db
from jobs.hosts import process_is_gone
from jobs.locks import free_lock_of
from jobs.queue import get_queue, is_inline
from models import Export, ExportStatus
from models.types import utcnow

log = logging.getLogger(__name__)

EXPORT_JOB = "jobs.exports.run_export"
# A started job whose worker has not beaten its heart for this long is unattended (RQ's
# worker beats every 30 s while a job runs).
HEARTBEAT_GRACE = timedelta(seconds=75)
# A retry waiting in RQ's scheduler this long past its time: the scheduler is not running it.
SCHEDULE_GRACE = timedelta(seconds=45)
ACTIVE = (ExportStatus.QUEUED, ExportStatus.RUNNING)


def dispatch_export(export_id: int, delay: float | None = None,
                    expected_job_id: str | None = "*") -> bool:
    """Give the export a new job (now, or after ``delay`` seconds).

    With ``expected_job_id`` the job id is swapped only if it is still that one, so two
    workers finding the same stalled export queue one job between them."""
    job_id = f"export-{export_id}-{uuid.uuid4().hex[:12]}"
    condition = [Export.id == export_id, Export.status.in_(ACTIVE)]
    if expected_job_id != "*":
        condition.append(Export.job_id.is_(None) if expected_job_id is None
                         else Export.job_id == expected_job_id)
    values = {"job_id": job_id}
    if expected_job_id != "*":
        values["status"] = ExportStatus.QUEUED
    result = db.session.execute(update(Export).where(*condition).values(**values)
                                .execution_options(synchronize_session=False))
    db.session.commit()
    if result.rowcount != 1:
        return False
    config = current_app.config
    options = {
        "job_id": job_id,
        "job_timeout": config["EXPORT_JOB_TIMEOUT"],
        "on_failure": Callback("jobs.exports.export_job_failed"),
        "on_stopped": Callback("jobs.exports.export_job_stopped"),
        "description": f"export {export_id}",
    }
    try:
        queue = get_queue()
        if delay and not is_inline():
            queue.enqueue_in(timedelta(seconds=delay), EXPORT_JOB, export_id, **options)
        else:
            queue.enqueue(EXPORT_JOB, export_id, **options)
    except Exception:
        # The export stays queued in the database; the next outbox pass queues it again.
        log.exception("export %s could not be queued now; the outbox will retry", export_id)
    return True


def _as_utc(moment: datetime | float | None) -> datetime | None:
    if moment is None:
        return None
    if isinstance(moment, int | float):
        return datetime.fromtimestamp(moment, UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def job_is_live(export: Export, now: datetime) -> bool:
    """Is something going to run this export without our help?"""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    if export.job_id is None:
        return False
    try:
        job = Job.fetch(export.job_id, connection=get_queue().connection)
        status = job.get_status(refresh=True)
    except NoSuchJobError:
        return False
    status = getattr(status, "value", status)
    if status in ("queued", "deferred"):
        return True
    if status == "scheduled":
        due = _as_utc(export.next_attempt_at) or now
        return now < due + SCHEDULE_GRACE
    if status == "started":
        if worker_is_gone(job.worker_name):
            return False  # killed with its worker: no heartbeat will come again
        beat = _as_utc(job.last_heartbeat) or _as_utc(job.started_at)
        return beat is not None and now - beat < HEARTBEAT_GRACE
    return False  # finished, failed, stopped, canceled: over without recording a result


def worker_is_gone(name: str | None) -> bool:
    """The worker that started a job is known to be dead: it registered its death, or its
    process ran on this host and exists no longer. (On another host, its heartbeat tells.)"""
    if not name:
        return False
    data = {k.decode(): v.decode() for k, v in
            get_queue().connection.hgetall(f"rq:worker:{name}").items()}
    if not data:
        return True  # its registration expired: it stopped beating long ago
    if data.get("death"):
        return True
    return process_is_gone(data.get("hostname"), data.get("pid"))


def requeue_stalled_exports() -> int:
    """Queue every queued or running export that has no live job (and is due); return how
    many. Run by the worker at start and every 30 seconds; never by a page."""
    if is_inline():
        return 0
    now = utcnow()
    exports = db.session.scalars(select(Export).where(
        Export.status.in_(ACTIVE),
        or_(Export.next_attempt_at.is_(None), Export.next_attempt_at <= now))).all()
    requeued = 0
    for export in exports:
        if job_is_live(export, now):
            continue
        log.warning("export %s has no live job (%s); queueing it again", export.id,
                    export.job_id or "never queued")
        if export.job_id:
            free_lock_of(export.target_key, export.job_id)  # a dead holder's, if any
        if dispatch_export(export.id, expected_job_id=export.job_id):
            requeued += 1
    return requeued


def job_is_running(connection, job_ids) -> bool | None:
    """Is the RQ job (under any of ``job_ids``) still running: started, and its worker alive
    and beating its heart? None when Redis knows no such job."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    for job_id in job_ids:
        try:
            job = Job.fetch(job_id, connection=connection)
            status = job.get_status(refresh=True)
        except NoSuchJobError:
            continue
        if getattr(status, "value", status) != "started" or worker_is_gone(job.worker_name):
            return False
        beat = _as_utc(job.last_heartbeat) or _as_utc(job.started_at)
        return beat is not None and utcnow() - beat < HEARTBEAT_GRACE
    return None
