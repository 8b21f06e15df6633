"""Starting from real books (issue 25): link a commitment to a PurchaseOrder already in
QuickBooks, import PurchaseOrders as commitments, unlink a CCO or a commitment.

Everything reaches QuickBooks through the real python-quickbooks and intuit-oauth clients,
against the sandbox; a bookkeeper's own purchase orders are entered in the sandbox as a user
would enter them in QuickBooks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from extensions import db
from models import (
    ChangeOrder,
    Commitment,
    CostMapping,
    ErpPermission,
    ErpStatus,
    HistoryEvent,
    ProjectRole,
)
from quickbooks_online.marker import split_note
from tests import qbo_helpers
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import DEMO_REALM, run_jobs
from workflow import books, erp
from workflow.commitments import totals
from workflow.errors import AlreadyHandled, InvalidInput, Locked, PermissionDenied

SUMMIT, APEX = "56", "57"
JOB = "2"  # Riverside Medical Office Building
CONCRETE_SUB, STEEL_SUB, JOB_MATERIALS = "11", "13", "80"


def item_line(amount, description, item=CONCRETE_SUB, customer=JOB) -> dict:
    return {"DetailType": "ItemBasedExpenseLineDetail", "Amount": float(amount),
            "Description": description,
            "ItemBasedExpenseLineDetail": {"ItemRef": {"value": item}, "Qty": 1,
                                           "UnitPrice": float(amount),
                                           "CustomerRef": {"value": customer}}}


def account_line(amount, description, account=JOB_MATERIALS, customer=JOB) -> dict:
    return {"DetailType": "AccountBasedExpenseLineDetail", "Amount": float(amount),
            "Description": description,
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account},
                                              "CustomerRef": {"value": customer}}}


def _lines(po: dict) -> dict[str, dict]:
    return {line["Id"]: line for line in po["Line"]}


def _fresh(model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


def _link_all(erp_admin, commitment, po) -> None:
    """Match the commitment's SOV lines to the PO's first lines, in order."""
    matches = [(sov.id, po["Line"][i]["Id"]) for i, sov in enumerate(commitment.sov_lines)
               if i < 2]
    books.link(erp_admin, commitment, po["Id"], matches)


# ---- link then Accept ---------------------------------------------------------------------------

def test_link_then_accept_brings_the_bookkeepers_po_to_the_sov_and_keeps_their_line_and_memo(
        sandbox, factory, people, erp_commitment, erp_admin, approver, bookkeeper_po):
    winter = factory.sov_line(erp_commitment, amount="5000.00", description="Winter protection",
                              cost_code=erp_commitment.sov_lines[0].cost_code)
    offered = books.linkable_purchase_orders(erp_admin, erp_commitment)
    assert [s.id for s in offered] == [bookkeeper_po["Id"]]
    suggested = books.suggested_matches(erp_commitment, offered[0].lines)
    assert winter.id not in suggested
    _link_all(erp_admin, erp_commitment, bookkeeper_po)
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1
    # linking writes nothing
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", bookkeeper_po["Id"]) == bookkeeper_po

    # The approver's preview: line by line, now / change / after.
    preview = books_preview(erp_commitment)
    assert [(r.now, r.change, r.after) for r in preview.preview] == [
        (Decimal("180000.00"), Decimal("5000.00"), Decimal("185000.00")),
        (Decimal("90000.00"), Decimal("6500.50"), Decimal("96500.50")),
        (None, Decimal("5000.00"), Decimal("5000.00")),
        (Decimal("1500.00"), Decimal("0.00"), Decimal("1500.00"))]  # the bookkeeper's, kept
    assert preview.preview[3].description == "Freight (bookkeeper) (not matched: kept as it is)"

    synced = send_and_accept(erp_commitment, people, approver)
    assert synced.erp_status == ErpStatus.SYNCED
    pos = sandbox.purchase_orders(DEMO_REALM)
    assert len(pos) == 1  # none created: exactly one PO for the commitment
    po = pos[0]
    assert po["Id"] == bookkeeper_po["Id"] == synced.qbo_purchase_order_id
    lines = _lines(po)
    old = _lines(bookkeeper_po)
    first, second, freight = (line["Id"] for line in bookkeeper_po["Line"])
    assert Decimal(str(lines[first]["Amount"])) == Decimal("185000.00")
    assert Decimal(str(lines[second]["Amount"])) == Decimal("96500.50")
    assert lines[first]["Description"] == "Slab on grade and footings"  # the PO's words stay
    assert lines[freight] == old[freight]  # the bookkeeper's own line, untouched
    new = [line for line in po["Line"] if line["Id"] not in old]
    assert [(line["Description"], Decimal(str(line["Amount"]))) for line in new] == [
        ("3. Winter protection", Decimal("5000.00"))]
    assert po["Memo"] == "Call the site before delivery" and po["DocNumber"] == "SC-1042"
    note, marker = split_note(po["PrivateNote"])
    assert note == "Entered by Dana from the signed subcontract."
    assert marker.names(synced.id)
    assert Decimal(str(po["TotalAmt"])) == totals(synced).revised + Decimal("1500.00")
    assert {sov.qbo_line_id for sov in synced.sov_lines} == {first, second, new[0]["Id"]}
    assert synced.qbo_total == Decimal(str(po["TotalAmt"]))

    # A CCO afterwards goes onto the same PO, as for any synced commitment.
    cco = factory.change_order(synced, status="approved", lines=((synced.sov_lines[0], "250"),))
    send_and_accept(cco, people, approver)
    po = sandbox.purchase_orders(DEMO_REALM)
    assert len(po) == 1
    assert Decimal(str(_lines(po[0])[first]["Amount"])) == Decimal("185250.00")
    assert _lines(po[0])[freight]["Amount"] == old[freight]["Amount"]


def test_a_linked_pos_own_lines_are_not_a_difference(
        client, auth, sandbox, people, erp_commitment, erp_admin, approver, bookkeeper_po):
    """The bookkeeper's freight line stays on the linked PO: QuickBooks' total is ours plus
    $1,500.00, which the drift line says and does not flag, also after they change their own
    line. A change to one of our lines is flagged."""
    from workflow import qbo_drift

    _link_all(erp_admin, erp_commitment, bookkeeper_po)
    synced = send_and_accept(erp_commitment, people, approver)
    first, _second, freight = (line["Id"] for line in bookkeeper_po["Line"])
    url = f"/projects/{synced.project_id}/commitments/{synced.id}"
    auth.login(people.project_admin)

    def drift_line():
        qbo_drift.poll()
        html = client.get(url).get_data(as_text=True)
        start = html.index('<div class="drift')
        return html[start:html.index("</p>", start)]

    line = _text_of(drift_line())
    assert "($1,500.00 of it on the bookkeeper's own lines)" in line
    assert "drift-differs" not in drift_line()
    sandbox.edit_purchase_order(DEMO_REALM, synced.qbo_purchase_order_id,
                                lines={freight: {"Amount": 1650}})
    assert "($1,650.00 of it on the bookkeeper's own lines)" in _text_of(drift_line())
    assert "drift-differs" not in drift_line()
    sandbox.edit_purchase_order(DEMO_REALM, synced.qbo_purchase_order_id,
                                lines={first: {"Amount": 1}})
    assert "drift-differs" in drift_line()
    # An ERP admin acknowledges it: QuickBooks' version is accepted, no longer flagged.
    qbo_drift.acknowledge(erp_admin, _fresh(Commitment, synced.id))
    assert "drift-differs" not in drift_line()


def _text_of(html: str) -> str:
    import re
    from html import unescape

    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def books_preview(commitment):
    from quickbooks_online.links import link_preview

    return link_preview(_fresh(Commitment, commitment.id))


def test_an_export_whose_answer_was_lost_does_not_apply_the_link_twice(
        sandbox, people, erp_commitment, erp_admin, approver, bookkeeper_po):
    from models import Export
    from quickbooks_online.export import push

    _link_all(erp_admin, erp_commitment, bookkeeper_po)
    synced = send_and_accept(erp_commitment, people, approver)
    po = sandbox.get(DEMO_REALM, "PurchaseOrder", bookkeeper_po["Id"])
    export = db.session.scalar(select(Export).where(Export.commitment_id == synced.id))
    result = push(export)  # the same export again: reads, finds our marker, writes nothing
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", bookkeeper_po["Id"]) == po
    assert set(result.line_ids.values()) == {sov.qbo_line_id for sov in synced.sov_lines}


# ---- bad input and who may link ------------------------------------------------------------------

def test_a_po_linked_to_one_commitment_cannot_be_linked_to_a_second(
        factory, people, erp_commitment, erp_admin, bookkeeper_po):
    _link_all(erp_admin, erp_commitment, bookkeeper_po)
    other = factory.commitment(people.project, vendor=erp_commitment.vendor, number="SC-1050",
                               sov=("100.00",))
    assert books.linkable_purchase_orders(erp_admin, other) == []  # not offered
    with pytest.raises(InvalidInput) as error:
        books.link(erp_admin, other, bookkeeper_po["Id"], [])
    assert "already linked to commitment SC-1042" in error.value.errors["po"]
    assert _fresh(Commitment, other.id).qbo_purchase_order_id is None


def test_link_refuses_another_vendors_po_a_missing_po_and_a_line_used_twice(
        sandbox, erp_commitment, erp_admin, bookkeeper_po):
    apex = sandbox.add_purchase_order(DEMO_REALM, APEX, [item_line("10.00", "Wire")],
                                      doc_number="EL-7")
    first, second = erp_commitment.sov_lines
    po_line = bookkeeper_po["Line"][0]["Id"]
    cases = [
        (apex["Id"], [], "po", "not Summit Concrete Co."),
        ("987654", [], "po", "QuickBooks has no PurchaseOrder 987654"),
        (bookkeeper_po["Id"], [(first.id, po_line), (first.id, bookkeeper_po["Line"][1]["Id"])],
         f"line-{first.id}", "matched twice"),
        (bookkeeper_po["Id"], [(first.id, po_line), (second.id, po_line)],
         f"line-{second.id}", "already matched to SOV line 1"),
        (bookkeeper_po["Id"], [(first.id, "99")], f"line-{first.id}", "has no line 99"),
    ]
    for po_id, matches, key, words in cases:
        with pytest.raises(InvalidInput) as error:
            books.link(erp_admin, erp_commitment, po_id, matches)
        assert words in error.value.errors[key], error.value.errors
        commitment = _fresh(Commitment, erp_commitment.id)
        assert commitment.qbo_purchase_order_id is None and commitment.qbo_link is None
        assert all(sov.qbo_line_id is None for sov in commitment.sov_lines)


def test_a_po_line_costed_to_another_job_is_not_matched(sandbox, erp_commitment, erp_admin):
    """The vendor's PO has a line costed to Harbor Point (another job): matching it would put
    this commitment's changes on that job. Refused next to the line; nothing linked."""
    harbor = "4"  # Harbor Point Parking Structure
    first, second = erp_commitment.sov_lines
    po = sandbox.add_purchase_order(  # each line's amount is its SOV line's
        DEMO_REALM, SUMMIT, [item_line(first.amount, first.description),
                             item_line(second.amount, second.description, customer=harbor)],
        doc_number="SC-1042")
    suggested = books.suggested_matches(erp_commitment, po["Line"])
    assert suggested == {first.id: po["Line"][0]["Id"]}  # the other job's line not suggested
    with pytest.raises(InvalidInput) as refused:
        books.link(erp_admin, erp_commitment, po["Id"],
                   [(first.id, po["Line"][0]["Id"]), (second.id, po["Line"][1]["Id"])])
    assert "costed to another customer or job" in refused.value.errors[f"line-{second.id}"]
    assert f"line-{first.id}" not in refused.value.errors
    db.session.rollback()
    assert _fresh(Commitment, erp_commitment.id).qbo_link is None
    books.link(erp_admin, _fresh(Commitment, erp_commitment.id), po["Id"],
               [(first.id, po["Line"][0]["Id"])])  # the other job's line left unmatched
    linked = _fresh(Commitment, erp_commitment.id)
    assert linked.qbo_purchase_order_id == po["Id"]
    assert linked.sov_lines[1].qbo_line_id is None


