"""What Intuit refuses, the sandbox refuses with Intuit's code: validation, references, names,
duplicate numbers, another company's token, queries, requestid replays. Every case goes
through the unmodified python-quickbooks 0.9.12 / intuit-oauth 1.2.6 clients; the comment
at the top of each test names the Intuit page (or client-library issue) it rests on."""

from __future__ import annotations

import json

import pytest
from quickbooks import QuickBooks
from quickbooks.exceptions import (
    ObjectNotFoundException,
    QuickbooksException,
    SevereException,
    ValidationException,
)
from quickbooks.objects.account import Account
from quickbooks.objects.base import Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.employee import Employee
from quickbooks.objects.purchaseorder import PurchaseOrder
from quickbooks.objects.vendor import Vendor

from qbo_sandbox import DEMO_REALM_ID

R = DEMO_REALM_ID


def _ref(value: str) -> Ref:
    ref = Ref()
    ref.value = value
    return ref


# ------------------------------------------------------------------------- 1. validation


def test_unknown_or_misspelt_property_is_2010(qbo_client, qbo_po, qbo_sandbox):
    # 2010 "Request has invalid or unsupported property": https://github.com/intuit/QuickBooks-V3-DotNET-SDK/issues/376
    po = qbo_po.purchase_order()
    po.PrivateNotes = "misspelt"  # python-quickbooks sends every attribute it holds
    with pytest.raises(ValidationException) as info:
        po.save(qb=qbo_client)
    assert info.value.error_code == 2010
    assert 'Unrecognized field "PrivateNotes"' in info.value.detail
    po = qbo_po.purchase_order()
    po.Line[0].ItemBasedExpenseLineDetail.CustomerRefs = _ref("2")  # inside a line detail
    with pytest.raises(ValidationException) as info:
        po.save(qb=qbo_client)
    assert info.value.error_code == 2010 and "ItemBasedExpenseLineDetail" in info.value.detail
    vendor = Vendor()
    vendor.DisplayName = "Cascade Glazing"
    vendor.DisplayNmae = "typo"
    with pytest.raises(ValidationException) as info:
        vendor.save(qb=qbo_client)
    assert info.value.error_code == 2010
    assert qbo_sandbox.counters()["writes"] == 0


def test_read_modify_save_of_every_seeded_object_is_accepted(qbo_client):
    # 2010 must not hit what QuickBooks itself returns: https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes
    for cls in (Vendor, Customer, Employee, Account):
        obj = cls.all(qb=qbo_client)[0]
        assert obj.save(qb=qbo_client).SyncToken == "1"


def test_purchase_order_without_lines_is_2020(qbo_client, qbo_po):
    # Line is required on a PurchaseOrder: https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/purchaseorder
    for lines in ([], None):
        po = qbo_po.purchase_order(doc_number="NO-LINES")
        po.Line = lines
        with pytest.raises(ValidationException) as info:
            po.save(qb=qbo_client)
        assert info.value.error_code == 2020 and "Line" in info.value.detail
    created = qbo_po.purchase_order().save(qb=qbo_client)
    full = {"Id": created.Id, "SyncToken": created.SyncToken, "VendorRef": {"value": "56"}}
    with pytest.raises(ValidationException) as info:  # a full update with no Line at all
        qbo_client.update_object("PurchaseOrder", json.dumps(full))
    assert info.value.error_code == 2020
    assert PurchaseOrder.all(qb=qbo_client)[0].SyncToken == "0"


def test_sparse_update_with_empty_line_array_is_2020_and_keeps_every_line(qbo_client, qbo_po):
    # python-quickbooks sends "Line": [] by default; Intuit answers 2020: https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/purchaseorder
    created = qbo_po.purchase_order(note="CCO-1").save(qb=qbo_client)
    sparse = PurchaseOrder()
    sparse.Id, sparse.SyncToken, sparse.sparse = created.Id, created.SyncToken, True
    sparse.PrivateNote = "CCO-2"
    assert json.loads(sparse.to_json())["Line"] == []
    with pytest.raises(ValidationException) as info:
        sparse.save(qb=qbo_client)
    assert info.value.error_code == 2020
    kept = PurchaseOrder.get(created.Id, qb=qbo_client)
    assert (kept.SyncToken, kept.PrivateNote, len(kept.Line)) == ("0", "CCO-1", 2)
    assert float(kept.TotalAmt) == 1750.5
    sparse.Line = None  # left out: the lines are kept and the note changes
    saved = sparse.save(qb=qbo_client)
    assert (saved.PrivateNote, len(saved.Line)) == ("CCO-2", 2)


