"""Starting from existing books, reviewed adversarially: crafted requests, lost answers, a
bookkeeper's records and what they must keep (docs/quickbooks.md, "Existing purchase orders:
link and import" and "Unlink"). Through the real clients against the sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from extensions import db
from models import Commitment, ErpPermission, ProjectRole
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import DEMO_REALM
from tests.test_books import SUMMIT, account_line, item_line
from workflow import books


def _fresh(model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


def _text(response) -> str:
    import re
    from html import unescape

    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def _amounts(po: dict) -> list[Decimal]:
    return [Decimal(str(line["Amount"])) for line in po["Line"]]


# ---- import: a PurchaseOrder ChangeOrder Desk wrote for another commitment ---------------------

def test_a_crafted_import_of_a_po_written_for_another_commitment_is_refused(
        client, auth, sandbox, factory, people, erp_commitment, erp_admin, approver):
    """SC-1042 is exported, then unlinked (its PO stays in QuickBooks with our marker naming
    it). The import list leaves that PO out; a hand-made POST must not import it either:
    otherwise two commitments claim one PurchaseOrder and SC-1042 sent again adopts it."""
    synced = send_and_accept(erp_commitment, people, approver)
    po_id = synced.qbo_purchase_order_id
    books.unlink_commitment(erp_admin, synced, "Will send it again")
    other = factory.project(number="2025-077", name="Annex")
    other.qbo_customer_id = synced.project.qbo_customer_id
    db.session.commit()
    assert books.import_page(erp_admin, other).purchase_orders == []  # not offered
    sov = synced.sov_lines[0]
    choices = {f"choice-{po_id}-{line['Id']}": f"{sov.cost_code_id}:{sov.category_id}"
               for line in sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)["Line"]}
    auth.login(erp_admin)
    answer = client.post("/erp/books/import", data={"project": other.id, "po": po_id,
                                                    **choices})
    assert answer.status_code == 422
    assert "written by ChangeOrder Desk for another commitment" in _text(answer)
    assert db.session.scalar(select(Commitment).where(
        Commitment.qbo_purchase_order_id == po_id)) is None


# ---- a linked PurchaseOrder keeps its own number ------------------------------------------------

def _bookkeepers_numbered_po(sandbox, doc_number="1007"):
    """A PO the bookkeeper numbered their own way (QuickBooks' automatic numbers)."""
    return sandbox.add_purchase_order(
        DEMO_REALM, SUMMIT, [item_line("180000.00", "Slab on grade and footings"),
                             item_line("90000.00", "Retaining walls"),
                             account_line("1500.00", "Freight (bookkeeper)")],
        doc_number=doc_number, memo="Call the site before delivery",
        private_note="Entered by Dana from the signed subcontract.")


def _link_and_accept(sandbox, people, erp_commitment, erp_admin, approver, po):
    first, second = erp_commitment.sov_lines
    books.link(erp_admin, erp_commitment, po["Id"],
               [(first.id, po["Line"][0]["Id"]), (second.id, po["Line"][1]["Id"])])
    return send_and_accept(_fresh(Commitment, erp_commitment.id), people, approver)


def test_a_linked_po_numbered_by_the_bookkeeper_is_not_drift_and_restore_keeps_its_number(
        sandbox, people, erp_commitment, erp_admin, approver):
    """Linking keeps the PO's own DocNumber ("1007", not SC-1042). A later edit in QuickBooks
    must not show "renumbered SC-1042 → 1007", and Restore ours puts our amounts back without
    renumbering the bookkeeper's PurchaseOrder."""
    from workflow import erp, qbo_drift

    po = _bookkeepers_numbered_po(sandbox)
    synced = _link_and_accept(sandbox, people, erp_commitment, erp_admin, approver, po)
    assert synced.erp_status == erp.ErpStatus.SYNCED
    qbo_drift.poll()
    assert qbo_drift.drift_of(_fresh(Commitment, synced.id)).changes == []
    second = po["Line"][1]["Id"]
    sandbox.edit_purchase_order(DEMO_REALM, po["Id"], lines={second: {"Amount": 97000}})
    qbo_drift.poll()
    view = qbo_drift.drift_of(_fresh(Commitment, synced.id))
    assert [change.kind for change in view.changes] == ["changed"], [
        change.text for change in view.changes]
    qbo_drift.restore_ours(erp_admin, _fresh(Commitment, synced.id))
    erp.accept(approver, _fresh(Commitment, synced.id))
    from tests.qbo_helpers import run_jobs
    run_jobs()
    restored = _fresh(Commitment, synced.id)
    assert restored.erp_status == erp.ErpStatus.SYNCED
    after = sandbox.get(DEMO_REALM, "PurchaseOrder", po["Id"])
    assert after["DocNumber"] == "1007"  # the bookkeeper's number stays
    assert _amounts(after) == [Decimal("185000.00"), Decimal("96500.50"), Decimal("1500.00")]
    assert after["Memo"] == "Call the site before delivery"


# ---- the first Accept after linking, when QuickBooks answers badly ------------------------------

def _fault_on_update(sandbox, kind: str, fired: list):
    """``kind`` on the first update of a PurchaseOrder (a POST carrying an Id)."""
    import json

    original = sandbox.handle_api

    def handle(method, realm_id, path, args, body, authorization):
        if not fired and method == "POST" and path.lower() == "purchaseorder":
            try:
                is_update = "Id" in json.loads(body or b"{}")
            except ValueError:
                is_update = False
            if is_update:
                fired.append(kind)
                sandbox.inject_fault(realm_id, kind, count=1)
        return original(method, realm_id, path, args, body, authorization)

    sandbox.handle_api = handle
    return original


def _po_with_a_look_alike_line(sandbox):
    """The bookkeeper's PO, with a line of theirs whose words are those the app would give the
    commitment's third SOV line ("3. Winter protection")."""
    return sandbox.add_purchase_order(
        DEMO_REALM, SUMMIT, [item_line("180000.00", "Slab on grade and footings"),
                             item_line("90000.00", "Retaining walls"),
                             account_line("4000.00", "3. Winter protection")],
        doc_number="SC-1042", memo="Call the site before delivery",
        private_note="Entered by Dana from the signed subcontract.")


@pytest.mark.parametrize("kind", ["5010", "drop_after_apply", "500_after_apply"])
def test_the_first_accept_after_linking_survives_a_stale_token_or_a_lost_answer(
        sandbox, factory, people, erp_commitment, erp_admin, approver, kind):
    """The bookkeeper's own line carries the very words our appended line gets; the update is
    refused (5010) or applied with its answer lost. The retry reads QuickBooks again: the PO
    ends equal to the SOV, the bookkeeper's line untouched, our new line there once."""
    from models import ErpStatus
    from quickbooks_online.marker import split_note

    winter = factory.sov_line(erp_commitment, amount="5000.00", description="Winter protection",
                              cost_code=erp_commitment.sov_lines[0].cost_code)
    po = _po_with_a_look_alike_line(sandbox)
    first, second, theirs = (line["Id"] for line in po["Line"])
    commitment = _fresh(Commitment, erp_commitment.id)
    books.link(erp_admin, commitment, po["Id"], [(commitment.sov_lines[0].id, first),
                                                 (commitment.sov_lines[1].id, second)])
    fired: list[str] = []
    original = _fault_on_update(sandbox, kind, fired)
    try:
        synced = send_and_accept(_fresh(Commitment, erp_commitment.id), people, approver)
        from tests.qbo_helpers import run_jobs
        run_jobs()
    finally:
        sandbox.handle_api = original
        sandbox.clear_faults(DEMO_REALM)
    assert fired == [kind]
    synced = _fresh(Commitment, erp_commitment.id)
    assert synced.erp_status == ErpStatus.SYNCED
    after = sandbox.get(DEMO_REALM, "PurchaseOrder", po["Id"])
    by_id = {line["Id"]: line for line in after["Line"]}
    assert by_id[theirs] == {**po["Line"][2], "LineNum": by_id[theirs]["LineNum"]}
    assert Decimal(str(by_id[first]["Amount"])) == Decimal("185000.00")
    assert Decimal(str(by_id[second]["Amount"])) == Decimal("96500.50")
    ours = [line for line in after["Line"] if line["Id"] not in {first, second, theirs}]
    assert [(line["Description"], Decimal(str(line["Amount"]))) for line in ours] == [
        ("3. Winter protection", Decimal("5000.00"))]  # once
    winter = _fresh(type(winter), winter.id)
    assert winter.qbo_line_id == ours[0]["Id"]
    assert Decimal(str(after["TotalAmt"])) == Decimal("185000.00") + Decimal("96500.50") + \
        Decimal("5000.00") + Decimal("4000.00")
    assert split_note(after["PrivateNote"])[0] == "Entered by Dana from the signed subcontract."
    assert after["Memo"] == "Call the site before delivery"


# ---- an imported commitment unlinked, then sent anew -------------------------------------------

def _import_one(sandbox, people, erp_commitment, erp_admin):
    """PO-3001 (two lines, $15,000.00) imported as a Synced commitment."""
    po = sandbox.add_purchase_order(DEMO_REALM, SUMMIT, [item_line("12000.00", "Curbs"),
                                                         item_line("3000.00", "Sidewalks")],
                                    doc_number="PO-3001", memo="Site concrete")
    sov = erp_commitment.sov_lines[0]
    choices = {f"{po['Id']}-{line['Id']}": f"{sov.cost_code_id}:{sov.category_id}"
               for line in po["Line"]}
    [result] = books.import_purchase_orders(erp_admin, people.project, [po["Id"]], choices)
    assert result.commitment is not None, result.message
    return po, result.commitment


def test_an_imported_commitment_unlinked_then_sent_anew_does_not_double_its_po(
        sandbox, factory, people, erp_commitment, erp_admin, approver):
    """Its PO is still in QuickBooks and carries our marker (a CCO went onto it). Sent anew,
    the app must not append a second copy of every line to it: QuickBooks would then hold
    twice the commitment while the app shows it Synced."""
    from models import ChangeOrder, ErpStatus
    from workflow import erp
    from workflow.commitments import totals

    po, imported = _import_one(sandbox, people, erp_commitment, erp_admin)
    cco = factory.change_order(imported, status="approved",
                               lines=((imported.sov_lines[0], "500"),))
    assert send_and_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    books.unlink_commitment(erp_admin, _fresh(Commitment, imported.id), "Send it again")
    before = sandbox.get(DEMO_REALM, "PurchaseOrder", po["Id"])
    again = send_and_accept(_fresh(Commitment, imported.id), people, approver)
    assert again.erp_status == ErpStatus.FAILED_TO_EXPORT
    assert "no longer recorded since it was unlinked" in erp.latest_export(again) \
        .last_error_message
    assert sandbox.purchase_orders(DEMO_REALM) == [before]  # nothing written, none created
    # The way it says: reject, link it to that PO again, send; then the CCO.
    erp.reject(approver, again, "Link it to PO-3001 again")
    commitment = _fresh(Commitment, imported.id)
    books.link(erp_admin, commitment, po["Id"],
               [(sov.id, line["Id"]) for sov, line in zip(commitment.sov_lines, po["Line"],
                                                          strict=True)])
    done = send_and_accept(_fresh(Commitment, imported.id), people, approver)
    assert done.erp_status == ErpStatus.SYNCED
    assert send_and_accept(_fresh(ChangeOrder, cco.id), people, approver).erp_status == \
        ErpStatus.SYNCED
    after = sandbox.get(DEMO_REALM, "PurchaseOrder", po["Id"])
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1
    assert _amounts(after) == [Decimal("12500.00"), Decimal("3000.00")]
    assert Decimal(str(after["TotalAmt"])) == totals(_fresh(Commitment, imported.id)).revised


# ---- two linkers at once -------------------------------------------------------------------------

def test_two_admins_link_at_once_one_po_one_commitment(app, sandbox, factory, people,
                                                       erp_commitment, erp_admin):
    """Two commitments to one PO, and one commitment to two POs, each pressed at once: one
    link each time, the other told so; never a PO held twice, never a line map of the PO that
    lost."""
    from models import SovLine, User
    from tests.conftest import at_once

    second_admin = factory.user(name="Second ERP-Admin", erp=ErpPermission.ADMIN, can_push=True)
    other = factory.commitment(people.project, vendor=erp_commitment.vendor, number="SC-1050",
                               sov=("180000.00", "90000.00"))
    po = sandbox.add_purchase_order(DEMO_REALM, SUMMIT, [item_line("180000.00", "Slab"),
                                                         item_line("90000.00", "Walls")],
                                    doc_number="SC-1042")
    po_b = sandbox.add_purchase_order(DEMO_REALM, SUMMIT, [item_line("180000.00", "Slab B"),
                                                           item_line("90000.00", "Walls B"),
                                                           item_line("1.00", "Extra B")],
                                      doc_number="SC-1042B")
    admins = (erp_admin.id, second_admin.id)

    def press(targets):
        def action(index):
            user = db.session.get(User, admins[index])
            commitment_id, po_id = targets[index]
            commitment = db.session.get(Commitment, commitment_id)
            chosen = sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)
            matches = [(sov.id, line["Id"]) for sov, line in zip(
                commitment.sov_lines, chosen["Line"], strict=False)]
            return lambda: books.link(user, commitment, po_id, matches)
        return action

    outcomes = at_once(app, 2, press([(erp_commitment.id, po["Id"]), (other.id, po["Id"])]))
    assert sorted(type(o).__name__ for o in outcomes) in (
        ["AlreadyHandled", "NoneType"], ["InvalidInput", "NoneType"]), outcomes
    holders = db.session.scalars(select(Commitment).where(
        Commitment.qbo_purchase_order_id == po["Id"])).all()
    assert len(holders) == 1
    loser = ({erp_commitment.id, other.id} - {holders[0].id}).pop()
    assert db.session.get(Commitment, loser).qbo_purchase_order_id is None
    assert db.session.scalars(select(SovLine.qbo_line_id).where(
        SovLine.commitment_id == loser)).all() == [None, None]

    po_c = sandbox.add_purchase_order(DEMO_REALM, SUMMIT, [item_line("180000.00", "Slab C"),
                                                           item_line("90000.00", "Walls C")],
                                      doc_number="SC-1042C")
    outcomes = at_once(app, 2, press([(loser, po_b["Id"]), (loser, po_c["Id"])]))
    assert sorted(type(o).__name__ for o in outcomes) == ["AlreadyHandled", "NoneType"], outcomes
    winner = _fresh(Commitment, loser)
    assert winner.qbo_purchase_order_id in (po_b["Id"], po_c["Id"])
    from quickbooks_online.links import link_of
    assert link_of(winner)["po"] == winner.qbo_purchase_order_id
    from models import HistoryEvent
    assert len(db.session.scalars(select(HistoryEvent).where(
        HistoryEvent.subject_id == loser, HistoryEvent.action == "linked")).all()) == 1


