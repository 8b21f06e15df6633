"""The approver's inbox: commitments and CCOs on one page, oldest waiting first, filters,
keyset pages, a live poll that costs one statement when nothing changed, a guarded Accept,
Accept selected, the landing page after login, and what the PM sees come back."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from extensions import db
from models import Commitment, ErpStatus, Export
from models.types import utcnow
from tests import qbo_helpers
from tests.conftest import app_statement
from tests.qbo_helpers import run_jobs
from workflow import erp

HTMX = {"HX-Request": "true"}


@pytest.fixture
def waiting(factory, people, connected):
    """Three commitments Ready to Export, sent at different times, in two projects."""
    other = factory.project(name="Second project")
    made = []
    for index, (project, number) in enumerate(((people.project, "SC-1"),
                                               (other, "SC-2"), (people.project, "SC-3"))):
        record = factory.commitment(project, number=number, sov=("100.00",))
        qbo_helpers.map_for(record)
        record.erp_status = ErpStatus.READY_TO_EXPORT
        record.updated_at = utcnow() - timedelta(hours=10 - index)
        made.append(record)
    db.session.commit()
    return made


def _cards(html: str) -> list[str]:
    return re.findall(r'id="erp-(commitments|change-orders)-(\d+)"', html)


def test_oldest_waiting_first_and_filters_by_project_and_vendor(client, auth, approver, waiting):
    auth.login(approver)
    html = client.get("/erp/").get_data(as_text=True)
    assert [int(i) for _, i in _cards(html)] == [c.id for c in waiting]
    project = waiting[1].project_id
    only = client.get(f"/erp/?project={project}").get_data(as_text=True)
    assert [int(i) for _, i in _cards(only)] == [waiting[1].id]
    vendor = waiting[2].vendor_id
    by_vendor = client.get(f"/erp/?vendor={vendor}").get_data(as_text=True)
    assert [int(i) for _, i in _cards(by_vendor)] == [waiting[2].id]
    # the status choice is the (live) counts line, each status with its count, the current marked
    assert re.search(r'<a href="/erp/\?tab=ready_to_export" aria-current="page">Ready to Export'
                     r'&nbsp;<span class="count" id="count-ready_to_export">3</span></a>', html)
    assert '<select id="inbox-tab"' not in html  # no second status choice, whose counts went stale


def test_pages_are_keyset_and_lose_nothing(client, auth, approver, waiting, monkeypatch):
    from workflow import inbox

    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    auth.login(approver)
    first = client.get("/erp/").get_data(as_text=True)
    assert [int(i) for _, i in _cards(first)] == [waiting[0].id, waiting[1].id]
    after = re.search(r'rel="next" href="[^"]*after=([0-9._]+)', first).group(1)
    second = client.get(f"/erp/?after={after}").get_data(as_text=True)
    assert [int(i) for _, i in _cards(second)] == [waiting[2].id]
    assert "Older ones" not in second
    # the second page has a way back to the first, and stays live (its own poll)
    assert re.search(r'<a class="button" href="/erp/\?tab=ready_to_export">← First page</a>',
                     second)
    poll = re.search(r'hx-get="(/erp/changes\?[^"]+)"', second).group(1).replace("&amp;", "&")
    assert f"after={after}" in poll
    assert client.get(poll, headers=HTMX).status_code == 204  # nothing changed since


def test_the_live_poll_sends_nothing_until_something_changes(client, auth, approver, people,
                                                             waiting):
    auth.login(approver)
    html = client.get("/erp/").get_data(as_text=True)
    poll = re.search(r'hx-get="(/erp/changes\?[^"]+)"', html).group(1).replace("&amp;", "&")
    statements = []
    listener = lambda *args: app_statement(args[2]) and statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        quiet = client.get(poll, headers=HTMX)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert quiet.status_code == 204 and quiet.data == b""
    assert len([s for s in statements if "erp_status" in s]) == 1  # one cheap statement
    erp.retrieve_from_erp(people.project_admin, waiting[0])  # the PM takes one back
    changed = client.get(poll, headers=HTMX)
    assert changed.status_code == 200
    assert [int(i) for _, i in _cards(changed.get_data(as_text=True))] == [waiting[1].id,
                                                                         waiting[2].id]


def _statements(client, url: str) -> int:
    """SQL statements one request runs, the user's own load included (a fresh session)."""
    statements = []
    listener = lambda *args: app_statement(args[2]) and statements.append(1)  # noqa: E731
    db.session.expire_all()
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert client.get(url).status_code in (200, 204)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return len(statements)