def test_only_an_erp_admin_links_and_only_a_commitment_not_in_quickbooks(
        factory, people, erp_commitment, approver, erp_admin, bookkeeper_po):
    with pytest.raises(PermissionDenied):
        books.link(approver, erp_commitment, bookkeeper_po["Id"], [])
    with pytest.raises(PermissionDenied):
        books.link(people.project_admin, erp_commitment, bookkeeper_po["Id"], [])
    erp.send_to_erp(people.project_admin, erp_commitment)
    with pytest.raises(Locked, match="Ready to Export"):
        books.link(erp_admin, erp_commitment, bookkeeper_po["Id"], [])


# ---- unlink ------------------------------------------------------------------------------------

def test_unlink_then_relink_to_another_po(sandbox, erp_commitment, erp_admin, bookkeeper_po):
    _link_all(erp_admin, erp_commitment, bookkeeper_po)
    with pytest.raises(InvalidInput):
        books.unlink_commitment(erp_admin, erp_commitment, "  ")  # a reason is required
    books.unlink_commitment(erp_admin, erp_commitment, "Linked to the wrong PO")
    unlinked = _fresh(Commitment, erp_commitment.id)
    assert unlinked.qbo_purchase_order_id is None and unlinked.qbo_link is None
    assert all(sov.qbo_line_id is None for sov in unlinked.sov_lines)
    event = db.session.scalar(select(HistoryEvent).where(
        HistoryEvent.subject_id == unlinked.id, HistoryEvent.action == "unlinked"))
    assert event.comment == "Linked to the wrong PO" and event.user_id == erp_admin.id
    replacement = sandbox.add_purchase_order(
        DEMO_REALM, SUMMIT, [item_line("185000.00", "Slab"), item_line("96500.50", "Walls")],
        doc_number="SC-1042B")
    offered = {s.id for s in books.linkable_purchase_orders(erp_admin, unlinked)}
    assert offered == {bookkeeper_po["Id"], replacement["Id"]}
    suggested = books.suggested_matches(unlinked, _lines_of(replacement))
    books.link(erp_admin, unlinked, replacement["Id"], list(suggested.items()))
    relinked = _fresh(Commitment, erp_commitment.id)
    assert relinked.qbo_purchase_order_id == replacement["Id"]
    assert [sov.qbo_line_id for sov in relinked.sov_lines] == [
        line["Id"] for line in replacement["Line"]]  # matched by amount