# ---- unlink, link to another PO, then the CCOs -----------------------------------------------

def test_unlinked_then_linked_to_another_po_its_ccos_go_to_the_new_po_only(
        sandbox, factory, people, erp_commitment, erp_admin, approver):
    from models import ChangeOrder, ChangeOrderLine, ErpStatus
    from workflow.commitments import totals

    synced = send_and_accept(erp_commitment, people, approver)
    old_id = synced.qbo_purchase_order_id
    cco = factory.change_order(synced, status="approved", lines=((synced.sov_lines[0], "1000"),))
    db.session.add(ChangeOrderLine(change_order=cco, cost_code_own=synced.sov_lines[0].cost_code,
                                   category_own=synced.sov_lines[0].category,
                                   description="Pump truck", amount=Decimal("800.00")))
    db.session.commit()
    cco = factory.approve_again(cco)
    assert send_and_accept(cco, people, approver).erp_status == ErpStatus.SYNCED
    old = sandbox.get(DEMO_REALM, "PurchaseOrder", old_id)

    books.unlink_commitment(erp_admin, _fresh(Commitment, synced.id), "Replaced by 1042-R")
    replacement = sandbox.add_purchase_order(
        DEMO_REALM, SUMMIT, [item_line("185000.00", "Slab (reissued)"),
                             item_line("96500.50", "Walls (reissued)"),
                             account_line("1500.00", "Freight (bookkeeper)")],
        doc_number="1042-R", private_note="Reissued by Dana")
    commitment = _fresh(Commitment, synced.id)
    suggested = books.suggested_matches(commitment, replacement["Line"])
    assert sorted(suggested.values()) == [line["Id"] for line in replacement["Line"][:2]]
    books.link(erp_admin, commitment, replacement["Id"], list(suggested.items()))
    assert send_and_accept(_fresh(Commitment, synced.id), people, approver).erp_status == \
        ErpStatus.SYNCED
    resent = send_and_accept(_fresh(ChangeOrder, cco.id), people, approver)
    assert resent.erp_status == ErpStatus.SYNCED, erp_latest_error(resent)
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", old_id) == old  # the old PO: not written
    new = sandbox.get(DEMO_REALM, "PurchaseOrder", replacement["Id"])
    assert [(line["Description"], Decimal(str(line["Amount"]))) for line in new["Line"]] == [
        ("Slab (reissued)", Decimal("186000.00")), ("Walls (reissued)", Decimal("96500.50")),
        ("Freight (bookkeeper)", Decimal("1500.00")), ("CCO 001: Pump truck", Decimal("800.00"))]
    assert Decimal(str(new["TotalAmt"])) == totals(_fresh(Commitment, synced.id)).revised + \
        Decimal("1500.00")
    assert new["DocNumber"] == "1042-R"


