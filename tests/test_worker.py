"""The export job in a real `rq worker` process against real Redis (as in production)."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import select

from extensions import db
from models import Commitment, ErpStatus, Export
from quickbooks_online.connection import get_connection
from tests import qbo_helpers
from tests.erp_fixtures import ready_to_export
from tests.qbo_helpers import DEMO_REALM, local_redis_url, start_worker
from workflow import erp


@pytest.fixture
def redis_url():
    return local_redis_url()


@pytest.fixture
def on_redis(app, redis_url):
    app.config["REDIS_URL"] = redis_url
    app.extensions["changeorder.queue"] = None
    return redis_url


def _wait_for(commitment_id: int, statuses: set[ErpStatus], seconds: float = 45) -> Commitment:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.expire_all()
        record = db.session.get(Commitment, commitment_id)
        if record.erp_status in statuses:
            return record
        time.sleep(0.2)
    raise AssertionError(f"still {record.erp_status.label} after {seconds} s")


@pytest.fixture
def exporting(app, on_redis, sandbox, people, factory):
    return ready_to_export(people, factory)


def test_a_worker_process_exports_and_retries_a_throttled_call(app, on_redis, exporting,
                                                               sandbox, tmp_path):
    commitment, approver = exporting
    sandbox.inject_fault(DEMO_REALM, "429", count=1)  # the first call is throttled
    export = erp.accept(approver, commitment)
    assert db.session.get(Commitment, commitment.id).erp_status == ErpStatus.EXPORTING
    log = tmp_path / "worker.log"
    worker = start_worker(app, on_redis, log)
    try:
        synced = _wait_for(commitment.id, {ErpStatus.SYNCED, ErpStatus.FAILED_TO_EXPORT})
    finally:
        worker.terminate()
        worker.wait(10)
    assert synced.erp_status == ErpStatus.SYNCED, log.read_text()[-2000:]
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1
    db.session.expire_all()
    export = db.session.get(Export, export.id)
    assert export.attempts == 2 and export.job_id  # one throttled try, one that worked
    assert f"[job {export.job_id}] export {export.id} synced" in log.read_text()


def test_a_worker_refreshes_an_expired_token_and_saves_the_rotation(app, on_redis, exporting,
                                                                    sandbox, tmp_path):
    commitment, approver = exporting
    before = get_connection().refresh_token_encrypted
    sandbox.expire_access_tokens(DEMO_REALM)
    erp.accept(approver, commitment)
    log = tmp_path / "worker.log"
    worker = start_worker(app, on_redis, log)
    try:
        synced = _wait_for(commitment.id, {ErpStatus.SYNCED, ErpStatus.FAILED_TO_EXPORT})
    finally:
        worker.terminate()
        worker.wait(10)
    assert synced.erp_status == ErpStatus.SYNCED, log.read_text()[-2000:]
    db.session.expire_all()
    assert get_connection().refresh_token_encrypted != before
    export = db.session.scalar(select(Export))
    assert export.status.value == "synced"
    # Every line the job logged carries its id, the QuickBooks glue's included.
    assert f"[job {export.job_id}] QuickBooks tokens refreshed" in log.read_text()


def test_an_export_over_its_time_limit_ends_failed_to_export(app, on_redis, exporting,
                                                             sandbox, client, auth, people):
    """RQ's job timeout strikes while QuickBooks holds the call: Failed to Export, a plain
    message, and Retry Export (not "Exporting" for ever)."""
    commitment, approver = exporting
    app.config["EXPORT_JOB_TIMEOUT"] = 2
    app.config["EXPORT_RETRY_INTERVALS"] = []
    sandbox.pause_api(DEMO_REALM)  # QuickBooks takes the call and does not answer
    try:
        erp.accept(approver, commitment)
        qbo_helpers.run_jobs(timeout=30)
    finally:
        sandbox.resume_api(DEMO_REALM)
    failed = _wait_for(commitment.id, {ErpStatus.FAILED_TO_EXPORT, ErpStatus.SYNCED}, 10)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    export = db.session.scalar(select(Export))
    assert export.last_error_message == ("The export stopped before it finished (it took "
                                         "longer than the job's time limit). Press Retry "
                                         "Export to try again.")
    auth.login(people.company_admin)
    inbox = client.get("/erp/?tab=failed_to_export").get_data(as_text=True)
    assert "Retry Export" in inbox and "time limit" in inbox


def _kill_the_horse_mid_export(app, on_redis, sandbox, approver, commitment, log):
    """Accept, wait until the work horse is inside its QuickBooks call, SIGKILL it. (The
    worker runs in a session of its own, so its horse is told from its scheduler by process
    group, however late the scheduler starts on a busy machine.)"""
    import signal

    from tests.processes import work_horses

    worker = start_worker(app, on_redis, log, new_session=True)
    time.sleep(1.5)  # the worker and its scheduler are up
    erp.accept(approver, commitment)
    deadline = time.monotonic() + 30
    while sandbox.in_flight(DEMO_REALM) < 1:  # the horse is inside its QuickBooks call
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.1)
    horses = work_horses(worker)  # the work horse forked for this job
    assert len(horses) == 1, horses
    os.kill(horses[0], signal.SIGKILL)
    return worker


def test_a_killed_work_horse_is_exported_again_and_synced_once(app, on_redis, exporting,
                                                               sandbox, tmp_path):
    """The process running the export dies (out of memory, SIGKILL): RQ calls no job
    callback; our worker class hears of it and queues the export again, which ends Synced
    with one PurchaseOrder."""
    commitment, approver = exporting
    sandbox.pause_api(DEMO_REALM)
    log = tmp_path / "worker.log"
    worker = _kill_the_horse_mid_export(app, on_redis, sandbox, approver, commitment, log)
    try:
        time.sleep(1)
        sandbox.resume_api(DEMO_REALM)
        synced = _wait_for(commitment.id, {ErpStatus.SYNCED, ErpStatus.FAILED_TO_EXPORT}, 30)
    finally:
        sandbox.resume_api(DEMO_REALM)
        worker.terminate()
        worker.wait(10)
    assert synced.erp_status == ErpStatus.SYNCED, log.read_text()[-2000:]
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


def test_a_work_horse_killed_with_no_retry_left_ends_failed_to_export(
        app, on_redis, exporting, sandbox, client, auth, people, tmp_path):
    commitment, approver = exporting
    app.config["EXPORT_RETRY_INTERVALS"] = []
    sandbox.pause_api(DEMO_REALM)
    log = tmp_path / "worker.log"
    worker = _kill_the_horse_mid_export(app, on_redis, sandbox, approver, commitment, log)
    try:
        auth.login(people.company_admin)
        deadline = time.monotonic() + 20
        while True:  # the worker records the export as failed
            page = client.get("/erp/?tab=failed_to_export").get_data(as_text=True)
            if "SC-2040" in page:
                break
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.3)
    finally:
        sandbox.resume_api(DEMO_REALM)
        worker.terminate()
        worker.wait(10)
    assert "The export job stopped without finishing" in page and "Retry Export" in page


def test_an_export_whose_job_is_gone_from_redis_is_queued_again_and_synced(
        app, on_redis, exporting, sandbox, tmp_path):
    """Redis lost the job (flushed, restarted without persistence): a worker's outbox pass,
    at its start, queues it again from the database, and it ends Synced."""
    from rq.job import Job

    from jobs.queue import get_queue

    commitment, approver = exporting
    export = erp.accept(approver, commitment)  # queued; no worker is running
    lost = export.job_id
    Job.fetch(lost, connection=get_queue().connection).delete()
    log = tmp_path / "worker.log"
    worker = start_worker(app, on_redis, log)
    try:
        synced = _wait_for(commitment.id, {ErpStatus.SYNCED, ErpStatus.FAILED_TO_EXPORT}, 30)
    finally:
        worker.terminate()
        worker.wait(10)
    assert synced.erp_status == ErpStatus.SYNCED, log.read_text()[-2000:]
    db.session.expire_all()
    assert db.session.scalar(select(Export)).job_id != lost
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


def test_a_queued_export_is_left_alone_by_the_maintenance(app, on_redis, exporting):
    from jobs.queue import get_queue
    from jobs.worker import Worker

    commitment, approver = exporting
    commitment_id = commitment.id
    erp.accept(approver, commitment)
    queue = get_queue()
    Worker([queue], connection=queue.connection).run_maintenance_tasks()
    db.session.expire_all()
    assert db.session.get(Commitment, commitment_id).erp_status == ErpStatus.EXPORTING


def test_an_export_job_stopped_by_an_operator_ends_failed_to_export(app, on_redis, exporting,
                                                                   sandbox, tmp_path):
    from rq.command import send_stop_job_command

    from jobs.queue import get_queue

    commitment, approver = exporting
    app.config["EXPORT_RETRY_INTERVALS"] = []
    sandbox.pause_api(DEMO_REALM)
    log = tmp_path / "worker.log"
    worker = start_worker(app, on_redis, log)
    try:
        export = erp.accept(approver, commitment)
        deadline = time.monotonic() + 30
        while sandbox.in_flight(DEMO_REALM) < 1:  # the job is inside its QuickBooks call
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        send_stop_job_command(get_queue().connection, export.job_id)
        failed = _wait_for(commitment.id, {ErpStatus.FAILED_TO_EXPORT}, seconds=20)
    finally:
        sandbox.resume_api(DEMO_REALM)
        worker.terminate()
        worker.wait(10)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT, log.read_text()[-2000:]
    db.session.expire_all()
    assert "was stopped before it finished" in db.session.scalar(
        select(Export)).last_error_message