def _lines_of(po):
    return [line for line in po["Line"]]


def test_a_deleted_po_then_unlink_then_export_anew_ends_with_one_po(
        sandbox, factory, people, erp_commitment, erp_admin, approver):
    synced = send_and_accept(erp_commitment, people, approver)
    cco = factory.change_order(synced, status="approved", lines=((synced.sov_lines[0], "700"),))
    send_and_accept(cco, people, approver)
    sandbox.delete_purchase_order(DEMO_REALM, synced.qbo_purchase_order_id)
    later = factory.change_order(synced, status="approved", lines=((synced.sov_lines[1], "50"),))
    send_and_accept(later, people, approver)
    later = _fresh(ChangeOrder, later.id)
    assert later.erp_status == ErpStatus.FAILED_TO_EXPORT
    assert "unlink" in erp.latest_export(later).last_error_message

    books.unlink_commitment(erp_admin, synced, "PO deleted in QuickBooks by mistake")
    commitment = _fresh(Commitment, synced.id)
    assert commitment.erp_status == ErpStatus.NOT_SENT
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.NOT_SENT  # it was in that PO
    commitment = send_and_accept(commitment, people, approver)
    send_and_accept(_fresh(ChangeOrder, cco.id), people, approver)
    erp.retry_export(erp_admin, _fresh(ChangeOrder, later.id))
    run_jobs()
    pos = sandbox.purchase_orders(DEMO_REALM)
    assert len(pos) == 1
    commitment = _fresh(Commitment, synced.id)
    assert pos[0]["Id"] == commitment.qbo_purchase_order_id
    assert Decimal(str(pos[0]["TotalAmt"])) == totals(commitment).revised == (
        Decimal("185000.00") + 700 + Decimal("96500.50") + 50)
    _, marker = split_note(pos[0]["PrivateNote"])
    assert sorted(marker.change_orders) == ["001r1", "002"]


