"""A Redis outage during an export is temporary: it never fails the export for good.

The export runs for real (a real RQ worker on Redis, python-quickbooks against the sandbox);
the QuickBooks rate slots live on a Redis server of the test's own, stopped and started under
the running export.
"""

from __future__ import annotations

import threading
import time

import pytest
from redis import Redis
from sqlalchemy import select

from extensions import db
from models import Commitment, ErpStatus, Export, ExportStatus
from tests.qbo_helpers import DEMO_REALM, run_jobs, use_redis
from tests.redis_server import RedisServer
from workflow import erp


@pytest.fixture
def slots_redis(app, tmp_path):
    """The app's queue on the local Redis; its QuickBooks slots on a Redis we may stop."""
    use_redis(app)
    server = RedisServer(tmp_path).start()
    app.extensions["changeorder.qbo_limits"] = (
        Redis.from_url(server.url, socket_connect_timeout=2, socket_timeout=5),
        app.config["REDIS_URL"])
    yield server
    server.stop()


def _purchase_orders(sandbox) -> list[dict]:
    return [po for po in sandbox.realm(DEMO_REALM).entities["PurchaseOrder"].values()]


def _calls(sandbox, path: str) -> list[dict]:
    return [e for e in sandbox.request_log(DEMO_REALM) if e["path"].startswith(path)]


def _when(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "it never happened"
        time.sleep(0.01)


def test_redis_going_away_while_the_purchase_order_is_created_still_syncs_it(
        slots_redis, erp_commitment, people, approver, sandbox):
    """Redis stops while QuickBooks creates the PO: freeing the rate slot fails afterwards.
    That must not replace QuickBooks' answer: the commitment is Synced with its PO's Id."""
    commitment = erp_commitment
    sandbox.set_api_delay(DEMO_REALM, 1.0)
    sandbox.clear_request_log()

    def outage():  # a first try creates directly: once a call is in flight, it is the create
        _when(lambda: sandbox.in_flight(DEMO_REALM) == 1)
        slots_redis.stop()

    chaos = threading.Thread(target=outage)
    chaos.start()
    erp.send_to_erp(people.project_admin, commitment)
    erp.accept(approver, commitment)
    run_jobs(timeout=30)
    chaos.join(timeout=30)
    assert _calls(sandbox, "purchaseorder"), "the create was never sent"
    assert slots_redis.process is None, "Redis was not stopped under the create"

    db.session.expire_all()
    record = db.session.get(Commitment, commitment.id)
    pos = _purchase_orders(sandbox)
    assert record.erp_status == ErpStatus.SYNCED
    assert len(pos) == 1 and record.qbo_purchase_order_id == pos[0]["Id"]


def test_redis_down_when_an_export_starts_is_retried_and_syncs_one_purchase_order(
        app, slots_redis, erp_commitment, people, approver, sandbox):
    """No rate slot can be taken: nothing is sent, the export waits for its next try (not
    "Failed to Export"), and once Redis is back it ends Synced with one PO."""
    commitment = erp_commitment
    slots_redis.stop()

    def put_off() -> bool:
        db.session.rollback()  # see what the worker committed since
        return bool(db.session.scalar(select(Export.retries).order_by(Export.id.desc())
                                      .limit(1)))

    def back_once_put_off():  # not on a timer: a loaded machine may take longer to get there
        try:
            with app.app_context():
                _when(put_off, seconds=30)
                db.session.remove()
        finally:
            slots_redis.start()

    threading.Thread(target=back_once_put_off).start()
    erp.send_to_erp(people.project_admin, commitment)
    erp.accept(approver, commitment)
    run_jobs(timeout=30)

    db.session.expire_all()
    record = db.session.get(Commitment, commitment.id)
    export = db.session.scalars(select(Export).order_by(Export.id.desc())).first()
    pos = _purchase_orders(sandbox)
    assert record.erp_status == ErpStatus.SYNCED, export.last_error_message
    assert export.status == ExportStatus.SYNCED and export.retries >= 1
    assert len(pos) == 1 and record.qbo_purchase_order_id == pos[0]["Id"]