def erp_latest_error(record) -> str:
    from workflow import erp

    export = erp.latest_export(record)
    return export.last_error_message if export else ""


# ---- unlink through the pages: who, why, and not while an export runs -------------------------

def test_unlink_a_commitment_from_its_page_needs_can_push_a_reason_and_no_export_running(
        client, auth, sandbox, factory, people, erp_commitment, erp_admin, approver):
    from models import ErpStatus, Export, ExportStatus, HistoryEvent

    synced = send_and_accept(erp_commitment, people, approver)
    po_id = synced.qbo_purchase_order_id
    url = f"/erp/books/commitments/{synced.id}/unlink"
    no_push = factory.user(name="No Push", erp=ErpPermission.ADMIN, can_push=False)
    factory.member(people.project, no_push, ProjectRole.READ_ONLY)
    auth.login(no_push)
    assert client.post(url, data={"reason": "why"}).status_code == 403
    auth.logout()
    auth.login(erp_admin)
    empty = client.post(url, data={"reason": "   "}, follow_redirects=True)
    assert "Not unlinked: Say why" in _text(empty)
    db.session.add(Export(subject_type="commitment", commitment_id=synced.id,
                          idempotency_key="cod-review-running", status=ExportStatus.RUNNING,
                          accepted_by=approver))
    db.session.commit()
    running = client.post(url, data={"reason": "PO replaced"}, follow_redirects=True)
    assert "Not unlinked" in _text(running) and "queued or running" in _text(running)
    commitment = _fresh(Commitment, synced.id)
    assert commitment.qbo_purchase_order_id == po_id and commitment.erp_status == \
        ErpStatus.SYNCED
    db.session.query(Export).filter_by(idempotency_key="cod-review-running").delete()
    db.session.commit()
    done = client.post(url, data={"reason": "PO replaced"}, follow_redirects=True)
    assert "Unlinked. Nothing was written to QuickBooks." in _text(done)
    commitment = _fresh(Commitment, synced.id)
    assert commitment.qbo_purchase_order_id is None
    assert commitment.erp_status == ErpStatus.NOT_SENT
    event = db.session.scalar(select(HistoryEvent).where(
        HistoryEvent.subject_id == synced.id, HistoryEvent.action == "unlinked"))
    assert (event.old_value, event.comment, event.user_id) == (po_id, "PO replaced",
                                                               erp_admin.id)


