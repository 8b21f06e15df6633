"""Create / read / update of the Accounting API through python-quickbooks 0.9.12."""

from __future__ import annotations

import json

import pytest
from quickbooks.exceptions import (
    ObjectNotFoundException,
    QuickbooksException,
    ValidationException,
)
from quickbooks.objects.account import Account
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.customer import Customer
from quickbooks.objects.item import Item
from quickbooks.objects.purchaseorder import PurchaseOrder
from quickbooks.objects.trackingclass import Class
from quickbooks.objects.vendor import Vendor

from qbo_sandbox import DEMO_REALM_ID


def _lines(po):
    return [(line.Id, line.Description, float(line.Amount)) for line in po.Line]


# ------------------------------------------------------------------------- demo company


def test_demo_company_is_seeded(qbo_client):
    qb = qbo_client
    assert CompanyInfo.get(DEMO_REALM_ID, qb=qb).CompanyName == "Riverside Builders LLC (Sandbox)"
    assert sorted(v.DisplayName for v in Vendor.all(qb=qb)) == [
        "Apex Electrical Services", "BuildRight Supply Co.", "Ironline Steel Erectors",
        "Summit Concrete Co."]
    jobs = {c.FullyQualifiedName: c for c in Customer.all(qb=qb) if c.Job}
    assert set(jobs) == {"Riverside Holdings:Riverside Medical Office Building",
                         "Harbor Point Partners:Harbor Point Parking Structure"}
    job = jobs["Riverside Holdings:Riverside Medical Office Building"]
    parent = Customer.get(job.ParentRef.value, qb=qb)
    assert parent.DisplayName == "Riverside Holdings" and parent.Job is False
    accounts = {a.Name: a.AccountType for a in Account.all(qb=qb)}
    assert accounts == {"Accounts Payable (A/P)": "Accounts Payable",
                        "Job Materials": "Cost of Goods Sold",
                        "Subcontractors": "Cost of Goods Sold",
                        "Equipment Rental": "Expense", "Job Labor": "Cost of Goods Sold",
                        "Construction Income": "Income"}
    items = {i.Name: i for i in Item.all(qb=qb)}
    assert len(items) == 9
    assert all(i.Type in ("Service", "NonInventory") for i in items.values())
    assert items["Concrete - Material"].ExpenseAccountRef.name == "Job Materials"
    # every item bought on a PO has an expense account; one sales-only item has none
    sales_only = [name for name, i in items.items() if not i.ExpenseAccountRef]
    assert sales_only == ["Design Services"]
    assert items["Design Services"].IncomeAccountRef.name == "Construction Income"
    assert {c.Name for c in Class.all(qb=qb)} == {"Field", "Office"}
    assert PurchaseOrder.all(qb=qb) == []


# ------------------------------------------------------------------------ create / read


def test_create_purchase_order_returns_intuit_envelope_and_computed_fields(qbo_client,
                                                                         qbo_po):
    body = json.loads(qbo_po.purchase_order(note="CCO-001").to_json())
    result = qbo_client.create_object("PurchaseOrder", json.dumps(body))
    assert set(result) == {"PurchaseOrder", "time"}
    po = result["PurchaseOrder"]
    assert po["Id"] == "101"
    assert po["SyncToken"] == "0"
    assert po["MetaData"]["CreateTime"] == po["MetaData"]["LastUpdatedTime"]
    assert po["TotalAmt"] == 1750.5
    assert po["POStatus"] == "Open"
    assert po["DocNumber"] == "SC-1042" and po["PrivateNote"] == "CCO-001"
    assert po["VendorRef"] == {"value": "56", "name": "Summit Concrete Co."}
    assert po["APAccountRef"]["value"] == "33"
    assert po["TxnDate"] == "2026-01-01"
    assert [(line["Id"], line["LineNum"]) for line in po["Line"]] == [("1", 1), ("2", 2)]
    item_detail = po["Line"][0]["ItemBasedExpenseLineDetail"]
    assert item_detail["ItemRef"] == {"value": "11", "name": "Concrete - Subcontract"}
    assert item_detail["CustomerRef"]["name"] == (
        "Riverside Holdings:Riverside Medical Office Building")
    assert item_detail["BillableStatus"] == "Billable"
    account_detail = po["Line"][1]["AccountBasedExpenseLineDetail"]
    assert account_detail["AccountRef"] == {"value": "81", "name": "Subcontractors"}


