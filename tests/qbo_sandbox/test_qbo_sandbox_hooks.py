"""Test hooks: injected failures, token expiry, edits "inside QuickBooks", reset, counters,
both through the Python API and the ``/_sandbox/...`` HTTP endpoints."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from quickbooks.exceptions import (
    AuthorizationException,
    ObjectNotFoundException,
    QuickbooksException,
    SevereException,
    ValidationException,
)
from quickbooks.objects.purchaseorder import PurchaseOrder
from quickbooks.objects.vendor import Vendor

from qbo_sandbox import DEMO_REALM_ID

R = DEMO_REALM_ID


def test_injected_5010_fails_next_calls_only(qbo_sandbox, qbo_client):
    qbo_sandbox.inject_fault(R, "5010", count=2)
    for _ in range(2):
        with pytest.raises(QuickbooksException) as info:
            Vendor.get(56, qb=qbo_client)
        assert info.value.error_code == 5010
    assert Vendor.get(56, qb=qbo_client).Id == "56"


def test_injected_401_is_3200(qbo_sandbox, qbo_client):
    qbo_sandbox.inject_fault(R, "401")
    with pytest.raises(AuthorizationException) as info:
        Vendor.get(56, qb=qbo_client)
    assert info.value.error_code == 401
    assert json.loads(info.value.detail)["fault"]["error"][0]["code"] == "3200"
    assert Vendor.get(56, qb=qbo_client).Id == "56"


def test_injected_429_is_3001(qbo_sandbox, qbo_client, qbo_raw):
    qbo_sandbox.inject_fault(R, "429")
    with pytest.raises(ValidationException) as info:
        Vendor.get(56, qb=qbo_client)
    assert info.value.error_code == 3001
    qbo_sandbox.inject_fault(R, "429")
    assert qbo_raw("GET", "vendor/56").status_code == 429


def test_injected_500_applies_nothing(qbo_sandbox, qbo_client, qbo_raw, qbo_po):
    qbo_sandbox.inject_fault(R, "500")
    with pytest.raises(SevereException) as info:
        qbo_po.purchase_order().save(qb=qbo_client)
    assert info.value.error_code == 10000
    assert qbo_sandbox.counters()["purchase_orders"] == 0
    qbo_sandbox.inject_fault(R, "500")
    assert qbo_raw("GET", "vendor/56").status_code == 500


def test_injected_drop_is_a_connection_error_and_applies_nothing(qbo_sandbox, qbo_client,
                                                                 qbo_po):
    qbo_sandbox.inject_fault(R, "drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        qbo_po.purchase_order().save(qb=qbo_client)
    assert qbo_sandbox.counters()["purchase_orders"] == 0
    assert qbo_po.purchase_order().save(qb=qbo_client).Id


@pytest.mark.parametrize(("kind", "error"), [
    ("500_after_apply", SevereException),
    ("drop_after_apply", requests.exceptions.ConnectionError),
])
def test_failure_after_apply_leaves_the_write_done_and_requestid_replays(
        qbo_sandbox, qbo_client, qbo_po, kind, error):
    body = qbo_po.purchase_order(doc_number="SC-77").to_json()
    qbo_sandbox.inject_fault(R, kind)
    with pytest.raises(error):
        qbo_client.create_object("PurchaseOrder", body, request_id="export-77")
    found = PurchaseOrder.filter(DocNumber="SC-77", qb=qbo_client)
    assert len(found) == 1
    retried = qbo_client.create_object("PurchaseOrder", body, request_id="export-77")
    assert retried["PurchaseOrder"]["Id"] == found[0].Id
    assert qbo_sandbox.counters()["purchase_orders"] == 1
    # without the requestid the retry would be a duplicate document number
    with pytest.raises(QuickbooksException) as info:
        qbo_client.create_object("PurchaseOrder", body)
    assert info.value.error_code == 6140


def test_unknown_fault_kind_is_refused(qbo_sandbox):
    with pytest.raises(ValueError, match="unknown fault kind"):
        qbo_sandbox.inject_fault(R, "418")


def test_expire_access_tokens_now_then_refresh(qbo_sandbox, qbo_auth, qbo_make_client):
    qb = qbo_make_client(qbo_auth)
    assert Vendor.get(56, qb=qb).Id == "56"
    assert qbo_sandbox.expire_access_tokens(R) == 1
    with pytest.raises(AuthorizationException) as info:
        Vendor.get(56, qb=qb)
    assert "Token expired" in json.loads(info.value.detail)["fault"]["error"][0]["detail"]
    qbo_auth.refresh()
    assert Vendor.get(56, qb=qbo_make_client(qbo_auth)).Id == "56"


def test_edit_inside_quickbooks_bumps_sync_token_and_makes_client_stale(qbo_sandbox,
                                                                        qbo_client, qbo_po):
    created = qbo_po.purchase_order().save(qb=qbo_client)
    mine = PurchaseOrder.get(created.Id, qb=qbo_client)
    edited = qbo_sandbox.edit_purchase_order(
        R, created.Id, private_note="edited by the bookkeeper",
        lines={"1": {"Description": "Footings (revised)", "Amount": 1600}})
    assert edited["SyncToken"] == "1"
    assert edited["TotalAmt"] == 1850.5
    read = PurchaseOrder.get(created.Id, qb=qbo_client)
    assert read.PrivateNote == "edited by the bookkeeper"
    assert (read.Line[0].Description, float(read.Line[0].Amount)) == ("Footings (revised)",
                                                                      1600.0)
    mine.PrivateNote = "mine"
    with pytest.raises(QuickbooksException) as info:
        mine.save(qb=qbo_client)
    assert info.value.error_code == 5010


def test_edit_can_add_and_remove_lines(qbo_sandbox, qbo_client, qbo_po):
    created = qbo_po.purchase_order().save(qb=qbo_client)
    edited = qbo_sandbox.edit_purchase_order(
        R, created.Id, remove_line_ids=["2"],
        add_lines=[{"Amount": 10, "Description": "added in QBO",
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "80"}}}])
    assert [(line["Id"], line["LineNum"]) for line in edited["Line"]] == [("1", 1), ("3", 2)]
    assert edited["TotalAmt"] == 1510.0


def test_reset_forgets_pos_tokens_and_counters(qbo_sandbox, qbo_client, qbo_po):
    qbo_po.purchase_order().save(qb=qbo_client)
    assert qbo_sandbox.counters()["purchase_orders"] == 1
    qbo_sandbox.reset()
    assert qbo_sandbox.counters() == {"requests": 0, "writes": 0, "throttled": 0,
                                      "purchase_orders": 0, "in_flight": 0,
                                      "pending_faults": 0}
    with pytest.raises(AuthorizationException):
        Vendor.get(56, qb=qbo_client)


def test_counters_count_requests_per_realm(qbo_sandbox, qbo_client, qbo_po):
    before = qbo_sandbox.counters()["requests"]
    Vendor.get(56, qb=qbo_client)
    qbo_po.purchase_order().save(qb=qbo_client)
    qbo_sandbox.inject_fault(R, "500")
    with pytest.raises(SevereException):
        Vendor.get(56, qb=qbo_client)
    counters = qbo_sandbox.counters()
    assert counters["requests"] == before + 3
    assert counters["writes"] == 1
    assert counters["purchase_orders"] == 1


# ------------------------------------------------------------------- HTTP hook endpoints


def test_http_hooks_drive_the_same_state(qbo_server, qbo_sandbox, qbo_client, qbo_po):
    base = qbo_server.base_url + "/_sandbox"
    created = qbo_po.purchase_order().save(qb=qbo_client)

    counters = requests.get(f"{base}/realms/{R}/counters", timeout=5).json()
    assert counters["purchase_orders"] == 1 and counters["requests"] >= 1

    response = requests.post(f"{base}/realms/{R}/faults", json={"kind": "5010", "count": 1},
                             timeout=5)
    assert response.json() == {"pending": ["5010"]}
    with pytest.raises(QuickbooksException) as info:
        Vendor.get(56, qb=qbo_client)
    assert info.value.error_code == 5010

    requests.post(f"{base}/realms/{R}/faults", json={"kind": "drop"}, timeout=5)
    with pytest.raises(requests.exceptions.ConnectionError):
        Vendor.get(56, qb=qbo_client)

    requests.post(f"{base}/realms/{R}/faults", json={"kind": "429", "count": 3}, timeout=5)
    assert requests.delete(f"{base}/realms/{R}/faults", timeout=5).json() == {"pending": []}

    edited = requests.post(
        f"{base}/realms/{R}/purchaseorders/{created.Id}/edit",
        json={"PrivateNote": "via http", "lines": {"2": {"Amount": 100}}}, timeout=5).json()
    assert edited["PurchaseOrder"]["SyncToken"] == "1"
    assert PurchaseOrder.get(created.Id, qb=qbo_client).PrivateNote == "via http"

    listed = requests.get(f"{base}/realms/{R}/entities/purchaseorder", timeout=5).json()
    assert listed["PurchaseOrder"][0]["TotalAmt"] == 1600.0

    assert requests.post(f"{base}/realms/{R}/expire-tokens", timeout=5).json()["expired"] == 1
    with pytest.raises(AuthorizationException):
        Vendor.get(56, qb=qbo_client)

    assert requests.post(f"{base}/realms/{R}/purchaseorders/999/edit", json={},
                         timeout=5).status_code == 404
    assert requests.post(f"{base}/realms/{R}/faults", json={"kind": "nope"},
                         timeout=5).status_code == 400

    assert requests.post(f"{base}/reset", timeout=5).json() == {"ok": True}
    assert requests.get(f"{base}/realms/{R}/counters", timeout=5).json()[
        "purchase_orders"] == 0


def test_http_hooks_config_time_settings_and_active(qbo_server, qbo_sandbox, qbo_connect,
                                                    qbo_make_client, qbo_po):
    base = qbo_server.base_url + "/_sandbox"
    config = requests.post(f"{base}/config", json={"rate_limit_per_minute": 1,
                                                   "access_token_ttl": 100}, timeout=5).json()
    assert config["rate_limit_per_minute"] == 1 and config["concurrency_limit"] == 10
    client = qbo_connect()
    assert client.expires_in == 100
    qb = qbo_make_client(client)
    Vendor.get(56, qb=qb)
    with pytest.raises(ValidationException):
        Vendor.get(56, qb=qb)
    requests.post(f"{base}/time/advance", json={"seconds": 61}, timeout=5)
    Vendor.get(56, qb=qb)
    requests.post(f"{base}/time/advance", json={"seconds": 61}, timeout=5)
    with pytest.raises(AuthorizationException):  # 122 s > 100 s token lifetime
        Vendor.get(56, qb=qb)

    requests.post(f"{base}/config", json={"rate_limit_per_minute": 500}, timeout=5)
    client.refresh()
    qb = qbo_make_client(client)
    requests.post(f"{base}/realms/{R}/settings", json={"duplicate_doc_number_check": False},
                  timeout=5)
    qbo_po.purchase_order(doc_number="D-1").save(qb=qb)
    qbo_po.purchase_order(doc_number="D-1").save(qb=qb)
    assert requests.post(f"{base}/realms/{R}/vendor/56/active", json={"active": False},
                         timeout=5).json()["Active"] is False
    assert "Summit Concrete Co." not in [v.DisplayName for v in Vendor.all(qb=qb)]


def test_http_hook_registers_client_and_realm(qbo_server, qbo_sandbox, qbo_redirect_uri):
    base = qbo_server.base_url + "/_sandbox"
    assert requests.post(f"{base}/clients", json={"client_id": "c2", "client_secret": "s2"},
                         timeout=5).status_code == 200
    assert "c2" in qbo_sandbox.clients
    response = requests.post(f"{base}/realms", json={"realm_id": "123145", "company_name":
                                                     "Extra Co"}, timeout=5)
    assert response.json()["realm_id"] == "123145"
    assert qbo_sandbox.realm("123145").company_info()["CompanyName"] == "Extra Co"


@pytest.mark.parametrize("kind,status", [("500", 500), ("503", 503)])
def test_injected_token_endpoint_outage_rotates_nothing(qbo_sandbox, qbo_server, qbo_auth,
                                                        kind, status):
    from intuitlib.exceptions import AuthClientError

    refresh_token = qbo_auth.refresh_token
    qbo_sandbox.inject_oauth_fault(kind, count=1)
    with pytest.raises(AuthClientError) as info:
        qbo_auth.refresh()
    assert info.value.status_code == status
    assert info.value.response.json()["error"] == "server_error"
    assert qbo_sandbox.pending_oauth_faults() == []
    qbo_auth.refresh()  # the outage is over and the refresh token still works
    assert qbo_auth.refresh_token != refresh_token


def test_injected_token_endpoint_drop_is_a_connection_error(qbo_sandbox, qbo_server, qbo_auth):
    answer = requests.post(qbo_server.base_url + "/_sandbox/oauth/faults", timeout=5,
                           json={"kind": "drop", "count": 1})
    assert answer.json() == {"pending": ["drop"]}
    with pytest.raises(requests.exceptions.ConnectionError):
        qbo_auth.refresh()
    qbo_auth.refresh()
    with pytest.raises(ValueError):
        qbo_sandbox.inject_oauth_fault("418")


# ------------------------------------------------ hooks for what exporters must survive


def test_ten_calls_held_in_flight_and_the_eleventh_is_429(qbo_server, qbo_sandbox,
                                                          qbo_make_client, qbo_auth):
    # 10 concurrent requests per realm, then 429 / 3001: https://developer.intuit.com/app/developer/qbo/docs/learn/rest-api-features
    base = qbo_server.base_url + "/_sandbox"
    assert requests.post(f"{base}/realms/{R}/pause", timeout=5).json()["paused"] is True
    results: list = []

    def call() -> None:
        try:
            results.append(Vendor.get(56, qb=qbo_make_client(qbo_auth)).Id)
        except Exception as exc:  # pragma: no cover - reported through results
            results.append(exc)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while qbo_sandbox.in_flight(R) < 10 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert requests.get(f"{base}/realms/{R}/counters", timeout=5).json()["in_flight"] == 10
    with pytest.raises(ValidationException) as info:
        Vendor.get(56, qb=qbo_make_client(qbo_auth))
    assert info.value.error_code == 3001
    requests.post(f"{base}/realms/{R}/resume", timeout=5)
    for thread in threads:
        thread.join(5)
    assert results == ["56"] * 10
    assert qbo_sandbox.counters()["throttled"] == 1


def test_api_delay_keeps_calls_in_flight(qbo_server, qbo_sandbox, qbo_client):
    base = qbo_server.base_url + "/_sandbox"
    requests.post(f"{base}/realms/{R}/delay", json={"seconds": 0.3}, timeout=5)
    seen: list[int] = []
    started = time.monotonic()
    thread = threading.Thread(target=lambda: Vendor.get(56, qb=qbo_client))
    thread.start()
    while thread.is_alive():
        seen.append(qbo_sandbox.in_flight(R))
        time.sleep(0.01)
    assert time.monotonic() - started >= 0.3
    assert max(seen) == 1
    qbo_sandbox.set_api_delay(R, 0)
    started = time.monotonic()
    Vendor.get(56, qb=qbo_client)
    assert time.monotonic() - started < 0.3


def test_request_log_and_requestids_over_http(qbo_server, qbo_sandbox, qbo_client, qbo_po):
    base = qbo_server.base_url + "/_sandbox"
    body = qbo_po.purchase_order(doc_number="LOG-1").to_json()
    qbo_client.create_object("PurchaseOrder", body, request_id="log-1")
    qbo_client.create_object("PurchaseOrder", body, request_id="log-1")  # replayed
    with pytest.raises(QuickbooksException):
        qbo_client.create_object("PurchaseOrder", body, request_id="log-2")  # 6140
    log = requests.get(f"{base}/requests", params={"realm": R}, timeout=5).json()["requests"]
    assert [(e["method"], e["path"], e["requestid"], e["status"], e["code"], e["replayed"])
            for e in log] == [
        ("POST", "purchaseorder", "log-1", 200, None, False),
        ("POST", "purchaseorder", "log-1", 200, None, True),
        ("POST", "purchaseorder", "log-2", 400, "6140", False)]
    assert log[0]["body"]["DocNumber"] == "LOG-1" and log[0]["params"]["minorversion"] == "75"
    later = requests.get(f"{base}/requests", params={"since": log[1]["seq"]},
                         timeout=5).json()["requests"]
    assert [e["requestid"] for e in later] == ["log-2"]
    seen = requests.get(f"{base}/realms/{R}/requestids", timeout=5).json()["requestids"]
    assert seen == [
        {"requestid": "log-1", "count": 2, "status": 200, "code": None, "stored": True},
        {"requestid": "log-2", "count": 1, "status": 400, "code": "6140", "stored": True}]
    assert requests.delete(f"{base}/requests", timeout=5).json() == {"requests": []}
    assert qbo_sandbox.request_log() == []


def test_edits_made_in_quickbooks_python_hooks(qbo_sandbox, qbo_client, qbo_po):
    created = qbo_po.purchase_order(doc_number="SC-1", note="ChangeOrder Desk 1").save(
        qb=qbo_client)
    renumbered = qbo_sandbox.renumber_purchase_order(R, created.Id, "SC-1-A")
    assert renumbered["DocNumber"] == "SC-1-A" and renumbered["SyncToken"] == "1"
    assert PurchaseOrder.filter(DocNumber="SC-1", qb=qbo_client) == []
    assert PurchaseOrder.filter(DocNumber="SC-1-A", qb=qbo_client)[0].Id == created.Id
    edited = qbo_sandbox.edit_purchase_order(R, created.Id, memo="Call before delivery",
                                             private_note="edited by the bookkeeper")
    assert (edited["Memo"], edited["PrivateNote"]) == ("Call before delivery",
                                                       "edited by the bookkeeper")
    added = qbo_sandbox.add_purchase_order_line(R, created.Id, 99.5, description="Freight",
                                                account_id="82", customer_id="2")
    assert [line["Id"] for line in added["Line"]] == ["1", "2", "3"]
    assert added["Line"][2]["AccountBasedExpenseLineDetail"]["AccountRef"]["name"] == (
        "Equipment Rental")
    assert added["TotalAmt"] == 1850.0 and added["SyncToken"] == "3"
    with pytest.raises(ValueError, match="6000"):  # a sales-only item, as QuickBooks refuses
        qbo_sandbox.add_purchase_order_line(R, created.Id, 5, item_id="19")
    read = PurchaseOrder.get(created.Id, qb=qbo_client)
    assert (read.Memo, read.SyncToken, len(read.Line)) == ("Call before delivery", "3", 3)
    qbo_sandbox.delete_purchase_order(R, created.Id)
    with pytest.raises(ObjectNotFoundException):
        PurchaseOrder.get(created.Id, qb=qbo_client)
    with pytest.raises(ObjectNotFoundException):
        read.save(qb=qbo_client)
    with pytest.raises(LookupError):
        qbo_sandbox.delete_purchase_order(R, created.Id)


def test_edits_made_in_quickbooks_http_hooks(qbo_server, qbo_sandbox, qbo_client, qbo_po):
    base = f"{qbo_server.base_url}/_sandbox/realms/{R}/purchaseorders"
    created = qbo_po.purchase_order(doc_number="SC-2").save(qb=qbo_client)
    answer = requests.post(f"{base}/{created.Id}/renumber", json={"DocNumber": "SC-2-B"},
                           timeout=5).json()
    assert answer["PurchaseOrder"]["DocNumber"] == "SC-2-B"
    answer = requests.post(f"{base}/{created.Id}/edit", timeout=5,
                           json={"Memo": "memo", "PrivateNote": "note"}).json()
    assert (answer["PurchaseOrder"]["Memo"], answer["PurchaseOrder"]["PrivateNote"]) == (
        "memo", "note")
    answer = requests.post(f"{base}/{created.Id}/lines", timeout=5, json={
        "Amount": 40, "Description": "Extra bags", "item_id": "12", "customer_id": "2"}).json()
    assert answer["PurchaseOrder"]["Line"][-1]["Description"] == "Extra bags"
    raw_line = {"Amount": 1, "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "80"}}}
    answer = requests.post(f"{base}/{created.Id}/lines", json=raw_line, timeout=5).json()
    assert len(answer["PurchaseOrder"]["Line"]) == 4
    refused = requests.post(f"{base}/{created.Id}/lines", timeout=5,
                            json={"Amount": -5, "account_id": "80"})
    assert refused.status_code == 400
    assert PurchaseOrder.get(created.Id, qb=qbo_client).SyncToken == "4"
    assert requests.delete(f"{base}/{created.Id}", timeout=5).json() == {
        "deleted": created.Id}
    assert requests.delete(f"{base}/{created.Id}", timeout=5).status_code == 404
    assert qbo_sandbox.purchase_orders(R) == []
