"""Seeing QuickBooks: change data capture of linked PurchaseOrders, drift line by line on the
commitment page and the approver's card, acknowledge / restore ours, signed webhooks. Through
the real python-quickbooks / intuit-oauth clients against the sandbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import select

from extensions import db
from models import Commitment, ErpStatus, HistoryEvent, QboConnection
from models.types import utcnow
from qbo_sandbox import DEMO_REALM_ID
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import run_jobs
from workflow import erp, qbo_drift

R = DEMO_REALM_ID
VERIFIER = "verifier-token-for-tests"


def _text(response) -> str:
    return " ".join(unescape(response.get_data(as_text=True)).split())


def _erp(response) -> str:
    """The page's ERP panel alone (the history below it also names the changes)."""
    page = _text(response)
    start = page.index('id="erp"')
    return page[start:page.index("</section>", start)]


def _url(commitment, rest: str = "") -> str:
    return f"/projects/{commitment.project_id}/commitments/{commitment.id}{rest}"


@pytest.fixture
def synced(erp_commitment, people, approver):
    """SC-1042 in QuickBooks (two lines: $185,000.00 and $96,500.50), read once by CDC."""
    commitment = send_and_accept(erp_commitment, people, approver)
    assert commitment.erp_status == ErpStatus.SYNCED
    qbo_drift.poll()  # the first poll reads every PO
    return commitment


def _line_ids(sandbox, po_id: str) -> list[str]:
    return [line["Id"] for line in sandbox.get(R, "PurchaseOrder", po_id)["Line"]]


def _cdc_calls(sandbox, since: int) -> list[dict]:
    return [e for e in sandbox.request_log(R, since=since) if e["path"] == "cdc"]


def _seq(sandbox) -> int:
    return max([e["seq"] for e in sandbox.request_log(R)] or [0])


def test_an_edit_made_in_quickbooks_shows_line_by_line_within_one_poll(
        client, auth, people, synced, sandbox):
    po_id = synced.qbo_purchase_order_id
    _first, second = _line_ids(sandbox, po_id)
    sandbox.edit_purchase_order(R, po_id, lines={second: {"Amount": 97000}})
    sandbox.add_purchase_order_line(R, po_id, 350, description="Freight", account_id="81")
    auth.login(people.project_admin)
    page = _text(client.get(_url(synced)))
    assert "Changed in QuickBooks" not in page  # not read yet: no call on a page load
    seq = _seq(sandbox)
    result = qbo_drift.poll()
    assert result.calls == 1 and len(_cdc_calls(sandbox, seq)) == 1
    page = _text(client.get(_url(synced)))
    assert "In QuickBooks $282,350.00 · here $281,500.50" in page
    assert ("line 2 Pump truck and placement: ours $96,500.50, QuickBooks $97,000.00 "
            "(changed in QuickBooks on") in page or "ours $96,500.50, QuickBooks $97,000.00" in page
    assert "Freight $350.00 added in QuickBooks" in page
    assert "line 1" not in page.split("Changed in QuickBooks")[1].split("Freight")[0]
    assert sandbox.get(R, "PurchaseOrder", po_id)["SyncToken"] == "2"  # CDC wrote nothing


def test_renumbered_and_deleted_purchase_orders_are_said_so(client, auth, people, synced,
                                                            sandbox):
    po_id = synced.qbo_purchase_order_id
    sandbox.renumber_purchase_order(R, po_id, "SC-1042A")
    qbo_drift.poll()
    auth.login(people.project_admin)
    assert "renumbered SC-1042 → SC-1042A" in _text(client.get(_url(synced)))
    sandbox.delete_purchase_order(R, po_id)
    qbo_drift.poll()
    page = _text(client.get(_url(synced)))
    assert "In QuickBooks: deleted" in page and "deleted in QuickBooks on" in page