def test_save_and_get_round_trip(qbo_client, qbo_po):
    saved = qbo_po.purchase_order().save(qb=qbo_client)
    read = PurchaseOrder.get(saved.Id, qb=qbo_client)
    assert read.to_json() == saved.to_json()
    assert _lines(read) == [("1", "Footings", 1500.0), ("2", "Pump truck", 250.5)]


def test_create_with_null_id_and_client_defaults_is_accepted(qbo_client):
    body = {"Id": None, "SyncToken": 0, "sparse": False, "domain": "QBO", "TotalAmt": 999,
            "VendorRef": {"value": "57", "name": "", "type": ""},
            "Line": [{"Id": None, "Amount": 12, "DetailType": "AccountBasedExpenseLineDetail",
                      "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "81"}},
                      "CustomField": [], "LinkedTxn": [], "LineNum": 0}],
            "CustomField": [], "LinkedTxn": [], "ExchangeRate": 1,
            "APAccountRef": None, "DocNumber": None}
    po = qbo_client.create_object("PurchaseOrder", json.dumps(body))["PurchaseOrder"]
    assert po["Id"] and po["SyncToken"] == "0"
    assert po["TotalAmt"] == 12 and [line["Id"] for line in po["Line"]] == ["1"]
    assert po["VendorRef"]["name"] == "Apex Electrical Services"


def test_read_unknown_object_is_610(qbo_client):
    with pytest.raises(ObjectNotFoundException) as info:
        PurchaseOrder.get(4242, qb=qbo_client)
    assert info.value.error_code == 610


def test_create_vendor_and_job_sub_customer(qbo_client):
    vendor = Vendor()
    vendor.DisplayName = "Keystone Drywall Inc."
    vendor = vendor.save(qb=qbo_client)
    assert vendor.Id and vendor.SyncToken == "0" and vendor.Active is True
    job = Customer()
    job.DisplayName = "Riverside Garage"
    job.ParentRef = Customer.get(1, qb=qbo_client).to_ref()
    job.Job = True
    job = job.save(qb=qbo_client)
    assert job.Job is True
    assert job.FullyQualifiedName == "Riverside Holdings:Riverside Garage"
    assert job.Level == 1


# ------------------------------------------------------------------------------ updates


def test_full_update_bumps_sync_token_keeps_lines_with_ids_and_adds_new(qbo_client, qbo_po,
                                                                       qbo_sandbox):
    created = qbo_po.purchase_order().save(qb=qbo_client)
    qbo_sandbox.advance_time(90)
    po = PurchaseOrder.get(created.Id, qb=qbo_client)
    po.PrivateNote = "CCO-002"
    po.Line.append(qbo_po.item_line(300, "14", "2", "CCO-002 conduit"))
    updated = po.save(qb=qbo_client)
    assert updated.SyncToken == "1"
    assert updated.PrivateNote == "CCO-002"
    assert _lines(updated) == [("1", "Footings", 1500.0), ("2", "Pump truck", 250.5),
                               ("3", "CCO-002 conduit", 300.0)]
    assert float(updated.TotalAmt) == 2050.5
    assert updated.MetaData["CreateTime"] == created.MetaData["CreateTime"]
    assert updated.MetaData["LastUpdatedTime"] != created.MetaData["LastUpdatedTime"]
    again = PurchaseOrder.get(created.Id, qb=qbo_client)
    again.PrivateNote = "CCO-003"
    assert again.save(qb=qbo_client).SyncToken == "2"


