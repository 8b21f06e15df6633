"""A PurchaseOrder's lock left behind by a job that no longer runs does not hold the next
export of that PurchaseOrder.

A job frees its lock when it ends; if Redis is restarting at that moment the release fails and
the lock would lapse only after LOCK_SECONDS (60 s). The soak saw the next export of that PO
wait on it for 24 s (jobs/locks.py ``export_lock``).
"""

from __future__ import annotations

from extensions import db
from models import Commitment, ErpStatus, Export
from tests.qbo_helpers import DEMO_REALM, run_jobs, use_redis
from workflow import erp, kinds


def test_a_lock_left_by_a_finished_job_does_not_hold_the_next_export(
        app, sandbox, people, approver, erp_commitment):
    from jobs.locks import LOCK_SECONDS, lock_key
    from jobs.queue import get_queue

    use_redis(app)
    app.config["EXPORT_RETRY_INTERVALS"] = [1, 1, 1]
    queue = get_queue()
    earlier = queue.enqueue("jobs.notifications.mail_due")  # a job that ran and ended...
    run_jobs()
    assert earlier.get_status(refresh=True) == "finished"
    # ...without freeing the PO lock it held (Redis was restarting when it tried).
    target = kinds.of(erp_commitment).target_key(erp_commitment)
    queue.connection.set(lock_key(target), earlier.id, ex=LOCK_SECONDS)

    erp.send_to_erp(people.project_admin, erp_commitment)
    export = erp.accept(approver, erp_commitment)
    run_jobs(timeout=120)

    db.session.expire_all()
    assert db.session.get(Commitment, erp_commitment.id).erp_status == ErpStatus.SYNCED
    export = db.session.get(Export, export.id)
    assert export.retries == 0 and export.last_error_code is None  # never "busy"
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1



def test_the_export_is_recorded_before_its_purchase_orders_lock_is_let_go(
        app, sandbox, people, approver, erp_commitment, monkeypatch):
    """The next export of the same PurchaseOrder (a CCO accepted a moment later) must start
    from what this one wrote: the lock is held until the Synced state is committed."""
    from jobs.locks import lock_key
    from jobs.queue import get_queue
    from workflow import exports

    use_redis(app)
    target = kinds.of(erp_commitment).target_key(erp_commitment)
    connection = get_queue().connection
    held_while_recorded = []
    record = exports.synced

    def recording(export, result):
        held_while_recorded.append(bool(connection.exists(lock_key(target))))
        record(export, result)

    monkeypatch.setattr(exports, "synced", recording)
    erp.send_to_erp(people.project_admin, erp_commitment)
    erp.accept(approver, erp_commitment)
    run_jobs(timeout=120)
    db.session.expire_all()
    assert db.session.get(Commitment, erp_commitment.id).erp_status == ErpStatus.SYNCED
    assert held_while_recorded == [True]
    assert not connection.exists(lock_key(target))  # and let go after