def _synced_with_cco(sandbox, factory, people, erp_commitment, approver):
    synced = send_and_accept(erp_commitment, people, approver)
    cost_code = synced.sov_lines[0].cost_code
    cco = factory.change_order(synced, status="approved", lines=((synced.sov_lines[0], "1000"),))
    from models import ChangeOrderLine
    db.session.add(ChangeOrderLine(change_order=cco, cost_code_own=cost_code,
                                   category_own=synced.sov_lines[0].category,
                                   description="Pump truck", amount=Decimal("800.00")))
    db.session.commit()
    cco = factory.approve_again(cco)  # the reviewer approves it with its second line
    send_and_accept(cco, people, approver)
    return _fresh(Commitment, synced.id), _fresh(ChangeOrder, cco.id)


def test_an_unlinked_cco_removed_in_quickbooks_is_applied_again_once(
        sandbox, factory, people, erp_commitment, erp_admin, approver):
    commitment, cco = _synced_with_cco(sandbox, factory, people, erp_commitment, approver)
    po_id = commitment.qbo_purchase_order_id
    first = commitment.sov_lines[0].qbo_line_id
    pump = cco.lines[1].qbo_line_id
    books.unlink_change_order(erp_admin, cco, "Wrong amount: should be 1,200")
    cco = _fresh(ChangeOrder, cco.id)
    assert cco.erp_status == ErpStatus.NOT_SENT and cco.erp_editable
    # The bookkeeper takes it out in QuickBooks, as the page says.
    sandbox.edit_purchase_order(DEMO_REALM, po_id, lines={first: {"Amount": 185000}},
                                remove_line_ids=[pump])
    cco.lines[0].amount = Decimal("1200.00")
    db.session.commit()
    cco = factory.approve_again(cco)  # corrected, so approved again before it is resent
    send_and_accept(cco, people, approver)
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    po = sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)
    amounts = sorted(Decimal(str(line["Amount"])) for line in po["Line"])
    assert amounts == [Decimal("800.00"), Decimal("96500.50"), Decimal("186200.00")]
    assert split_note(po["PrivateNote"])[1].change_orders == ("001r1",)
    # The same export again (an answer lost): already there, nothing written.
    from quickbooks_online.export import push
    before = sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)
    push(erp.latest_export(_fresh(ChangeOrder, cco.id)))
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", po_id) == before


