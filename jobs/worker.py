"""The RQ worker ChangeOrder Desk runs: ``rq worker --worker-class jobs.worker.Worker``.

* Every 30 seconds, and when it starts, it runs the outbox (jobs/outbox.py): every export
  the database says must run, and that has no live job, is queued again. It also reopens
  rejected CCOs whose reopen job was lost, and watches the QuickBooks connection (a refresh
  before the refresh token would die unused, emails to ERP admins: workflow/system.py).
* Every QBO_CDC_INTERVAL_MINUTES (default 5) it queues a change data capture poll of the
  connected QuickBooks company (jobs/quickbooks_changes.py).
* RQ calls no job callback when the work horse dies (out of memory, SIGKILL); this worker
  hears of it and queues the export again (jobs.exports.work_horse_died), and frees the
  notification emails the job had claimed and queues their mailing
  (jobs.notifications.job_died).
* A worker killed outright (``kill -9`` of all its processes) leaves RQ's scheduler lock
  behind for a minute: a new worker on the same host frees a lock whose holder's process is
  gone, so retries scheduled before the kill run on time. (The outbox, for its part, treats
  a started job whose worker process is gone as dead at once: jobs/outbox.py.)
* Redis going away does not stop its scheduler (``Scheduler``): RQ's ends at the first
  ConnectionError and was started again only by the next maintenance pass, so a retry due
  meanwhile ran up to 30 s late.
* Redis going away does not end the worker: RQ's loop quits on it, and this worker waits for
  Redis with a growing pause (1 s … RECONNECT_MAX_WAIT) and starts its loop again, under a new
  name, running the outbox first. Only a requested stop (SIGTERM, SIGINT) ends it.

Both run in the worker's main process, which forks every work horse: they close their
database connections afterwards, so no horse inherits one.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
import uuid
from contextlib import suppress

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker as RqWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.scheduler import RQScheduler

log = logging.getLogger(__name__)

OUTBOX_INTERVAL = 30  # seconds between outbox passes (and the longest idle wait on Redis)
RECONNECT_MAX_WAIT = 30.0  # the longest pause between two looks for a Redis that went away
SCHEDULER_MAX_WAIT = 4.0  # the scheduler's longest pause between two looks for Redis
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


def process_is_gone(hostname: str | None, pid: int | str | None) -> bool:
    """True only when the process ran on this host and no longer exists."""
    try:
        pid = int(pid or 0)
    except ValueError:
        return False
    if not pid or hostname != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    try:  # a zombie (dead, its parent killed too, not yet reaped) is gone as well
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def job_is_running(connection, job_ids) -> bool | None:
    """Is the RQ job (under any of ``job_ids``) still running: started, and its worker alive
    and beating its heart? None when Redis knows no such job."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from jobs.outbox import HEARTBEAT_GRACE, _as_utc, worker_is_gone
    from models.types import utcnow

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


def _in_app(what: str, action) -> None:
    """Run ``action`` with the app's database, then close every connection it opened."""
    from extensions import db
    from jobs.context import job_app_context

    try:
        with job_app_context():
            try:
                action()
            finally:
                db.session.remove()
                db.engine.dispose()
    except Exception:  # the worker itself must keep going
        log.exception("could not %s", what)


class Scheduler(RQScheduler):
    """RQ's scheduler (the worker's child process that queues retries when they fall due),
    riding out a Redis outage. RQ's own ends its process at the first ConnectionError, and the
    worker starts another only at its next maintenance pass, up to 30 s later (RQ's worker
    itself waits for Redis inside its loop, so ``Worker.work`` never hears of the outage):
    every retry due meanwhile ran that late, and an export still "Exporting" 60 s after the
    soak's faults stopped was one whose retry was due just after a Redis restart. This one
    waits for Redis (1 s … SCHEDULER_MAX_WAIT) and goes on where it was."""

    def work(self):
        self._install_signal_handlers()
        born = False
        wait = 1.0
        while not self._stop_requested:
            try:
                if not born:
                    self.register_birth()
                    born = True
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()  # takes its locks again if they lapsed meanwhile
                self.enqueue_scheduled_jobs()
            except REDIS_DOWN as error:
                self.log.warning("Scheduler: Redis unreachable (%s); looking again in %.0f s",
                                 type(error).__name__, wait)
                time.sleep(wait)
                wait = min(wait * 2, SCHEDULER_MAX_WAIT)
                continue
            wait = 1.0
            time.sleep(self.interval)
        with suppress(*REDIS_DOWN):
            self.stop()


