"""Fault codes, their JSON shape and how python-quickbooks 0.9.12 raises them."""

from __future__ import annotations

import json
import threading
import time

import pytest
from quickbooks.exceptions import (
    AuthorizationException,
    ObjectNotFoundException,
    QuickbooksException,
    UnsupportedException,
    ValidationException,
)
from quickbooks.objects.purchaseorder import PurchaseOrder
from quickbooks.objects.vendor import Vendor

from qbo_sandbox import DEMO_REALM_ID


def _raw_fault(qbo_raw, body: dict) -> tuple[int, dict]:
    response = qbo_raw("POST", "purchaseorder", data=json.dumps(body),
                       headers={"Content-Type": "application/json"})
    return response.status_code, response.json()


def test_missing_vendor_ref_is_2020_with_element(qbo_client, qbo_raw, qbo_po):
    with pytest.raises(ValidationException) as info:
        qbo_po.purchase_order(vendor_id=None).save(qb=qbo_client)
    assert info.value.error_code == 2020
    assert "VendorRef" in info.value.detail
    status, body = _raw_fault(qbo_raw, {"Line": []})
    assert status == 400
    error = body["Fault"]["Error"][0]
    assert body["Fault"]["type"] == "ValidationFault"
    assert error["code"] == "2020" and isinstance(error["code"], str)
    assert error["element"] == "VendorRef"
    assert error["Message"].startswith("Required param missing")
    assert "time" in body


def test_line_without_item_or_account_ref_is_2020(qbo_client, qbo_raw, qbo_po):
    with pytest.raises(ValidationException) as info:
        qbo_po.purchase_order(lines=[qbo_po.item_line(10, item_id=None)]).save(qb=qbo_client)
    assert info.value.error_code == 2020
    assert "ItemRef" in info.value.detail
    _, body = _raw_fault(qbo_raw, {"VendorRef": {"value": "56"}, "Line": [
        {"Amount": 5, "DetailType": "AccountBasedExpenseLineDetail",
         "AccountBasedExpenseLineDetail": {"CustomerRef": {"value": "2"}}}]})
    assert body["Fault"]["Error"][0]["element"] == (
        "Line.AccountBasedExpenseLineDetail.AccountRef")
    _, body = _raw_fault(qbo_raw, {"VendorRef": {"value": "56"}, "Line": [{"Amount": 5}]})
    assert body["Fault"]["Error"][0]["element"] == "Line.DetailType"
    assert PurchaseOrder.all(qb=qbo_client) == []


def test_inactive_reference_is_610(qbo_client, qbo_sandbox, qbo_po):
    # 610 = made inactive: https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/handling-common-errors
    qbo_sandbox.set_active(DEMO_REALM_ID, "Item", "12", False)
    with pytest.raises(ObjectNotFoundException) as info:
        qbo_po.purchase_order(lines=[qbo_po.item_line(10, item_id="12")]).save(qb=qbo_client)
    assert info.value.error_code == 610
    assert "inactive" in info.value.detail
    qbo_sandbox.set_active(DEMO_REALM_ID, "Customer", "2", False)
    with pytest.raises(ObjectNotFoundException):
        qbo_po.purchase_order(lines=[qbo_po.account_line(10, customer_id="2")]).save(
            qb=qbo_client)
    assert PurchaseOrder.all(qb=qbo_client) == []


def test_vendor_made_inactive_through_the_api_is_610(qbo_client, qbo_po):
    vendor = Vendor.get(58, qb=qbo_client)
    vendor.Active = False
    vendor.save(qb=qbo_client)
    with pytest.raises(ObjectNotFoundException):
        qbo_po.purchase_order(vendor_id="58").save(qb=qbo_client)


def test_invalid_reference_id_is_2500(qbo_client, qbo_raw, qbo_po):
    with pytest.raises(ValidationException) as info:
        qbo_po.purchase_order(vendor_id="abc").save(qb=qbo_client)
    assert info.value.error_code == 2500
    po = qbo_po.purchase_order()
    po.APAccountRef = Vendor.get(56, qb=qbo_client).to_ref()
    po.APAccountRef.value = "81"  # an expense account, not A/P
    with pytest.raises(ValidationException) as info:
        po.save(qb=qbo_client)
    assert info.value.error_code == 2500
    _, body = _raw_fault(qbo_raw, {"VendorRef": {"value": "x1"}})
    assert body["Fault"]["Error"][0]["code"] == "2500"


