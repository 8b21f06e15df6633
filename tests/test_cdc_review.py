"""Review of "seeing what changed in QuickBooks": change data capture checkpoints, webhooks and
drift, probed for silent differences between QuickBooks and the app. Against the sandbox,
through the real python-quickbooks / intuit-oauth clients."""

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
from models import Commitment, ErpStatus, QboConnection, QboPurchaseOrderState
from models.types import utcnow
from qbo_sandbox import DEMO_REALM_ID
from tests import test_cco_export as cco_tests
from tests.erp_fixtures import send_and_accept
from tests.test_cco_export import _approved_cco, _fresh, _send_accept
from workflow import qbo_drift

R = DEMO_REALM_ID
VERIFIER = "verifier-token-for-review"
new_code = cco_tests.new_code


def _text(response) -> str:
    return " ".join(unescape(response.get_data(as_text=True)).split())


def _url(commitment) -> str:
    return f"/projects/{commitment.project_id}/commitments/{commitment.id}"


def _line_ids(sandbox, po_id: str) -> list[str]:
    return [line["Id"] for line in sandbox.get(R, "PurchaseOrder", po_id)["Line"]]


def _view(commitment_id: int):
    db.session.expire_all()
    return qbo_drift.drift_of(db.session.get(Commitment, commitment_id))


def _texts(commitment_id: int) -> list[str]:
    view = _view(commitment_id)
    return [change.text for change in view.changes] if view else []


@pytest.fixture
def exported(erp_commitment, people, approver):
    """SC-1042 in QuickBooks ($185,000.00 and $96,500.50), not yet read by CDC."""
    commitment = send_and_accept(erp_commitment, people, approver)
    assert commitment.erp_status == ErpStatus.SYNCED
    return commitment


# ---- the checkpoint -------------------------------------------------------------------------

def test_quickbooks_clock_behind_ours_does_not_lose_an_edit(exported, sandbox):
    """QuickBooks' clock runs 10 minutes behind the app's: an edit made after a poll is stamped
    with QuickBooks' time; the next poll must still find it."""
    sandbox.advance_time(-600)
    qbo_drift.poll()  # the first poll: every PO
    po_id = exported.qbo_purchase_order_id
    sandbox.edit_purchase_order(R, po_id, lines={_line_ids(sandbox, po_id)[1]: {"Amount": 97000}})
    qbo_drift.poll()
    assert any("QuickBooks $97,000.00" in text for text in _texts(exported.id))


