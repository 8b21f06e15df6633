"""The QuickBooks export never hangs, tells a person what went wrong, and keeps QuickBooks right.

Everything reaches QuickBooks through the real python-quickbooks and intuit-oauth clients,
against the sandbox on a loopback port (its hooks make Intuit fail the way it does).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from extensions import db
from models import Commitment, CostMapping, ErpStatus, Export, ExportStatus, QboRecord
from quickbooks_online.connection import decrypt, get_connection
from tests import qbo_helpers
from tests.conftest import error_for, fingerprint
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import DEMO_REALM, run_jobs
from workflow import erp

HTMX = {"HX-Request": "true"}


@pytest.fixture
def commitment(erp_commitment):
    return erp_commitment


def _export() -> Export:
    db.session.expire_all()
    return db.session.scalars(select(Export).order_by(Export.id.desc())).first()


def _retry(client, auth, people, commitment) -> Commitment:
    auth.logout()
    auth.login(people.company_admin)
    response = client.post(f"/erp/commitments/{commitment.id}/retry", headers=HTMX)
    assert response.status_code == 200
    run_jobs()
    db.session.expire_all()
    return db.session.get(Commitment, commitment.id)


def _revoke_in_quickbooks(sandbox_server, refresh_token: str) -> None:
    """The company's admin disconnects the app inside QuickBooks: the grant is revoked."""
    answer = requests.post(sandbox_server.base_url + "/oauth2/v1/tokens/revoke", timeout=5,
                           auth=("sandbox-client-id", "sandbox-client-secret"),
                           json={"token": refresh_token})
    assert answer.status_code == 200


# ---- 1. nothing leaves a commitment Exporting for good -------------------------------------

