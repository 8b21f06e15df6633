"""ERP Integrations for commitments: connection, mappings, send, accept, export, reject.

Everything reaches QuickBooks through the real python-quickbooks and intuit-oauth clients,
against the sandbox on a loopback port. With REDIS_URL the export runs in a real RQ worker.
"""

from __future__ import annotations

import threading
from collections import deque
from decimal import Decimal

import pytest
import requests
from sqlalchemy import select

from extensions import db
from models import Commitment, ErpStatus, Export, ExportStatus, HistoryEvent
from quickbooks_online.connection import decrypt, get_connection
from tests import qbo_helpers
from tests.conftest import at_once, fingerprint
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import DEMO_REALM, run_jobs
from workflow import erp
from workflow.errors import AlreadyHandled

HTMX = {"HX-Request": "true"}


@pytest.fixture
def commitment(erp_commitment):
    return erp_commitment


# ---- the connection --------------------------------------------------------------------------

def test_connect_through_the_oauth_flow(client, auth, people, sandbox):
    auth.login(people.company_admin)
    start = client.post("/erp/settings/connect")
    assert start.status_code == 303
    answer = qbo_helpers.approve_in_sandbox(start.headers["Location"])
    done = client.get("/erp/settings/callback", query_string=answer, follow_redirects=True)
    page = done.get_data(as_text=True)
    assert "Connected to Riverside Builders LLC (Sandbox)" in page
    connection = get_connection()
    assert connection.realm_id == DEMO_REALM
    access = decrypt(connection.access_token_encrypted)
    assert access and access not in connection.access_token_encrypted  # encrypted at rest
    assert decrypt(connection.refresh_token_encrypted) not in connection.refresh_token_encrypted


def test_a_wrong_state_is_refused(client, auth, people, sandbox):
    auth.login(people.company_admin)
    start = client.post("/erp/settings/connect")
    answer = qbo_helpers.approve_in_sandbox(start.headers["Location"])
    answer["state"] = "forged"
    response = client.get("/erp/settings/callback", query_string=answer)
    assert response.status_code == 400
    assert b"did not match a connection started here" in response.data
    assert get_connection() is None or not get_connection().is_connected