def test_duplicate_doc_number_is_6140_unless_setting_off(qbo_client, qbo_sandbox, qbo_po):
    qbo_po.purchase_order(doc_number="SC-1042").save(qb=qbo_client)
    with pytest.raises(QuickbooksException) as info:
        qbo_po.purchase_order(doc_number="SC-1042").save(qb=qbo_client)
    assert info.value.error_code == 6140
    assert "Duplicate Document Number" in info.value.message
    assert len(PurchaseOrder.all(qb=qbo_client)) == 1
    qbo_sandbox.set_duplicate_doc_number_check(DEMO_REALM_ID, False)
    qbo_po.purchase_order(doc_number="SC-1042").save(qb=qbo_client)
    assert len(PurchaseOrder.all(qb=qbo_client)) == 2


def test_updating_a_po_keeps_its_own_doc_number(qbo_client, qbo_po):
    created = qbo_po.purchase_order(doc_number="SC-7").save(qb=qbo_client)
    po = PurchaseOrder.get(created.Id, qb=qbo_client)
    po.PrivateNote = "x"
    assert po.save(qb=qbo_client).DocNumber == "SC-7"


def test_doc_number_longer_than_21_is_a_fault(qbo_client, qbo_po):
    qbo_po.purchase_order(doc_number="X" * 21).save(qb=qbo_client)
    with pytest.raises(ValidationException) as info:
        qbo_po.purchase_order(doc_number="Y" * 22).save(qb=qbo_client)
    assert info.value.error_code == 2050
    assert "Max:21" in info.value.detail