def test_an_unlinked_cco_still_in_quickbooks_is_not_applied_twice(
        sandbox, factory, people, erp_commitment, erp_admin, approver):
    commitment, cco = _synced_with_cco(sandbox, factory, people, erp_commitment, approver)
    po_id = commitment.qbo_purchase_order_id
    before = sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)
    books.unlink_change_order(erp_admin, cco, "Resend after a correction")
    send_and_accept(_fresh(ChangeOrder, cco.id), people, approver)
    cco = _fresh(ChangeOrder, cco.id)
    assert cco.erp_status == ErpStatus.FAILED_TO_EXPORT
    message = erp.latest_export(cco).last_error_message
    assert "still on PurchaseOrder" in message and "still holds 186,000.00" in message
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", po_id) == before  # nothing written
    # The bookkeeper takes it out; Retry Export applies it once.
    first, pump = commitment.sov_lines[0].qbo_line_id, next(
        line["Id"] for line in before["Line"] if line["Description"].startswith("CCO 001"))
    sandbox.edit_purchase_order(DEMO_REALM, po_id, lines={first: {"Amount": 185000}},
                                remove_line_ids=[pump])
    erp.retry_export(erp_admin, cco)
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    po = sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)
    assert Decimal(str(po["TotalAmt"])) == Decimal(str(before["TotalAmt"]))


def test_unlink_needs_erp_admin_with_can_push_a_reason_and_no_export_running(
        factory, people, erp_commitment, erp_admin, approver, sandbox):
    commitment, cco = _synced_with_cco(sandbox, factory, people, erp_commitment, approver)
    no_push = factory.user(name="No Push", erp=ErpPermission.ADMIN, can_push=False)
    for who in (no_push, approver, people.company_admin, people.project_admin):
        if books.can_unlink(who):
            continue
        with pytest.raises(PermissionDenied):
            books.unlink_change_order(who, cco, "why")
        with pytest.raises(PermissionDenied):
            books.unlink_commitment(who, commitment, "why")
    with pytest.raises(InvalidInput):
        books.unlink_change_order(erp_admin, cco, "")
    # An export of the commitment queued (a second CCO accepted, its job not run yet).
    from models import Export, ExportStatus
    db.session.add(Export(subject_type="change_order", commitment_id=commitment.id,
                          change_order_id=cco.id, idempotency_key="cod-test-queued",
                          status=ExportStatus.QUEUED, accepted_by=approver))
    db.session.commit()
    with pytest.raises(Locked, match="queued or running"):
        books.unlink_change_order(erp_admin, cco, "why")
    with pytest.raises(Locked, match="queued or running"):
        books.unlink_commitment(erp_admin, commitment, "why")
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    db.session.query(Export).filter_by(idempotency_key="cod-test-queued").delete()
    db.session.commit()
    books.unlink_change_order(erp_admin, _fresh(ChangeOrder, cco.id), "why")
    with pytest.raises(AlreadyHandled):
        books.unlink_change_order(erp_admin, _fresh(ChangeOrder, cco.id), "again")


# ---- import ------------------------------------------------------------------------------------

def test_import_three_pos_as_synced_commitments_whose_totals_equal_quickbooks(
        sandbox, factory, people, erp_commitment, erp_admin):
    apex = factory.vendor("Apex Electrical Services")
    apex.qbo_vendor_id = APEX
    second = erp_commitment.sov_lines[1]  # item 11 to one cost code + category only
    db.session.query(CostMapping).filter_by(cost_code_id=second.cost_code_id,
                                            category_id=second.category_id).delete()
    db.session.commit()
    pos = [
        sandbox.add_purchase_order(DEMO_REALM, SUMMIT, [item_line("12000.00", "Curbs"),
                                                        item_line("3000.00", "Sidewalks")],
                                   doc_number="PO-3001", memo="Site concrete"),
        sandbox.add_purchase_order(DEMO_REALM, APEX, [item_line("40000.00", "Switchgear")],
                                   doc_number="PO-3002"),
        sandbox.add_purchase_order(DEMO_REALM, SUMMIT, [item_line("7000.00", "Stair stringers",
                                                                  item=STEEL_SUB)],
                                   doc_number="PO-3003"),
    ]
    other_job = sandbox.add_purchase_order(DEMO_REALM, SUMMIT,
                                           [item_line("1.00", "Elsewhere", customer="4")],
                                           doc_number="PO-9999")
    page = books.import_page(erp_admin, people.project)
    listed = {s.doc_number: s for s in page.purchase_orders}
    assert set(listed) == {"PO-3001", "PO-3002", "PO-3003"}  # not another job's PO
    steel_line = pos[2]["Line"][0]["Id"]
    assert steel_line in listed["PO-3003"].choices  # no mapping: asked for
    results = books.import_purchase_orders(erp_admin, people.project,
                                           [po["Id"] for po in pos], {})
    assert [r.commitment is not None for r in results] == [True, True, False], results
    assert "choose a cost code and category" in results[2].message
    value = listed["PO-3003"].choices[steel_line][0][0]
    results = books.import_purchase_orders(erp_admin, people.project, [pos[2]["Id"]],
                                           {f"{pos[2]['Id']}-{steel_line}": value})
    assert results[0].commitment is not None, results[0].message
    made = db.session.scalars(select(Commitment).where(
        Commitment.number.in_(["PO-3001", "PO-3002", "PO-3003"]))).all()
    assert len(made) == 3
    for commitment in made:
        po = sandbox.get(DEMO_REALM, "PurchaseOrder", commitment.qbo_purchase_order_id)
        assert commitment.erp_status == ErpStatus.SYNCED
        assert totals(commitment).revised == Decimal(str(po["TotalAmt"])) == commitment.qbo_total
        assert not erp.drift(commitment, []).differs
        assert [sov.qbo_line_id for sov in commitment.sov_lines] == [
            line["Id"] for line in po["Line"]]
    curbs = next(c for c in made if c.number == "PO-3001")
    assert curbs.title == "Site concrete" and curbs.vendor.name == "Summit Concrete Co."
    mapping = db.session.scalar(select(CostMapping).where(CostMapping.qbo_item_id == "11"))
    assert (curbs.sov_lines[0].cost_code_id, curbs.sov_lines[0].category_id) == (
        mapping.cost_code_id, mapping.category_id)
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 4  # nothing written to QuickBooks
    # Imported POs are no longer offered; importing one again is refused in words.
    assert books.import_page(erp_admin, people.project).purchase_orders == []
    again = books.import_purchase_orders(erp_admin, people.project, [pos[0]["Id"]], {})
    assert again[0].commitment is None and "already commitment PO-3001" in again[0].message
    assert other_job["Id"] not in {s.id for s in page.purchase_orders}