def test_a_database_error_in_the_export_ends_failed_to_export_and_can_be_retried(
        client, auth, people, approver, commitment, sandbox, monkeypatch):
    # A database error cannot be provoked through the app, so the one read before the send
    # fails as PostgreSQL would when the connection is lost.
    from sqlalchemy.exc import OperationalError

    import quickbooks_online.export.commitment as export_module

    def database_gone(_commitment):
        raise OperationalError("SELECT ...", {}, Exception("server closed the connection"))

    monkeypatch.setattr(export_module, "commitment_blockers", database_gone)
    failed = send_and_accept(commitment, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    export = _export()
    assert export.status == ExportStatus.FAILED
    assert export.last_error_message == ("The export stopped before it finished (a database "
                                         "error). Press Retry Export to try again.")
    auth.login(people.company_admin)
    inbox = client.get("/erp/?tab=failed_to_export").get_data(as_text=True)
    assert "Failed to Export: The export stopped before it finished" in inbox
    assert "Retry Export" in inbox
    monkeypatch.undo()
    assert _retry(client, auth, people, commitment).erp_status == ErpStatus.SYNCED
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


def test_an_unreachable_discovery_document_fails_plainly_and_keeps_the_connection(
        app, client, auth, people, approver, commitment, sandbox, sandbox_server):
    # The access token must be renewed, and Intuit's discovery document does not answer.
    sandbox.expire_access_tokens(DEMO_REALM)
    app.config["QBO_ENVIRONMENT"] = sandbox_server.base_url + "/no-discovery-here"
    failed = send_and_accept(commitment, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    message = _export().last_error_message
    assert "sign-in service could not be reached" in message and "Retry Export" in message
    assert get_connection().is_connected  # not a reason to connect again
    app.config["QBO_ENVIRONMENT"] = sandbox_server.discovery_url
    assert _retry(client, auth, people, commitment).erp_status == ErpStatus.SYNCED


def test_a_queue_that_cannot_take_the_job_keeps_the_export_for_the_outbox(
        app, client, auth, people, approver, commitment, sandbox):
    """Redis down at Accept: the Accept stands (the database is the outbox) and the export is
    queued again once the queue answers; it is never lost, never failed for nothing."""
    from jobs.outbox import dispatch_export

    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions["changeorder.queue"] = None
    erp.send_to_erp(people.project_admin, commitment)
    auth.login(approver)
    response = client.post(f"/erp/commitments/{commitment.id}/accept", headers=HTMX)
    assert response.status_code == 200
    assert "Exporting" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Commitment, commitment.id).erp_status == ErpStatus.EXPORTING
    export = db.session.scalar(select(Export))
    assert export.status == ExportStatus.QUEUED
    app.config["REDIS_URL"] = None  # the queue is back (inline here; a worker's outbox there)
    app.extensions["changeorder.queue"] = None
    assert dispatch_export(export.id, expected_job_id=export.job_id)
    db.session.expire_all()
    assert db.session.get(Commitment, commitment.id).erp_status == ErpStatus.SYNCED
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


# ---- 2. the token endpoint: an outage is transient, a refusal is not ----------------------

@pytest.mark.parametrize("fault", ["500", "503", "drop"])
def test_a_token_endpoint_outage_is_retried(people, approver, commitment, sandbox, fault):
    sandbox.expire_access_tokens(DEMO_REALM)
    sandbox.inject_oauth_fault(fault, count=1)
    synced = send_and_accept(commitment, people, approver)
    assert synced.erp_status == ErpStatus.SYNCED
    assert sandbox.pending_oauth_faults() == []
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


def test_a_lasting_token_endpoint_outage_fails_without_asking_to_reconnect(
        client, auth, people, approver, commitment, sandbox):
    sandbox.expire_access_tokens(DEMO_REALM)
    sandbox.inject_oauth_fault("503", count=20)  # longer than every try, inline or queued
    failed = send_and_accept(commitment, people, approver)
    sandbox.clear_oauth_faults()
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    message = _export().last_error_message
    assert "HTTP 503" in message and "connect" not in message.lower()
    assert get_connection().is_connected
    auth.login(people.company_admin)
    page = client.get("/erp/settings").get_data(as_text=True)
    assert "Connected to <strong>Riverside Builders LLC (Sandbox)</strong>" in page
    assert _retry(client, auth, people, commitment).erp_status == ErpStatus.SYNCED


# ---- 4. a refused refresh token shows as "reconnect" -------------------------------------

def test_a_refused_refresh_token_asks_for_a_reconnect_on_the_settings_page(
        client, auth, people, approver, commitment, sandbox, sandbox_server):
    _revoke_in_quickbooks(sandbox_server, decrypt(get_connection().refresh_token_encrypted))
    failed = send_and_accept(commitment, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    assert "connect to QuickBooks again" in _export().last_error_message
    auth.login(people.company_admin)
    page = client.get("/erp/settings").get_data(as_text=True)
    assert "Reconnect needed: QuickBooks no longer accepts the connection" in page
    assert ">Reconnect to QuickBooks</button>" in page
    assert "Connected to <strong>" not in page and ">Disconnect</button>" not in page
    # Connecting again brings it back, mappings kept, and the export goes through.
    start = client.post("/erp/settings/connect")
    answer = qbo_helpers.approve_in_sandbox(start.headers["Location"])
    done = client.get("/erp/settings/callback", query_string=answer, follow_redirects=True)
    assert "Connected to Riverside Builders LLC (Sandbox)" in done.get_data(as_text=True)
    assert _retry(client, auth, people, commitment).erp_status == ErpStatus.SYNCED


def test_a_disconnect_on_purpose_is_not_a_reconnect_warning(client, auth, people, connected):
    auth.login(people.company_admin)
    page = client.post("/erp/settings/disconnect", follow_redirects=True).get_data(as_text=True)
    assert "Not connected." in page and "Reconnect needed" not in page


# ---- 3. an adopted purchase order is brought up to date ----------------------------------

def test_resending_after_a_lost_create_updates_the_adopted_purchase_order(
        client, auth, people, approver, commitment, sandbox):
    # The first export's create reaches QuickBooks but its answer is lost, and QuickBooks
    # stays unreachable: Failed to Export, while QuickBooks holds the PO.
    original = sandbox.handle_api

    def lose_the_create_answer(method, realm_id, path, args, body, authorization):
        if method == "POST" and path.lower() == "purchaseorder" \
                and not sandbox.purchase_orders(DEMO_REALM):
            sandbox.inject_fault(DEMO_REALM, "drop_after_apply", count=1)
            sandbox.inject_fault(DEMO_REALM, "500", count=20)  # more than every try
        return original(method, realm_id, path, args, body, authorization)

    sandbox.handle_api = lose_the_create_answer
    try:
        failed = send_and_accept(commitment, people, approver)
    finally:
        sandbox.handle_api = original
        sandbox.clear_faults(DEMO_REALM)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    [stale] = sandbox.purchase_orders(DEMO_REALM)
    assert Decimal(str(stale["TotalAmt"])) == Decimal("281500.50")
    # Accounting rejects; the project manager corrects line 2 and adds a line; resend, accept.
    erp.reject(approver, failed, "Line 2 is 90,000")
    failed.sov_lines[1].amount = Decimal("90000.00")
    line = failed.sov_lines[1]
    from models import SovLine

    db.session.add(SovLine(commitment=failed, line_number=3, description="Line 3",
                           amount=Decimal("1500.00"), cost_code_id=line.cost_code_id,
                           category_id=line.category_id))
    db.session.commit()
    synced = send_and_accept(failed, people, approver)
    assert synced.erp_status == ErpStatus.SYNCED
    [po] = sandbox.purchase_orders(DEMO_REALM)
    assert po["Id"] == stale["Id"] and synced.qbo_purchase_order_id == po["Id"]
    assert Decimal(str(po["TotalAmt"])) == Decimal("276500.00")
    assert [(line["Description"], Decimal(str(line["Amount"]))) for line in po["Line"]] == [
        ("1. Line 1", Decimal("185000.00")), ("2. Line 2", Decimal("90000.00")),
        ("3. Line 3", Decimal("1500.00"))]
    assert po["Line"][0]["Id"] == stale["Line"][0]["Id"]  # the same lines, updated
    assert synced.qbo_sync_token == po["SyncToken"] != stale["SyncToken"]
    assert [s.qbo_line_id for s in synced.sov_lines] == [line["Id"] for line in po["Line"]]


def test_an_adopted_purchase_order_that_matches_is_not_written_again(
        client, auth, people, approver, commitment, sandbox, connected):
    from quickbooks_online import purchase_orders
    from quickbooks_online.mapping import purchase_order_payload

    # a create whose answer was lost
    purchase_orders.create(purchase_order_payload(commitment, connected), "lost-answer-1")
    writes = sandbox.counters(DEMO_REALM)["writes"]
    synced = send_and_accept(commitment, people, approver)
    assert synced.erp_status == ErpStatus.SYNCED
    assert sandbox.counters(DEMO_REALM)["writes"] == writes
    assert sandbox.purchase_orders(DEMO_REALM)[0]["SyncToken"] == "0"


# ---- 5. cost mappings take items and expense accounts only --------------------------------

def test_mapping_a_cost_to_a_non_expense_account_is_refused_next_to_the_field(
        client, auth, people, commitment):
    ap = db.session.scalar(select(QboRecord).where(QboRecord.entity == "Account",
                                                   QboRecord.detail == "Accounts Payable"))
    line = commitment.sov_lines[0]
    auth.login(people.company_admin)
    before = fingerprint()
    data = {"cost_code_id": line.cost_code_id, "category_id": line.category_id,
            "target": f"Account:{ap.qbo_id}"}
    refused = client.post("/erp/settings/cost-mappings", data=data, headers=HTMX)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert html.lstrip().startswith("<form")  # the one form, for htmx to swap in place
    assert error_for(html, "target") == (
        f"{ap.name} is an Accounts Payable account. Choose an item or an expense account "
        "(Expense, Cost of Goods Sold or Other Expense).")
    assert fingerprint() == before
    # Without htmx: the settings page, the message next to the same field, nothing changed.
    page = client.post("/erp/settings/cost-mappings", data=data)
    assert page.status_code == 422
    assert "is an Accounts Payable account" in error_for(page.get_data(as_text=True), "target")
    assert fingerprint() == before
    # An expense account is taken.
    expense = db.session.scalar(select(QboRecord).where(QboRecord.entity == "Account",
                                                        QboRecord.detail == "Expense"))
    saved = client.post("/erp/settings/cost-mappings", headers=HTMX,
                        data={**data, "target": f"Account:{expense.qbo_id}"})
    assert saved.status_code == 200 and "Saved." in saved.get_data(as_text=True)
    mapping = db.session.scalar(select(CostMapping).filter_by(
        cost_code_id=line.cost_code_id, category_id=line.category_id))
    assert mapping.qbo_account_id == expense.qbo_id and mapping.qbo_item_id is None


# ---- 6. the failure is shown on the commitment, said once --------------------------------

def test_the_commitment_page_shows_why_its_export_failed(client, auth, people, approver,
                                                        commitment, sandbox):
    sandbox.set_active(DEMO_REALM, "Vendor", "56", False)
    failed = send_and_accept(commitment, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    message = _export().last_error_message
    assert message.startswith("Object Not Found: Something you're trying to use")
    assert message.count("Object Not Found") == 1  # QuickBooks' message, not said twice
    auth.login(people.project_admin)
    page = client.get(f"/projects/{people.project.id}/commitments/{commitment.id}")
    html = page.get_data(as_text=True)
    assert "Failed to Export: Object Not Found: Something you" in html
    assert "(QuickBooks code 610)" in html


def test_the_requestid_of_an_update_stays_within_intuits_limit():
    from quickbooks_online.export import request_id

    def _update_request_id(key, sync_token):
        return request_id(key, f"u{sync_token}")

    key = f"cod-commitment-{10**12}-{'f' * 16}"
    assert len(_update_request_id(key, "12345")) <= 50
    assert _update_request_id(key, "1") != _update_request_id(key, "2")
    assert json.dumps(_update_request_id("cod-commitment-1-abc", "0")) == \
        '"cod-commitment-1-abc-u0"'


def test_every_mapping_is_saved_at_once_or_none_with_the_reason_by_its_field(
        client, auth, people, connected, commitment, factory):
    """One "Save all mappings" for the whole list; a sales-only item refused by its row and
    nothing else saved; the only A/P account and same-named vendors come preselected."""
    from models import Category, CostCode

    auth.login(people.company_admin)
    page = client.get("/erp/settings").get_data(as_text=True)
    assert page.count("Save all mappings") == 1
    sov = commitment.sov_lines[0]
    other = factory.cost_code("99-100", "Testing")
    category = db.session.scalar(select(Category).where(Category.name == "Labor"))
    sales_only = db.session.scalar(select(QboRecord.qbo_id).where(
        QboRecord.entity == "Item", QboRecord.detail.startswith("sales only")))
    assert sales_only, "the sandbox company has a sales-only item"
    assert f'value="Item:{sales_only}"' not in page  # not offered
    pair, bad = f"target-{sov.cost_code_id}-{sov.category_id}", f"target-{other.id}-{category.id}"
    before = db.session.scalar(select(func.count()).select_from(CostMapping))
    refused = client.post("/erp/settings/cost-mappings/all",
                          data={pair: "", bad: f"Item:{sales_only}"})
    assert refused.status_code == 422
    assert "sells but cannot buy" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CostMapping)) == before
    saved = client.post("/erp/settings/cost-mappings/all", data={pair: ""})
    assert saved.status_code == 303
    assert db.session.scalar(select(CostMapping).where(
        CostMapping.cost_code_id == sov.cost_code_id,
        CostMapping.category_id == sov.category_id)) is None
    assert isinstance(other, CostCode)
