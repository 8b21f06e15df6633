"""Commitment change orders to QuickBooks (issue 12): Send to ERP, Reject and reopen, Resend,
Accept, exactly once, onto the commitment's PurchaseOrder.

Everything reaches QuickBooks through the real python-quickbooks and intuit-oauth clients,
against the sandbox on a loopback port. Without REDIS_URL the jobs run inline; with it they run
in a real RQ worker (in this process via ``run_jobs``, or as an ``rq worker`` process).
"""

from __future__ import annotations

import itertools
import time
from contextlib import contextmanager
from decimal import Decimal
from html import unescape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from extensions import db
from models import (
    ChangeOrder,
    ChangeOrderLine,
    Commitment,
    CostMapping,
    ErpPermission,
    ErpStatus,
    Export,
    HistoryEvent,
    Notice,
    User,
    Vendor,
)
from quickbooks_online import purchase_orders
from quickbooks_online.marker import split_note
from tests import qbo_helpers
from tests.conftest import AuthActions, at_once, fingerprint
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import DEMO_REALM, run_jobs
from workflow import erp
from workflow.commitments import totals
from workflow.errors import AlreadyHandled

HTMX = {"HX-Request": "true"}
ITEM = "Concrete - Subcontract"
_numbers = itertools.count(1)


# ---- helpers -----------------------------------------------------------------------------------

def _text(response) -> str:
    """The page as a reader sees its words: entities unescaped, whitespace collapsed."""
    return " ".join(unescape(response.get_data(as_text=True)).split())


def _cco_url(cco: ChangeOrder, rest: str = "") -> str:
    commitment = cco.commitment
    return (f"/projects/{commitment.project_id}/commitments/{commitment.id}"
            f"/change-orders/{cco.id}{rest}")


def _mapped_cost_code(factory, code: str = "01-500", category: str = "Equipment"):
    """A cost code + category for a CCO's new lines, mapped to a purchasable item."""
    cost_code = factory.cost_code(code, "Temporary facilities")
    db.session.add(CostMapping(cost_code_id=cost_code.id,
                               category_id=factory.category(category).id,
                               qbo_item_id=qbo_helpers._qbo_id("Item", ITEM), qbo_name=ITEM))
    db.session.commit()
    return cost_code, factory.category(category)


def _approved_cco(factory, commitment, changes=(), new=(), title: str = "Extra work"):
    """An Approved CCO: ``changes`` are (SOV line, amount); ``new`` are (description, amount,
    cost code, category)."""
    cco = factory.change_order(commitment, status="approved", title=title,
                               lines=tuple((sov, str(amount)) for sov, amount in changes))
    for description, amount, cost_code, category in new:
        db.session.add(ChangeOrderLine(change_order=cco, cost_code_own=cost_code,
                                       category_own=category, description=description,
                                       amount=Decimal(str(amount))))
    db.session.commit()
    return factory.approve_again(cco) if new else cco  # approved with its new lines