def test_line_rule_omitted_deleted_known_ids_kept_new_ids_never_reused(qbo_client, qbo_po):
    created = qbo_po.purchase_order(lines=[
        qbo_po.item_line(100, description="A"), qbo_po.item_line(200, description="B"),
        qbo_po.item_line(300, description="C")]).save(qb=qbo_client)
    po = PurchaseOrder.get(created.Id, qb=qbo_client)
    line_b = po.Line[1]
    line_b.Amount = 250
    line_b.Description = "B changed"
    po.Line = [
        line_b,
        qbo_po.item_line(50, description="unknown id", line_id="99"),
        qbo_po.item_line(75, description="new"),
    ]
    updated = po.save(qb=qbo_client)
    assert _lines(updated) == [("2", "B changed", 250.0), ("4", "unknown id", 50.0),
                               ("5", "new", 75.0)]
    assert [line.LineNum for line in updated.Line] == [1, 2, 3]
    assert float(updated.TotalAmt) == 375.0
    # line 1 and 3 are gone for good: sending Id "1" again makes a new line
    po = PurchaseOrder.get(created.Id, qb=qbo_client)
    po.Line.append(qbo_po.item_line(1, description="old id", line_id="1"))
    assert _lines(po.save(qb=qbo_client))[-1] == ("6", "old id", 1.0)


def test_full_update_clears_omitted_fields(qbo_client, qbo_po):
    created = qbo_po.purchase_order(note="keep?").save(qb=qbo_client)
    line = json.loads(created.Line[0].to_json())
    body = {"Id": created.Id, "SyncToken": created.SyncToken, "VendorRef": {"value": "56"},
            "Line": [line]}
    po = qbo_client.update_object("PurchaseOrder", json.dumps(body))["PurchaseOrder"]
    assert [item["Id"] for item in po["Line"]] == ["1"] and po["TotalAmt"] == 1500
    assert "PrivateNote" not in po and "DocNumber" not in po
    assert po["SyncToken"] == "1"


def test_sparse_update_changes_only_fields_sent(qbo_client, qbo_po):
    created = qbo_po.purchase_order(note="first").save(qb=qbo_client)
    body = {"Id": created.Id, "SyncToken": created.SyncToken, "sparse": True,
            "PrivateNote": "second"}
    po = qbo_client.update_object("PurchaseOrder", json.dumps(body))["PurchaseOrder"]
    assert po["PrivateNote"] == "second"
    assert po["DocNumber"] == "SC-1042"
    assert [line["Id"] for line in po["Line"]] == ["1", "2"]
    assert po["TotalAmt"] == 1750.5
    assert po["SyncToken"] == "1"


def test_sparse_update_with_line_array_replaces_the_set(qbo_client, qbo_po):
    created = qbo_po.purchase_order(note="n").save(qb=qbo_client)
    po = PurchaseOrder.get(created.Id, qb=qbo_client)
    body = {"Id": po.Id, "SyncToken": po.SyncToken, "sparse": True,
            "Line": [json.loads(po.Line[1].to_json())]}
    result = qbo_client.update_object("PurchaseOrder", json.dumps(body))["PurchaseOrder"]
    assert [line["Id"] for line in result["Line"]] == ["2"]
    assert result["TotalAmt"] == 250.5
    assert result["PrivateNote"] == "n"


def test_python_quickbooks_sparse_object_sends_empty_line_array_and_is_refused(qbo_client,
                                                                               qbo_po):
    """The documented trap: to_json() sends ``"Line": []`` unless Line is None; QuickBooks
    answers 2020 (Line required) and changes nothing."""
    created = qbo_po.purchase_order().save(qb=qbo_client)
    po = PurchaseOrder()
    po.Id, po.SyncToken, po.sparse = created.Id, created.SyncToken, True
    po.PrivateNote = "note only"
    with pytest.raises(ValidationException) as info:
        po.save(qb=qbo_client)
    assert info.value.error_code == 2020 and "Line" in info.value.detail
    fresh = PurchaseOrder.get(created.Id, qb=qbo_client)
    assert fresh.SyncToken == "0" and len(fresh.Line) == 2
    keep = PurchaseOrder()
    keep.Id, keep.SyncToken, keep.sparse = fresh.Id, fresh.SyncToken, True
    keep.Line = None
    keep.PrivateNote = "lines kept"
    fresh.Line = [qbo_po.item_line(10, description="x")]
    fresh = fresh.save(qb=qbo_client)
    keep.SyncToken = fresh.SyncToken
    assert [line.Description for line in keep.save(qb=qbo_client).Line] == ["x"]