# ---- the linked PO must still be the commitment's vendor's when Accept writes to it -------------

def test_a_linked_commitment_whose_vendor_changed_is_not_sent_to_the_old_vendors_po(
        sandbox, factory, people, erp_commitment, erp_admin, approver, bookkeeper_po):
    """Linked to Summit's PO, then the commitment is edited to another vendor (it is still Not
    Sent, so editable): Send to ERP says so; nothing is written to Summit's PO."""
    from models import ErpStatus
    from workflow import erp
    from workflow.commitments import CommitmentInput, update_commitment
    from workflow.errors import Locked

    apex = factory.vendor("Apex Electrical Services")
    apex.qbo_vendor_id = "57"
    db.session.commit()
    first, second = erp_commitment.sov_lines
    books.link(erp_admin, erp_commitment, bookkeeper_po["Id"],
               [(first.id, bookkeeper_po["Line"][0]["Id"]),
                (second.id, bookkeeper_po["Line"][1]["Id"])])
    commitment = _fresh(Commitment, erp_commitment.id)
    update_commitment(people.project_admin, commitment, CommitmentInput(
        type=commitment.type, number=commitment.number, title=commitment.title,
        vendor_id=apex.id, status=commitment.status), commitment.version)
    commitment = _fresh(Commitment, erp_commitment.id)
    assert commitment.vendor_id == apex.id
    with pytest.raises(Locked, match=r"Summit Concrete Co\.'s, not Apex"):
        erp.send_to_erp(people.project_admin, commitment)
    assert _fresh(Commitment, erp_commitment.id).erp_status == ErpStatus.NOT_SENT
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", bookkeeper_po["Id"]) == bookkeeper_po


