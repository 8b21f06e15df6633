"""Change data capture and webhooks, as Intuit documents them: the CDC answer (30 days back,
at most 1,000 objects, removed objects as ``status: "Deleted"``) with edits made "in
QuickBooks" through the hooks, and signed webhook deliveries in the CloudEvents and the older
``eventNotifications`` shapes. CDC through python-quickbooks' own ``change_data_capture``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import UnsupportedException
from quickbooks.objects.purchaseorder import PurchaseOrder

from qbo_sandbox import DEMO_REALM_ID

R = DEMO_REALM_ID
PO_BODY = {"VendorRef": {"value": "56"}, "Line": [
    {"Amount": 100, "DetailType": "AccountBasedExpenseLineDetail",
     "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "81"}}}]}


def _since(sandbox, seconds_ago: float) -> str:
    return datetime.fromtimestamp(sandbox.now() - seconds_ago, UTC).isoformat(
        timespec="seconds")


def _cdc(qb, since: str) -> list[dict]:
    answer = qb.change_data_capture("PurchaseOrder", since)
    block = answer["CDCResponse"][0]["QueryResponse"][0]
    return block.get("PurchaseOrder", [])


def test_an_edit_made_in_quickbooks_shows_up_in_cdc(qbo_client, qbo_po, qbo_sandbox,
                                                    qbo_clock):
    # https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture
    first = qbo_po.purchase_order(doc_number="SC-1").save(qb=qbo_client)
    other = qbo_po.purchase_order(doc_number="SC-2").save(qb=qbo_client)
    qbo_clock.advance(600)
    since = _since(qbo_sandbox, 60)
    assert _cdc(qbo_client, since) == []  # nothing changed in the last minute
    qbo_sandbox.edit_purchase_order(R, first.Id, lines={"1": {"Amount": 1750}})
    result = change_data_capture([PurchaseOrder], since, qb=qbo_client)
    changed = result.PurchaseOrder._object_list
    assert [po.Id for po in changed] == [first.Id]
    assert changed[0].SyncToken == "1" and changed[0].Line[0].Amount == 1750
    assert changed[0].TotalAmt == 2000.5
    assert other.Id not in [po.Id for po in changed]


def test_a_deleted_purchase_order_comes_back_with_status_deleted(qbo_client, qbo_po,
                                                                qbo_sandbox, qbo_clock):
    kept = qbo_po.purchase_order(doc_number="SC-1").save(qb=qbo_client)
    gone = qbo_po.purchase_order(doc_number="SC-2").save(qb=qbo_client)
    qbo_clock.advance(600)
    since = _since(qbo_sandbox, 60)
    qbo_sandbox.delete_purchase_order(R, gone.Id)
    assert _cdc(qbo_client, since) == [{
        "domain": "QBO", "status": "Deleted", "Id": gone.Id,
        "MetaData": {"LastUpdatedTime": qbo_sandbox.timestamp(millis=False)}}]
    qbo_client.delete_object("PurchaseOrder", json.dumps({"Id": kept.Id, "SyncToken": "0"}))
    assert {po["Id"] for po in _cdc(qbo_client, since)} == {kept.Id, gone.Id}


def test_changes_older_than_30_days_are_refused(qbo_client, qbo_sandbox):
    assert _cdc(qbo_client, _since(qbo_sandbox, 30 * 86400 - 5)) == []
    too_old = _since(qbo_sandbox, 30 * 86400 + 60)
    with pytest.raises(UnsupportedException) as info:
        _cdc(qbo_client, too_old)
    assert info.value.detail == (f"Operation cdc with changedSince date {too_old} which is "
                                 "older than fixed days is not supported.")


def test_at_most_1000_objects_the_newest_oldest_first(qbo_client, qbo_sandbox, qbo_clock):
    """More changed than one answer holds: Intuit does not say which 1,000 come; the sandbox
    answers the newest (in order), so a client must not take a full answer for all."""
    since = _since(qbo_sandbox, 1)
    created = []
    for _ in range(3):  # 1,200 POs changed over three moments
        created += qbo_sandbox.add_purchase_orders(R, [PO_BODY] * 400)
        qbo_clock.advance(5)
    first = _cdc(qbo_client, since)
    assert len(first) == 1000
    assert [po["Id"] for po in first] == [po["Id"] for po in created[200:]]
    assert qbo_sandbox.counters()["requests"] == 1


# ----------------------------------------------------------------------------- webhooks


class _Receiver:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[bytes, str | None]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, self.headers.get("intuit-signature")))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/erp/webhooks/quickbooks"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    made = _Receiver()
    yield made
    made.close()


def _signed(body: bytes, token: str) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def test_cloudevents_delivery_is_signed_with_the_verifier_token(qbo_client, qbo_po,
                                                                qbo_sandbox, receiver):
    # CloudEvents payload and intuit-signature: https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks/managing-webhooks-notifications
    qbo_sandbox.configure_webhooks(receiver.url, "verifier-123")
    po = qbo_po.purchase_order().save(qb=qbo_client)
    qbo_sandbox.edit_purchase_order(R, po.Id, memo="freight added")
    qbo_sandbox.deliver_webhooks()
    [(body, signature)] = receiver.received
    assert signature == _signed(body, "verifier-123")
    events = json.loads(body)
    assert [(e["type"], e["intuitentityid"], e["intuitaccountid"], e["specversion"])
            for e in events] == [("qbo.purchaseorder.created.v1", po.Id, R, "1.0"),
                                 ("qbo.purchaseorder.updated.v1", po.Id, R, "1.0")]
    assert qbo_sandbox.pending_webhook_events() == []


def test_legacy_event_notifications_and_retry_until_a_200(qbo_client, qbo_po, qbo_sandbox,
                                                          receiver):
    qbo_sandbox.configure_webhooks(receiver.url, "tok", fmt="legacy")
    po = qbo_po.purchase_order().save(qb=qbo_client)
    qbo_sandbox.delete_purchase_order(R, po.Id)
    receiver.status = 503
    assert qbo_sandbox.deliver_webhooks()[0]["status"] == 503
    assert len(qbo_sandbox.pending_webhook_events()) == 2  # kept for the retry
    receiver.status = 200
    qbo_sandbox.deliver_webhooks()
    body, signature = receiver.received[-1]
    assert signature == _signed(body, "tok")
    [notification] = json.loads(body)["eventNotifications"]
    assert notification["realmId"] == R
    assert [(e["name"], e["id"], e["operation"])
            for e in notification["dataChangeEvent"]["entities"]] == [
        ("PurchaseOrder", po.Id, "Create"), ("PurchaseOrder", po.Id, "Delete")]
    assert qbo_sandbox.pending_webhook_events() == []


def test_immediate_delivery_follows_each_change(qbo_client, qbo_po, qbo_sandbox, receiver):
    qbo_sandbox.configure_webhooks(receiver.url, "tok", deliver="immediate")
    qbo_po.purchase_order().save(qb=qbo_client)
    deadline = datetime.now() + timedelta(seconds=5)
    while not receiver.received and datetime.now() < deadline:
        threading.Event().wait(0.02)
    assert len(receiver.received) == 1
