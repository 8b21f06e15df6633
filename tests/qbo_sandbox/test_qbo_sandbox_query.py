"""The query subset: python-quickbooks' query/filter/where/count and raw GET ?query=."""

from __future__ import annotations

import pytest
from quickbooks.exceptions import ValidationException
from quickbooks.objects.item import Item
from quickbooks.objects.purchaseorder import PurchaseOrder
from quickbooks.objects.vendor import Vendor


@pytest.fixture
def five_pos(qbo_client, qbo_po):
    pos = []
    for number, vendor, amount in [("SC-1", "56", 500), ("SC-2", "57", 100),
                                   ("EL-3", "57", 900), ("ST-4", "58", 300),
                                   ("SC-5", "56", 700)]:
        po = qbo_po.purchase_order(doc_number=number, vendor_id=vendor,
                                   lines=[qbo_po.item_line(amount)])
        pos.append(po.save(qb=qbo_client))
    return pos


def _docs(result):
    return [po.DocNumber for po in result]


def test_equals_via_filter(qbo_client, five_pos):
    assert _docs(PurchaseOrder.filter(DocNumber="EL-3", qb=qbo_client)) == ["EL-3"]
    assert _docs(PurchaseOrder.where("VendorRef = '57'", qb=qbo_client)) == ["SC-2", "EL-3"]


def test_in_operator(qbo_client, five_pos):
    ids = [five_pos[0].Id, five_pos[3].Id, "9999"]
    assert _docs(PurchaseOrder.choose(ids, qb=qbo_client)) == ["SC-1", "ST-4"]


def test_like_operator_is_case_insensitive_with_percent(qbo_client, five_pos):
    assert _docs(PurchaseOrder.where("DocNumber LIKE 'sc-%'", qb=qbo_client)) == [
        "SC-1", "SC-2", "SC-5"]
    assert [v.DisplayName for v in Vendor.where("DisplayName LIKE '%Electric%'",
                                                qb=qbo_client)] == ["Apex Electrical Services"]


def test_and_and_comparison(qbo_client, five_pos):
    result = PurchaseOrder.where("DocNumber LIKE 'SC%' AND TotalAmt > 200", qb=qbo_client)
    assert _docs(result) == ["SC-1", "SC-5"]


def test_orderby_asc_desc_and_order_by(qbo_client, five_pos):
    asc = PurchaseOrder.where("", order_by="TotalAmt ASC", qb=qbo_client)
    assert _docs(asc) == ["SC-2", "ST-4", "SC-1", "SC-5", "EL-3"]
    desc = PurchaseOrder.query("SELECT * FROM PurchaseOrder ORDER BY DocNumber DESC",
                               qb=qbo_client)
    assert _docs(desc) == ["ST-4", "SC-5", "SC-2", "SC-1", "EL-3"]


def test_paging_with_startposition_and_maxresults(qbo_client, qbo_raw, five_pos):
    page = PurchaseOrder.where("", order_by="DocNumber", start_position=2, max_results=2,
                               qb=qbo_client)
    assert _docs(page) == ["SC-1", "SC-2"]
    raw = qbo_raw("POST", "query", data="select * from PurchaseOrder ORDERBY DocNumber "
                  "STARTPOSITION 5 MAXRESULTS 2",
                  headers={"Content-Type": "application/text"}).json()
    assert raw["QueryResponse"]["startPosition"] == 5
    assert raw["QueryResponse"]["maxResults"] == 1
    assert [po["DocNumber"] for po in raw["QueryResponse"]["PurchaseOrder"]] == ["ST-4"]
    assert "time" in raw


def test_count(qbo_client, five_pos):
    assert PurchaseOrder.count(qb=qbo_client) == 5
    assert PurchaseOrder.count("DocNumber LIKE 'SC%'", qb=qbo_client) == 3


def test_count_raw_shape(qbo_raw, five_pos):
    body = qbo_raw("GET", "query", params={"query": "select count(*) from PurchaseOrder"}).json()
    assert body["QueryResponse"] == {"totalCount": 5}


def test_no_match_is_empty_query_response(qbo_client, qbo_raw):
    body = qbo_raw("GET", "query", params={
        "query": "select * from PurchaseOrder where DocNumber = 'nope'"}).json()
    assert body["QueryResponse"] == {}
    assert PurchaseOrder.filter(DocNumber="nope", qb=qbo_client) == []


def test_get_query_param_and_post_body_agree(qbo_raw, five_pos):
    text = "SELECT * FROM PurchaseOrder WHERE DocNumber = 'SC-2'"
    by_get = qbo_raw("GET", "query", params={"query": text}).json()["QueryResponse"]
    by_post = qbo_raw("POST", "query", data=text,
                      headers={"Content-Type": "application/text"}).json()["QueryResponse"]
    assert by_get == by_post
    assert by_get["PurchaseOrder"][0]["DocNumber"] == "SC-2"


def test_maxresults_over_1000_is_a_fault(qbo_client, qbo_raw):
    with pytest.raises(ValidationException) as info:
        PurchaseOrder.where("", max_results=1001, qb=qbo_client)
    assert info.value.error_code == 4001
    assert PurchaseOrder.where("", max_results=1000, qb=qbo_client) == []
    body = qbo_raw("GET", "query", params={
        "query": "select * from Vendor MAXRESULTS 5000"})
    assert body.status_code == 400
    assert body.json()["Fault"]["type"] == "ValidationFault"


def test_quoted_value_with_apostrophe(qbo_client):
    vendor = Vendor()
    vendor.DisplayName = "O'Brien Drywall"
    vendor.save(qb=qbo_client)
    found = Vendor.filter(DisplayName="O'Brien Drywall", qb=qbo_client)
    assert [v.DisplayName for v in found] == ["O'Brien Drywall"]


def test_inactive_names_hidden_unless_active_is_queried(qbo_client, qbo_sandbox):
    qbo_sandbox.set_active("9341453050298165", "Vendor", "59", False)
    assert "BuildRight Supply Co." not in [v.DisplayName for v in Vendor.all(qb=qbo_client)]
    inactive = Vendor.where("Active = false", qb=qbo_client)
    assert [v.DisplayName for v in inactive] == ["BuildRight Supply Co."]
    assert len(Vendor.where("Active IN (true, false)", qb=qbo_client)) == 4


def test_item_all_with_sku_select_list(qbo_client):
    assert len(Item.all(qb=qbo_client)) == 9  # python-quickbooks sends "SELECT *, Sku FROM Item"


def test_parse_errors_and_unknown_entity(qbo_client):
    with pytest.raises(ValidationException) as info:
        PurchaseOrder.query("SELECT * FROM PurchaseOrder WHERE DocNumber = 'a' OR "
                            "DocNumber = 'b'", qb=qbo_client)
    assert info.value.error_code == 4000
    with pytest.raises(ValidationException) as info:
        PurchaseOrder.query("SELECT * FROM Spaceship", qb=qbo_client)
    assert info.value.error_code == 4001