def test_import_is_for_erp_admins(people, erp_commitment, approver):
    with pytest.raises(PermissionDenied):
        books.import_page(approver, people.project)
    with pytest.raises(PermissionDenied):
        books.import_purchase_orders(people.project_admin, people.project, ["101"], {})


# ---- the pages -----------------------------------------------------------------------------------

def _text(response) -> str:
    """The page's words: tags dropped, entities unescaped, whitespace collapsed."""
    import re
    from html import unescape

    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_link_pages_then_the_card_preview_shows_now_change_after(
        client, auth, people, erp_commitment, erp_admin, approver, bookkeeper_po):
    page_url = (f"/projects/{erp_commitment.project_id}/commitments/{erp_commitment.id}")
    auth.login(erp_admin)
    assert "Link to a QuickBooks purchase order" in _text(client.get(page_url))
    listing = _text(client.get(f"/erp/books/commitments/{erp_commitment.id}/link"))
    assert "PurchaseOrder SC-1042" in listing and "Freight (bookkeeper)" in listing
    form = client.get(f"/erp/books/commitments/{erp_commitment.id}/link?po={bookkeeper_po['Id']}")
    assert "Retaining walls" in _text(form)
    first, second = erp_commitment.sov_lines
    po_lines = [line["Id"] for line in bookkeeper_po["Line"]]
    twice = client.post(f"/erp/books/commitments/{erp_commitment.id}/link",
                        data={"po": bookkeeper_po["Id"], f"line-{first.id}": po_lines[0],
                              f"line-{second.id}": po_lines[0]})
    assert twice.status_code == 422 and "already matched to SOV line 1" in _text(twice)
    done = client.post(f"/erp/books/commitments/{erp_commitment.id}/link",
                       data={"po": bookkeeper_po["Id"], f"line-{first.id}": po_lines[0],
                             f"line-{second.id}": po_lines[1]}, follow_redirects=True)
    assert "is linked to QuickBooks PurchaseOrder" in _text(done)
    assert "Linked to QuickBooks PurchaseOrder SC-1042" in _text(done)
    auth.logout()
    auth.login(people.project_admin)
    client.post(f"{page_url}/erp/send")
    auth.logout()
    auth.login(approver)
    card = _text(client.get(f"/erp/commitments/{erp_commitment.id}/card"))
    assert "Now Change After" in card
    assert "Slab on grade and footings" in card and "180,000.00" in card and "185,000.00" in card