class Worker(RqWorker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", OUTBOX_INTERVAL)
        super().__init__(*args, **kwargs)
        self.maintenance_interval = min(self.maintenance_interval, OUTBOX_INTERVAL)

    @property
    def dequeue_timeout(self) -> int:
        # Wake at least every OUTBOX_INTERVAL, so the outbox runs while the worker idles.
        return max(1, min(super().dequeue_timeout, OUTBOX_INTERVAL))

    # ---- riding out a Redis outage ----------------------------------------------------------

    def work(self, burst: bool = False, **kwargs) -> bool:
        wait = 1.0
        while True:
            try:
                worked = super().work(burst, **kwargs)
            except REDIS_DOWN as error:
                if self._shutdown_requested_date is not None:
                    raise
                log.warning("Worker %s: Redis went away (%s)", self.name, error)
            else:
                if (burst or self._shutdown_requested_date is not None
                        or kwargs.get("max_jobs") or kwargs.get("max_idle_time")):
                    return worked
                log.warning("Worker %s: the work loop stopped unasked; starting it again",
                            self.name)
            wait = self._wait_for_redis(wait)
            self._start_again()

    def _wait_for_redis(self, wait: float) -> float:
        """Sleep and PING with a growing pause until Redis answers; the next first pause."""
        # Nothing runs while we wait: a stop signal may end the process at once.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        self._wait_for_horse()
        while True:
            try:
                self.connection.ping()
                log.warning("Redis answers again; the worker goes on")
                return 1.0
            except REDIS_DOWN as error:
                log.warning("Redis unreachable (%s); looking again in %.0f s",
                            type(error).__name__, wait)
            time.sleep(wait)
            wait = min(wait * 2, RECONNECT_MAX_WAIT)

    def _wait_for_horse(self) -> None:
        """A work horse left running when the loop broke finishes its job first."""
        if self._horse_pid:
            with suppress(ChildProcessError):
                os.waitpid(self._horse_pid, 0)
            self._horse_pid = 0

    def _start_again(self) -> None:
        # Our old registration may still look alive in Redis (its death could not be
        # written): a new name avoids "There exists an active worker named …".
        self.name = uuid.uuid4().hex
        old = self.scheduler
        if old is not None and old._process is not None and old._process.is_alive():
            old._process.terminate()  # it rode the outage out: stopped, it frees its lock
            old._process.join(10)  # for the scheduler the loop starts again below
        self.scheduler = None
        self.last_cleaned_at = None  # the outbox runs first thing
        self._stop_requested = False
        self._shutdown_requested_date = None

    # ---- a killed worker's leftovers -----------------------------------------------------------

    def _start_scheduler(self, burst: bool = False, logging_level: str | None = "INFO",
                         date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
                         log_format: str = DEFAULT_LOGGING_FORMAT) -> None:
        """RQ's ``_start_scheduler`` with our ``Scheduler``, after freeing the locks of dead
        schedulers."""
        self.free_dead_scheduler_locks()
        self.scheduler = Scheduler(
            self.queues, connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format, log_format=log_format, serializer=self.serializer)
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        else:
            self.scheduler.start()

    def free_dead_scheduler_locks(self) -> int:
        """Release each of our queues' scheduler locks held by a scheduler process of this
        host that no longer exists (it would block scheduling for a minute). How many."""
        from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
        from rq.scripts import release_lock

        freed = 0
        for name in self.queue_names():
            key = RQScheduler.get_locking_key(name)
            holder = self.connection.get(key)
            if not holder:
                continue
            holder = holder.decode() if isinstance(holder, bytes) else holder
            if self.scheduler is not None and holder == self.scheduler.name:
                continue
            data = {k.decode(): v.decode() for k, v in
                    self.connection.hgetall(SCHEDULER_KEY_TEMPLATE % holder).items()}
            if (process_is_gone(data.get("hostname"), data.get("pid"))
                    and release_lock(self.connection, key, holder)):
                log.warning("freed the scheduler lock of %s left by a dead scheduler (pid %s)",
                            name, data.get("pid"))
                freed += 1
        return freed

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        from jobs.notifications import job_died

        # Any job may mail (mail_due, and the jobs that record a notice then mail it): the
        # emails it had claimed are owed still, and are mailed now.
        _in_app(f"release the email claims of job {job.id}", lambda: job_died(job.id))
        if not job.func_name.endswith(("run_export", "export_commitment")):
            return
        from jobs.exports import work_horse_died

        _in_app(f"record the end of job {job.id}", lambda: work_horse_died(job.args[0], job.id))

    def run_maintenance_tasks(self):
        if self.scheduler is not None and not (self.scheduler._process
                                               and self.scheduler._process.is_alive()):
            self.free_dead_scheduler_locks()  # RQ takes the lock again just below
        super().run_maintenance_tasks()  # RQ's registry clean-up (on_failure callbacks)
        from jobs.change_orders import reopen_stalled
        from jobs.outbox import requeue_stalled_exports

        _in_app("run the exports outbox", requeue_stalled_exports)
        _in_app("reopen rejected change orders", reopen_stalled)
        from jobs.notifications import queue_due

        _in_app("queue due notification emails", queue_due)
        from jobs.quickbooks_changes import poll_if_due

        _in_app("poll QuickBooks for changes", poll_if_due)
        from workflow.system import watch_connection

        _in_app("watch the QuickBooks connection", watch_connection)