def test_disconnect_revokes_the_refresh_token(client, auth, people, connected, sandbox_server):
    refresh_token = decrypt(connected.refresh_token_encrypted)
    auth.login(people.company_admin)
    page = client.post("/erp/settings/disconnect", follow_redirects=True)
    assert b"Disconnected from QuickBooks" in page.data and b"Not connected." in page.data
    answer = requests.post(
        sandbox_server.base_url + "/oauth2/v1/tokens/bearer", timeout=5,
        auth=("sandbox-client-id", "sandbox-client-secret"),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_import_lists_and_settings_page(client, auth, people, connected):
    auth.login(people.company_admin)
    response = client.post("/erp/settings/import", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Imported from QuickBooks: 4 vendors, 4 customers, 9 items, 6 accounts." in page
    assert "Riverside Holdings:Riverside Medical Office Building" in page


def test_reconnecting_to_another_company_blocks_sending_until_relinked(
        client, auth, people, approver, commitment, sandbox):
    """QuickBooks ids are per company: Vendor 56 of one company is not Vendor 56 of another.
    Connecting (through the real OAuth flow) to a different company (realmId) forgets the
    project, vendor, cost code and AP account links, so nothing is sent with the old company's
    ids: Send to ERP says what to link, and a commitment already waiting for the approver fails
    to export with the same reasons instead of writing to the new company. Once the new
    company's lists are imported and linked, it exports there."""
    other_realm = "4620816365000000042"
    sandbox.add_company(other_realm, "Harbor Renovations Inc (Sandbox)")
    waiting = commitment  # sent before the switch: waits for the approver, Ready to Export
    erp.send_to_erp(people.project_admin, waiting)

    auth.login(people.company_admin)
    start = client.post("/erp/settings/connect")
    answer = qbo_helpers.approve_in_sandbox(start.headers["Location"], realm_id=other_realm)
    done = client.get("/erp/settings/callback", query_string=answer, follow_redirects=True)
    page = done.get_data(as_text=True)
    assert "Connected to Harbor Renovations Inc (Sandbox) (company 4620816365000000042)" in page
    assert (f"This is a different QuickBooks company from before (company {DEMO_REALM}), so "
            "the links of projects, vendors and cost codes and the AP account were cleared. "
            "Import the lists, then link them again before sending to ERP.") in page
    assert get_connection().realm_id == other_realm

    # the commitment waiting for the approver: accepted, it fails with the reasons, writes
    # nothing to either company
    erp.accept(approver, db.session.get(Commitment, waiting.id))
    run_jobs()
    db.session.expire_all()
    failed = db.session.get(Commitment, waiting.id)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    error = erp.latest_export(failed).last_error_message
    assert "No AP account is chosen in ERP Integrations → Settings." in error
    assert "is not linked to a QuickBooks customer or job." in error
    assert "Vendor Summit Concrete Co. is not linked to a QuickBooks vendor." in error
    assert "is not mapped to a QuickBooks item or account." in error
    assert sandbox.purchase_orders(other_realm) == [] and sandbox.purchase_orders(DEMO_REALM) == []

    # the new company's lists imported and its AP account chosen: a fresh send is still
    # blocked until the project, vendor and cost code are linked again, reasons by the button
    from quickbooks_online.lists import import_lists, records
    from workflow.erp_settings import set_ap_account

    erp.reject(approver, failed, "Link it to the new company.")
    import_lists()
    set_ap_account(people.company_admin, records("Account", detail="Accounts Payable")[0].qbo_id)
    auth.login(people.project_admin)
    url = f"/projects/{people.project.id}/commitments/{waiting.id}"
    html = client.get(url).get_data(as_text=True)
    unlinked = db.session.get(Commitment, waiting.id)
    assert erp.send_blockers(unlinked) == [
        f"Project {people.project.number} is not linked to a QuickBooks customer or job.",
        "Vendor Summit Concrete Co. is not linked to a QuickBooks vendor.",
        *(f"{line.cost_code.code} {line.category.name} is not mapped to a QuickBooks item or "
          "account." for line in unlinked.sov_lines)]
    assert f"Project {people.project.number} is not linked to a QuickBooks customer or job." \
        in html
    assert "Vendor Summit Concrete Co. is not linked to a QuickBooks vendor." in html
    before = fingerprint()
    refused = client.post(f"{url}/erp/send", headers=HTMX)
    assert refused.status_code == 409 and b"Cannot send to ERP" in refused.data
    assert fingerprint() == before

    # linked again from the new company: it goes there
    relinked = db.session.get(Commitment, waiting.id)
    qbo_helpers.map_for(relinked)
    assert erp.send_blockers(relinked) == []
    synced = send_and_accept(relinked, people, approver)
    assert synced.erp_status == ErpStatus.SYNCED
    assert len(sandbox.purchase_orders(other_realm)) == 1
    assert sandbox.purchase_orders(DEMO_REALM) == []


def test_reconnecting_to_the_same_company_keeps_the_links(people, commitment, sandbox):
    answer = qbo_helpers.approve_in_sandbox(
        qbo_helpers.authorization_url("again"))
    qbo_helpers.complete_connection(people.company_admin, answer["code"], answer["realmId"])
    assert erp.send_blockers(db.session.get(Commitment, commitment.id)) == []


# ---- send: what blocks it ------------------------------------------------------------------

def test_send_is_blocked_with_reasons_until_everything_is_mapped(client, auth, people, factory,
                                                                 connected):
    record = factory.commitment(people.project, vendor=factory.vendor("Unknown Vendor"),
                                sov=("10.00",))
    auth.login(people.project_admin)
    page = client.get(f"/projects/{people.project.id}/commitments/{record.id}")
    html = page.get_data(as_text=True)
    assert "is not linked to a QuickBooks customer or job." in html
    assert "Vendor Unknown Vendor is not linked to a QuickBooks vendor." in html
    assert "is not mapped to a QuickBooks item or account." in html
    before = fingerprint()
    refused = client.post(f"/projects/{people.project.id}/commitments/{record.id}/erp/send",
                          headers=HTMX)
    assert refused.status_code == 409
    assert b"Cannot send to ERP" in refused.data
    assert fingerprint() == before


def test_send_needs_an_approved_commitment_and_a_project_admin(client, auth, people, factory,
                                                               commitment):
    commitment.status = commitment.status.DRAFT
    db.session.commit()
    assert any("must be Approved" in b for b in erp.send_blockers(commitment))
    auth.login(people.standard)
    page = client.get(f"/projects/{people.project.id}/commitments/{commitment.id}")
    assert b"Only a project admin can send to ERP." in page.data


@pytest.mark.parametrize("edit", ["update", "add", "delete", "header"])
def test_an_sov_edit_racing_send_to_erp_never_changes_what_was_sent(app, people, commitment,
                                                                    monkeypatch, edit):
    """An SOV line edit (or a header edit) and "Send to ERP" pressed at the same moment, each in
    its own thread, connection and transaction (SQLite and PostgreSQL alike). A pause after each
    side's check gives both the chance to pass it before either commits. Either the edit lands
    first and the send validates the edited lines, or the send lands first and the edit is
    refused with a clear message: never a Ready to Export commitment whose lines differ from
    what the send validated."""
    import time

    from models import SovLine, User
    from workflow import commitments
    from workflow.commitments import CommitmentInput, SovInput
    from workflow.errors import Locked

    def lines_of(record):
        return sorted((line.line_number, line.description, line.amount)
                      for line in record.sov_lines), record.title

    validated = []
    checked_send = erp.send_blockers

    def slow_send_check(record):
        found = checked_send(record)
        validated.append(lines_of(record))
        time.sleep(0.3)
        return found

    checked_sov, checked_header = commitments._validate_sov, commitments._validate_commitment

    def slow_sov_check(*args):
        found = checked_sov(*args)
        time.sleep(0.3)
        return found

    def slow_header_check(*args):
        found = checked_header(*args)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(erp, "send_blockers", slow_send_check)
    monkeypatch.setattr(commitments, "_validate_sov", slow_sov_check)
    monkeypatch.setattr(commitments, "_validate_commitment", slow_header_check)
    commitment_id, admin_id = commitment.id, people.project_admin.id
    first_line = commitment.sov_lines[0]
    line_id, version = first_line.id, first_line.version
    original = lines_of(commitment)
    same = SovInput(description=first_line.description, cost_code_id=first_line.cost_code_id,
                    category_id=first_line.category_id, amount=Decimal("999.99"))

    def press(index):
        actor = db.session.get(User, admin_id)
        target = db.session.get(Commitment, commitment_id)
        if index == 1:
            return lambda: erp.send_to_erp(actor, target)
        if edit == "update":
            line = db.session.get(SovLine, line_id)
            return lambda: commitments.update_sov_line(actor, line, same, version)
        if edit == "add":
            return lambda: commitments.add_sov_line(actor, target, same)
        if edit == "delete":
            line = db.session.get(SovLine, line_id)
            return lambda: commitments.delete_sov_line(actor, line, version)
        header = CommitmentInput(type=target.type, number=target.number, title="Renamed",
                                 vendor_id=target.vendor_id, status=target.status)
        target_version = target.version
        return lambda: commitments.update_commitment(actor, target, header, target_version)

    edited, sent = at_once(app, 2, press)
    assert sent is None, sent  # the send went through either way
    db.session.expire_all()
    record = db.session.get(Commitment, commitment_id)
    assert record.erp_status == ErpStatus.READY_TO_EXPORT
    assert validated[-1] == lines_of(record)  # sent exactly what was validated
    if isinstance(edited, Locked):  # the send first: the edit was refused, nothing changed
        assert edited.message == ("This commitment is Ready to Export in ERP Integrations and "
                                  "cannot be changed here.")
        assert lines_of(record) == original
    else:  # the edit first, and the send validated the edited lines
        assert not isinstance(edited, BaseException), edited
        assert lines_of(record) != original


# ---- accept → exported -------------------------------------------------------------------

def test_accept_exports_a_purchase_order(people, approver, commitment, sandbox):
    synced = send_and_accept(commitment, people, approver)
    assert synced.erp_status == ErpStatus.SYNCED
    [po] = sandbox.purchase_orders(DEMO_REALM)
    assert synced.qbo_purchase_order_id == po["Id"] and synced.qbo_sync_token == po["SyncToken"]
    assert po["DocNumber"] == "SC-1042" and po["VendorRef"]["value"] == "56"
    assert Decimal(str(po["TotalAmt"])) == Decimal("281500.50")
    lines = po["Line"]
    assert [line["Description"] for line in lines] == ["1. Line 1", "2. Line 2"]
    assert all(line["ItemBasedExpenseLineDetail"]["CustomerRef"]["value"] == "2"
               for line in lines)
    assert [s.qbo_line_id for s in synced.sov_lines] == [line["Id"] for line in lines]
    export = db.session.scalar(select(Export))
    assert export.status == ExportStatus.SYNCED and export.attempts == 1
    actions = [e.action for e in db.session.scalars(select(HistoryEvent).where(
        HistoryEvent.subject_id == commitment.id, HistoryEvent.subject_type == "commitment"))]
    assert actions[-3:] == ["sent", "accepted", "exported"]


def test_synced_commitment_shows_its_po_and_is_locked(client, auth, people, approver,
                                                      commitment):
    synced = send_and_accept(commitment, people, approver)
    auth.login(people.project_admin)
    page = client.get(f"/projects/{people.project.id}/commitments/{commitment.id}")
    html = page.get_data(as_text=True)
    assert f"QuickBooks PurchaseOrder <strong>{synced.qbo_purchase_order_id}</strong>" in html
    assert "Locked while the commitment is Synced" in html


def test_access_token_expiring_mid_export_is_refreshed_and_rotated(people, approver,
                                                                   commitment, sandbox,
                                                                   sandbox_server):
    old_refresh = decrypt(get_connection().refresh_token_encrypted)
    sandbox.expire_access_tokens(DEMO_REALM)  # QuickBooks now answers 401 / 3200
    synced = send_and_accept(commitment, people, approver)
    assert synced.erp_status == ErpStatus.SYNCED
    stored = decrypt(get_connection().refresh_token_encrypted)
    assert stored != old_refresh
    endpoint = sandbox_server.base_url + "/oauth2/v1/tokens/bearer"
    basic = ("sandbox-client-id", "sandbox-client-secret")
    old = requests.post(endpoint, auth=basic, timeout=5,
                        data={"grant_type": "refresh_token", "refresh_token": old_refresh})
    assert old.status_code == 400  # the old one was rotated away; the stored one is current
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


def test_two_concurrent_refreshes_leave_a_working_connection(app, connected, sandbox):
    from quickbooks_online.connection import refresh_access_token
    from quickbooks_online.lists import import_lists

    generation = connected.token_generation
    outcomes = at_once(app, 2, lambda _: lambda: refresh_access_token(generation).value)
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    assert len(set(outcomes)) == 1  # the second used the first one's fresh token
    assert get_connection().token_generation == generation + 1
    assert import_lists()["Vendor"] == 4  # and the connection still works


def test_stale_object_5010_is_read_again(people, approver, commitment, sandbox):
    sandbox.inject_fault(DEMO_REALM, "5010", count=1)
    synced = send_and_accept(commitment, people, approver)
    assert synced.erp_status == ErpStatus.SYNCED
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


@pytest.mark.parametrize("fault", ["429", "500", "drop"])
def test_throttling_and_server_errors_are_retried(people, approver, commitment, sandbox, fault):
    sandbox.inject_fault(DEMO_REALM, fault, count=1)
    synced = send_and_accept(commitment, people, approver)
    assert synced.erp_status == ErpStatus.SYNCED
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


@pytest.mark.parametrize("fault", ["500_after_apply", "drop_after_apply"])
def test_failure_after_quickbooks_applied_the_create_makes_one_po(people, approver, commitment,
                                                                  sandbox, fault):
    # The lookup by DocNumber answers; then the create is applied but its answer is lost.
    erp.send_to_erp(people.project_admin, commitment)
    original = sandbox.handle_api

    def lose_the_create_answer(method, realm_id, path, args, body, authorization):
        if method == "POST" and path.lower() == "purchaseorder" \
                and not sandbox.purchase_orders(DEMO_REALM):
            sandbox.inject_fault(DEMO_REALM, fault, count=1)
        return original(method, realm_id, path, args, body, authorization)

    sandbox.handle_api = lose_the_create_answer
    try:
        erp.accept(approver, commitment)
        run_jobs()
    finally:
        sandbox.handle_api = original
    db.session.expire_all()
    synced = db.session.get(Commitment, commitment.id)
    assert synced.erp_status == ErpStatus.SYNCED
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1
    assert synced.qbo_purchase_order_id == sandbox.purchase_orders(DEMO_REALM)[0]["Id"]
    assert sandbox.pending_faults(DEMO_REALM) == []  # the lost answer did happen


def test_inactive_vendor_fails_to_export_with_quickbooks_message_then_retry(
        client, auth, people, approver, commitment, sandbox, factory):
    sandbox.set_active(DEMO_REALM, "Vendor", "56", False)
    failed = send_and_accept(commitment, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    export = db.session.scalar(select(Export))
    assert export.last_error_code == "610"
    assert sandbox.purchase_orders(DEMO_REALM) == []
    auth.login(people.company_admin)
    inbox = client.get("/erp/?tab=failed_to_export").get_data(as_text=True)
    assert "Failed to Export:" in inbox and "(QuickBooks code 610)" in inbox
    assert "Retry Export" in inbox
    sandbox.set_active(DEMO_REALM, "Vendor", "56", True)  # fixed inside QuickBooks
    failed_request = export.idempotency_key
    response = client.post(f"/erp/commitments/{commitment.id}/retry", headers=HTMX)
    assert response.status_code == 200
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Commitment, commitment.id).erp_status == ErpStatus.SYNCED
    assert db.session.scalar(select(Export)).attempts == 2
    # The retry asked afresh: Intuit answers a repeated requestid with its first response,
    # which is the very fault that was just put right (the sandbox replays it too).
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1
    seen = sandbox.request_ids_seen(DEMO_REALM)
    first = [e for e in seen if e["requestid"].startswith(failed_request)]
    assert [(e["code"], e["count"]) for e in first] == [("610", 1)]
    assert [e["status"] for e in seen if not e["requestid"].startswith(failed_request)] == [200]


def test_invalid_reference_2500_fails_without_retry(people, approver, commitment, sandbox):
    from models import CostMapping

    for mapping in db.session.scalars(select(CostMapping)):
        mapping.qbo_item_id = "not-a-number"
    db.session.commit()
    failed = send_and_accept(commitment, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    export = db.session.scalar(select(Export))
    assert export.last_error_code in {"2500", "610"} and export.attempts == 1


def test_a_purchase_order_someone_else_made_is_not_adopted(people, approver, commitment,
                                                          sandbox, connected):
    from quickbooks_online import purchase_orders
    from quickbooks_online.mapping import purchase_order_payload

    foreign = purchase_order_payload(commitment, connected)
    foreign["PrivateNote"] = "typed in by hand"
    purchase_orders.create(foreign, "made-by-hand-1")
    failed = send_and_accept(commitment, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    assert "that ChangeOrder Desk did not create" in db.session.scalar(
        select(Export)).last_error_message
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


# ---- exactly once, reject, retrieve -----------------------------------------------------------

def test_two_approvers_accept_at_once_one_export(app, people, approver, factory, commitment,
                                                 sandbox):
    from models import ErpPermission, User

    second = factory.user(name="Second Approver", erp=ErpPermission.ADMIN, can_push=True)
    erp.send_to_erp(people.project_admin, commitment)
    commitment_id, user_ids = commitment.id, (approver.id, second.id)

    def press(index):
        user = db.session.get(User, user_ids[index])
        target = db.session.get(Commitment, commitment_id)
        return lambda: erp.accept(user, target)

    outcomes = at_once(app, 2, press)
    run_jobs()
    accepted = [o for o in outcomes if isinstance(o, Export)]
    refused = [o for o in outcomes if isinstance(o, AlreadyHandled)]
    assert len(accepted) == 1 and len(refused) == 1
    assert refused[0].message.startswith("Already handled: SC-1042 is now")
    assert len(db.session.scalars(select(Export)).all()) == 1
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


def test_second_accept_from_the_inbox_says_already_handled(client, auth, people, approver,
                                                           commitment, sandbox):
    erp.send_to_erp(people.project_admin, commitment)
    auth.login(approver)
    first = client.post(f"/erp/commitments/{commitment.id}/accept", headers=HTMX)
    run_jobs()
    second = client.post(f"/erp/commitments/{commitment.id}/accept", headers=HTMX)
    assert first.status_code == 200
    assert second.status_code == 409 and b"Already handled: SC-1042 is now" in second.data
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


def test_reject_needs_a_reason_returns_it_editable_and_resend(client, auth, people, approver,
                                                              commitment):
    erp.send_to_erp(people.project_admin, commitment)
    auth.login(approver)
    before = fingerprint()
    empty = client.post(f"/erp/commitments/{commitment.id}/reject", headers=HTMX,
                        data={"comment": "  "})
    assert empty.status_code == 422
    assert b"Say why, so the project manager can correct it." in empty.data
    assert fingerprint() == before
    client.post(f"/erp/commitments/{commitment.id}/reject", headers=HTMX,
                data={"comment": "Line 2 should be Material"})
    auth.logout()
    auth.login(people.project_admin)
    page = client.get(f"/projects/{people.project.id}/commitments/{commitment.id}")
    html = page.get_data(as_text=True)
    assert "Rejected by accounting: Line 2 should be Material" in html
    assert "Resend to ERP" in html and "Add line" in html  # editable again
    client.post(f"/projects/{people.project.id}/commitments/{commitment.id}/erp/send",
                headers=HTMX)
    db.session.expire_all()
    assert db.session.get(Commitment, commitment.id).erp_status == ErpStatus.READY_TO_EXPORT


def test_retrieve_before_acceptance(client, auth, people, commitment):
    erp.send_to_erp(people.project_admin, commitment)
    auth.login(people.project_admin)
    response = client.post(
        f"/projects/{people.project.id}/commitments/{commitment.id}/erp/retrieve", headers=HTMX)
    assert response.status_code == 200 and b"Not Sent" in response.data
    events = db.session.scalars(select(HistoryEvent.action).where(
        HistoryEvent.subject_id == commitment.id)).all()
    assert "retrieved" in events


def test_read_only_erp_user_sees_the_inbox_without_buttons(client, auth, people, factory,
                                                            commitment):
    from models import ErpPermission

    viewer = factory.user(erp=ErpPermission.READ_ONLY)
    erp.send_to_erp(people.project_admin, commitment)
    auth.login(viewer)
    page = client.get("/erp/").get_data(as_text=True)
    assert "SC-1042" in page
    assert ">Accept</button>" not in page and "Only an approver" in page
    refused = client.post(f"/erp/commitments/{commitment.id}/accept")
    assert refused.status_code == 403


# ---- QuickBooks' limits ------------------------------------------------------------------

@pytest.mark.parametrize("ours,throttled", [(2, False), (5, True)])
def test_calls_at_once_stay_under_the_company_limit(app, connected, sandbox, ours, throttled):
    """The sandbox allows 2 calls at once; we hold ours to QBO_MAX_CONCURRENT."""
    from quickbooks.objects.vendor import Vendor

    from quickbooks_online.connection import call

    app.config["QBO_MAX_CONCURRENT"] = ours
    sandbox.configure(concurrency_limit=2)
    sandbox.pause_api(DEMO_REALM)  # calls admitted by the sandbox wait there, in flight
    results, errors = [], []

    def query():
        try:
            with app.app_context():
                results.append(len(call(lambda qb: Vendor.all(qb=qb))))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=query) for _ in range(5)]
    for thread in threads:
        thread.start()
    import time

    deadline = time.monotonic() + 5
    while sandbox.in_flight(DEMO_REALM) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    assert sandbox.in_flight(DEMO_REALM) == 2
    sandbox.resume_api(DEMO_REALM)
    for thread in threads:
        thread.join(20)
    was_throttled = sandbox.counters(DEMO_REALM)["throttled"] > 0
    assert was_throttled is throttled
    if not throttled:
        assert errors == [] and results == [4] * 5


def _forget_the_last_minute(realm: str) -> None:
    from quickbooks_online import limits

    redis = limits._redis()
    if redis is None:
        with limits._local_lock:
            limits._local_calls.get(realm, deque()).clear()
    else:
        redis.delete(f"changeorder:qbo:{realm}:calls")


def test_calls_past_the_minute_budget_wait_for_room(app, connected, sandbox):
    """With QBO_MAX_PER_MINUTE calls made in the last minute, the next one waits, unsent."""
    from quickbooks.objects.vendor import Vendor

    from quickbooks_online.connection import call

    app.config["QBO_MAX_PER_MINUTE"] = 3
    realm = connected.realm_id
    _forget_the_last_minute(realm)  # earlier tests' calls
    for _ in range(3):
        call(lambda qb: Vendor.all(qb=qb))
    sent = sandbox.counters(realm)["requests"]
    done = threading.Event()

    def fourth():
        with app.app_context():
            call(lambda qb: Vendor.all(qb=qb))
        done.set()

    waiting = threading.Thread(target=fourth, daemon=True)
    waiting.start()
    assert not done.wait(1.5), "a fourth call within the minute was not held back"
    assert sandbox.counters(realm)["requests"] == sent
    # The minute passes (the window is emptied): the held call goes out.
    _forget_the_last_minute(realm)
    assert done.wait(10)
    assert sandbox.counters(realm)["requests"] == sent + 1
    assert sandbox.counters(realm)["throttled"] == 0


def test_navigation_counts_what_waits_for_the_approver(client, auth, people, approver,
                                                       commitment):
    auth.login(approver)
    assert 'title="0 waiting for you" hidden>' in client.get("/").get_data(as_text=True)
    erp.send_to_erp(people.project_admin, commitment)
    page = client.get("/").get_data(as_text=True)
    assert 'title="1 waiting for you">1</span>' in page
    # Accepting updates the count and the tabs in place.
    accepted = client.post(f"/erp/commitments/{commitment.id}/accept", headers=HTMX)
    run_jobs()
    html = accepted.get_data(as_text=True)
    assert 'id="erp-waiting" class="badge" title="0 waiting for you" hidden' in html
    assert '<span class="count" id="count-ready_to_export" hx-swap-oob="true">0</span>' in html


def test_a_403_authorization_fault_fails_at_once_without_a_refresh_loop(
        people, approver, commitment, sandbox):
    """A token used on a company it may not use: Intuit answers 403 / 3100. Refreshing or
    retrying cannot help, so the export fails with words after one call."""
    from quickbooks_online.connection import get_connection

    other = "4620816365000000077"
    sandbox.add_company(other, "Other Co (Sandbox)")
    erp.send_to_erp(people.project_admin, commitment)
    get_connection().realm_id = other
    db.session.commit()
    requests_before = sandbox.counters(other)["requests"]
    erp.accept(approver, commitment)
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Commitment, commitment.id).erp_status == ErpStatus.FAILED_TO_EXPORT
    export = db.session.scalar(select(Export))
    assert export.last_error_code == "3100"
    assert "refused access to this company" in export.last_error_message
    assert sandbox.counters(other)["requests"] - requests_before == 1
