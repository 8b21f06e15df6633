"""Issue 10: the export never writes to another commitment's PurchaseOrder, never erases what
a bookkeeper wrote in QuickBooks, and nothing stays "Exporting" for good.

Everything reaches QuickBooks through the real python-quickbooks client against the sandbox
on a loopback port; what a bookkeeper does "inside QuickBooks" (a Memo, a note, a line, a
renumbering, a deletion) goes through the sandbox's hooks.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql

from extensions import db
from models import (
    ChangeOrder,
    Commitment,
    CommitmentStatus,
    CommitmentType,
    CostMapping,
    ErpStatus,
    Export,
    ExportStatus,
    ProjectRole,
    QboRecord,
)
from models.types import utcnow
from quickbooks_online.marker import NOTE_LIMIT, Marker, NoteTooLong, join_note, split_note
from tests import qbo_helpers
from tests.conftest import fingerprint
from tests.erp_fixtures import send_and_accept
from tests.qbo_helpers import DEMO_REALM, run_jobs
from workflow import erp
from workflow.errors import Locked

HTMX = {"HX-Request": "true"}
JOB_2 = "Riverside Holdings:Riverside Medical Office Building"  # QuickBooks Customer 2
JOB_4 = "Harbor Point Partners:Harbor Point Parking Structure"  # QuickBooks Customer 4


def _fresh(model, record_id: int):
    db.session.expire_all()
    return db.session.get(model, record_id)


def _latest_export(subject) -> Export:
    db.session.expire_all()
    return erp.latest_export(subject)


def _po(sandbox, po_id: str) -> dict:
    po = sandbox.get(DEMO_REALM, "PurchaseOrder", po_id)
    assert po is not None, f"PurchaseOrder {po_id} is not in QuickBooks"
    return po


def _amounts(po: dict) -> list[tuple[str, Decimal]]:
    return [(line.get("Description"), Decimal(str(line["Amount"])).quantize(Decimal("0.01")))
            for line in po["Line"]]


@contextmanager
def _create_answer_lost(sandbox):
    """QuickBooks applies the first PurchaseOrder create but its answer never arrives, and it
    stays unreachable for every retry: the export ends Failed to Export while QuickBooks holds
    the PO (the only way a commitment's PO exists while it can be rejected and resent)."""
    original = sandbox.handle_api

    def lose_the_create_answer(method, realm_id, path, args, body, authorization):
        if method == "POST" and path.lower() == "purchaseorder" \
                and not sandbox.purchase_orders(DEMO_REALM):
            sandbox.inject_fault(DEMO_REALM, "drop_after_apply", count=1)
            sandbox.inject_fault(DEMO_REALM, "500", count=20)
        return original(method, realm_id, path, args, body, authorization)

    sandbox.handle_api = lose_the_create_answer
    try:
        yield
    finally:
        sandbox.handle_api = original
        sandbox.clear_faults(DEMO_REALM)


def _approved_cco(factory, commitment: Commitment, amount: str, line_index: int = 1
                  ) -> ChangeOrder:
    commitment = _fresh(Commitment, commitment.id)
    return factory.change_order(commitment, status="approved", title="Added rebar",
                                lines=((commitment.sov_lines[line_index], amount),))


# ---- 1. never another commitment's PurchaseOrder ----------------------------------------------

def test_commitment_2_never_matches_commitment_20():
    note = join_note("", Marker(20))
    assert note == "[ChangeOrder Desk: commitment 20]"
    _, marker = split_note(note)
    assert marker == Marker(20) and not marker.names(2) and marker.names(20)
    _, marker = split_note("[ChangeOrder Desk: commitment 2]")
    assert marker.names(2) and not marker.names(20)
    # the first release's note: the old substring test found commitment 2 in it
    _, legacy = split_note("ChangeOrder Desk commitment 20: Cast-in-place concrete")
    assert legacy == Marker(20) and not legacy.names(2)


def test_the_marker_block_round_trips_with_its_change_orders():
    marker = Marker(2, ("001", "004"))
    assert marker.render() == "[ChangeOrder Desk: commitment 2; CCO 001, 004]"
    text, parsed = split_note(join_note("", marker))
    assert (text, parsed) == ("", marker)
    assert parsed.has_change_order("004") and not parsed.has_change_order("04")
    assert parsed.with_change_order("007").render() == (
        "[ChangeOrder Desk: commitment 2; CCO 001, 004, 007]")


def test_a_bookkeepers_note_is_kept_word_for_word():
    theirs = "Checked against the vendor's quote.\n  Call Dana before releasing — 3/14."
    note = join_note(theirs, Marker(2, ("001",)))
    assert note.endswith("\n\n[ChangeOrder Desk: commitment 2; CCO 001]")
    text, marker = split_note(note)
    assert text == theirs and marker == Marker(2, ("001",))
    # a bookkeeper who writes after our block keeps their words too
    text, marker = split_note(note + "\nPaid 50% on 4/2")
    assert marker == Marker(2, ("001",)) and "Paid 50% on 4/2" in text and theirs in text
    # within QuickBooks' 4,000 characters their text is never cut to make room for our block
    fits = "x" * (NOTE_LIMIT - len(Marker(2).render()) - 2)
    assert split_note(join_note(fits, Marker(2))) == (fits, Marker(2))
    with pytest.raises(NoteTooLong):
        join_note(fits + "x", Marker(2))


@pytest.mark.parametrize("look_alike", [
    "see [ChangeOrder Desk: commitment 2] in the old PO",  # inside a sentence
    "[ChangeOrder Desk: commitment 2 and 3]",
    "[ChangeOrder Desk: commitment 02]",
    "[ChangeOrder Desk: commitment 2; CCO 1]",
    "[ChangeOrder Desk: commitment 2; CCO 001; CCO 002]",
    "[ChangeOrder Desk: commitment two]",
    "ChangeOrder Desk commitment 2 was cancelled, see PO-2001",
    "Note: ChangeOrder Desk commitment 2",
])
def test_look_alike_text_is_the_bookkeepers_not_a_marker(look_alike):
    assert split_note(look_alike) == (look_alike, None)
    # with our real block after it, the look-alike stays in the bookkeeper's text
    text, marker = split_note(join_note(look_alike, Marker(20)))
    assert text == look_alike and marker == Marker(20)


def _commitment_with_id(factory, id_: int, project, *, vendor, number: str,
                        title: str = "Concrete", sov: tuple[str, ...] = ()) -> Commitment:
    """A commitment with exactly this id: the ids matter here (commitment 2's marker must not
    match commitment 20's), and on PostgreSQL the sequence is not rolled back between tests,
    so the next id is not predictable."""
    record = Commitment(id=id_, project=project, vendor=vendor, number=number, title=title,
                        status=CommitmentStatus.APPROVED, type=CommitmentType.SUBCONTRACT)
    db.session.add(record)
    db.session.flush()
    for amount in sov:
        factory.sov_line(record, amount=amount)
    db.session.commit()
    return record


def _ids_above(table: str, highest: int) -> None:
    """On PostgreSQL, move ``table``'s id sequence past ``highest`` (explicit ids do not), so a
    row the test adds later does not take one of them."""
    if db.session.get_bind().dialect.name == "postgresql":
        sequence = db.session.execute(
            sql("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}).scalar_one()
        # the sequence's name comes from PostgreSQL itself (pg_get_serial_sequence)
        db.session.execute(sql(f"SELECT setval(:sequence, GREATEST(:highest, "  # noqa: S608
                               f"(SELECT last_value FROM {sequence})))"),
                           {"sequence": sequence, "highest": highest})


@pytest.fixture
def two_projects(factory, people, connected):
    """Commitment 2 (PO-2001, Summit Concrete) in the people's project and commitment 20
    (PO-2001-B, Apex Electrical) in another project; ids 1 and 3 to 19 are other commitments."""
    harbor = factory.project(name="Harbor Point")
    factory.member(harbor, people.project_admin, ProjectRole.ADMIN)
    filler = factory.vendor("Someone Else")
    _commitment_with_id(factory, 1, harbor, vendor=filler, number="F-1")
    demo = _commitment_with_id(factory, 2, people.project,
                               vendor=factory.vendor("Summit Concrete Co."), number="PO-2001",
                               title="Demo concrete", sov=("16000.00", "821.09"))
    for n in range(3, 20):
        _commitment_with_id(factory, n, harbor, vendor=filler, number=f"F-{n}")
    other = _commitment_with_id(factory, 20, harbor,
                                vendor=factory.vendor("Apex Electrical Services"),
                                number="PO-2001-B", title="Electrical", sov=("5000.00",))
    _ids_above("commitments", 20)
    assert (demo.id, other.id) == (2, 20)
    qbo_helpers.map_for(demo)
    qbo_helpers.map_for(other, item="Electrical - Subcontract", vendor="Apex Electrical Services",
                        job=JOB_4)
    return demo, other


@pytest.mark.parametrize("note_format", ["block", "legacy"])
def test_exporting_commitment_2_never_touches_commitment_20s_purchase_order(
        client, auth, people, approver, sandbox, two_projects, note_format):
    demo, other = two_projects
    twenty = send_and_accept(other, people, approver)
    assert twenty.erp_status == ErpStatus.SYNCED
    po_id = twenty.qbo_purchase_order_id
    if note_format == "legacy":  # exported by the first release, whose note was this
        sandbox.edit_purchase_order(DEMO_REALM, po_id,
                                    private_note="ChangeOrder Desk commitment 20: Electrical")
    # A bookkeeper renumbers commitment 20's PO in QuickBooks to PO-2001: commitment 2's
    # DocNumber now finds a PO carrying commitment 20's marker.
    sandbox.renumber_purchase_order(DEMO_REALM, po_id, "PO-2001")
    before = _po(sandbox, po_id)

    failed = send_and_accept(demo, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    message = _latest_export(failed).last_error_message
    assert "already has a purchase order numbered PO-2001" in message
    assert "did not create for this commitment" in message
    assert _po(sandbox, po_id) == before  # not a byte written to commitment 20's PO
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1
    auth.login(people.project_admin)
    page = client.get(f"/projects/{people.project.id}/commitments/{demo.id}")
    assert "Failed to Export: QuickBooks already has a purchase order numbered PO-2001" in \
        page.get_data(as_text=True)

    # The bookkeeper puts the number back; Retry Export makes commitment 2 its own PO.
    sandbox.renumber_purchase_order(DEMO_REALM, po_id, "PO-2001-B")
    erp.retry_export(people.company_admin, failed)
    run_jobs()
    two, twenty = _fresh(Commitment, demo.id), _fresh(Commitment, other.id)
    assert two.erp_status == twenty.erp_status == ErpStatus.SYNCED
    assert two.qbo_purchase_order_id != twenty.qbo_purchase_order_id == po_id
    mine, theirs = _po(sandbox, two.qbo_purchase_order_id), _po(sandbox, po_id)
    assert (mine["DocNumber"], mine["VendorRef"]["value"]) == ("PO-2001", "56")
    assert split_note(mine["PrivateNote"])[1] == Marker(2)
    assert (theirs["DocNumber"], theirs["VendorRef"]["value"]) == ("PO-2001-B", "57")
    assert _amounts(theirs) == [("1. Line 1", Decimal("5000.00"))]
    assert split_note(theirs["PrivateNote"])[1] == Marker(20)


def test_a_purchase_order_with_exactly_our_marker_is_adopted(people, approver, sandbox,
                                                            two_projects):
    """The create reached QuickBooks but its answer was lost: the retry finds the PO by
    DocNumber, sees its marker names exactly this commitment, and adopts it (one PO)."""
    demo, _ = two_projects
    with _create_answer_lost(sandbox):
        failed = send_and_accept(demo, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    [stale] = sandbox.purchase_orders(DEMO_REALM)
    erp.retry_export(people.company_admin, failed)
    run_jobs()
    synced = _fresh(Commitment, demo.id)
    assert synced.erp_status == ErpStatus.SYNCED
    [po] = sandbox.purchase_orders(DEMO_REALM)
    assert po["Id"] == stale["Id"] == synced.qbo_purchase_order_id


# ---- 2. what a bookkeeper wrote in QuickBooks survives --------------------------------------

def _bookkeeper_edits(sandbox, po: dict) -> dict:
    """A Memo, a sentence before our note block, and a freight line, typed in QuickBooks."""
    sandbox.edit_purchase_order(
        DEMO_REALM, po["Id"], memo="Vendor confirmed pricing by phone",
        private_note="Checked against quote Q-88 (Dana)\n\n" + po["PrivateNote"])
    return sandbox.add_purchase_order_line(
        DEMO_REALM, po["Id"], "250.00", description="Freight (added in QuickBooks)",
        account_id="80", customer_id="2")


def test_resend_keeps_the_bookkeepers_memo_note_and_line(people, approver, commitment, sandbox):
    """The only way a commitment's PO exists while the commitment can be rejected: its
    create was applied but the answer lost. The bookkeeper edits the PO meanwhile; accounting
    rejects, the PM corrects line 2, Resend, Accept: a sparse update of our fields only."""
    with _create_answer_lost(sandbox):
        failed = send_and_accept(commitment, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    [stale] = sandbox.purchase_orders(DEMO_REALM)
    edited = _bookkeeper_edits(sandbox, stale)
    freight = edited["Line"][-1]

    erp.reject(approver, failed, "Line 2 is 90,000")
    failed = _fresh(Commitment, commitment.id)
    failed.sov_lines[1].amount = Decimal("90000.00")
    db.session.commit()
    synced = send_and_accept(failed, people, approver)

    assert synced.erp_status == ErpStatus.SYNCED
    [po] = sandbox.purchase_orders(DEMO_REALM)
    assert po["Id"] == stale["Id"] == synced.qbo_purchase_order_id
    assert po.get("Memo") == "Vendor confirmed pricing by phone"
    assert po["PrivateNote"] == (f"Checked against quote Q-88 (Dana)\n\n"
                                 f"[ChangeOrder Desk: commitment {commitment.id}]")
    assert _amounts(po) == [("1. Line 1", Decimal("185000.00")),
                            ("2. Line 2", Decimal("90000.00")),
                            ("Freight (added in QuickBooks)", Decimal("250.00"))]
    assert po["Line"][-1]["Id"] == freight["Id"]
    sent = [e for e in sandbox.request_log(DEMO_REALM)
            if e["method"] == "POST" and e["path"].lower() == "purchaseorder"
            and isinstance(e["body"], dict) and e["body"].get("Id")]
    assert sent and all(e["body"].get("sparse") is True and "Memo" not in e["body"]
                        for e in sent)


def test_a_cco_export_keeps_the_bookkeepers_memo_note_and_line(people, approver, commitment,
                                                              sandbox, factory):
    synced = send_and_accept(commitment, people, approver)
    po = _po(sandbox, synced.qbo_purchase_order_id)
    freight = _bookkeeper_edits(sandbox, po)["Line"][-1]
    cco = _approved_cco(factory, synced, "1500.00")
    erp.send_to_erp(people.project_admin, cco)
    erp.accept(approver, cco)
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    [po] = sandbox.purchase_orders(DEMO_REALM)
    assert po.get("Memo") == "Vendor confirmed pricing by phone"
    assert po["PrivateNote"] == (f"Checked against quote Q-88 (Dana)\n\n"
                                 f"[ChangeOrder Desk: commitment {commitment.id}; CCO 001]")
    assert _amounts(po) == [("1. Line 1", Decimal("185000.00")),
                            ("2. Line 2", Decimal("98000.50")),
                            ("Freight (added in QuickBooks)", Decimal("250.00"))]
    assert po["Line"][-1]["Id"] == freight["Id"]


# ---- 3. a renumbered PO is found by its Id -------------------------------------------------

def test_a_cco_export_finds_a_renumbered_purchase_order_by_id(people, approver, commitment,
                                                             sandbox, factory):
    synced = send_and_accept(commitment, people, approver)
    po_id = synced.qbo_purchase_order_id
    sandbox.renumber_purchase_order(DEMO_REALM, po_id, "RMOB-0007")
    cco = _approved_cco(factory, synced, "1500.00")
    erp.send_to_erp(people.project_admin, cco)
    erp.accept(approver, cco)
    run_jobs()
    assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.SYNCED
    [po] = sandbox.purchase_orders(DEMO_REALM)
    assert po["Id"] == po_id and Decimal(str(po["TotalAmt"])) == Decimal("283000.50")
    assert po["DocNumber"] == "RMOB-0007"  # a CCO does not touch the number


def test_resend_after_a_renumbering_makes_no_second_purchase_order(people, approver, commitment,
                                                                  sandbox):
    """Reject → Resend → Accept after the bookkeeper renumbered the PO: still one PO for the
    commitment (never its amount committed twice)."""
    with _create_answer_lost(sandbox):
        failed = send_and_accept(commitment, people, approver)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    [stale] = sandbox.purchase_orders(DEMO_REALM)
    sandbox.renumber_purchase_order(DEMO_REALM, stale["Id"], "RMOB-0007")
    erp.reject(approver, failed, "Resend it please")
    resent = send_and_accept(_fresh(Commitment, commitment.id), people, approver)
    pos = sandbox.purchase_orders(DEMO_REALM)
    assert len(pos) == 1, [(p["Id"], p["DocNumber"], p["TotalAmt"]) for p in pos]
    assert resent.qbo_purchase_order_id in (None, stale["Id"])


# ---- 4. a PO deleted in QuickBooks is said so, not silently replaced ------------------------

def test_a_cco_for_a_deleted_purchase_order_fails_in_words(client, auth, people, approver,
                                                          commitment, sandbox, factory):
    synced = send_and_accept(commitment, people, approver)
    sandbox.delete_purchase_order(DEMO_REALM, synced.qbo_purchase_order_id)
    cco = _approved_cco(factory, synced, "1500.00")
    erp.send_to_erp(people.project_admin, cco)
    erp.accept(approver, cco)
    run_jobs()
    failed = _fresh(ChangeOrder, cco.id)
    assert failed.erp_status == ErpStatus.FAILED_TO_EXPORT
    message = _latest_export(failed).last_error_message
    assert f"QuickBooks no longer has PurchaseOrder {synced.qbo_purchase_order_id}" in message
    assert "deleted in QuickBooks" in message
    assert sandbox.purchase_orders(DEMO_REALM) == []  # no new PO made behind anyone's back
    auth.login(people.company_admin)
    inbox = client.get("/erp/?tab=failed_to_export").get_data(as_text=True)
    assert "no longer has PurchaseOrder" in inbox


# ---- 5. the same commitment number in two projects ------------------------------------------

def test_the_same_number_in_another_project_is_refused_at_send_with_the_prefix_advice(
        client, auth, people, approver, factory, commitment, sandbox):
    first = send_and_accept(commitment, people, approver)
    assert first.erp_status == ErpStatus.SYNCED
    harbor = factory.project(name="Harbor Point")
    factory.member(harbor, people.project_admin, ProjectRole.ADMIN)
    second = factory.commitment(harbor, vendor=factory.vendor("Apex Electrical Services"),
                                number="SC-1042", title="Electrical", sov=("7000.00",))
    qbo_helpers.map_for(second, item="Electrical - Subcontract",
                        vendor="Apex Electrical Services", job=JOB_4)
    advice = (f"Commitment SC-1042 of project {people.project.number} already uses DocNumber "
              f"SC-1042 in QuickBooks. Give project {harbor.number} a DocNumber prefix "
              "(Admin → Projects) so its purchase orders get numbers of their own.")
    assert erp.send_blockers(_fresh(Commitment, second.id)) == [advice]

    auth.login(people.project_admin)
    url = f"/projects/{harbor.id}/commitments/{second.id}"
    html = client.get(url).get_data(as_text=True)
    blockers = html.split('<ul class="blockers">', 1)[1].split("</ul>", 1)[0]
    assert advice in blockers
    before = fingerprint()
    refused = client.post(f"{url}/erp/send", headers=HTMX)
    assert refused.status_code == 409
    assert "Cannot send to ERP" in refused.get_data(as_text=True)
    assert advice in refused.get_data(as_text=True)
    assert fingerprint() == before  # nothing queued, nothing moved
    assert db.session.scalar(select(func.count()).select_from(Export)) == 1

    harbor.qbo_doc_prefix = "P2-"
    db.session.commit()
    synced = send_and_accept(_fresh(Commitment, second.id), people, approver)
    assert synced.erp_status == ErpStatus.SYNCED
    pos = {p["Id"]: p for p in sandbox.purchase_orders(DEMO_REALM)}
    assert len(pos) == 2 and synced.qbo_purchase_order_id != first.qbo_purchase_order_id
    assert pos[synced.qbo_purchase_order_id]["DocNumber"] == "P2-SC-1042"
    assert pos[first.qbo_purchase_order_id]["DocNumber"] == "SC-1042"


def test_a_prefix_that_makes_the_doc_number_too_long_is_refused(people, factory, commitment):
    people.project.qbo_doc_prefix = "RIVERMOB"
    commitment.number = "SC-1042-ALT-0000"  # 8 + 16 = 24 characters
    db.session.commit()
    blockers = erp.send_blockers(_fresh(Commitment, commitment.id))
    assert any("longer than 21 characters" in b for b in blockers)


# ---- 6. what QuickBooks would refuse is refused at Send to ERP ------------------------------

def test_a_negative_sov_line_is_refused_at_send(client, auth, people, factory, connected):
    record = factory.commitment(people.project, vendor=factory.vendor("Summit Concrete Co."),
                                number="SC-3000", sov=("1000.00", "-250.00"))
    qbo_helpers.map_for(record)
    reason = ("SOV line 2 is negative (-250.00); QuickBooks refuses negative purchase order "
              "lines.")
    assert erp.send_blockers(_fresh(Commitment, record.id)) == [reason]
    auth.login(people.project_admin)
    url = f"/projects/{people.project.id}/commitments/{record.id}"
    assert reason in client.get(url).get_data(as_text=True)
    before = fingerprint()
    refused = client.post(f"{url}/erp/send", headers=HTMX)
    assert refused.status_code == 409 and reason in refused.get_data(as_text=True)
    assert fingerprint() == before
    with pytest.raises(Locked):
        erp.send_to_erp(people.project_admin, _fresh(Commitment, record.id))


def test_an_item_quickbooks_only_sells_is_marked_and_refused_at_send(client, auth, people,
                                                                      factory, connected):
    design = db.session.scalar(select(QboRecord).where(QboRecord.entity == "Item",
                                                       QboRecord.name == "Design Services"))
    assert design is not None and design.detail.startswith("sales only")
    bought = db.session.scalar(select(QboRecord).where(
        QboRecord.entity == "Item", QboRecord.name == "Concrete - Subcontract"))
    assert not bought.detail.startswith("sales only")

    record = factory.commitment(people.project, vendor=factory.vendor("Summit Concrete Co."),
                                number="SC-3001", sov=("1000.00",))
    line = record.sov_lines[0]
    # mapped before the list said so (or by an older release): the link is still there
    db.session.add(CostMapping(cost_code_id=line.cost_code_id, category_id=line.category_id,
                               qbo_item_id=design.qbo_id, qbo_name="Design Services"))
    db.session.commit()
    qbo_helpers.map_for(record)
    reason = (f"{line.cost_code.code} {line.category.name} is mapped to Design Services, an "
              "item QuickBooks sells but cannot buy (it has no expense account). Map it to a "
              "purchasable item or an expense account.")
    assert erp.send_blockers(_fresh(Commitment, record.id)) == [reason]
    auth.login(people.project_admin)
    url = f"/projects/{people.project.id}/commitments/{record.id}"
    refused = client.post(f"{url}/erp/send", headers=HTMX)
    assert refused.status_code == 409 and reason in refused.get_data(as_text=True)
    assert _fresh(Commitment, record.id).erp_status == ErpStatus.NOT_SENT


def test_settings_does_not_offer_an_item_quickbooks_only_sells(client, auth, people,
                                                               commitment):
    auth.login(people.company_admin)
    page = client.get("/erp/settings").get_data(as_text=True)
    assert "Concrete - Subcontract" in page
    assert "Design Services" not in page


# ---- 7. the outbox: nothing stays Exporting ---------------------------------------------------

@pytest.fixture
def on_redis(app):
    return qbo_helpers.use_redis(app)


def _wait_for(commitment_id: int, statuses: set[ErpStatus], seconds: float = 45) -> Commitment:
    deadline = time.monotonic() + seconds
    while True:
        record = _fresh(Commitment, commitment_id)
        if record.erp_status in statuses or time.monotonic() > deadline:
            return record
        time.sleep(0.2)


def _accepted_but_never_queued(approver, commitment, monkeypatch) -> Export:
    """Accept commits the Export; the web process dies before the job reaches Redis."""
    monkeypatch.setattr(erp, "_dispatch", lambda export: None)
    export = erp.accept(approver, commitment)
    monkeypatch.undo()
    db.session.expire_all()
    export = db.session.get(Export, export.id)
    assert export.status == ExportStatus.QUEUED and export.job_id is None
    return export


def test_an_export_never_queued_is_run_by_the_next_worker(app, on_redis, people, approver,
                                                          commitment, sandbox, monkeypatch,
                                                          tmp_path):
    erp.send_to_erp(people.project_admin, commitment)
    export = _accepted_but_never_queued(approver, commitment, monkeypatch)
    assert _fresh(Commitment, commitment.id).erp_status == ErpStatus.EXPORTING
    log = tmp_path / "worker.log"
    worker = qbo_helpers.start_worker(app, on_redis, log)  # finds it when it starts
    try:
        synced = _wait_for(commitment.id, {ErpStatus.SYNCED, ErpStatus.FAILED_TO_EXPORT})
    finally:
        worker.terminate()
        worker.wait(10)
    assert synced.erp_status == ErpStatus.SYNCED, log.read_text()[-3000:]
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1
    export = _fresh(Export, export.id)
    assert export.status == ExportStatus.SYNCED and export.job_id


def test_the_outbox_queues_a_never_queued_export_once(on_redis, people, approver, commitment,
                                                      sandbox, monkeypatch):
    from jobs.outbox import requeue_stalled_exports

    erp.send_to_erp(people.project_admin, commitment)
    export = _accepted_but_never_queued(approver, commitment, monkeypatch)
    assert requeue_stalled_exports() == 1
    job_id = _fresh(Export, export.id).job_id
    assert job_id
    assert requeue_stalled_exports() == 0  # its job is queued: left alone
    assert _fresh(Export, export.id).job_id == job_id
    run_jobs()
    assert _fresh(Commitment, commitment.id).erp_status == ErpStatus.SYNCED
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


def test_an_export_whose_job_redis_lost_is_queued_again(on_redis, people, approver,
                                                        commitment, sandbox):
    from rq.job import Job

    from jobs.outbox import requeue_stalled_exports
    from jobs.queue import get_queue

    erp.send_to_erp(people.project_admin, commitment)
    export = erp.accept(approver, commitment)  # queued; no worker yet
    lost = export.job_id
    Job.fetch(lost, connection=get_queue().connection).delete()  # a Redis restart, a flush
    assert requeue_stalled_exports() == 1
    assert _fresh(Export, export.id).job_id not in (None, lost)
    run_jobs()
    assert _fresh(Commitment, commitment.id).erp_status == ErpStatus.SYNCED
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


def test_a_retry_whose_scheduled_job_was_lost_runs_when_due(app, on_redis, people, approver,
                                                            commitment, sandbox, monkeypatch):
    from rq.job import Job

    from jobs.outbox import requeue_stalled_exports
    from jobs.queue import get_queue

    # A retry a minute away: the suite's 1 second could pass before "not due yet" is checked
    # on a busy machine.
    monkeypatch.setitem(app.config, "EXPORT_RETRY_INTERVALS", [60, 60, 60])
    erp.send_to_erp(people.project_admin, commitment)
    sandbox.inject_fault(DEMO_REALM, "429", count=1)
    export = erp.accept(approver, commitment)
    queue = get_queue()
    qbo_helpers.work_burst(queue)  # throttled once
    waiting = _fresh(Export, export.id)
    assert waiting.status == ExportStatus.QUEUED and waiting.retries == 1
    assert waiting.next_attempt_at is not None
    Job.fetch(waiting.job_id, connection=queue.connection).delete()  # lost in a restart
    assert requeue_stalled_exports() == 0  # not due yet: nothing to do
    waiting.next_attempt_at = utcnow() - timedelta(seconds=1)  # its time has come
    db.session.commit()
    assert requeue_stalled_exports() == 1
    run_jobs()
    assert _fresh(Commitment, commitment.id).erp_status == ErpStatus.SYNCED
    assert _fresh(Export, export.id).attempts == 2
    assert len(sandbox.purchase_orders(DEMO_REALM)) == 1


def test_the_outbox_does_nothing_inline(app, people, approver, commitment, monkeypatch):
    from jobs.outbox import requeue_stalled_exports

    app.config["REDIS_URL"] = None
    app.extensions["changeorder.queue"] = None
    erp.send_to_erp(people.project_admin, commitment)
    _accepted_but_never_queued(approver, commitment, monkeypatch)
    assert requeue_stalled_exports() == 0


@pytest.fixture
def commitment(erp_commitment):
    return erp_commitment