def test_negative_line_amount_on_a_purchase_order_is_refused(qbo_client, qbo_po):
    # a PO line cannot be negative (business validation, 6000 range): https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes
    po = qbo_po.purchase_order(lines=[qbo_po.item_line(500), qbo_po.item_line(-100)])
    with pytest.raises(QuickbooksException) as info:
        po.save(qb=qbo_client)
    assert info.value.error_code == 6000
    assert "negative" in info.value.detail
    assert PurchaseOrder.all(qb=qbo_client) == []


def test_item_without_expense_account_is_refused_on_an_expense_line(qbo_client, qbo_po):
    # an item bought needs purchasing info (expense account): https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/item
    po = qbo_po.purchase_order(lines=[qbo_po.item_line(100, item_id="19")])  # sales-only
    with pytest.raises(QuickbooksException) as info:
        po.save(qb=qbo_client)
    assert info.value.error_code == 6000
    assert "expense account" in info.value.detail


def test_income_account_on_an_expense_line_is_refused(qbo_client, qbo_po):
    # expense lines post to expense/COGS accounts, not income: https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/purchaseorder
    po = qbo_po.purchase_order(lines=[qbo_po.account_line(100, account_id="90")])
    with pytest.raises(QuickbooksException) as info:
        po.save(qb=qbo_client)
    assert info.value.error_code == 6000
    assert "income account" in info.value.detail


def test_billable_line_without_customer_is_refused(qbo_client, qbo_po):
    # BillableStatus Billable needs a CustomerRef: https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/purchaseorder
    billable = qbo_po.item_line(100, customer_id=None)  # BillableStatus "Billable"
    with pytest.raises(QuickbooksException) as info:
        qbo_po.purchase_order(lines=[billable]).save(qb=qbo_client)
    assert info.value.error_code == 6000 and "customer" in info.value.detail
    not_billable = qbo_po.item_line(100, customer_id=None)
    not_billable.ItemBasedExpenseLineDetail.BillableStatus = "NotBillable"
    assert qbo_po.purchase_order(lines=[not_billable]).save(qb=qbo_client).Id


def test_two_ap_accounts_and_no_ap_account_ref_is_2020(qbo_client, qbo_po):
    # APAccountRef is required when the company has several A/P accounts: https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/purchaseorder
    assert qbo_po.purchase_order(doc_number="ONE-AP").save(qb=qbo_client).APAccountRef.value
    second = Account()
    second.Name = "Accounts Payable - Retention"
    second.AccountType = "Accounts Payable"
    second = second.save(qb=qbo_client)
    with pytest.raises(ValidationException) as info:
        qbo_po.purchase_order(doc_number="TWO-AP").save(qb=qbo_client)
    assert info.value.error_code == 2020 and "APAccountRef" in info.value.detail
    po = qbo_po.purchase_order(doc_number="TWO-AP")
    po.APAccountRef = _ref(second.Id)
    assert po.save(qb=qbo_client).APAccountRef.value == second.Id


# ------------------------------------------------------------------------- 2. references


def test_unknown_references_are_2500(qbo_client, qbo_po):
    # 2500 Invalid Reference Id vs 610 (inactive): https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/handling-common-errors
    cases = [
        qbo_po.purchase_order(vendor_id="4040"),
        qbo_po.purchase_order(lines=[qbo_po.item_line(10, item_id="4041")]),
        qbo_po.purchase_order(lines=[qbo_po.item_line(10, customer_id="777")]),
        qbo_po.purchase_order(lines=[qbo_po.account_line(10, account_id="999")]),
    ]
    for po in cases:
        with pytest.raises(ValidationException) as info:
            po.save(qb=qbo_client)
        assert info.value.error_code == 2500, info.value.detail
    job = Customer()
    job.DisplayName = "Orphan Job"
    job.ParentRef = _ref("888")
    with pytest.raises(ValidationException) as info:
        job.save(qb=qbo_client)
    assert info.value.error_code == 2500
    assert PurchaseOrder.all(qb=qbo_client) == []


