"""A backup taken while the app serves and a real worker exports, restored on a fresh database
and instance folder with a fresh Redis (a new server): the export that was under way when the
backup was taken settles there, Synced with one PurchaseOrder."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import select

from app import create_app
from extensions import db
from models import Commitment, ErpPermission, ErpStatus
from tests import qbo_helpers
from tests.conftest import _test_config
from tests.qbo_helpers import DEMO_REALM, start_worker
from tests.redis_server import RedisServer
from tests.test_backup import _drop, _recreate
from workflow import erp

SCRATCH = f"test_restore_live_{os.getpid()}"  # this process's own (tests/test_backup.py)


def _when(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.1)


@pytest.fixture
def target_uri(app, tmp_path):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    yield _recreate(SCRATCH)
    _drop(SCRATCH)


def test_a_backup_taken_mid_export_restores_and_the_export_settles(
        app, client, people, factory, sandbox, sandbox_server, tmp_path, target_uri):
    old_redis, new_redis = RedisServer(tmp_path).start(), None
    workers = []
    try:
        app.config["REDIS_URL"] = old_redis.url
        app.extensions["changeorder.queue"] = None
        qbo_helpers.connect(people.company_admin)
        commitment = factory.commitment(people.project, vendor=factory.vendor(
            "Summit Concrete Co."), number="SC-3030", sov=("1000.00", "234.56"))
        qbo_helpers.map_for(commitment)
        erp.send_to_erp(people.project_admin, commitment)
        approver = factory.user(erp=ErpPermission.STANDARD, can_push=True)
        workers.append(start_worker(app, old_redis.url, tmp_path / "old-worker.log"))
        sandbox.set_api_delay(DEMO_REALM, 1.5)
        erp.accept(approver, commitment)
        _when(lambda: sandbox.in_flight(DEMO_REALM) >= 1, 30, "the export reached QuickBooks")
        assert client.get("/healthz").status_code == 200  # the app serves meanwhile
        archive = tmp_path / "live.tar.gz"
        result = app.test_cli_runner().invoke(args=["backup", str(archive)])
        assert result.exit_code == 0, result.output
        commitment_id = commitment.id
        # The old server dies: its worker and Redis with it.
        for worker in workers:
            worker.kill()
            worker.wait(timeout=10)
        old_redis.stop()
        sandbox.set_api_delay(DEMO_REALM, 0)

        new_redis = RedisServer(tmp_path).start()
        config = _test_config(target_uri, sandbox_server)
        del config["SECRET_KEY"], config["QBO_TOKEN_KEY"]
        config["REDIS_URL"] = new_redis.url
        fresh = tmp_path / "fresh-instance"
        target = create_app(config, instance_path=str(fresh))
        with target.app_context():
            result = target.test_cli_runner().invoke(args=["restore", str(archive)])
            db.session.remove()
            db.engine.dispose()
        assert result.exit_code == 0, result.output
        restored = create_app(config, instance_path=str(fresh))
        with restored.app_context():
            status = db.session.scalar(select(Commitment.erp_status).where(
                Commitment.id == commitment_id))
            assert status in (ErpStatus.EXPORTING, ErpStatus.SYNCED)
            restored.config["QBO_TOKEN_KEY"] = (fresh / "qbo_token_key").read_text()
            workers.append(start_worker(restored, new_redis.url, tmp_path / "new-worker.log"))

            def synced() -> bool:
                db.session.expire_all()
                return db.session.get(Commitment, commitment_id).erp_status == ErpStatus.SYNCED

            _when(synced, 60, "Synced on the restored installation")
            pos = list(sandbox.realm(DEMO_REALM).entities["PurchaseOrder"].values())
            assert len(pos) == 1
            assert db.session.get(Commitment, commitment_id).qbo_purchase_order_id == pos[0]["Id"]
            db.session.remove()
            db.engine.dispose()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
        old_redis.stop()
        if new_redis is not None:
            new_redis.stop()