def _po_body(amount: int = 100) -> dict:
    return {"VendorRef": {"value": "56"}, "Line": [
        {"Amount": amount, "DetailType": "AccountBasedExpenseLineDetail",
         "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "81"}}}]}


def test_a_poll_that_fails_half_way_keeps_its_checkpoint_and_misses_nothing(
        exported, sandbox, monkeypatch):
    """More changes than one answer holds; the second CDC call fails (a 500): nothing is
    recorded, the checkpoint stays, and the next poll finds the change after the first 1,000."""
    from quickbooks_online import cdc as cdc_module
    from quickbooks_online.errors import QboError

    qbo_drift.poll()
    connection = db.session.scalar(select(QboConnection))
    before = connection.cdc_changed_since
    sandbox.add_purchase_orders(R, [_po_body()] * 1100)
    sandbox.advance_time(2)
    po_id = exported.qbo_purchase_order_id
    sandbox.edit_purchase_order(R, po_id, lines={_line_ids(sandbox, po_id)[0]: {"Amount": 1}})
    real_call, calls = cdc_module.call, []

    def second_call_fails(operation):  # the real client; QuickBooks answers the 2nd with 500
        calls.append(operation)
        if len(calls) == 2:
            sandbox.inject_fault(R, "500")
        return real_call(operation)

    monkeypatch.setattr(cdc_module, "call", second_call_fails)
    with pytest.raises(QboError):
        qbo_drift.poll()
    monkeypatch.undo()
    db.session.rollback()
    connection = db.session.scalar(select(QboConnection))
    assert connection.cdc_changed_since == before  # the failed poll moved nothing
    assert _texts(exported.id) == []
    qbo_drift.poll()
    assert any("QuickBooks $1.00" in text for text in _texts(exported.id))


def test_a_checkpoint_older_than_30_days_reads_everything_and_sees_deletions(exported, sandbox):
    qbo_drift.poll()
    connection = db.session.scalar(select(QboConnection))
    connection.cdc_changed_since = utcnow() - timedelta(days=45)
    db.session.commit()
    sandbox.delete_purchase_order(R, exported.qbo_purchase_order_id)
    result = qbo_drift.poll()
    assert result.full_read
    view = _view(exported.id)
    assert view.state.deleted and _texts(exported.id)[0].startswith("deleted in QuickBooks")


def test_a_po_deleted_while_everything_is_read_page_by_page_does_not_make_another_look_deleted(
        erp_commitment, people, approver, sandbox, monkeypatch):
    """A full read (the last poll older than 30 days) pages through 1,000 POs at a time; a PO
    of the first page deleted meanwhile shifts the next page by one. A linked PO that the
    shift made the read skip is still in QuickBooks: it must not be shown as deleted."""
    from quickbooks_online import cdc as cdc_module

    others = sandbox.add_purchase_orders(R, [_po_body()] * 1000)
    exported = send_and_accept(erp_commitment, people, approver)  # PO number 1,001
    connection = db.session.scalar(select(QboConnection))
    connection.cdc_changed_since = utcnow() - timedelta(days=45)
    db.session.commit()
    real_call, calls = cdc_module.call, []

    def delete_after_first_page(operation):
        answer = real_call(operation)
        calls.append(operation)
        if len(calls) == 1:  # a bookkeeper deletes an old PO between the two pages
            sandbox.delete_purchase_order(R, others[0]["Id"])
        return answer

    monkeypatch.setattr(cdc_module, "call", delete_after_first_page)
    result = qbo_drift.poll()
    monkeypatch.undo()
    assert result.full_read
    view = _view(exported.id)
    assert view is None or not view.state.deleted
    assert _texts(exported.id) == []


# ---- drift line by line ---------------------------------------------------------------------

def test_a_memo_only_edit_is_no_money_difference(exported, sandbox, client, auth, people):
    qbo_drift.poll()
    sandbox.edit_purchase_order(R, exported.qbo_purchase_order_id, memo="deliver Tuesdays")
    qbo_drift.poll()
    view = _view(exported.id)
    assert view.state.sync_token == "1" and not view.differs
    auth.login(people.project_admin)
    page = _text(client.get(_url(exported)))
    assert "Changed in QuickBooks" not in page
    assert "In QuickBooks $281,500.50 · here $281,500.50" in page


def test_a_line_deleted_in_quickbooks_is_named(exported, sandbox):
    qbo_drift.poll()
    po_id = exported.qbo_purchase_order_id
    sandbox.edit_purchase_order(R, po_id, remove_line_ids=[_line_ids(sandbox, po_id)[1]])
    qbo_drift.poll()
    texts = _texts(exported.id)
    assert len(texts) == 1 and "ours $96,500.50, removed in QuickBooks" in texts[0]


# ---- drift after our own writes -------------------------------------------------------------

def test_a_cco_export_leaves_no_false_difference(exported, sandbox, factory, people, approver,
                                                 new_code, client, auth):
    qbo_drift.poll()
    record = _fresh(Commitment, exported.id)
    cco = _approved_cco(factory, record, changes=((record.sov_lines[0], "1000.00"),),
                        new=(("Winter protection", "250.00", *new_code),))
    auth.login(people.project_admin)
    page = _text(client.get(_url(record)))
    assert "CCO #001 not sent" in page  # approved, not yet in QuickBooks
    assert _send_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    assert _texts(exported.id) == []
    qbo_drift.poll()
    assert _texts(exported.id) == [] and not _view(exported.id).state.differs
    page = _text(client.get(_url(record)))
    assert "In QuickBooks $282,750.50 · here $282,750.50" in page
    assert "Changed in QuickBooks" not in page and "not sent" not in page


def test_a_bookkeepers_change_still_shows_after_a_cco_export(exported, sandbox, factory,
                                                             people, approver):
    """The bookkeeper changed line 2 in QuickBooks; a CCO on line 1 is exported afterwards (the
    update keeps the bookkeeper's amount on line 2). QuickBooks still differs from ours on
    line 2: the difference must not vanish because our write moved the SyncToken."""
    qbo_drift.poll()
    po_id = exported.qbo_purchase_order_id
    sandbox.edit_purchase_order(R, po_id, lines={_line_ids(sandbox, po_id)[1]: {"Amount": 97000}})
    qbo_drift.poll()
    assert any("QuickBooks $97,000.00" in t for t in _texts(exported.id))
    record = _fresh(Commitment, exported.id)
    cco = _approved_cco(factory, record, changes=((record.sov_lines[0], "1000.00"),))
    assert _send_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    po = sandbox.get(R, "PurchaseOrder", po_id)
    assert [line["Amount"] for line in po["Line"]] == [186000, 97000]  # exactly right
    texts = _texts(exported.id)
    assert any("ours $96,500.50, QuickBooks $97,000.00" in t for t in texts), texts
    assert not any("line 1" in t for t in texts), texts
    state = db.session.scalar(select(QboPurchaseOrderState))
    assert state.differs  # still on the ERP admins' list
    qbo_drift.poll()
    texts = _texts(exported.id)
    assert any("ours $96,500.50, QuickBooks $97,000.00" in t for t in texts), texts


def test_a_change_made_just_before_a_cco_export_is_not_hidden_by_it(
        exported, sandbox, factory, people, approver, new_code, client, auth):
    """The bookkeeper changed line 2 and no poll has run since: the CCO's export (a 5010, a
    read, the update) keeps the bookkeeper's amount, and drift says so, on the commitment page
    and in the ERP admins' list, now and after the next poll; the CCO's own lines are ours."""
    qbo_drift.poll()
    po_id = exported.qbo_purchase_order_id
    sandbox.edit_purchase_order(R, po_id, lines={_line_ids(sandbox, po_id)[1]: {"Amount": 97000}})
    record = _fresh(Commitment, exported.id)
    cco = _approved_cco(factory, record, changes=((record.sov_lines[0], "1000.00"),),
                        new=(("Winter protection", "250.00", *new_code),))
    assert _send_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    po = sandbox.get(R, "PurchaseOrder", po_id)
    assert [line["Amount"] for line in po["Line"]] == [186000, 97000, 250]
    for _ in range(2):
        texts = _texts(exported.id)
        assert len(texts) == 1 and "ours $96,500.50, QuickBooks $97,000.00" in texts[0], texts
        auth.login(people.company_admin)
        listing = _text(client.get("/erp/quickbooks-changes"))
        assert "ours $96,500.50, QuickBooks $97,000.00" in listing
        page = _text(client.get(_url(record)))
        assert "In QuickBooks $283,250.00 · here $282,750.50" in page
        assert "Restore ours" in page
        auth.logout()
        qbo_drift.poll()


def test_a_change_kept_by_a_cco_export_before_any_poll_shows_at_the_first_poll(
        exported, sandbox, factory, people, approver, new_code):
    po_id = exported.qbo_purchase_order_id  # never read by change data capture yet
    sandbox.edit_purchase_order(R, po_id, lines={_line_ids(sandbox, po_id)[1]: {"Amount": 97000}})
    record = _fresh(Commitment, exported.id)
    cco = _approved_cco(factory, record, changes=((record.sov_lines[0], "1000.00"),),
                        new=(("Winter protection", "250.00", *new_code),))
    assert _send_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    qbo_drift.poll()
    texts = _texts(exported.id)
    assert len(texts) == 1 and "ours $96,500.50, QuickBooks $97,000.00" in texts[0], texts


def test_restore_ours_after_a_cco_kept_a_bookkeepers_change(exported, sandbox, factory,
                                                             people, approver):
    from workflow import erp

    qbo_drift.poll()
    po_id = exported.qbo_purchase_order_id
    sandbox.edit_purchase_order(R, po_id, lines={_line_ids(sandbox, po_id)[1]: {"Amount": 97000}})
    for number, amount in (("first", "1000.00"), ("second", "500.00")):
        record = _fresh(Commitment, exported.id)
        cco = _approved_cco(factory, record, changes=((record.sov_lines[0], amount),),
                            title=number)
        assert _send_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
        texts = _texts(exported.id)
        assert len(texts) == 1 and "ours $96,500.50, QuickBooks $97,000.00" in texts[0], texts
    qbo_drift.restore_ours(people.company_admin, _fresh(Commitment, exported.id))
    erp.accept(approver, _fresh(Commitment, exported.id))
    from tests.qbo_helpers import run_jobs

    run_jobs()
    po = sandbox.get(R, "PurchaseOrder", po_id)
    assert [line["Amount"] for line in po["Line"]] == [186500, 96500.5]
    assert _texts(exported.id) == []
    qbo_drift.poll()
    assert _texts(exported.id) == [] and not _view(exported.id).state.differs


def test_a_memo_edit_before_a_cco_export_leaves_no_difference(exported, sandbox, factory,
                                                              people, approver):
    qbo_drift.poll()
    sandbox.edit_purchase_order(R, exported.qbo_purchase_order_id, memo="site office first")
    record = _fresh(Commitment, exported.id)
    cco = _approved_cco(factory, record, changes=((record.sov_lines[0], "1000.00"),))
    assert _send_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    po = sandbox.get(R, "PurchaseOrder", exported.qbo_purchase_order_id)
    assert _fresh(Commitment, exported.id).qbo_sync_token == po["SyncToken"] == "2"
    assert _texts(exported.id) == []
    qbo_drift.poll()
    assert _texts(exported.id) == [] and not _view(exported.id).state.differs


def test_an_acknowledged_change_stays_acknowledged_after_a_cco_export(exported, sandbox, factory,
                                                                      people, approver):
    qbo_drift.poll()
    po_id = exported.qbo_purchase_order_id
    sandbox.edit_purchase_order(R, po_id, lines={_line_ids(sandbox, po_id)[1]: {"Amount": 97000}})
    qbo_drift.poll()
    qbo_drift.acknowledge(people.company_admin, _fresh(Commitment, exported.id))
    record = _fresh(Commitment, exported.id)
    cco = _approved_cco(factory, record, changes=((record.sov_lines[0], "1000.00"),))
    assert _send_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    assert _texts(exported.id) == []
    qbo_drift.poll()
    assert _texts(exported.id) == []


# ---- webhooks -------------------------------------------------------------------------------

def _sign(body: bytes, token: str = VERIFIER) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def _cdc_calls(sandbox) -> int:
    return len([e for e in sandbox.request_log(R) if e["path"] == "cdc"])


@pytest.fixture
def hooked(app, exported):
    app.config["QBO_WEBHOOK_VERIFIER_TOKEN"] = VERIFIER
    qbo_drift.poll()
    return exported


@pytest.mark.parametrize("body", [
    b"{not json",
    b'{"eventNotifications": 5}',
    b'{"eventNotifications": [{"realmId": "%s", "dataChangeEvent": "x"}]}' % R.encode(),
    b'{"eventNotifications": [{"realmId": "%s", "dataChangeEvent": {"entities": 7}}]}'
    % R.encode(),
    b'[1, "a", null, {"type": 5}]',
    b'"just a string"',
])
def test_a_signed_but_malformed_delivery_is_answered_200_and_reads_nothing(client, hooked,
                                                                           sandbox, body):
    calls = _cdc_calls(sandbox)
    answer = client.post("/erp/webhooks/quickbooks", data=body,
                         headers={"intuit-signature": _sign(body)})
    assert answer.status_code == 200
    assert _cdc_calls(sandbox) == calls


def test_a_delivery_for_another_company_reads_nothing(client, hooked, sandbox):
    body = json.dumps([{"specversion": "1.0", "id": "e-9", "source": "intuit.x",
                        "type": "qbo.purchaseorder.updated.v1", "time": "2026-12-06T01:00:00Z",
                        "intuitentityid": hooked.qbo_purchase_order_id,
                        "intuitaccountid": "9999999999", "data": {}}]).encode()
    calls = _cdc_calls(sandbox)
    answer = client.post("/erp/webhooks/quickbooks", data=body,
                         headers={"intuit-signature": _sign(body)})
    assert answer.status_code == 200 and _cdc_calls(sandbox) == calls


def test_a_huge_delivery_is_refused_without_reading(client, hooked, sandbox):
    body = b"[" + b" " * (3 * 1024 * 1024) + b"]"
    calls = _cdc_calls(sandbox)
    answer = client.post("/erp/webhooks/quickbooks", data=body,
                         headers={"intuit-signature": _sign(body)})
    assert answer.status_code == 413 and _cdc_calls(sandbox) == calls


_ = Decimal


def test_a_poll_that_read_the_po_before_our_cco_write_shows_no_false_difference(
        exported, people, approver, factory, sandbox, monkeypatch):
    """A change data capture poll read the PurchaseOrder, then CCO 001's update was written,
    then the poll recorded what it had read (a slow poll, or a webhook's beside the worker's).
    The older version must not take the place of the newer one: no "differs" for a PO that
    holds exactly ours."""
    from quickbooks_online import cdc as cdc_module

    qbo_drift.poll()
    record = _fresh(Commitment, exported.id)
    cco = _approved_cco(factory, record, changes=((record.sov_lines[0], "1000.00"),))
    real_read = cdc_module.changes_since

    def read_then_cco_written(since, now):
        found = real_read(since, now)  # QuickBooks as it was before CCO 001
        monkeypatch.setattr(cdc_module, "changes_since", real_read)
        sandbox.edit_purchase_order(R, exported.qbo_purchase_order_id, memo="Gate code 4411")
        found = real_read(since, now)  # ... with the Memo edit, so the poll has it to record
        assert _send_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
        return found

    monkeypatch.setattr(cdc_module, "changes_since", read_then_cco_written)
    qbo_drift.poll()
    view = _view(exported.id)
    po = sandbox.get(R, "PurchaseOrder", exported.qbo_purchase_order_id)
    assert view.state.sync_token == po["SyncToken"]  # the newer version stays recorded
    assert not view.state.differs and _texts(exported.id) == []
    qbo_drift.poll()  # and the next poll agrees
    assert not _view(exported.id).state.differs