def test_inactive_vendor_stays_610(qbo_client, qbo_sandbox, qbo_po):
    # 610 "has been made inactive": https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/handling-common-errors
    qbo_sandbox.set_active(R, "Vendor", "56", False)
    with pytest.raises(ObjectNotFoundException) as info:
        qbo_po.purchase_order().save(qb=qbo_client)
    assert info.value.error_code == 610


# ------------------------------------------------------------------------------ 3. names


def test_vendor_named_like_a_customer_or_employee_is_6240(qbo_client):
    # DisplayName is unique across Customer, Vendor and Employee: https://developer.intuit.com/hub/blog/2017/06/08/top-quickbooks-online-api-errors-and-how-to-handle-them
    assert "Dana Whitfield" in [e.DisplayName for e in Employee.all(qb=qbo_client)]
    for name in ("Riverside Holdings", "Dana Whitfield", "riverside medical office building"):
        vendor = Vendor()
        vendor.DisplayName = name
        with pytest.raises(QuickbooksException) as info:
            vendor.save(qb=qbo_client)
        assert info.value.error_code == 6240, name
    customer = Customer()
    customer.DisplayName = "Summit Concrete Co."
    with pytest.raises(QuickbooksException) as info:
        customer.save(qb=qbo_client)
    assert info.value.error_code == 6240
    vendor = Vendor()
    vendor.DisplayName = "Riverside Holdings LLC"
    assert vendor.save(qb=qbo_client).Id


# ------------------------------------------------------------------------- 4. duplicates


def test_allowduplicatedocnum_lets_a_duplicate_doc_number_through(qbo_client, qbo_po):
    # include=allowduplicatedocnum (DocNumber): https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/purchaseorder
    first = qbo_po.purchase_order(doc_number="SC-1042").save(qb=qbo_client)
    with pytest.raises(QuickbooksException) as info:
        qbo_po.purchase_order(doc_number="SC-1042").save(qb=qbo_client)
    assert info.value.error_code == 6140
    second = qbo_po.purchase_order(doc_number="SC-1042").save(
        qb=qbo_client, params={"include": "allowduplicatedocnum"})
    assert second.Id != first.Id and second.DocNumber == "SC-1042"
    assert len(PurchaseOrder.filter(DocNumber="SC-1042", qb=qbo_client)) == 2


# ---------------------------------------------------------------------- 5. wrong company


def test_token_of_another_company_is_403_3100(qbo_sandbox, qbo_connect, qbo_make_client,
                                             qbo_raw):
    # 403 ApplicationAuthorizationFailed / 3100: https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes
    other = "4620816365000000077"
    qbo_sandbox.add_company(other, "Other Co (Sandbox)")
    response = qbo_raw("GET", "vendor/56", realm_id=other)  # the demo company's token
    assert response.status_code == 403
    error = response.json()["fault"]["error"][0]
    assert error["code"] == "3100"
    assert error["message"] == ("message=ApplicationAuthorizationFailed; errorCode=003100; "
                                "statusCode=403")
    assert qbo_raw("GET", "vendor/56", realm_id="123").status_code == 403  # unknown company
    assert qbo_raw("GET", "vendor/56", realm_id=other, token="nope").status_code == 401
    # how python-quickbooks 0.9.12 reports it: not AuthorizationException (that is 401 only),
    # a QuickbooksException with error_code 10000 and the status in the message
    auth = qbo_connect()
    qb = QuickBooks(auth_client=auth, refresh_token=auth.refresh_token, company_id=other,
                    minorversion=75)
    qb.api_url_v3 = qbo_make_client(auth).api_url_v3
    with pytest.raises(QuickbooksException) as info:
        Vendor.get(56, qb=qb)
    assert type(info.value) is QuickbooksException
    assert info.value.error_code == 10000
    assert "status code '403'" in info.value.message and '"3100"' in info.value.message