def test_acknowledge_keeps_quickbooks_version_and_is_recorded(client, auth, people, synced,
                                                              sandbox):
    po_id = synced.qbo_purchase_order_id
    sandbox.edit_purchase_order(R, po_id, lines={_line_ids(sandbox, po_id)[1]: {"Amount": 97000}})
    qbo_drift.poll()
    auth.login(people.project_admin)  # not an ERP admin: may see, not act
    assert "Acknowledge" not in _text(client.get(_url(synced)))
    assert client.post(_url(synced, "/erp/quickbooks-changes/acknowledge")).status_code == 403
    auth.logout()
    auth.login(people.company_admin)
    page = _text(client.get(_url(synced)))
    assert "Acknowledge (keep QuickBooks' version)" in page and "Restore ours" in page
    client.post(_url(synced, "/erp/quickbooks-changes/acknowledge"))
    page = _erp(client.get(_url(synced)))
    assert "ours $96,500.50, QuickBooks $97,000.00" not in page
    assert "QuickBooks' own changes to this PurchaseOrder were acknowledged" in page
    event = db.session.scalar(select(HistoryEvent).where(
        HistoryEvent.action == "QuickBooks changes acknowledged"))
    assert "QuickBooks $97,000.00" in event.comment and event.user_id == people.company_admin.id
    assert sandbox.get(R, "PurchaseOrder", po_id)["Line"][1]["Amount"] == 97000  # it stays
    listing = _text(client.get("/erp/quickbooks-changes"))
    assert "Cast-in-place concrete" not in listing
    assert "QuickBooks holds what we wrote for every linked PurchaseOrder" in listing


def test_restore_ours_goes_through_accept_and_puts_our_lines_back(client, auth, people,
                                                                  synced, sandbox, approver):
    po_id = synced.qbo_purchase_order_id
    _first, second = _line_ids(sandbox, po_id)
    sandbox.edit_purchase_order(R, po_id, lines={second: {"Amount": 97000}}, memo="bookkeeper")
    sandbox.add_purchase_order_line(R, po_id, 350, description="Freight", account_id="81")
    qbo_drift.poll()
    auth.login(people.company_admin)
    listing = _text(client.get("/erp/quickbooks-changes"))
    assert "SC-1042 Cast-in-place concrete" in listing and "Freight $350.00 added" in listing
    client.post(_url(synced, "/erp/quickbooks-changes/restore"))
    db.session.expire_all()
    commitment = db.session.get(Commitment, synced.id)
    assert commitment.erp_status == ErpStatus.READY_TO_EXPORT
    assert sandbox.get(R, "PurchaseOrder", po_id)["Line"][1]["Amount"] == 97000  # not yet
    erp.accept(approver, commitment)  # the normal Accept and export
    run_jobs()
    db.session.expire_all()
    commitment = db.session.get(Commitment, synced.id)
    assert commitment.erp_status == ErpStatus.SYNCED
    po = sandbox.get(R, "PurchaseOrder", po_id)
    assert [line["Amount"] for line in po["Line"]] == [185000, 96500.5, 350]
    assert po["Memo"] == "bookkeeper"  # the rest stays the bookkeeper's
    actions = list(db.session.scalars(select(HistoryEvent.action).where(
        HistoryEvent.subject_id == synced.id).order_by(HistoryEvent.id)))
    assert actions[-3:] == ["restore of our lines requested", "accepted", "exported"]
    qbo_drift.poll()
    page = _erp(client.get(_url(synced)))
    assert "ours $96,500.50, QuickBooks $97,000.00" not in page


def test_the_approvers_card_shows_the_changes(client, auth, people, synced, sandbox, approver,
                                              factory):
    _restore_requested(client, auth, people, synced, sandbox)
    auth.login(approver)
    card = _text(client.get(f"/erp/commitments/{synced.id}/card"))
    assert "ours $96,500.50, QuickBooks $97,000.00" in card


def test_a_poll_after_31_days_of_downtime_finds_every_change(synced, sandbox, client, auth,
                                                             people):
    po_id = synced.qbo_purchase_order_id
    connection = db.session.scalar(select(QboConnection))
    connection.cdc_changed_since = utcnow() - timedelta(days=31)
    db.session.commit()
    sandbox.edit_purchase_order(R, po_id, lines={_line_ids(sandbox, po_id)[0]: {"Amount": 1}})
    seq = _seq(sandbox)
    result = qbo_drift.poll()
    assert result.full_read and result.changed == 1
    assert _cdc_calls(sandbox, seq) == []  # CDC would refuse a changedSince 31 days back
    auth.login(people.project_admin)
    assert "ours $185,000.00, QuickBooks $1.00" in _text(client.get(_url(synced)))
    # and the next poll is a CDC read again
    seq = _seq(sandbox)
    assert qbo_drift.poll().calls == 1 and len(_cdc_calls(sandbox, seq)) == 1