def test_401_shape_and_python_quickbooks_exception(qbo_client, qbo_raw):
    response = qbo_raw("GET", "vendor/56", token=None)
    assert response.status_code == 401
    body = response.json()
    assert "Fault" not in body
    error = body["fault"]["error"][0]
    assert error == {"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                     "detail": error["detail"], "code": "3200", "element": None}
    assert body["fault"]["type"] == "AUTHENTICATION"
    assert isinstance(body["time"], int)
    assert qbo_raw("GET", "vendor/56", token="made-up").status_code == 401
    qbo_client.session.token = {"access_token": "made-up", "token_type": "Bearer"}
    with pytest.raises(AuthorizationException) as info:
        Vendor.get(56, qb=qbo_client)
    assert info.value.error_code == 401
    assert json.loads(info.value.detail)["fault"]["error"][0]["code"] == "3200"


def test_minorversion_missing_or_below_75_is_served_as_75(qbo_raw, qbo_sandbox):
    # 1-74 end August 2025: https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/minor-versions
    assert qbo_raw("GET", "vendor/56", params={"minorversion": None}).status_code == 200
    assert qbo_raw("GET", "vendor/56", params={"minorversion": "4"}).status_code == 200
    assert qbo_raw("GET", "vendor/56", params={"minorversion": "75"}).status_code == 200
    assert qbo_raw("GET", "vendor/56", params={"minorversion": "abc"}).status_code == 400
    served = [e["minorversion_served"] for e in qbo_sandbox.request_log(DEMO_REALM_ID)]
    assert served == [75, 75, 75, None]


def test_unsupported_entity_and_bad_json(qbo_raw):
    response = qbo_raw("POST", "invoice", data="{}")
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"] == "500"
    response = qbo_raw("POST", "purchaseorder", data="{not json")
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"] == "2010"


# ----------------------------------------------------------------------------- throttling


def test_rate_limit_per_minute_429_3001(qbo_sandbox, qbo_client, qbo_raw):
    qbo_sandbox.configure(rate_limit_per_minute=3)
    for _ in range(3):
        Vendor.get(56, qb=qbo_client)
    with pytest.raises(ValidationException) as info:
        Vendor.get(56, qb=qbo_client)
    assert info.value.error_code == 3001
    assert info.value.message == "message=ThrottleExceeded; errorCode=003001; statusCode=429"
    response = qbo_raw("GET", "vendor/56")
    assert response.status_code == 429
    assert response.json()["Fault"]["Error"][0]["code"] == "3001"
    qbo_sandbox.advance_time(61)
    assert Vendor.get(56, qb=qbo_client).Id == "56"
    assert qbo_sandbox.counters()["throttled"] == 2


def test_rate_limit_is_per_realm(qbo_sandbox, qbo_make_client):
    qbo_sandbox.add_company("4620816365000000003", "Other Co")
    one = qbo_make_client()
    two = qbo_make_client(realm_id="4620816365000000003")
    qbo_sandbox.configure(rate_limit_per_minute=2)
    Vendor.get(56, qb=one)
    Vendor.get(56, qb=one)
    with pytest.raises(ValidationException):
        Vendor.get(56, qb=one)
    assert Vendor.get(56, qb=two).Id == "56"


def test_concurrency_limit_429_3001(qbo_sandbox, qbo_make_client, qbo_auth):
    qbo_sandbox.configure(concurrency_limit=2)
    qbo_sandbox.pause_api(DEMO_REALM_ID)
    results: list = []

    def call() -> None:
        try:
            results.append(Vendor.get(56, qb=qbo_make_client(qbo_auth)).Id)
        except Exception as exc:  # pragma: no cover - reported through results
            results.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while qbo_sandbox.in_flight(DEMO_REALM_ID) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert qbo_sandbox.in_flight(DEMO_REALM_ID) == 2
    with pytest.raises(ValidationException) as info:
        Vendor.get(56, qb=qbo_make_client(qbo_auth))
    assert info.value.error_code == 3001
    qbo_sandbox.resume_api(DEMO_REALM_ID)
    for thread in threads:
        thread.join(5)
    assert results == ["56", "56"]
    assert Vendor.get(56, qb=qbo_make_client(qbo_auth)).Id == "56"


def test_other_codes_and_their_exception_classes(qbo_client, qbo_po):
    vendor = Vendor()
    vendor.DisplayName = "Summit Concrete Co."
    with pytest.raises(QuickbooksException) as info:
        vendor.save(qb=qbo_client)
    assert (type(info.value), info.value.error_code) == (QuickbooksException, 6240)
    with pytest.raises(UnsupportedException) as info:
        qbo_client.update_object("Invoice", json.dumps({"Line": []}))
    assert info.value.error_code == 500
    po = qbo_po.purchase_order()
    po.Line[0].ItemBasedExpenseLineDetail.BillableStatus = "Sometimes"
    with pytest.raises(ValidationException) as info:
        po.save(qb=qbo_client)
    assert info.value.error_code == 2170


def test_a_requestid_longer_than_50_characters_is_refused(qbo_client, qbo_raw, qbo_sandbox,
                                                          qbo_po):
    """Intuit: "The RequestID can have a maximum of 50 characters" -- a longer one is a
    ValidationFault (2050, element requestid), and nothing is written."""
    body = json.loads(qbo_po.purchase_order().to_json())
    too_long = "r" * 51
    response = qbo_raw("POST", "purchaseorder", params={"requestid": too_long},
                       data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    fault = response.json()["Fault"]
    assert fault["type"] == "ValidationFault"
    error = fault["Error"][0]
    assert error["code"] == "2050" and error["element"] == "requestid"
    assert "Max:50" in error["Detail"] and "Supplied length:51" in error["Detail"]
    assert qbo_sandbox.purchase_orders(DEMO_REALM_ID) == []
    with pytest.raises(ValidationException) as info:  # as python-quickbooks reports it
        qbo_po.purchase_order().save(qb=qbo_client, request_id=too_long)
    assert info.value.error_code == 2050
    ok = qbo_raw("POST", "purchaseorder", params={"requestid": "r" * 50},
                 data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert ok.status_code == 200
    assert len(qbo_sandbox.purchase_orders(DEMO_REALM_ID)) == 1