def test_a_linked_po_given_another_vendor_in_quickbooks_is_not_written(
        sandbox, people, erp_commitment, erp_admin, approver, bookkeeper_po):
    """After Send to ERP the bookkeeper moves the PO to another vendor in QuickBooks: the
    Accept's export reads it, sees it is no longer the commitment's vendor's, and writes
    nothing (Failed to Export, in words)."""
    from models import ErpStatus
    from workflow import erp

    first, second = erp_commitment.sov_lines
    books.link(erp_admin, erp_commitment, bookkeeper_po["Id"],
               [(first.id, bookkeeper_po["Line"][0]["Id"]),
                (second.id, bookkeeper_po["Line"][1]["Id"])])
    erp.send_to_erp(people.project_admin, _fresh(Commitment, erp_commitment.id))
    moved = sandbox.edit_purchase_order(DEMO_REALM, bookkeeper_po["Id"],
                                        VendorRef={"value": "57"})
    erp.accept(approver, _fresh(Commitment, erp_commitment.id))
    from tests.qbo_helpers import run_jobs
    run_jobs()
    failed = _fresh(Commitment, erp_commitment.id)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    assert "Summit Concrete Co." in erp.latest_export(failed).last_error_message
    assert sandbox.get(DEMO_REALM, "PurchaseOrder", bookkeeper_po["Id"]) == moved