def _add_cards(factory, people, count: int, when) -> None:
    """``count`` of each kind of card an approver meets: a commitment sent with its vendor
    and job linked; a CCO (one SOV line changed twice, one new mapped line) on a commitment
    already in QuickBooks, with an earlier rejection; and a private CCO."""
    from models import ChangeOrderLine

    for index in range(count):
        record = factory.commitment(people.project, sov=("100.00", "50.00"))
        qbo_helpers.map_for(record)
        record.erp_status = ErpStatus.READY_TO_EXPORT
        record.updated_at = when(index)
        synced = factory.commitment(people.project, sov=("300.00",))
        qbo_helpers.map_for(synced)
        # each its own PurchaseOrder: a PO belongs to at most one commitment
        synced.erp_status, synced.qbo_purchase_order_id = ErpStatus.SYNCED, str(10_000 + synced.id)
        for line in synced.sov_lines:
            line.qbo_line_id = "1"
        cco = factory.change_order(synced, status="approved",
                                   lines=((synced.sov_lines[0], "5.00"),
                                          (synced.sov_lines[0], "7.00")))
        new_line = synced.sov_lines[0]
        db.session.add(ChangeOrderLine(change_order=cco, cost_code_id=new_line.cost_code_id,
                                       category_id=new_line.category_id,
                                       description="New work", amount=20))
        cco.erp_status = ErpStatus.READY_TO_EXPORT
        cco.updated_at = when(index)
        erp_history = dict(field="ERP status", old=ErpStatus.READY_TO_EXPORT)
        from workflow import history

        history.record(people.project_admin, cco, "sent", **erp_history)
        history.record(people.company_admin, cco, "rejected", comment="Wrong code",
                       **erp_history)
        history.record(people.project_admin, cco, "resent", **erp_history)
        hidden = factory.change_order(synced, status="approved", private=True,
                                      lines=((synced.sov_lines[0], "1.00"),))
        hidden.erp_status = ErpStatus.READY_TO_EXPORT
        hidden.updated_at = when(index)
    db.session.commit()


TABS = ("ready_to_export", "failed_to_export", "synced")


def _clone_cards(copies: int) -> None:
    """Every card already there ``copies`` more times, each copy a minute later, written the
    way ``benchmarks/seed.py`` writes: lists of rows, bulk Core ``insert()`` in one
    transaction, then ``list_totals.rebuild()`` once (no ORM round trip, no flush hook)."""
    from sqlalchemy import insert

    from benchmarks.seed import _chunks
    from models import ChangeOrder, ChangeOrderLine, HistoryEvent, SovLine, list_totals

    connection = db.session.connection()
    tables = [m.__table__ for m in (Commitment, SovLine, ChangeOrder, ChangeOrderLine,
                                    HistoryEvent)]
    span = 1 + max(connection.scalar(select(func.max(t.c.id))) or 0 for t in tables)
    cloned = {t.name for t in tables}
    subjects = {"commitment", "change_order", "commitments", "change_orders", "Commitment",
                "ChangeOrder"}
    originals = {t.name: [dict(r._mapping) for r in connection.execute(select(t))]
                 for t in tables}
    for table in tables:
        rows = []
        for copy in range(1, copies + 1):
            shift = copy * span
            for row in originals[table.name]:
                row = dict(row, id=row["id"] + shift)
                for fk in table.foreign_keys:
                    if fk.column.table.name in cloned and row[fk.parent.name] is not None:
                        row[fk.parent.name] += shift
                if table.name == "commitments":
                    row["number"] = f"{row['number']}-{copy}"
                    # One PurchaseOrder per commitment (a unique index): each copy its own.
                    po = row["qbo_purchase_order_id"]
                    if po is not None:
                        row["qbo_purchase_order_id"] = (
                            str(int(po) + shift) if po.isdigit() else f"{po}-{copy}")
                if table.name == "history_events":
                    if row["subject_type"] in subjects:
                        row["subject_id"] += shift
                    row["at"] += timedelta(minutes=1, seconds=copy)
                if "updated_at" in row and row["updated_at"] is not None:
                    row["updated_at"] += timedelta(minutes=1, seconds=copy)
                rows.append(row)
        for chunk in _chunks(rows):
            connection.execute(insert(table), chunk)
    list_totals.rebuild(connection)
    db.session.commit()