def test_a_link_refused_after_the_po_was_deleted_in_quickbooks_says_so(
        client, auth, sandbox, erp_commitment, erp_admin, bookkeeper_po, monkeypatch):
    """A link posted with a line used twice is shown again with its matches, read again from
    QuickBooks; if the PO was deleted there meanwhile, the page says so instead of failing."""
    auth.login(erp_admin)
    first, second = erp_commitment.sov_lines
    line = bookkeeper_po["Line"][0]["Id"]
    refuse = books.link

    def refused_then_deleted(*args, **kwargs):
        try:
            return refuse(*args, **kwargs)
        finally:  # the bookkeeper deletes the PO just as the link is refused
            sandbox.delete_purchase_order(DEMO_REALM, bookkeeper_po["Id"])

    monkeypatch.setattr(books, "link", refused_then_deleted)
    answer = client.post(f"/erp/books/commitments/{erp_commitment.id}/link",
                         data={"po": bookkeeper_po["Id"], f"line-{first.id}": line,
                               f"line-{second.id}": line})
    assert answer.status_code == 422
    assert f"QuickBooks has no PurchaseOrder {bookkeeper_po['Id']}." in _text(answer)
    assert _fresh(Commitment, erp_commitment.id).qbo_link is None


def test_the_card_names_the_purchase_order_accept_changes_by_its_own_number(
        client, auth, sandbox, people, erp_commitment, erp_admin, approver):
    """A commitment linked to the bookkeeper's PO 1007: its card says Accept changes
    PurchaseOrder 1007 (not a new SC-1042), and so does the confirmation; once Synced, the card
    no longer says "new" or "changes"."""
    po = sandbox.add_purchase_order(
        DEMO_REALM, SUMMIT, [item_line("180000.00", "Slab on grade and footings"),
                             item_line("90000.00", "Retaining walls")], doc_number="1007")
    _link_all(erp_admin, erp_commitment, po)
    erp.send_to_erp(people.project_admin, _fresh(Commitment, erp_commitment.id))
    auth.login(approver)
    card = _text(client.get(f"/erp/commitments/{erp_commitment.id}/card"))
    assert "changes PurchaseOrder 1007" in card
    assert "to QuickBooks PurchaseOrder 1007 (" in card and "PurchaseOrder SC-1042" not in card
    erp.accept(approver, _fresh(Commitment, erp_commitment.id))
    run_jobs()
    card = _text(client.get(f"/erp/commitments/{erp_commitment.id}/card"))
    assert "PurchaseOrder 1007" in card
    assert "new PurchaseOrder" not in card and "changes PurchaseOrder" not in card


def test_unlink_from_the_panel_says_what_to_do_first_and_asks_why(
        client, auth, sandbox, factory, people, erp_commitment, erp_admin, approver):
    commitment, cco = _synced_with_cco(sandbox, factory, people, erp_commitment, approver)
    url = (f"/projects/{commitment.project_id}/commitments/{commitment.id}"
           f"/change-orders/{cco.id}")
    factory.member(people.project, approver, ProjectRole.READ_ONLY)
    auth.login(approver)  # an approver without ERP admin: no Unlink offered, refused
    assert "Remove this CCO's lines" not in _text(client.get(url))
    assert client.post(f"/erp/books/change-orders/{cco.id}/unlink",
                       data={"reason": "x"}).status_code == 403
    auth.logout()
    auth.login(erp_admin)
    assert "Remove this CCO's lines and amount changes" in _text(client.get(url))
    empty = client.post(f"/erp/books/change-orders/{cco.id}/unlink", data={"reason": ""},
                        follow_redirects=True)
    assert "Not unlinked: Say why" in _text(empty)
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    done = client.post(f"/erp/books/change-orders/{cco.id}/unlink",
                       data={"reason": "Wrong amount"}, follow_redirects=True)
    assert "Unlinked. Nothing was written to QuickBooks." in _text(done)
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.NOT_SENT


def test_import_page_imports_the_chosen_po_and_says_so(
        client, auth, sandbox, people, erp_commitment, erp_admin):
    second = erp_commitment.sov_lines[1]
    db.session.query(CostMapping).filter_by(cost_code_id=second.cost_code_id,
                                            category_id=second.category_id).delete()
    db.session.commit()
    po = sandbox.add_purchase_order(DEMO_REALM, SUMMIT, [item_line("4200.00", "Curbs")],
                                    doc_number="PO-4001")
    auth.login(erp_admin)
    listing = _text(client.get(f"/erp/books/import?project={people.project.id}"))
    assert "PurchaseOrder PO-4001" in listing and "Curbs" in listing
    done = client.post("/erp/books/import", data={"project": people.project.id,
                                                  "po": po["Id"]})
    assert done.status_code == 200
    assert "PurchaseOrder PO-4001: imported as commitment PO-4001 with 1 SOV line, $4,200.00, " \
           "Synced." in _text(done)


# ---- the demo: a company with existing books ---------------------------------------------------