def _fresh(model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


def _po(sandbox, commitment: Commitment) -> dict:
    return sandbox.get(DEMO_REALM, "PurchaseOrder", commitment.qbo_purchase_order_id)


def _marker_ccos(po: dict) -> tuple[str, ...]:
    _, marker = split_note(po.get("PrivateNote"))
    assert marker is not None, po.get("PrivateNote")
    return marker.change_orders


def assert_po_matches(sandbox, commitment_id: int) -> dict:
    """The PurchaseOrder holds exactly what the commitment and its Synced CCOs say: one line
    per SOV line at its revised amount, one per new CCO line (its QuickBooks Id stored), the
    commitment's revised total, each Synced CCO listed once in our marker block."""
    commitment = _fresh(Commitment, commitment_id)
    po = _po(sandbox, commitment)
    synced = [c for c in commitment.change_orders if c.erp_status == ErpStatus.SYNCED]
    expected: dict[str, Decimal] = {}
    descriptions: dict[str, str] = {}
    for sov in commitment.sov_lines:
        assert sov.qbo_line_id, f"SOV line {sov.line_number} has no QuickBooks line Id"
        expected[sov.qbo_line_id] = sov.amount + sum(
            (line.amount for cco in synced for line in cco.lines if line.sov_line_id == sov.id),
            Decimal("0.00"))
    for cco in synced:
        for line in cco.lines:
            if line.sov_line_id is None:
                assert line.qbo_line_id, f"new line {line.description!r} has no QuickBooks Id"
                assert line.qbo_line_id not in expected
                expected[line.qbo_line_id] = line.amount
                descriptions[line.qbo_line_id] = f"CCO {cco.number}: {line.description}"
    lines = purchase_orders.expense_lines(po)
    assert len(lines) == len(po["Line"])
    assert {line["Id"]: Decimal(str(line["Amount"])) for line in lines} == expected
    assert len(lines) == len(expected)  # no line twice, no stray line
    for line in lines:
        if line["Id"] in descriptions:
            assert line["Description"] == descriptions[line["Id"]]
    revised = totals(commitment).revised
    if all(c.erp_status == ErpStatus.SYNCED for c in commitment.change_orders
           if c.status.value == "approved"):
        assert Decimal(str(po["TotalAmt"])) == revised
    assert commitment.qbo_total == Decimal(str(po["TotalAmt"]))
    assert commitment.qbo_sync_token == po["SyncToken"]
    listed = _marker_ccos(po)
    assert sorted(listed) == sorted(c.number for c in synced)
    assert len(set(listed)) == len(listed)
    return po


@pytest.fixture
def new_code(factory, connected):
    return _mapped_cost_code(factory)


@pytest.fixture
def cco(factory, synced, new_code):
    """CCO #001 of SC-1042, Approved, +3,300.50: SOV line 1 changed twice, one new line."""
    sov = synced.sov_lines[0]
    return _approved_cco(factory, synced, changes=((sov, "1000.00"), (sov, "2050.50")),
                         new=(("Winter protection", "250.00", *new_code),))


class Browser:
    """A second person's browser in the same test. The tests run inside one app context, where
    Flask-Login caches the signed-in user in ``g``; each request here starts without it, so the
    user is the one of this browser's session cookie."""

    def __init__(self, app) -> None:
        self.application = app
        self._client = app.test_client()

    def _fresh_user(self):
        from flask import g

        g.pop("_login_user", None)

    def get(self, *args, **kwargs):
        self._fresh_user()
        return self._client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        self._fresh_user()
        return self._client.post(*args, **kwargs)


def _sign_in(app, user) -> Browser:
    browser = Browser(app)
    browser._fresh_user()
    response = AuthActions(browser).login(user)
    assert response.status_code in (302, 303), response.status_code
    return browser


def _wait(done, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.2)
        db.session.expire_all()


def _settle(worker, done) -> None:
    """Let the jobs run: inline they already did; else a worker in this process, or the
    worker process started for the test."""
    if worker is None:
        run_jobs()
    _wait(done)


def _status(cco_id):
    return lambda: _fresh(ChangeOrder, cco_id).erp_status


# ---- 1. the round trip through both roles ---------------------------------------------------

@pytest.mark.parametrize("worker_kind", ["in-process", "worker-process"])
def test_round_trip_send_reject_reopen_edit_resend_accept(app, client, auth, people, approver,
                                                          synced, cco, sandbox, tmp_path,
                                                          worker_kind):
    worker = None
    if worker_kind == "worker-process":
        url = qbo_helpers.use_redis(app)
        worker = qbo_helpers.start_worker(app, url, tmp_path / "worker.log")
    try:
        _round_trip(app, client, auth, people, approver, synced, cco, sandbox, worker)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(15)


def _round_trip(app, client, auth, people, approver, commitment, cco, sandbox, worker):
    cco_id, pm = cco.id, people.project_admin
    page_url, sov = _cco_url(cco), commitment.sov_lines[0]
    client = _sign_in(app, pm)  # the project manager's browser
    accounting = _sign_in(app, approver)

    # the PM sends it: the CCO page's panel says Ready to Export and the lines are locked
    page = _text(client.get(page_url))
    assert "Send to ERP" in page and "Not yet:" not in page
    sent = client.post(_cco_url(cco, "/erp/send"), headers=HTMX)
    assert sent.status_code == 200
    assert "Ready to Export" in _text(sent) and "Retrieve from ERP" in _text(sent)
    page = _text(client.get(page_url))
    assert "Locked while the change order is Ready to Export in ERP Integrations." in page
    assert 'id="cco-line-new"' not in page

    # the approver finds it in ERP Integrations and rejects it with a reason
    inbox = _text(accounting.get("/erp/"))
    assert "CCO #001" in inbox and "Extra work" in inbox
    card = _text(accounting.get(f"/erp/change-orders/{cco_id}/card", headers=HTMX))
    assert "Accept" in card and "Reject" in card
    assert "CCO 001: Winter protection" not in card  # the preview names the line plainly
    assert "Winter protection" in card and "new line" in card
    reason = "Line 1's second change is 2,100.50 per the signed quote."
    rejected = accounting.post(f"/erp/change-orders/{cco_id}/reject", headers=HTMX,
                               data={"comment": reason})
    assert rejected.status_code == 200 and "Rejected" in _text(rejected)
    if worker is not None or not _inline():
        # until the reopen job has run the CCO stays locked, saying so
        pending = _fresh(ChangeOrder, cco_id)
        if pending.erp_reopen_pending:
            assert not pending.erp_editable
            assert "Being handed back to the project" in _text(client.get(page_url))

    # the job reopens it: editable again, history written, a notice for the PM
    _settle(worker, lambda: not _fresh(ChangeOrder, cco_id).erp_reopen_pending)
    reopened = _fresh(ChangeOrder, cco_id)
    assert reopened.erp_status == ErpStatus.REJECTED and reopened.erp_editable
    assert reopened.erp_rejection_reason == reason
    actions = [e.action for e in db.session.scalars(select(HistoryEvent).where(
        HistoryEvent.subject_type == "change_order", HistoryEvent.subject_id == cco_id)
        .order_by(HistoryEvent.id))]
    assert actions[-3:] == ["sent", "rejected", "reopened"]
    [notice] = db.session.scalars(select(Notice).where(Notice.user_id == pm.id)).all()
    page = _text(client.get(page_url))  # the PM's next page
    assert notice.message in page
    assert "Accounting rejected CCO #001 of SC-1042 (Extra work): " + reason in page
    assert "Rejected by accounting: " + reason in page
    assert "Resend to ERP" in page and 'id="cco-line-new"' in page.replace("' ", "'")
    assert "Locked while" not in page

    # the PM corrects the second change and resends
    line = reopened.lines[1]
    edited = client.post(_cco_url(reopened, f"/lines/{line.id}"), headers=HTMX, data={
        "sov_line_id": sov.id, "description": "Change", "amount": "2,100.50",
        "version": line.version})
    assert edited.status_code == 200, edited.get_data(as_text=True)
    assert _fresh(ChangeOrderLine, line.id).amount == Decimal("2100.50")
    # a changed amount withdraws the approval: the reviewer (a project admin, none being
    # named) approves the corrected CCO again before it can be resent
    corrected = _fresh(ChangeOrder, cco_id)
    assert corrected.status.label == "Pending – Revised"
    assert client.post(_cco_url(reopened, "/erp/send"), headers=HTMX).status_code == 409
    assert client.post(_cco_url(reopened, "/review"), data={
        "decision": "approve", "comment": "2,100.50 per the quote",
        "version": corrected.version}).status_code == 303
    resent = client.post(_cco_url(reopened, "/erp/send"), headers=HTMX)
    assert resent.status_code == 200 and "Ready to Export" in _text(resent)
    assert "Rejected by accounting" not in _text(resent)  # the reason goes once resent

    # the approver accepts: Exporting, then Synced
    accepted = accounting.post(f"/erp/change-orders/{cco_id}/accept", headers=HTMX)
    assert accepted.status_code == 200
    _settle(worker, lambda: _status(cco_id)() == ErpStatus.SYNCED)
    card = _text(accounting.get(f"/erp/change-orders/{cco_id}/card", headers=HTMX))
    assert "Synced" in card
    done = _fresh(ChangeOrder, cco_id)
    assert done.erp_status == ErpStatus.SYNCED
    assert [e.action for e in db.session.scalars(select(HistoryEvent).where(
        HistoryEvent.subject_type == "change_order", HistoryEvent.subject_id == cco_id)
        .order_by(HistoryEvent.id))][-3:] == ["resent", "accepted", "exported"]

    # what QuickBooks holds: each SOV line at its revised amount, the new line with its Id
    po = assert_po_matches(sandbox, commitment.id)
    record = _fresh(Commitment, commitment.id)
    amounts = {line["Id"]: Decimal(str(line["Amount"])) for line in po["Line"]}
    assert amounts[record.sov_lines[0].qbo_line_id] == Decimal("188100.50")
    assert amounts[record.sov_lines[1].qbo_line_id] == Decimal("96500.50")
    [new_line] = [line for line in done.lines if line.sov_line_id is None]
    [qbo_new] = [line for line in po["Line"] if line["Id"] == new_line.qbo_line_id]
    assert qbo_new["Description"] == "CCO 001: Winter protection"
    assert Decimal(str(qbo_new["Amount"])) == Decimal("250.00")
    assert Decimal(str(po["TotalAmt"])) == totals(record).revised == Decimal("284851.00")
    assert totals(record).approved_changes == Decimal("3350.50")
    assert _marker_ccos(po) == ("001",)
    assert po["SyncToken"] == "1"  # one write: the first export's create was SyncToken 0
    # the CCO page shows what QuickBooks holds; it is locked for good
    page = _text(client.get(page_url))
    assert f"QuickBooks PurchaseOrder {record.qbo_purchase_order_id}" in page
    assert "Locked while the change order is Synced" in page


def _inline() -> bool:
    from jobs.queue import is_inline

    return is_inline()


# ---- 2. aggregation, for any set of CCO lines -----------------------------------------------

def _cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_cco_lines_land_on_the_purchase_order_at_their_revised_amounts(
        data, factory, people, approver, connected, sandbox):
    """Positive and negative changes (never taking a line below zero), several on one SOV line,
    new lines, across one or more CCOs, each exported in turn: the PurchaseOrder then has one
    line per SOV line and one per new line, each at its revised amount, and TotalAmt equal to
    the commitment's revised total."""
    vendor = db.session.scalar(select(Vendor).filter_by(name="Summit Concrete Co.")) \
        or factory.vendor("Summit Concrete Co.")
    new_code = _shared_new_code(factory)
    sov_cents = data.draw(st.lists(st.integers(1, 50_000_000), min_size=1, max_size=4),
                          label="SOV lines (cents)")
    commitment = factory.commitment(people.project, vendor=vendor,
                                    number=f"HP-{next(_numbers)}",
                                    sov=tuple(str(_cents(c)) for c in sov_cents))
    qbo_helpers.map_for(commitment)
    commitment = send_and_accept(commitment, people, approver)
    assert commitment.erp_status == ErpStatus.SYNCED
    balance = list(sov_cents)
    for _ in range(data.draw(st.integers(1, 3), label="CCOs")):
        lines = []
        for _ in range(data.draw(st.integers(1, 4), label="lines")):
            target = data.draw(st.none() | st.integers(0, len(sov_cents) - 1), label="SOV line")
            if target is None:
                lines.append((None, data.draw(st.integers(1, 10_000_000), label="new line")))
                continue
            change = data.draw(st.integers(-balance[target], 10_000_000), label="change")
            balance[target] += change
            lines.append((target, change))
        lines = data.draw(st.permutations(lines), label="line order")
        record = _fresh(Commitment, commitment.id)
        cco = _approved_cco(
            factory, record,
            changes=[(record.sov_lines[t], _cents(c)) for t, c in lines if t is not None],
            new=[(f"Added {i}", _cents(c), *new_code)
                 for i, (t, c) in enumerate(lines) if t is None])
        assert erp.send_blockers(cco) == []
        erp.send_to_erp(people.project_admin, cco)
        erp.accept(approver, cco)
        run_jobs()
        exported = _fresh(ChangeOrder, cco.id)
        assert exported.erp_status == ErpStatus.SYNCED, erp.latest_export(exported)\
            .last_error_message
    po = assert_po_matches(sandbox, commitment.id)
    record = _fresh(Commitment, commitment.id)
    assert Decimal(str(po["TotalAmt"])) == totals(record).revised
    by_id = {line["Id"]: Decimal(str(line["Amount"])) for line in po["Line"]}
    assert [by_id[sov.qbo_line_id] for sov in record.sov_lines] == [_cents(b) for b in balance]


def _shared_new_code(factory):
    from models import CostCode

    existing = db.session.scalar(select(CostCode).filter_by(code="01-500"))
    if existing is not None:
        return existing, factory.category("Equipment")
    return _mapped_cost_code(factory)


# ---- 3. exactly once under faults ------------------------------------------------------------

@contextmanager
def fault_on_update(sandbox, kind: str):
    """The first sparse update of a PurchaseOrder meets ``kind`` (the read before it does not).
    Yields the list of faults that fired."""
    original = sandbox.handle_api
    fired: list[str] = []

    def handle(method, realm_id, path, args, body, authorization):
        if (not fired and method == "POST" and path.lower() == "purchaseorder"
                and '"sparse": true' in str(body)):
            fired.append(kind)
            sandbox.inject_fault(realm_id, kind, count=1)
        return original(method, realm_id, path, args, body, authorization)

    sandbox.handle_api = handle
    try:
        yield fired
    finally:
        sandbox.handle_api = original


def _send_accept(cco, people, approver) -> ChangeOrder:
    erp.send_to_erp(people.project_admin, cco)
    erp.accept(approver, _fresh(ChangeOrder, cco.id))
    run_jobs()
    return _fresh(ChangeOrder, cco.id)


def _assert_applied_once(sandbox, commitment, cco_id, writes: int = 1) -> dict:
    done = _fresh(ChangeOrder, cco_id)
    assert done.erp_status == ErpStatus.SYNCED, erp.latest_export(done).last_error_message
    po = assert_po_matches(sandbox, commitment.id)
    assert _marker_ccos(po) == ("001",)
    assert po["SyncToken"] == str(writes)  # SyncToken 0 was the commitment's create
    record = _fresh(Commitment, commitment.id)
    amounts = {line["Id"]: Decimal(str(line["Amount"])) for line in po["Line"]}
    assert amounts[record.sov_lines[0].qbo_line_id] == Decimal("188050.50")
    assert Decimal(str(po["TotalAmt"])) == Decimal("284801.00") == totals(record).revised
    assert len(db.session.scalars(select(Export).where(
        Export.change_order_id == cco_id)).all()) == 1
    return po


@pytest.mark.parametrize("where,kind", [
    ("read", "429"), ("read", "500"), ("read", "drop"), ("read", "401"),
    ("update", "5010"), ("update", "401"), ("update", "429"), ("update", "500"),
    ("update", "drop"), ("update", "500_after_apply"), ("update", "drop_after_apply"),
])
def test_each_change_is_applied_once_under_faults(people, approver, synced, cco, sandbox, where,
                                                  kind):
    if where == "read":
        sandbox.inject_fault(DEMO_REALM, kind, count=1)
        done = _send_accept(cco, people, approver)
        assert sandbox.pending_faults(DEMO_REALM) == []
    else:
        with fault_on_update(sandbox, kind) as fired:
            done = _send_accept(cco, people, approver)
        assert fired == [kind]
    assert done.erp_status == ErpStatus.SYNCED
    _assert_applied_once(sandbox, synced, cco.id)


def test_expired_access_tokens_are_refreshed_and_the_change_applied_once(
        people, approver, synced, cco, sandbox):
    from quickbooks_online.connection import decrypt, get_connection

    before = decrypt(get_connection().refresh_token_encrypted)
    assert sandbox.expire_access_tokens(DEMO_REALM) >= 1  # QuickBooks now answers 401 / 3200
    _send_accept(cco, people, approver)
    _assert_applied_once(sandbox, synced, cco.id)
    db.session.expire_all()
    assert decrypt(get_connection().refresh_token_encrypted) != before  # rotation kept


def test_a_quickbooks_user_editing_the_po_mid_export_is_read_again_and_kept(
        people, approver, synced, cco, sandbox):
    """A real 5010: between our read and our update someone changes the PO in QuickBooks (a
    note and a line of their own). We read again, apply the CCO once, keep their changes."""
    original = sandbox.handle_api
    edited: list[dict] = []
    po_id = synced.qbo_purchase_order_id

    def handle(method, realm_id, path, args, body, authorization):
        if not edited and method == "POST" and '"sparse": true' in str(body):
            edited.append(sandbox.edit_purchase_order(
                DEMO_REALM, po_id, memo="Call the site office first"))
            edited.append(sandbox.add_purchase_order_line(
                DEMO_REALM, po_id, "75.00", description="Delivery (added in QuickBooks)",
                item_id="11"))
        return original(method, realm_id, path, args, body, authorization)

    sandbox.handle_api = handle
    try:
        done = _send_accept(cco, people, approver)
    finally:
        sandbox.handle_api = original
    assert edited and done.erp_status == ErpStatus.SYNCED
    po = _po(sandbox, synced)
    assert po["Memo"] == "Call the site office first"
    assert po["SyncToken"] == "3"  # their two edits, then our one update
    theirs = [line for line in po["Line"]
              if line.get("Description") == "Delivery (added in QuickBooks)"]
    assert len(theirs) == 1 and Decimal(str(theirs[0]["Amount"])) == Decimal("75.00")
    assert _marker_ccos(po) == ("001",)
    record = _fresh(Commitment, synced.id)
    amounts = {line["Id"]: Decimal(str(line["Amount"])) for line in po["Line"]}
    assert amounts[record.sov_lines[0].qbo_line_id] == Decimal("188050.50")
    assert Decimal(str(po["TotalAmt"])) == totals(record).revised + Decimal("75.00")


def test_an_export_run_again_after_it_synced_writes_nothing(people, approver, synced, cco,
                                                            sandbox):
    """The job for an export whose answer was recorded (an outbox re-send, a retry) finds the
    CCO in the marker block and writes nothing."""
    from jobs.exports import run_export
    from quickbooks_online.export import push

    done = _send_accept(cco, people, approver)
    export = erp.latest_export(done)
    writes = sandbox.counters(DEMO_REALM)["writes"]
    assert run_export(export.id) == "skipped"
    result = push(export)  # the exporter itself, once more
    assert sandbox.counters(DEMO_REALM)["writes"] == writes
    [new_line] = [line for line in done.lines if line.sov_line_id is None]
    assert result.line_ids == {new_line.id: new_line.qbo_line_id}
    _assert_applied_once(sandbox, synced, cco.id)


# ---- 4. refusals ----------------------------------------------------------------------------

def _refused_send(client, cco, reason: str) -> None:
    page = _text(client.get(_cco_url(cco)))
    assert reason in page  # said next to the disabled button
    before = fingerprint()
    refused = client.post(_cco_url(cco, "/erp/send"), headers=HTMX)
    assert refused.status_code == 409
    assert reason in _text(refused)
    assert fingerprint() == before


def test_send_refused_while_the_commitment_is_not_synced(client, auth, people, factory,
                                                         erp_commitment):
    cco = _approved_cco(factory, erp_commitment, changes=((erp_commitment.sov_lines[0], "5"),))
    auth.login(people.project_admin)
    _refused_send(client, cco, "Commitment SC-1042 must be Synced to QuickBooks first "
                               "(it is Not Sent).")
    erp.send_to_erp(people.project_admin, erp_commitment)  # waiting for accounting
    _refused_send(client, _fresh(ChangeOrder, cco.id),
                  "Commitment SC-1042 must be Synced to QuickBooks first "
                  "(it is Ready to Export).")


def test_send_refused_when_a_line_would_go_below_zero(client, auth, people, factory, synced,
                                                      approver, sandbox):
    sov = synced.sov_lines[1]  # 96,500.50
    first = _approved_cco(factory, synced, changes=((sov, "-96000.00"),))
    assert _send_accept(first, people, approver).erp_status == ErpStatus.SYNCED
    # 500.50 is left in QuickBooks; two changes of one CCO that sum below it are refused
    second = _approved_cco(factory, _fresh(Commitment, synced.id),
                           changes=((sov, "100.00"), (sov, "-600.51")))
    auth.login(people.project_admin)
    _refused_send(client, second, "SOV line 2 would go below zero (-0.01); QuickBooks refuses "
                                  "negative purchase order lines.")
    assert _fresh(ChangeOrder, second.id).erp_status == ErpStatus.NOT_SENT


def test_send_refused_for_a_change_order_that_is_not_approved(client, auth, people, factory,
                                                             synced):
    draft = factory.change_order(synced, lines=((synced.sov_lines[0], "10.00"),))
    auth.login(people.project_admin)
    _refused_send(client, draft, "The change order must be Approved (it is Draft).")


def test_send_refused_for_someone_who_is_not_a_project_admin(client, auth, people, cco):
    auth.login(people.standard)
    page = _text(client.get(_cco_url(cco)))
    assert "Only a project admin can send to ERP." in page
    before = fingerprint()
    refused = client.post(_cco_url(cco, "/erp/send"), headers=HTMX)
    assert refused.status_code == 403
    assert fingerprint() == before
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.NOT_SENT


def _put_in(state: str, cco, people, approver, sandbox) -> None:
    """Move the CCO to ``state`` the way it gets there."""
    erp.send_to_erp(people.project_admin, cco)
    if state == "sent":
        return
    if state == "exporting":
        sandbox.pause_api(DEMO_REALM)  # the export waits inside QuickBooks…
        _fresh(ChangeOrder, cco.id).erp_status = ErpStatus.EXPORTING  # …or looks so to us
        db.session.commit()
        sandbox.resume_api(DEMO_REALM)
        return
    if state == "rejected, not yet reopened":
        erp.reject(approver, _fresh(ChangeOrder, cco.id), "Wrong line")
        db.session.execute(ChangeOrder.__table__.update()
                           .where(ChangeOrder.id == cco.id).values(erp_reopen_pending=True))
        db.session.commit()
        return
    erp.accept(approver, _fresh(ChangeOrder, cco.id))
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED


@pytest.mark.parametrize("state", ["sent", "exporting", "synced", "rejected, not yet reopened"])
def test_a_cco_with_accounting_cannot_be_edited(client, auth, people, approver, synced, cco,
                                               sandbox, state):
    _put_in(state, cco, people, approver, sandbox)
    record = _fresh(ChangeOrder, cco.id)
    sov, line = synced.sov_lines[0], record.lines[0]
    auth.login(people.project_admin)
    page = _text(client.get(_cco_url(record)))
    assert "Locked while the change order is" in page
    before = fingerprint()
    attempts = [
        client.post(_cco_url(record, "/lines"), headers=HTMX, data={
            "sov_line_id": sov.id, "description": "More", "amount": "1.00"}),
        client.post(_cco_url(record, f"/lines/{line.id}"), headers=HTMX, data={
            "sov_line_id": sov.id, "description": "Changed", "amount": "9.99",
            "version": line.version}),
        client.post(_cco_url(record, f"/lines/{line.id}/delete"), headers=HTMX,
                    data={"version": line.version}),
        client.post(_cco_url(record), headers=HTMX, data={
            "title": "Voided", "status": "void", "version": record.version}),
    ]
    for response in attempts:
        assert response.status_code == 409, response.status_code
        assert "in ERP Integrations and cannot be changed." in _text(response)
    assert fingerprint() == before


def test_retrieve_from_erp_returns_it_to_not_sent_and_editable(client, auth, people, cco,
                                                               approver):
    erp.send_to_erp(people.project_admin, cco)
    auth.login(people.standard)
    assert client.post(_cco_url(cco, "/erp/retrieve"), headers=HTMX).status_code == 403
    auth.logout()
    auth.login(people.project_admin)
    retrieved = client.post(_cco_url(cco, "/erp/retrieve"), headers=HTMX)
    assert retrieved.status_code == 200
    assert "Not Sent" in _text(retrieved) and "Send to ERP" in _text(retrieved)
    record = _fresh(ChangeOrder, cco.id)
    assert record.erp_status == ErpStatus.NOT_SENT and record.erp_editable
    assert 'id="cco-line-new"' in client.get(_cco_url(cco)).get_data(as_text=True)
    # and accounting, a moment late, is told it is no longer theirs
    late = _sign_in(client.application, approver).post(
        f"/erp/change-orders/{cco.id}/accept", headers=HTMX)
    assert late.status_code == 409 and "Already handled" in _text(late)
    assert db.session.scalars(select(Export).where(Export.change_order_id == cco.id)).all() == []


# ---- 5. races --------------------------------------------------------------------------------

def test_two_accepts_at_once_make_one_export(app, people, approver, factory, synced, cco,
                                             sandbox):
    second = factory.user(name="Second Approver", erp=ErpPermission.ADMIN, can_push=True)
    erp.send_to_erp(people.project_admin, cco)
    cco_id, user_ids, commitment_id = cco.id, (approver.id, second.id), synced.id

    def press(index):
        user = db.session.get(User, user_ids[index])
        target = db.session.get(ChangeOrder, cco_id)
        return lambda: erp.accept(user, target)

    outcomes = at_once(app, 2, press)
    run_jobs()
    accepted = [o for o in outcomes if isinstance(o, Export)]
    refused = [o for o in outcomes if isinstance(o, AlreadyHandled)]
    assert len(accepted) == 1 and len(refused) == 1, outcomes
    assert refused[0].message.startswith("Already handled: CCO #001 of SC-1042 is now")
    assert len(db.session.scalars(select(Export).where(
        Export.change_order_id == cco_id)).all()) == 1
    _assert_applied_once(sandbox, _fresh(Commitment, commitment_id), cco_id)


def test_retrieve_against_accept_one_wins(app, people, approver, synced, cco, sandbox):
    erp.send_to_erp(people.project_admin, cco)
    cco_id, ids, commitment_id = cco.id, (people.project_admin.id, approver.id), synced.id
    writes = sandbox.counters(DEMO_REALM)["writes"]

    def press(index):
        user = db.session.get(User, ids[index])
        target = db.session.get(ChangeOrder, cco_id)
        if index == 0:
            return lambda: erp.retrieve_from_erp(user, target)
        return lambda: erp.accept(user, target)

    retrieved, accepted = at_once(app, 2, press)
    run_jobs()
    record = _fresh(ChangeOrder, cco_id)
    if isinstance(retrieved, AlreadyHandled):  # Accept first
        assert isinstance(accepted, Export), accepted
        assert record.erp_status == ErpStatus.SYNCED
        _assert_applied_once(sandbox, _fresh(Commitment, commitment_id), cco_id)
    else:  # Retrieve first: nothing reaches QuickBooks
        assert retrieved is None, retrieved
        assert isinstance(accepted, AlreadyHandled), accepted
        assert record.erp_status == ErpStatus.NOT_SENT and record.erp_editable
        assert db.session.scalars(select(Export).where(
            Export.change_order_id == cco_id)).all() == []
        assert sandbox.counters(DEMO_REALM)["writes"] == writes


def test_two_ccos_of_one_commitment_accepted_at_once_both_land(app, people, approver, factory,
                                                               synced, cco, new_code, sandbox):
    other = _approved_cco(factory, _fresh(Commitment, synced.id), title="Second change",
                          changes=((synced.sov_lines[0], "-500.00"),
                                   (synced.sov_lines[1], "1234.56")),
                          new=(("Dewatering", "880.00", *new_code),))
    erp.send_to_erp(people.project_admin, _fresh(ChangeOrder, cco.id))
    erp.send_to_erp(people.project_admin, _fresh(ChangeOrder, other.id))
    ids, approver_id, commitment_id = (cco.id, other.id), approver.id, synced.id

    def press(index):
        user = db.session.get(User, approver_id)
        target = db.session.get(ChangeOrder, ids[index])
        return lambda: erp.accept(user, target)

    outcomes = at_once(app, 2, press)
    assert all(isinstance(o, Export) for o in outcomes), outcomes
    run_jobs()
    for cco_id in ids:
        record = _fresh(ChangeOrder, cco_id)
        assert record.erp_status == ErpStatus.SYNCED, erp.latest_export(record)\
            .last_error_message
    po = assert_po_matches(sandbox, commitment_id)
    assert sorted(_marker_ccos(po)) == ["001", "002"]
    record = _fresh(Commitment, commitment_id)
    assert Decimal(str(po["TotalAmt"])) == totals(record).revised == Decimal("286415.56")
    assert po["SyncToken"] == "2"  # one update each


# ---- 6. a permanent error, put right, Retry Export ---------------------------------------------

def test_a_removed_mapping_fails_in_words_and_retry_export_syncs(app, client, auth, people,
                                                                 approver, synced, cco, new_code,
                                                                 sandbox):
    erp.send_to_erp(people.project_admin, cco)
    mapping = db.session.scalar(select(CostMapping).filter_by(
        cost_code_id=new_code[0].id, category_id=new_code[1].id))
    kept = {"cost_code_id": mapping.cost_code_id, "category_id": mapping.category_id,
            "qbo_item_id": mapping.qbo_item_id, "qbo_name": mapping.qbo_name}
    db.session.delete(mapping)  # removed in ERP Integrations → Settings after the send
    db.session.commit()
    accounting = _sign_in(app, approver)
    assert accounting.post(f"/erp/change-orders/{cco.id}/accept",
                           headers=HTMX).status_code == 200
    run_jobs()
    failed = _fresh(ChangeOrder, cco.id)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    why = "01-500 Equipment is not mapped to a QuickBooks item or account."
    card = _text(accounting.get(f"/erp/change-orders/{cco.id}/card", headers=HTMX))
    assert "Failed to Export: " + why in card
    # a standard approver cannot retry: no button, and the card says why
    assert f'action="/erp/change-orders/{cco.id}/retry"' not in card
    assert "Retry Export: Only an ERP admin can retry an export." in card
    assert accounting.post(f"/erp/change-orders/{cco.id}/retry",
                           headers=HTMX).status_code == 403
    pm = _sign_in(app, people.project_admin)
    assert "Failed to Export: " + why in _text(pm.get(_cco_url(cco)))
    po = _po(sandbox, synced)
    assert po["SyncToken"] == "0" and "CCO" not in po.get("PrivateNote", "")

    db.session.add(CostMapping(**kept))  # put right
    db.session.commit()
    admin = _sign_in(app, people.company_admin)
    retried = admin.post(f"/erp/change-orders/{cco.id}/retry", headers=HTMX)
    assert retried.status_code == 200
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    _assert_applied_once(sandbox, synced, cco.id)
    assert "Synced" in _text(admin.get(f"/erp/change-orders/{cco.id}/card", headers=HTMX))


# ---- 7. drift shown, not hidden -----------------------------------------------------------------

def test_the_commitment_page_says_what_quickbooks_holds_against_ours(client, auth, people,
                                                                     approver, synced, cco,
                                                                     sandbox):
    auth.login(people.project_admin)
    url = f"/projects/{synced.project_id}/commitments/{synced.id}"
    calls = len(sandbox.request_log(DEMO_REALM))
    page = _text(client.get(url))
    assert "In QuickBooks $281,500.50 · here $284,801.00 · CCO #001 not sent" in page
    assert len(sandbox.request_log(DEMO_REALM)) == calls  # no QuickBooks call on page load
    _send_accept(cco, people, approver)
    page = _text(client.get(url))
    assert "In QuickBooks $284,801.00 · here $284,801.00" in page
    assert "CCO #001 not sent" not in page


def test_an_approved_cco_not_yet_sent_is_not_shown_as_a_difference(synced, cco):
    """The drift line on a synced commitment names the approved CCO waiting to be sent; that
    CCO is the expected difference between QuickBooks' total and ours, not a warning. Any
    difference it does not explain still is one."""
    from models import ChangeOrder

    cco = db.session.get(ChangeOrder, cco.id)
    commitment = _fresh(Commitment, synced.id)
    drift = erp.drift(commitment, [cco])
    assert [c.number for c in drift.not_sent] == [cco.number]
    assert drift.here == drift.in_quickbooks + cco.grand_total
    assert not drift.differs
    commitment.qbo_total = drift.in_quickbooks - Decimal("1.00")  # QuickBooks holds less
    assert erp.drift(commitment, [cco]).differs
