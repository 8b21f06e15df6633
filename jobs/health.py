"""Is this installation able to do its work? The checks behind ``GET /readyz``.

Each check is one cheap statement or Redis command, so an uptime monitor may poll every 10 s.
Answers name what failed and why in a word (the exception's class), never a URL, a password or
a stack trace: ``/readyz`` answers without a login.

* database: one ``SELECT 1``.
* migrations: the database's Alembic revision is the code's head (read once per process).
* redis: a PING, when REDIS_URL is set (inline jobs need none).
* worker: when jobs wait (an export queued or running in the database, or a job in the queue),
  some worker of this queue beat its heart less than ``HEARTBEAT_MAX_AGE`` ago.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import exists, select, text

from extensions import db
from jobs.queue import get_queue, is_inline

log = logging.getLogger(__name__)

HEARTBEAT_MAX_AGE = timedelta(seconds=60)
HEAD_KEY = "changeorder.migration_head"
PROBE_KEY = "changeorder.health_redis"


def migration_head() -> str | None:
    """The newest revision in migrations/versions (read from the scripts once per process)."""
    app = current_app._get_current_object()
    if HEAD_KEY not in app.extensions:
        import os

        from alembic.config import Config
        from alembic.script import ScriptDirectory

        directory = os.path.join(app.root_path, "migrations")
        alembic_config = Config(os.path.join(directory, "alembic.ini"))
        alembic_config.set_main_option("script_location", directory)
        app.extensions[HEAD_KEY] = ScriptDirectory.from_config(alembic_config).get_current_head()
    return app.extensions[HEAD_KEY]


def database_revision() -> str | None:
    """The database's Alembic revision; None when it was never migrated."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):  # no such table
        db.session.rollback()
        return None


def _probe_redis():
    """A connection of its own with short timeouts: a hung Redis fails the check in ~2 s."""
    from redis import Redis

    app = current_app._get_current_object()
    url = app.config.get("REDIS_URL")
    connection, for_url = app.extensions.get(PROBE_KEY) or (None, None)
    if connection is None or for_url != url:
        connection = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        app.extensions[PROBE_KEY] = (connection, url)
    return connection


def _failed(error: Exception) -> dict:
    return {"ok": False, "detail": f"unreachable ({type(error).__name__})"}


def workers(connection=None) -> list[dict]:
    """This queue's registered workers, youngest heartbeat first: name, state, heartbeat."""
    from rq import Worker

    queue = get_queue()
    if connection is not None:
        queue = type(queue)(queue.name, connection=connection)
    found = []
    for worker in Worker.all(queue=queue):
        beat = worker.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        state = worker.get_state()
        found.append({"name": worker.name, "state": str(getattr(state, "value", state)),
                      "last_heartbeat": beat, "pid": worker.pid, "hostname": worker.hostname})
    return sorted(found, key=lambda w: w["last_heartbeat"] or datetime.min.replace(tzinfo=UTC),
                  reverse=True)


def _exports_waiting() -> bool:
    from models import Export, ExportStatus

    return bool(db.session.scalar(select(exists().where(
        Export.status.in_((ExportStatus.QUEUED, ExportStatus.RUNNING))))))


def readiness() -> tuple[bool, dict]:
    """(ready?, the checks by name). Never raises."""
    checks: dict[str, dict] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as error:
        db.session.rollback()
        checks["database"] = _failed(error)
    if checks["database"]["ok"]:
        try:
            have, head = database_revision(), migration_head()
            behind = (f"database at {have or 'nothing'}, code at {head}: "
                      "run flask db upgrade")
            checks["migrations"] = ({"ok": True, "detail": "at head"} if have == head
                                    else {"ok": False, "detail": behind})
        except Exception as error:
            db.session.rollback()
            checks["migrations"] = {"ok": False, "detail": f"unreadable ({type(error).__name__})"}
    else:
        checks["migrations"] = {"ok": False, "detail": "database unreachable"}

    if not current_app.config.get("REDIS_URL") or is_inline():
        checks["redis"] = {"ok": True, "detail": "not configured: jobs run in the web process"}
        checks["worker"] = {"ok": True, "detail": "not needed: jobs run in the web process"}
    else:
        checks["redis"], checks["worker"] = _queue_checks(checks["database"]["ok"])
    db.session.rollback()  # end the read transaction: a pooled connection holds no snapshot
    return all(check["ok"] for check in checks.values()), checks


def _queue_checks(database_ok: bool) -> tuple[dict, dict]:
    redis = _probe_redis()
    try:
        redis.ping()
    except Exception as error:
        return _failed(error), {"ok": False, "detail": "unknown: Redis unreachable"}
    try:
        queued = len(type(get_queue())(get_queue().name, connection=redis))
        waiting = queued > 0 or (database_ok and _exports_waiting())
        found = workers(redis)
    except Exception as error:
        db.session.rollback()
        return {"ok": True}, _failed(error)
    now = datetime.now(UTC)
    live = [w for w in found if w["last_heartbeat"] and now - w["last_heartbeat"]
            < HEARTBEAT_MAX_AGE]
    if live:
        age = int((now - live[0]["last_heartbeat"]).total_seconds())
        return {"ok": True}, {"ok": True, "detail": f"{len(live)} alive, last heartbeat {age} s "
                                                    "ago"}
    if waiting:
        return {"ok": True}, {"ok": False, "detail": "jobs are waiting and no worker beat its "
                                                     "heart in the last minute"}
    return {"ok": True}, {"ok": True, "detail": "no worker alive, but nothing is waiting"}


def queue_overview() -> dict:
    """For the System page: the workers and the jobs queued, running, scheduled and failed
    (``inline`` when jobs run in the web process; ``error`` when Redis did not answer)."""
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    if not current_app.config.get("REDIS_URL") or is_inline():
        return {"inline": True}
    try:
        redis = _probe_redis()
        queue = type(get_queue())(get_queue().name, connection=redis)
        now = datetime.now(UTC)
        found = workers(redis)
        for worker in found:
            beat = worker["last_heartbeat"]
            worker["age"] = int((now - beat).total_seconds()) if beat else None
            worker["alive"] = beat is not None and now - beat < HEARTBEAT_MAX_AGE
        return {"inline": False, "workers": found, "queued": len(queue),
                "running": len(StartedJobRegistry(queue=queue)),
                "scheduled": len(ScheduledJobRegistry(queue=queue)),
                "failed": len(FailedJobRegistry(queue=queue))}
    except Exception as error:
        return {"inline": False, "error": f"Redis did not answer ({type(error).__name__})"}


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("changeorder-desk")
    except PackageNotFoundError:
        import tomllib
        from pathlib import Path

        pyproject = Path(current_app.root_path) / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"]