def test_the_demo_has_one_commitment_to_link_and_two_pos_to_import(sandbox, people, approver):
    from demo import seed_demo
    from demo.quickbooks import link_and_map
    from models import Project, User
    from qbo_sandbox.books import seed_existing_books

    entered = seed_existing_books(sandbox)
    assert seed_existing_books(sandbox) == []  # once
    seed_demo()
    qbo_helpers.connect(people.company_admin)
    link_and_map()
    admin = db.session.scalar(select(User).filter_by(email="admin@example.com"))
    pm = db.session.scalar(select(User).filter_by(email="pm@example.com"))
    project = db.session.scalar(select(Project).filter_by(number="2024-015"))
    sc = db.session.scalar(select(Commitment).filter_by(project_id=project.id, number="SC-1044"))
    existing = next(po for po in entered if po["DocNumber"] == "SC-1044")

    # To link: SC-1044, the bookkeeper's PO offered, lines suggested (two of three).
    offered = books.linkable_purchase_orders(admin, sc)
    assert [s.doc_number for s in offered] == ["SC-1044"]
    suggested = books.suggested_matches(sc, offered[0].lines)
    assert len(suggested) == 2 and sc.sov_lines[2].id not in suggested
    page = books.import_page(admin, project)
    shown = {s.doc_number: s for s in page.purchase_orders}
    assert set(shown) == {"SC-1044", "PO-2050", "PO-2051"}  # not the other job's HP-310
    assert "link it to this purchase order instead" in shown["SC-1044"].problems[0]
    assert not shown["PO-2050"].problems and not shown["PO-2050"].choices
    assert list(shown["PO-2051"].choices) == [shown["PO-2051"].lines[1]["Id"]]  # asked for

    books.link(admin, sc, existing["Id"], list(suggested.items()))
    erp.send_to_erp(pm, sc)
    erp.accept(approver, sc)
    run_jobs()
    sc = _fresh(Commitment, sc.id)
    assert sc.erp_status == ErpStatus.SYNCED
    po = sandbox.get(DEMO_REALM, "PurchaseOrder", existing["Id"])
    assert Decimal(str(po["TotalAmt"])) == Decimal("148000.00") + Decimal("23500.00") + \
        Decimal("6200.00") + Decimal("4800.00")  # the crane line stays the bookkeeper's
    assert po["Memo"] == "Per signed subcontract of 14 March"

    second = shown["PO-2051"].lines[1]["Id"]
    choice = shown["PO-2051"].choices[second][0][0]
    results = books.import_purchase_orders(
        admin, project, [shown["PO-2050"].id, shown["PO-2051"].id],
        {f"{shown['PO-2051'].id}-{second}": choice})
    assert all(r.commitment is not None for r in results), results
    for result in results:
        commitment = result.commitment
        assert totals(commitment).revised == commitment.qbo_total
    assert books.import_page(admin, project).purchase_orders == []
    assert len(sandbox.purchase_orders(DEMO_REALM)) == len(entered) == 4  # no PO created


def test_unlink_then_relink_to_the_same_po_and_accept_updates_it_in_place(
        sandbox, people, erp_commitment, erp_admin, approver):
    synced = send_and_accept(erp_commitment, people, approver)
    po_id = synced.qbo_purchase_order_id
    po = sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)
    books.unlink_commitment(erp_admin, synced, "Relink with the corrected schedule")
    commitment = _fresh(Commitment, synced.id)
    assert commitment.erp_status == ErpStatus.NOT_SENT
    offered = books.linkable_purchase_orders(erp_admin, commitment)
    assert [s.id for s in offered] == [po_id]  # our marker names this very commitment
    books.link(erp_admin, commitment, po_id,
               [(sov.id, line["Id"]) for sov, line in zip(commitment.sov_lines, po["Line"],
                                                          strict=True)])
    commitment = _fresh(Commitment, synced.id)
    commitment.sov_lines[0].amount = Decimal("190000.00")  # editable again: corrected
    db.session.commit()
    done = send_and_accept(commitment, people, approver)
    assert done.erp_status == ErpStatus.SYNCED
    pos = sandbox.purchase_orders(DEMO_REALM)
    assert len(pos) == 1 and pos[0]["Id"] == po_id
    assert [Decimal(str(line["Amount"])) for line in pos[0]["Line"]] == [
        Decimal("190000.00"), Decimal("96500.50")]  # in place: no line twice


def test_the_marker_block_reads_and_writes_a_cco_sent_again_after_an_unlink():
    from quickbooks_online.marker import Marker, change_order_token, join_note

    note = join_note("Dana's note", Marker(7, ("001", "004r1")))
    assert note == "Dana's note\n\n[ChangeOrder Desk: commitment 7; CCO 001, 004r1]"
    text, marker = split_note(note)
    assert text == "Dana's note" and marker.change_orders == ("001", "004r1")
    assert marker.has_change_order("004r1") and not marker.has_change_order("004")
    again = marker.without_change_order("004").with_change_order(change_order_token("004", 2))
    assert again.change_orders == ("001", "004r2")
    assert marker.without_change_order("00").change_orders == ("001", "004r1")
    # a look-alike a person typed stays theirs
    assert split_note("[ChangeOrder Desk: commitment 7; CCO 004r]")[1] is None