@pytest.mark.scale
def test_statements_per_inbox_request_are_few_and_do_not_grow(client, auth, approver,
                                                              factory, people, connected):
    """5 cards of each kind, then 500: the same statements per page on every tab, at most 10,
    and one for a poll that finds nothing new (besides loading the user)."""
    start = utcnow() - timedelta(days=30)
    auth.login(approver)
    _add_cards(factory, people, 5, lambda i: start + timedelta(seconds=i))
    small = {tab: _statements(client, f"/erp/?tab={tab}") for tab in TABS}
    _clone_cards(99)  # 5 + 5 x 99 = 500 of each kind
    assert db.session.scalar(select(func.count()).select_from(Commitment).where(
        Commitment.erp_status == ErpStatus.READY_TO_EXPORT)) == 500
    html = client.get("/erp/").get_data(as_text=True)
    assert len(_cards(html)) == 25 and "Wrong code" in html and "New work" in html
    large = {tab: _statements(client, f"/erp/?tab={tab}") for tab in TABS}
    assert large == small and max(large.values()) <= 10
    poll = re.search(r'hx-get="(/erp/changes\?[^"]+)"', html).group(1).replace("&amp;", "&")
    assert _statements(client, poll) <= 2  # the user, and one for the counters


@pytest.mark.scale  # many records: left out by make test-quick
def test_counts_stop_at_99_plus(client, auth, approver, factory, people, connected):
    """Counts read at most 100 rows (a count costs the same at any size): 99+ beyond."""
    auth.login(approver)
    for _ in range(101):
        record = factory.commitment(people.project, sov=("1.00",))
        record.erp_status = ErpStatus.READY_TO_EXPORT
    db.session.commit()
    html = client.get("/erp/").get_data(as_text=True)
    assert 'Ready to Export&nbsp;<span class="count" id="count-ready_to_export">99+</span>' in html
    assert 'title="99+ waiting for you">99+</span>' in html


def test_accept_shows_the_amount_and_purchase_order_before_it_is_sent(client, auth, approver,
                                                                      waiting):
    auth.login(approver)
    html = client.get("/erp/").get_data(as_text=True)
    card = html.split(f'id="erp-commitments-{waiting[0].id}"', 1)[1].split("</article>", 1)[0]
    # Accept and Reject are buttons; Accept names the amount and opens its confirmation
    assert re.search(r'<button type="submit" class="primary accept" data-opens="confirm-'
                     r'commitments-\d+"[^>]*aria-expanded="false">Accept \$100\.00</button>', card)
    assert re.search(r'<button type="submit" class="reject"[^>]*>Reject</button>', card)
    assert "<summary class=\"button" not in card
    assert re.search(r'<div class="confirm-panel" id="confirm-commitments-\d+" hidden>', card)
    assert "Confirm Accept" in card
    assert "Export <strong>$100.00</strong> to QuickBooks PurchaseOrder <strong>SC-1</strong>" \
        in card


def test_accept_selected_lists_then_accepts_each_once(client, auth, approver, waiting, sandbox):
    auth.login(approver)
    picked = {"selected": [f"commitments:{waiting[0].id}", f"commitments:{waiting[2].id}"]}
    # step one reads only: a GET (the inbox's form), so Back and reload never post
    listing = client.get("/erp/accept-selected", query_string=picked)
    text = listing.get_data(as_text=True)
    assert listing.status_code == 200 and "Confirm Accept of 2" in text and "Total" in text
    posted = client.post("/erp/accept-selected", data=picked)  # an old form: to step one
    assert posted.status_code == 303 and "/erp/accept-selected?selected=" in posted.location
    db.session.expire_all()
    assert db.session.get(Commitment, waiting[0].id).erp_status == ErpStatus.READY_TO_EXPORT
    done = client.post("/erp/accept-selected", data={**picked, "confirm": "yes"})
    assert done.status_code == 303 and done.location.startswith("/erp/accepted?selected=")
    after = client.get(done.location)
    assert after.status_code == 200 and "<h1>Accepted</h1>" in after.get_data(as_text=True)
    run_jobs()
    db.session.expire_all()
    assert {db.session.get(Commitment, c.id).erp_status for c in (waiting[0], waiting[2])} == {
        ErpStatus.SYNCED}
    assert db.session.get(Commitment, waiting[1].id).erp_status == ErpStatus.READY_TO_EXPORT
    assert len(db.session.scalars(select(Export)).all()) == 2
    again = client.post("/erp/accept-selected", data={**picked, "confirm": "yes"},
                        follow_redirects=True)
    assert "Already handled" in again.get_data(as_text=True)
    assert len(db.session.scalars(select(Export)).all()) == 2


def test_accept_selected_is_for_approvers_only(client, auth, people, waiting):
    auth.login(people.project_admin)
    response = client.post("/erp/accept-selected",
                           data={"selected": [f"commitments:{waiting[0].id}"], "confirm": "yes"})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Commitment, waiting[0].id).erp_status == ErpStatus.READY_TO_EXPORT


def test_approvers_land_on_the_inbox_and_others_on_their_projects(client, approver, people):
    from tests.conftest import PASSWORD

    landed = client.post("/auth/login", data={"email": approver.email, "password": PASSWORD})
    assert landed.headers["Location"].endswith("/erp/")
    client.post("/auth/logout")
    other = client.post("/auth/login", data={"email": people.standard.email,
                                             "password": PASSWORD})
    assert other.headers["Location"].endswith("/")