def test_one_call_per_poll_with_2000_purchase_orders(synced, sandbox):
    body = {"VendorRef": {"value": "56"}, "Line": [
        {"Amount": 100, "DetailType": "AccountBasedExpenseLineDetail",
         "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "81"}}}]}
    created = sandbox.add_purchase_orders(R, [body] * 2000)
    # the company's POs were made long ago; a few change now
    sandbox.advance_time(1800)
    connection = db.session.scalar(select(QboConnection))
    connection.cdc_changed_since = utcnow() + timedelta(minutes=20)
    db.session.commit()
    for po in created[:25]:
        sandbox.edit_purchase_order(R, po["Id"], memo="seen")
    sandbox.edit_purchase_order(R, synced.qbo_purchase_order_id,
                                lines={_line_ids(sandbox, synced.qbo_purchase_order_id)[0]:
                                       {"Amount": 2}})
    seq = _seq(sandbox)
    result = qbo_drift.poll(now=utcnow() + timedelta(minutes=25))
    assert result.calls == 1 and len(sandbox.request_log(R, since=seq)) == 1
    assert result.changed == 1 and result.differing == 1


def test_a_full_cdc_answer_is_followed_by_a_full_read_that_finds_what_it_left_out(
        synced, sandbox):
    """More than 1,000 POs changed since the last poll. Intuit does not say which 1,000 an
    answer holds (the sandbox answers the newest): the bookkeeper's edit made before the
    1,200 new POs is not in it, and the full read that follows finds it."""
    body = {"VendorRef": {"value": "56"}, "Line": [
        {"Amount": 100, "DetailType": "AccountBasedExpenseLineDetail",
         "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "81"}}}]}
    connection = db.session.scalar(select(QboConnection))
    connection.cdc_changed_since = utcnow() - timedelta(minutes=5)
    db.session.commit()
    sandbox.edit_purchase_order(R, synced.qbo_purchase_order_id,
                                lines={_line_ids(sandbox, synced.qbo_purchase_order_id)[0]:
                                       {"Amount": 3}})
    sandbox.advance_time(2)
    sandbox.add_purchase_orders(R, [body] * 1200)
    seq = _seq(sandbox)
    result = qbo_drift.poll()
    assert len(_cdc_calls(sandbox, seq)) == 1 and result.full_read
    assert result.calls == 1 + 2  # the CDC answer, then every PO in pages of 1,000
    assert result.differing == 1  # the edit the full answer left out was found


# ---------------------------------------------------------------------------- webhooks


def _sign(body: bytes, token: str = VERIFIER) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def hooked(app, synced, sandbox):
    app.config["QBO_WEBHOOK_VERIFIER_TOKEN"] = VERIFIER
    po_id = synced.qbo_purchase_order_id
    sandbox.edit_purchase_order(R, po_id, lines={_line_ids(sandbox, po_id)[1]: {"Amount": 97000}})
    return synced


def _cloudevent(po_id: str) -> bytes:
    return json.dumps([{"specversion": "1.0", "id": "e-1", "source": "intuit.x",
                        "type": "qbo.purchaseorder.updated.v1", "time": "2026-12-06T01:00:00Z",
                        "intuitentityid": po_id, "intuitaccountid": R, "data": {}}]).encode()


def _state(commitment) -> str | None:
    db.session.expire_all()
    return qbo_drift.drift_of(db.session.get(Commitment, commitment.id)).state.sync_token


def test_a_signed_webhook_triggers_the_read(client, hooked, sandbox):
    body = _cloudevent(hooked.qbo_purchase_order_id)
    seq = _seq(sandbox)
    answer = client.post("/erp/webhooks/quickbooks", data=body,
                         headers={"intuit-signature": _sign(body),
                                  "Content-Type": "application/json"})
    assert answer.status_code == 200
    run_jobs()  # inline the read ran within the request; with Redis a worker runs it
    assert len(_cdc_calls(sandbox, seq)) == 1 and _state(hooked) == "1"
    assert qbo_drift.drift_of(hooked).differs


def test_a_burst_of_webhooks_queues_one_read(app, client, hooked, sandbox):
    """Intuit sends a webhook per change, and again when an answer was slow: five deliveries
    before the worker gets to them cost one CDC call, not five of the 500 a minute exports
    share. A delivery after that read started queues the next one."""
    from jobs.queue import get_queue
    from tests.qbo_helpers import use_redis

    use_redis(app)
    get_queue().empty()
    body = _cloudevent(hooked.qbo_purchase_order_id)
    for _ in range(5):
        answer = client.post("/erp/webhooks/quickbooks", data=body,
                             headers={"intuit-signature": _sign(body),
                                      "Content-Type": "application/json"})
        assert answer.status_code == 200
    assert get_queue().count == 1
    seq = _seq(sandbox)
    run_jobs()
    assert len(_cdc_calls(sandbox, seq)) == 1 and qbo_drift.drift_of(hooked).differs
    client.post("/erp/webhooks/quickbooks", data=body,
                headers={"intuit-signature": _sign(body), "Content-Type": "application/json"})
    assert get_queue().count == 1  # the next change: the next read


def test_the_older_event_notifications_shape_is_accepted(client, hooked, sandbox):
    body = json.dumps({"eventNotifications": [{"realmId": R, "dataChangeEvent": {"entities": [
        {"name": "PurchaseOrder", "id": hooked.qbo_purchase_order_id, "operation": "Update",
         "lastUpdated": "2026-12-06T01:00:00-0700"}]}}]}).encode()
    answer = client.post("/erp/webhooks/quickbooks", data=body,
                         headers={"intuit-signature": _sign(body)})
    assert answer.status_code == 200
    run_jobs()  # with Redis the read waits for a worker
    assert _state(hooked) == "1"


@pytest.mark.parametrize("kind", ["unsigned", "wrong", "stale", "other-token"])
def test_unsigned_wrong_or_stale_signatures_change_nothing(client, hooked, sandbox, kind,
                                                           caplog):
    body = _cloudevent(hooked.qbo_purchase_order_id)
    earlier = _cloudevent("1")  # a delivery seen before; its signature replayed on this body
    headers = {"unsigned": {},
               "wrong": {"intuit-signature": "bm90IGEgc2lnbmF0dXJl"},
               "stale": {"intuit-signature": _sign(earlier)},
               "other-token": {"intuit-signature": _sign(body, "someone-else")}}[kind]
    seq = _seq(sandbox)
    answer = client.post("/erp/webhooks/quickbooks", data=body, headers=headers)
    assert answer.status_code == 401
    run_jobs()  # with Redis a queued read would run here: none was queued
    assert sandbox.request_log(R, since=seq) == [] and _state(hooked) == "0"
    assert "QuickBooks webhook refused" in caplog.text


def test_cdc_poll_is_scheduled_by_the_setting(app, synced, sandbox):
    from jobs.quickbooks_changes import poll_if_due

    assert poll_if_due() is False  # the tests' settings turn the poll off (0 minutes)
    app.config["QBO_CDC_INTERVAL_MINUTES"] = 5  # the default (config.py)
    assert poll_if_due() is False  # polled a moment ago (the fixture)
    connection = db.session.scalar(select(QboConnection))
    connection.cdc_polled_at = utcnow() - timedelta(minutes=6)
    db.session.commit()
    seq = _seq(sandbox)
    assert poll_if_due() is True  # the default interval is 5 minutes: the poll is queued
    run_jobs()  # inline it ran already; with Redis a worker runs it
    assert len(_cdc_calls(sandbox, seq)) == 1
    app.config["QBO_CDC_INTERVAL_MINUTES"] = 10
    connection = db.session.scalar(select(QboConnection))
    connection.cdc_polled_at = utcnow() - timedelta(minutes=6)
    db.session.commit()
    assert poll_if_due() is False
    _ = Decimal  # money in the assertions above is read as text


def test_the_sandbox_delivers_a_signed_webhook_that_the_app_reads(app, hooked, sandbox):
    """The whole loop offline: an edit in QuickBooks, Intuit's signed delivery (CloudEvents)
    to the running app, the app's CDC read through the real client."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/erp/webhooks/quickbooks"
        sandbox.configure_webhooks(url, VERIFIER)
        sandbox.edit_purchase_order(R, hooked.qbo_purchase_order_id, memo="freight to follow")
        [attempt] = sandbox.deliver_webhooks()
        assert attempt["status"] == 200 and attempt["seconds"] < 3
        run_jobs()  # inline the read ran within the delivery; with Redis a worker runs it
        assert _state(hooked) == "2"  # both edits read
        sandbox.configure_webhooks(url, "a token the app does not know")
        sandbox.edit_purchase_order(R, hooked.qbo_purchase_order_id, memo="again")
        assert sandbox.deliver_webhooks()[0]["status"] == 401
        run_jobs()  # nothing was queued: nothing is read
        assert _state(hooked) == "2"
    finally:
        server.shutdown()
        thread.join(5)


def _restore_requested(client, auth, people, synced, sandbox):
    po_id = synced.qbo_purchase_order_id
    sandbox.edit_purchase_order(R, po_id, lines={_line_ids(sandbox, po_id)[1]: {"Amount": 97000}})
    qbo_drift.poll()
    auth.login(people.company_admin)
    client.post(_url(synced, "/erp/quickbooks-changes/restore"))
    auth.logout()
    db.session.expire_all()
    commitment = db.session.get(Commitment, synced.id)
    assert commitment.erp_status == ErpStatus.READY_TO_EXPORT
    return commitment


@pytest.mark.parametrize("how", ["rejected", "retrieved"])
def test_a_restore_rejected_or_retrieved_leaves_the_commitment_synced_and_locked(
        client, auth, people, synced, sandbox, approver, how):
    """"Restore ours" put a Synced commitment in front of the approver. Rejecting it (or the
    project admin retrieving it) withdraws the request: the commitment stays Synced, its
    schedule of values locked (its PurchaseOrder holds its CCOs too), the difference still
    shown, nothing written to QuickBooks."""
    from workflow import commitments
    from workflow.errors import Locked

    commitment = _restore_requested(client, auth, people, synced, sandbox)
    po_before = sandbox.get(R, "PurchaseOrder", synced.qbo_purchase_order_id)
    if how == "rejected":
        erp.reject(approver, commitment, "The bookkeeper's 97,000 is right; ask them first.")
    else:
        erp.retrieve_from_erp(people.project_admin, commitment)
    db.session.expire_all()
    commitment = db.session.get(Commitment, synced.id)
    assert commitment.erp_status == ErpStatus.SYNCED
    assert not qbo_drift.restore_requested(commitment.id)
    line = commitment.sov_lines[0]
    with pytest.raises(Locked):
        commitments.update_sov_line(people.project_admin, line, commitments.SovInput(
            description=line.description, cost_code_id=line.cost_code_id,
            category_id=line.category_id, amount=Decimal("1.00")), line.version)
    db.session.rollback()
    event = db.session.scalars(select(HistoryEvent).where(
        HistoryEvent.subject_id == synced.id).order_by(HistoryEvent.id.desc())).first()
    assert event.action == f"restore of our lines {how}"
    assert qbo_drift.drift_of(commitment).differs  # still shown: the bookkeeper's 97,000
    assert sandbox.get(R, "PurchaseOrder", synced.qbo_purchase_order_id) == po_before


def test_a_restores_card_asks_for_the_amount_it_writes(client, auth, people, synced, sandbox,
                                                       approver, factory):
    """After CCO #001 (+$250.00) synced, Restore ours puts back the SOV and that CCO: the
    card's Accept and its confirmation say $281,750.50, not the original $281,500.50."""
    cco = factory.change_order(synced, status="approved",
                               lines=((synced.sov_lines[0], "250.00"),))
    assert send_and_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    _restore_requested(client, auth, people, synced, sandbox)
    auth.login(approver)
    import re

    card = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", _text(
        client.get(f"/erp/commitments/{synced.id}/card"))))
    assert "Accept $281,750.50" in card and "Export $281,750.50 to QuickBooks" in card
    erp.accept(approver, db.session.get(Commitment, synced.id))
    run_jobs()
    po = sandbox.get(R, "PurchaseOrder", synced.qbo_purchase_order_id)
    assert sum(Decimal(str(line["Amount"])) for line in po["Line"]) == Decimal("281750.50")