def test_stale_sync_token_is_5010(qbo_client, qbo_po):
    created = qbo_po.purchase_order().save(qb=qbo_client)
    first = PurchaseOrder.get(created.Id, qb=qbo_client)
    second = PurchaseOrder.get(created.Id, qb=qbo_client)
    first.PrivateNote = "first writer"
    first.save(qb=qbo_client)
    second.PrivateNote = "second writer"
    with pytest.raises(QuickbooksException) as info:
        second.save(qb=qbo_client)
    assert type(info.value) is QuickbooksException
    assert info.value.error_code == 5010
    assert "Stale Object Error" in info.value.message
    assert PurchaseOrder.get(created.Id, qb=qbo_client).PrivateNote == "first writer"


def test_update_of_deleted_purchase_order_is_610(qbo_client, qbo_po):
    created = qbo_po.purchase_order().save(qb=qbo_client)
    po = PurchaseOrder.get(created.Id, qb=qbo_client)
    deleted = po.delete(qb=qbo_client)
    assert deleted["PurchaseOrder"]["status"] == "Deleted"
    with pytest.raises(ObjectNotFoundException):
        PurchaseOrder.get(created.Id, qb=qbo_client)
    with pytest.raises(ObjectNotFoundException):
        po.save(qb=qbo_client)


def test_sync_token_is_a_string_in_raw_json(qbo_raw, qbo_client, qbo_po):
    created = qbo_po.purchase_order().save(qb=qbo_client)
    body = qbo_raw("GET", f"purchaseorder/{created.Id}").json()
    assert body["PurchaseOrder"]["SyncToken"] == "0"
    assert isinstance(body["time"], str)


# ---------------------------------------------------------------------------- requestid


def test_requestid_replays_first_response_without_applying_again(qbo_client, qbo_po,
                                                                 qbo_sandbox):
    body = qbo_po.purchase_order().to_json()
    first = qbo_client.create_object("PurchaseOrder", body, request_id="export-7-cco-1")
    writes = qbo_sandbox.counters()["writes"]
    qbo_sandbox.advance_time(5)
    second = qbo_client.create_object("PurchaseOrder", body, request_id="export-7-cco-1")
    assert second == first  # same Id, same time stamp
    other_body = qbo_po.purchase_order(doc_number="SC-9").to_json()
    third = qbo_client.create_object("PurchaseOrder", other_body,
                                     request_id="export-7-cco-1")
    assert third == first
    assert qbo_sandbox.counters()["writes"] == writes
    assert len(PurchaseOrder.all(qb=qbo_client)) == 1
    fourth = qbo_client.create_object("PurchaseOrder", other_body, request_id="export-8")
    assert fourth["PurchaseOrder"]["Id"] != first["PurchaseOrder"]["Id"]


def test_requestid_on_update_is_not_applied_twice(qbo_client, qbo_po):
    created = qbo_po.purchase_order().save(qb=qbo_client)
    po = PurchaseOrder.get(created.Id, qb=qbo_client)
    po.Line.append(qbo_po.item_line(10, description="CCO-5"))
    first = po.save(qb=qbo_client, request_id="cco-5")
    second = po.save(qb=qbo_client, request_id="cco-5")  # stale token, but replayed
    assert second.SyncToken == first.SyncToken == "1"
    assert len(PurchaseOrder.get(created.Id, qb=qbo_client).Line) == 3


def test_requestid_is_keyed_per_realm(qbo_sandbox, qbo_make_client, qbo_po):
    qbo_sandbox.add_company("4620816365000000002", "Other Co")
    qb_one = qbo_make_client()
    qb_two = qbo_make_client(realm_id="4620816365000000002")
    body = qbo_po.purchase_order().to_json()
    qb_one.create_object("PurchaseOrder", body, request_id="same-id")
    qb_two.create_object("PurchaseOrder", body, request_id="same-id")
    assert qbo_sandbox.counters()["purchase_orders"] == 1
    assert qbo_sandbox.counters("4620816365000000002")["purchase_orders"] == 1


def test_requestid_faults_are_not_stored_when_fault_replay_is_off(qbo_client, qbo_po,
                                                                   qbo_sandbox):
    qbo_sandbox.configure(replay_faults=False)
    bad = qbo_po.purchase_order(vendor_id=None).to_json()
    with pytest.raises(QuickbooksException):
        qbo_client.create_object("PurchaseOrder", bad, request_id="retry-me")
    good = qbo_po.purchase_order().to_json()
    assert qbo_client.create_object("PurchaseOrder", good, request_id="retry-me")[
        "PurchaseOrder"]["Id"]