def test_the_pm_sees_returned_work_counted_and_listed(client, auth, approver, people,
                                                      erp_commitment):
    erp.send_to_erp(people.project_admin, erp_commitment)
    erp.reject(approver, erp_commitment, "Wrong vendor on line 2")
    auth.login(people.project_admin)
    page = client.get("/").get_data(as_text=True)
    assert 'title="1 returned by accounting"' in page
    assert "Returned by accounting" in page and "Wrong vendor on line 2" in page


def test_the_cco_panel_polls_while_it_is_with_accounting(client, auth, people, approver,
                                                        erp_commitment, factory):
    erp.send_to_erp(people.project_admin, erp_commitment)
    erp.accept(approver, erp_commitment)
    run_jobs()
    db.session.expire_all()
    synced = db.session.get(Commitment, erp_commitment.id)
    cco = factory.change_order(synced, status="approved", lines=((synced.sov_lines[0], "10.00"),))
    erp.send_to_erp(people.project_admin, cco)
    auth.login(people.project_admin)
    url = f"/projects/{people.project.id}/commitments/{synced.id}/change-orders/{cco.id}"
    page = client.get(url).get_data(as_text=True)
    # the panel asks for itself in the ERP kinds' /erp/<kind>/<id> family
    assert f'hx-get="/erp/change-orders/{cco.id}/panel"' in page \
        and 'hx-trigger="every 10s"' in page
    erp.reject(approver, cco, "Split line 1")
    panel = client.get(url + "/erp", headers=HTMX).get_data(as_text=True)
    assert "Rejected by accounting: Split line 1" in panel


def test_the_card_preview_is_what_the_export_then_writes(client, auth, people, approver,
                                                        erp_commitment, factory, sandbox):
    """A CCO that changes one SOV line twice and adds a line: each PO line's "after" on the
    approver's card is what QuickBooks holds after the export."""
    from decimal import Decimal

    from models import ChangeOrderLine
    from tests.qbo_helpers import DEMO_REALM

    erp.send_to_erp(people.project_admin, erp_commitment)
    erp.accept(approver, erp_commitment)
    run_jobs()
    db.session.expire_all()
    synced = db.session.get(Commitment, erp_commitment.id)
    first = synced.sov_lines[0]
    cco = factory.change_order(synced, status="approved",
                               lines=((first, "1200.00"), (first, "-200.50")))
    db.session.add(ChangeOrderLine(change_order=cco, cost_code_id=first.cost_code_id,
                                   category_id=first.category_id, description="Winter blankets",
                                   amount=Decimal("640.00")))
    db.session.commit()
    factory.approve_again(cco)  # approved with its new line
    erp.send_to_erp(people.project_admin, cco)
    auth.login(approver)
    html = client.get(f"/erp/change-orders/{cco.id}/card", headers=HTMX).get_data(as_text=True)
    rows = re.findall(r'<tr><td data-label="PO line"><bdi>([^<]+)</bdi></td>'
                      r'<td class="num" data-label="Now">([^<]+)</td>'
                      r'<td class="num" data-label="Change">([^<]+)</td>'
                      r'<td class="num" data-label="After">([^<]+)</td></tr>', html)
    assert [(now, change, after) for _, now, change, after in rows] == [
        ("$185,000.00", "$999.50", "$185,999.50"), ("new line", "$640.00", "$640.00")]
    erp.accept(approver, cco)
    run_jobs()
    po = sandbox.purchase_orders(DEMO_REALM)[0]
    amounts = {line["Description"]: f"${line['Amount']:,.2f}" for line in po["Line"]}
    assert amounts[f"1. {first.description}"] == "$185,999.50"
    assert amounts["CCO 001: Winter blankets"] == "$640.00"


def test_accept_selected_is_offered_only_beside_cards_the_approver_may_accept(
        client, auth, approver, waiting):
    """Cards Ready to Export that the approver may not Accept (here: linked to a PurchaseOrder
    of another QuickBooks company) have no Select box, and the page then offers no "Accept
    selected…"."""
    auth.login(approver)
    for record in waiting:
        record.qbo_purchase_order_id, record.qbo_realm_id = f"9{record.id}", "another-company"
    db.session.commit()
    html = client.get("/erp/").get_data(as_text=True)
    assert len(_cards(html)) == 3 and "in another QuickBooks company" in html
    assert 'name="selected"' not in html and "Accept selected…" not in html
    waiting[0].qbo_purchase_order_id = waiting[0].qbo_realm_id = None
    db.session.commit()
    html = client.get("/erp/").get_data(as_text=True)
    assert html.count('name="selected"') == 1 and "Accept selected…" in html