# ---------------------------------------------------------------------------- 6. queries


def test_only_intuits_query_operators(qbo_client, qbo_po):
    # operators =, <, >, <=, >=, IN, LIKE: https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries
    qbo_po.purchase_order(doc_number="Q-1").save(qb=qbo_client)
    for where in ("DocNumber != 'Q-1'", "DocNumber <> 'Q-1'"):
        with pytest.raises(ValidationException) as info:
            PurchaseOrder.where(where, qb=qbo_client)
        assert info.value.error_code == 4000
    for where in ("DocNumber = 'Q-1'", "DocNumber IN ('Q-1', 'Q-2')", "DocNumber LIKE 'Q%'",
                  "TotalAmt > '1'", "TotalAmt >= '1750.5'", "TotalAmt < '9999'",
                  "TotalAmt <= '1750.5'"):
        assert len(PurchaseOrder.where(where, qb=qbo_client)) == 1, where


def test_filter_on_a_non_filterable_property_is_4001(qbo_client):
    # only properties marked filterable can be filtered: https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries
    for field in ("PrivateNote", "Memo", "Line"):
        with pytest.raises(ValidationException) as info:
            PurchaseOrder.filter(**{field: "x"}, qb=qbo_client)
        assert info.value.error_code == 4001, field
    assert PurchaseOrder.filter(DocNumber="x", qb=qbo_client) == []
    assert len(Vendor.filter(Active=True, qb=qbo_client)) == 4


def test_maxresults_over_1000_is_refused(qbo_client):
    # MAXRESULTS at most 1000: https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries
    with pytest.raises(ValidationException):
        Vendor.query("SELECT * FROM Vendor MAXRESULTS 1001", qb=qbo_client)
    assert len(Vendor.query("SELECT * FROM Vendor MAXRESULTS 1000", qb=qbo_client)) == 4


# ----------------------------------------------------------------------------- 8. replays


def test_a_fault_is_replayed_for_the_same_requestid(qbo_client, qbo_po, qbo_sandbox):
    # "the service sends the same response as it did for the original request": https://blogs.intuit.com/2015/04/06/15346/
    bad = qbo_po.purchase_order(vendor_id=None).to_json()
    with pytest.raises(ValidationException) as first:
        qbo_client.create_object("PurchaseOrder", bad, request_id="export-9")
    good = qbo_po.purchase_order().to_json()
    with pytest.raises(ValidationException) as again:  # same requestid, corrected body
        qbo_client.create_object("PurchaseOrder", good, request_id="export-9")
    assert (again.value.error_code, again.value.detail) == (2020, first.value.detail)
    assert qbo_sandbox.purchase_orders() == []
    assert qbo_sandbox.request_ids_seen(R) == [
        {"requestid": "export-9", "count": 2, "status": 400, "code": "2020", "stored": True}]
    assert qbo_client.create_object("PurchaseOrder", good, request_id="export-9-retry")


def test_faults_in_front_of_the_service_are_not_replayed(qbo_client, qbo_po, qbo_sandbox):
    # replay concerns requests the service processed: https://blogs.intuit.com/2015/04/06/15346/
    body = qbo_po.purchase_order().to_json()
    qbo_sandbox.inject_fault(R, "500")
    with pytest.raises(SevereException):
        qbo_client.create_object("PurchaseOrder", body, request_id="export-10")
    qbo_sandbox.configure(rate_limit_per_minute=0)
    with pytest.raises(ValidationException) as info:
        qbo_client.create_object("PurchaseOrder", body, request_id="export-10")
    assert info.value.error_code == 3001
    qbo_sandbox.configure(rate_limit_per_minute=500)
    created = qbo_client.create_object("PurchaseOrder", body, request_id="export-10")
    assert created["PurchaseOrder"]["Id"]
