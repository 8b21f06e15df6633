"""Recovery inside a minute, whatever dies: a real `rq worker` process (with its scheduler)
killed outright, or its Redis stopped under it, against the sandbox.

Outages are played on a Redis server of the test's own (tests/redis_server.py), never on the
shared one.
"""

from __future__ import annotations

import time
from datetime import UTC

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Commitment, ErpStatus, Export
from tests.erp_fixtures import ready_to_export
from tests.processes import kill_whole
from tests.qbo_helpers import DEMO_REALM
from workflow import erp

# The ``workers`` fixture starts real `rq worker` processes (which the automatic marking does
# not see in a fixture): they read the test's records over connections of their own.
pytestmark = [pytest.mark.own_database("a real rq worker process reads its records"),
              pytest.mark.process]


@pytest.fixture
def exporting(app, own_redis, sandbox, people, factory):
    return ready_to_export(people, factory)


def _when(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.1)


def _status(commitment_id: int) -> ErpStatus:
    db.session.expire_all()
    return db.session.get(Commitment, commitment_id).erp_status


def _purchase_orders(sandbox) -> int:
    return len(sandbox.realm(DEMO_REALM).entities["PurchaseOrder"])


def test_an_export_killed_with_its_whole_worker_settles_soon_after_a_new_worker_starts(
        app, exporting, workers, sandbox):
    commitment, approver = exporting
    sandbox.pause_api(DEMO_REALM)  # the export's first call waits inside QuickBooks
    erp.accept(approver, commitment)
    first = workers("first")
    _when(lambda: sandbox.in_flight(DEMO_REALM) >= 1, 30, "the export reached QuickBooks")
    kill_whole(first)
    sandbox.resume_api(DEMO_REALM)
    assert _status(commitment.id) == ErpStatus.EXPORTING

    started = time.monotonic()
    second = workers("second")
    _when(lambda: _status(commitment.id) == ErpStatus.SYNCED, 60,
          "Synced after the new worker started")
    took = time.monotonic() - started
    assert took < 30, f"{took:.0f} s: {second.log_path.read_text()[-1500:]}"
    assert _purchase_orders(sandbox) == 1


def test_a_retry_scheduled_before_the_worker_was_killed_runs_on_time_after_a_restart(
        app, exporting, workers, sandbox):
    commitment, approver = exporting
    app.config["EXPORT_RETRY_INTERVALS"] = [6, 6, 6]
    sandbox.inject_fault(DEMO_REALM, "429", count=1)  # the first call is throttled
    export = erp.accept(approver, commitment)
    first = workers("first")

    def retry_scheduled() -> bool:
        db.session.expire_all()
        return db.session.get(Export, export.id).retries >= 1

    _when(retry_scheduled, 30, "the throttled export was given a retry")
    due = db.session.get(Export, export.id).next_attempt_at.replace(tzinfo=UTC)
    time.sleep(1)  # the retry sits in RQ's scheduler, whose lock the first worker holds
    kill_whole(first)
    workers("second")
    _when(lambda: _status(commitment.id) == ErpStatus.SYNCED, 90, "Synced")
    from models.types import utcnow

    late = (utcnow().replace(tzinfo=UTC) - due).total_seconds()
    assert late < 15, f"the retry ran {late:.0f} s after its time"
    assert _purchase_orders(sandbox) == 1


def test_the_worker_rides_out_a_redis_outage_during_an_export_and_finishes_it(
        app, own_redis, exporting, workers, sandbox):
    """Redis stops while the export waits on QuickBooks and stays away for seconds: the
    worker process keeps running, reconnects when Redis is back (empty, as after a restart
    without persistence), and the export ends Synced with one PurchaseOrder."""
    commitment, approver = exporting
    worker = workers("worker")
    client = app.test_client()
    _when(lambda: "alive" in client.get("/readyz").get_json()["checks"]["worker"]["detail"],
          30, "the worker beat its heart")
    sandbox.set_api_delay(DEMO_REALM, 2.0)
    erp.accept(approver, commitment)
    _when(lambda: sandbox.in_flight(DEMO_REALM) >= 1, 30, "the export reached QuickBooks")
    own_redis.stop()
    time.sleep(6)
    assert worker.poll() is None, worker.log_path.read_text()[-2000:]
    own_redis.start()
    sandbox.set_api_delay(DEMO_REALM, 0)

    _when(lambda: _status(commitment.id) == ErpStatus.SYNCED, 60,
          "Synced after Redis came back")
    assert worker.poll() is None, worker.log_path.read_text()[-2000:]
    assert _purchase_orders(sandbox) == 1
    assert db.session.scalar(select(func.count(Export.id))) == 1
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("own_redis", ["persistent"], indirect=True)
def test_a_retry_due_just_after_a_redis_restart_runs_on_time(app, own_redis, exporting, workers,
                                                             sandbox):
    """Redis restarts (keeping its data) while a retry waits in RQ's scheduler: the scheduler
    rides out the outage and queues the retry at its time. (RQ's own scheduler process ended
    at the first ConnectionError and was started again only by the worker's next maintenance
    pass, up to 30 s later: the soak's export still Exporting 60 s after the faults.)"""
    commitment, approver = exporting
    app.config["EXPORT_RETRY_INTERVALS"] = [8, 8, 8]
    worker = workers("worker")
    client = app.test_client()
    _when(lambda: "alive" in client.get("/readyz").get_json()["checks"]["worker"]["detail"],
          30, "the worker beat its heart")
    sandbox.inject_fault(DEMO_REALM, "429", count=1)  # the first call is throttled
    export = erp.accept(approver, commitment)

    def retry_scheduled() -> bool:
        db.session.expire_all()
        return db.session.get(Export, export.id).retries >= 1

    _when(retry_scheduled, 30, "the throttled export was given a retry")
    due = db.session.get(Export, export.id).next_attempt_at.replace(tzinfo=UTC)
    own_redis.restart(pause=2)
    _when(lambda: _status(commitment.id) == ErpStatus.SYNCED, 90, "Synced")
    from models.types import utcnow

    late = (utcnow().replace(tzinfo=UTC) - due).total_seconds()
    assert late < 10, f"the retry ran {late:.0f} s after its time: " \
                      f"{worker.log_path.read_text()[-1500:]}"
    assert _purchase_orders(sandbox) == 1
    assert db.session.scalar(select(func.count(Export.id))) == 1
    assert worker.poll() is None
