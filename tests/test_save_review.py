"""Inline line saves keep the lists' totals by difference and answer with the totals of the
share they just wrote (models/list_totals.py, blueprints/line_editor.py): whatever a save
changes — an amount alone, an amount and something else, the line of a private or an
approved CCO — the totals its answer shows are the ones the page shows that viewer, the
list's totals row equals the lines added up, and rebuilding every kept total from the lines
finds exactly what was kept. Also on PostgreSQL, with several people saving lines of one
commitment and one change event at the same moment."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from extensions import db
from models import (
    ChangeEvent,
    ChangeEventLine,
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    Project,
    ProjectRole,
    SovLine,
    User,
)
from tests.conftest import PASSWORD
from tests.test_list_totals import (
    assert_rebuild_finds_what_was_kept,
    slow_change_event_totals,
    slow_commitment_totals,
)
from workflow import change_events as ce_workflow
from workflow import commitments as commitment_workflow

HTMX = {"HX-Request": "true"}


def _block(html: str, element_id: str) -> str:
    """The element with this id (its out-of-band marker taken off), to compare an answer's
    totals with the page's."""
    found = re.search(rf'<(dl|p) id="{element_id}"[^>]*>.*?</\1>', html, re.S)
    assert found, f"no #{element_id} in the answer"
    return found.group(0).replace(' hx-swap-oob="true"', "")


def _sov_data(line: SovLine, amount: str, **changes) -> dict:
    return {"description": line.description, "cost_code_id": line.cost_code_id,
            "category_id": line.category_id, "amount": amount, "version": line.version,
            **changes}


def _cco_line_data(line: ChangeOrderLine, amount: str) -> dict:
    return {"sov_line_id": line.sov_line_id, "description": line.description,
            "amount": amount, "cost_code_id": "", "category_id": "", "version": line.version}


def _ce_line_data(line: ChangeEventLine, cost_rom: str, latest: str = "", **changes) -> dict:
    return {"description": line.description, "cost_code_id": line.cost_code_id,
            "category_id": line.category_id, "vendor_id": line.vendor_id or "",
            "commitment_id": line.commitment_id or "", "cost_rom": cost_rom,
            "latest_cost": latest, "version": line.version, **changes}


class Job:
    """A project a standard member works on: a commitment whose CCOs are public and private
    (one theirs), approved, pending and draft, and a change event with items of two vendors."""

    def __init__(self, factory, people):
        self.people = people
        self.project = people.project
        self.project.change_events_enabled = True
        self.vendors = [factory.vendor(), factory.vendor()]
        self.commitment = factory.commitment(self.project, vendor=self.vendors[0],
                                             sov=("1000.00", "250.50", "75.25"))
        first, second, _ = self.commitment.sov_lines
        standard, admin = people.standard, people.project_admin
        self.approved = factory.change_order(self.commitment, status="approved",
                                             lines=((first, "100.00"), (second, "20.00")),
                                             reviewer=admin)
        self.pending = factory.change_order(self.commitment, status="pending_in_review",
                                            lines=((first, "30.00"),))
        self.draft = factory.change_order(self.commitment, lines=((second, "9.00"),))
        self.mine = factory.change_order(self.commitment, status="approved", private=True,
                                         creator=standard, reviewer=admin,
                                         lines=((second, "7.00"),))
        self.theirs = factory.change_order(self.commitment, status="pending_in_review",
                                           private=True, creator=admin,
                                           lines=((first, "11.00"),))
        self.ce = factory.change_event(self.project)
        for n in range(3):
            factory.change_event_line(self.ce, vendor=self.vendors[n % 2],
                                      cost_rom=f"{100 + n}.10",
                                      latest_cost="90.00" if n == 0 else None)
        db.session.commit()

    def commitment_url(self, rest: str = "") -> str:
        return f"/projects/{self.project.id}/commitments/{self.commitment.id}{rest}"

    def ce_url(self, rest: str = "") -> str:
        return f"/projects/{self.project.id}/change-events/{self.ce.id}{rest}"


def _fresh(model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


def _lists_add_up(job: Job) -> None:
    """Every viewer's list totals row equals the records added up the slow way, for each
    vendor filter."""
    db.session.expire_all()
    project = db.session.get(Project, job.project.id)
    people = job.people
    for viewer in (people.read_only, people.standard, people.project_admin, None):
        for vendor in (None, *job.vendors):
            vendor_id = vendor.id if vendor else None
            assert commitment_workflow.list_totals(project, viewer, vendor_id=vendor_id) == \
                slow_commitment_totals(project, viewer, vendor_id=vendor_id), (viewer, vendor)
    for vendor in (None, *job.vendors):
        vendor_id = vendor.id if vendor else None
        assert ce_workflow.list_totals(project, vendor_id=vendor_id) == \
            slow_change_event_totals(project, vendor_id=vendor_id), vendor


def _save(client, url: str, data: dict) -> str:
    response = client.post(url, data=data, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    return html


def test_every_kind_of_save_answers_with_the_totals_the_page_shows(client, auth, factory,
                                                                  people):
    """A standard member saves SOV lines, the lines of public and private, approved, pending
    and draft CCOs, and change event items — amounts alone and with something else. After
    each save its answer's totals are the page's for them, and the lists add up."""
    job = Job(factory, people)
    auth.login(people.standard)
    other_code = factory.cost_code(code="31-EARTH")
    db.session.commit()

    def sov_save(index: int, amount: str, **changes) -> None:
        line = _fresh(Commitment, job.commitment.id).sov_lines[index]
        html = _save(client, job.commitment_url(f"/sov/{line.id}"),
                     _sov_data(line, amount, **changes))
        page = client.get(job.commitment_url()).get_data(as_text=True)
        assert _block(html, "commitment-totals") == _block(page, "commitment-totals")
        lines = _fresh(Commitment, job.commitment.id).sov_lines
        assert f"{sum(s.amount for s in lines):,.2f}" in _block(html, "commitment-totals")
        _lists_add_up(job)

    def cco_save(cco: ChangeOrder, amount: str) -> None:
        line = _fresh(ChangeOrder, cco.id).lines[0]
        html = _save(client, job.commitment_url(
            f"/change-orders/{cco.id}/lines/{line.id}"), _cco_line_data(line, amount))
        page = client.get(job.commitment_url(f"/change-orders/{cco.id}")).get_data(
            as_text=True)
        assert _block(html, "cco-grand-total") == _block(page, "cco-grand-total")
        # the commitment's page, for this member, agrees with its lines added up
        commitment = _fresh(Commitment, job.commitment.id)
        shown = commitment_workflow.totals_by_commitment([commitment.id], people.standard)
        page = client.get(job.commitment_url()).get_data(as_text=True)
        expected = shown[commitment.id]
        assert f"{expected.revised:,.2f}" in _block(page, "commitment-totals")
        _lists_add_up(job)

    def ce_save(index: int, cost_rom: str, latest: str = "", **changes) -> None:
        line = _fresh(ChangeEvent, job.ce.id).lines[index]
        html = _save(client, job.ce_url(f"/lines/{line.id}"),
                     _ce_line_data(line, cost_rom, latest, **changes))
        page = client.get(job.ce_url()).get_data(as_text=True)
        assert _block(html, "ce-totals") == _block(page, "ce-totals")
        items = _fresh(ChangeEvent, job.ce.id).lines
        rom = sum(i.cost_rom for i in items)
        latest_total = sum(i.latest_cost or 0 for i in items)
        assert f"{rom:,.2f}" in _block(html, "ce-totals")
        assert f"{latest_total:,.2f}" in _block(html, "ce-totals")
        _lists_add_up(job)

    _lists_add_up(job)
    sov_save(0, "1234.56")  # an amount alone: added by difference
    sov_save(1, "-0.01", cost_code_id=other_code.id)  # an amount and the cost code
    sov_save(2, "75.25", description="Same amount, new words")  # nothing to add
    sov_save(0, "99999999999.99")  # the largest amount there is
    sov_save(0, "0.10")
    cco_save(job.pending, "31.99")  # a public pending CCO: its pending changes
    cco_save(job.draft, "500.00")  # a draft counts nowhere
    cco_save(job.mine, "8.01")  # the member's own private approved CCO: withdrawn
    cco_save(job.mine, "8.02")  # and pending since: a private CCO's amount, summed again
    cco_save(job.approved, "150.00")  # approved: the approval is withdrawn, pending now
    assert _fresh(ChangeOrder, job.approved.id).status == ChangeOrderStatus.PENDING_REVISED
    cco_save(job.approved, "151.00")  # and pending since
    ce_save(0, "200.00", "")  # the latest cost taken away
    ce_save(1, "300.00", "12.34")  # a latest cost given
    ce_save(2, "0.01", "", vendor_id=job.vendors[0].id)  # an amount and its vendor
    ce_save(1, "300.00", "12.35", vendor_id="")  # the vendor taken away, the latest cost
    sov_save(1, "250.50")
    assert_rebuild_finds_what_was_kept()


def test_a_save_by_a_project_admin_shows_the_private_change_orders(client, auth, factory,
                                                                     people):
    """The answer's totals split private CCOs for the viewer: a project admin sees them all,
    a read-only member named on one sees that one (and cannot save)."""
    job = Job(factory, people)
    auth.login(people.project_admin)
    line = job.commitment.sov_lines[0]
    html = _save(client, job.commitment_url(f"/sov/{line.id}"), _sov_data(line, "1000.01"))
    totals = _block(html, "commitment-totals")
    # original 1325.76; approved 120 + 7 (private); pending 30 + 11 (private)
    assert "1,325.76" in totals and "127.00" in totals and "41.00" in totals
    assert "cannot see" not in totals
    assert totals == _block(client.get(job.commitment_url()).get_data(as_text=True),
                            "commitment-totals")


# ---- several people at once (PostgreSQL: each in its own connection) ---------------------------

def _logged_in(app, email: str):
    client = app.test_client()
    response = client.post("/auth/login", data={"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303), response.status_code
    return client


def test_saves_of_one_commitment_and_one_change_event_at_once_keep_the_totals(app, factory,
                                                                             people):
    """Four people save at the same moment: two SOV lines of one commitment, a line of its
    CCO, and change event items (one moved to another vendor, which sums the event again).
    Whatever order they commit in, the totals each page shows are the lines added up, the
    lists' totals rows too, and rebuilding them finds what was kept."""
    from tests.conftest import at_once

    job = Job(factory, people)
    extra = [factory.user(name=f"Estimator {n}") for n in range(3)]
    for user in extra:
        factory.member(job.project, user, ProjectRole.STANDARD)
    db.session.commit()
    sov = [(line.id, line) for line in job.commitment.sov_lines]
    cco_line = job.pending.lines[0]
    items = job.ce.lines
    posts = [
        (job.commitment_url(f"/sov/{sov[0][0]}"), _sov_data(sov[0][1], "1500.00")),
        (job.commitment_url(f"/sov/{sov[1][0]}"), _sov_data(sov[1][1], "20.00")),
        (job.commitment_url(f"/change-orders/{job.pending.id}/lines/{cco_line.id}"),
         _cco_line_data(cco_line, "45.55")),
        (job.ce_url(f"/lines/{items[0].id}"), _ce_line_data(items[0], "10.00", "5.00")),
        (job.ce_url(f"/lines/{items[1].id}"),
         _ce_line_data(items[1], "20.00", vendor_id=job.vendors[0].id)),
        (job.ce_url(f"/lines/{items[2].id}"), _ce_line_data(items[2], "30.00", "1.00")),
    ]
    emails = [people.standard.email, people.project_admin.email, *(u.email for u in extra)]
    emails = (emails * 2)[:len(posts)]
    project_id, commitment_id, ce_id = job.project.id, job.commitment.id, job.ce.id
    vendor_ids = [v.id for v in job.vendors]
    standard_id = people.standard.id

    def press(index):
        client = _logged_in(app, emails[index])
        url, data = posts[index]
        return lambda: client.post(url, data=data, headers=HTMX).status_code

    outcomes = at_once(app, len(posts), press)
    # A save refused as stale is what a user sees as "changed by someone else": none here,
    # as no two saves touch one line.
    assert outcomes == [200] * len(posts), outcomes
    db.session.expire_all()
    project = db.session.get(Project, project_id)
    commitment = db.session.get(Commitment, commitment_id)
    assert [s.amount for s in commitment.sov_lines] == [Decimal("1500.00"), Decimal("20.00"),
                                                         Decimal("75.25")]
    count, row = commitment_workflow.list_totals(project)
    assert count == 1
    assert row.original == Decimal("1595.25")
    assert row.pending_changes == Decimal("45.55") + Decimal("11.00")
    assert row == commitment_workflow.totals_by_commitment([commitment_id])[commitment_id]
    ce = db.session.get(ChangeEvent, ce_id)
    assert ce_workflow.list_totals(project) == (1, ce_workflow.Totals(Decimal("60.00"),
                                                                      Decimal("6.00")))
    assert ce_workflow.totals_by_change_event([ce_id])[ce_id] == \
        ce_workflow.Totals(Decimal("60.00"), Decimal("6.00"))
    assert ce_workflow.list_totals(project, vendor_id=vendor_ids[1])[0] == 0
    assert all(line.vendor_id == vendor_ids[0] for line in ce.lines)
    viewer = db.session.get(User, standard_id)
    assert commitment_workflow.list_totals(project, viewer) == \
        slow_commitment_totals(project, viewer)
    assert_rebuild_finds_what_was_kept()


def test_two_saves_of_one_line_at_once_leave_the_totals_of_the_one_that_won(app, factory,
                                                                          people):
    """Two people save the same SOV line (and the same change event item) at the same moment,
    from the same version: one wins, the other is told it changed, and the totals are those
    of the line as it is — never both differences added."""
    from tests.conftest import at_once

    job = Job(factory, people)
    line = job.commitment.sov_lines[0]
    item = job.ce.lines[0]
    emails = [people.standard.email, people.project_admin.email]
    posts = [(job.commitment_url(f"/sov/{line.id}"), _sov_data(line, "1100.00")),
             (job.commitment_url(f"/sov/{line.id}"), _sov_data(line, "1200.00")),
             (job.ce_url(f"/lines/{item.id}"), _ce_line_data(item, "500.00", "90.00")),
             (job.ce_url(f"/lines/{item.id}"), _ce_line_data(item, "700.00", "90.00"))]
    project_id, commitment_id, ce_id = job.project.id, job.commitment.id, job.ce.id

    def press(index):
        client = _logged_in(app, emails[index % 2])
        url, data = posts[index]
        return lambda: client.post(url, data=data, headers=HTMX).status_code

    outcomes = at_once(app, len(posts), press)
    assert sorted(outcomes[:2]) == [200, 409] or sorted(outcomes[:2]) == [200, 422], outcomes
    assert 200 in outcomes[2:] and outcomes[2:] != [200, 200], outcomes
    db.session.expire_all()
    project = db.session.get(Project, project_id)
    commitment = db.session.get(Commitment, commitment_id)
    assert commitment_workflow.list_totals(project)[1].original == \
        sum(s.amount for s in commitment.sov_lines)
    ce = db.session.get(ChangeEvent, ce_id)
    assert ce_workflow.list_totals(project)[1].cost_rom == sum(i.cost_rom for i in ce.lines)
    assert_rebuild_finds_what_was_kept()


def test_the_lines_of_a_cco_saved_under_a_review_at_once_count_where_its_status_says(
        app, factory, people):
    """A CCO line's amount saved while its reviewer approves it: either the save lands first
    (the reviewer is then told it changed) or the approval does (the save is then told), and
    the approved and pending totals follow the CCO's status as it ends up."""
    from tests.conftest import at_once

    job = Job(factory, people)
    cco = db.session.scalars(select(ChangeOrder).where(ChangeOrder.id == job.pending.id)).one()
    cco.designated_reviewer = people.project_admin
    db.session.commit()
    line = cco.lines[0]
    project_id, commitment_id, cco_id = job.project.id, job.commitment.id, cco.id
    save = (job.commitment_url(f"/change-orders/{cco.id}/lines/{line.id}"),
            _cco_line_data(line, "77.77"))
    review = (job.commitment_url(f"/change-orders/{cco.id}/review"),
              {"decision": "approve", "comment": "", "version": cco.version})
    emails = [people.standard.email, people.project_admin.email]

    def press(index):
        client = _logged_in(app, emails[index])
        url, data = (save, review)[index]
        return lambda: client.post(url, data=data, headers=HTMX).status_code

    outcomes = at_once(app, 2, press)
    assert 200 in outcomes or 303 in outcomes, outcomes
    db.session.expire_all()
    project = db.session.get(Project, project_id)
    _, row = commitment_workflow.list_totals(project)
    assert row == commitment_workflow.totals_by_commitment([commitment_id])[commitment_id]
    cco = db.session.get(ChangeOrder, cco_id)
    amount = cco.lines[0].amount
    # the other CCOs: approved 120.00 and 7.00 (private), pending 11.00 (private)
    others_approved, others_pending = Decimal("127.00"), Decimal("11.00")
    if cco.status == ChangeOrderStatus.APPROVED:
        assert (row.approved_changes, row.pending_changes) == (
            others_approved + amount, others_pending)
    else:
        assert (row.approved_changes, row.pending_changes) == (
            others_approved, others_pending + amount)
    assert_rebuild_finds_what_was_kept()


# ---- what a save writes in the Change History, and what it refuses ---------------------------

def _events(subject_type: str, subject_id: int) -> list:
    from models import HistoryEvent

    db.session.expire_all()
    return list(db.session.scalars(select(HistoryEvent).where(
        HistoryEvent.subject_type == subject_type, HistoryEvent.subject_id == subject_id)
        .order_by(HistoryEvent.id)))


def test_a_save_that_changes_several_fields_records_each_with_who_and_when(client, auth,
                                                                            factory, people):
    """The events of one save are written together: one per changed field, in the order the
    fields were changed, each with the member who saved, the project, old and new value."""
    job = Job(factory, people)
    auth.login(people.standard)
    code = factory.cost_code(code="31-EARTH")
    db.session.commit()
    # line 3: no approved CCO changes it (re-classifying one that does withdraws its approval,
    # tests/test_approval_review.py)
    line = job.commitment.sov_lines[2]
    before = len(_events("commitment", job.commitment.id))
    old_code = line.cost_code.label
    _save(client, job.commitment_url(f"/sov/{line.id}"),
          _sov_data(line, "300.00", description="Rebar", cost_code_id=code.id))
    events = _events("commitment", job.commitment.id)[before:]
    assert [(e.field, e.old_value, e.new_value) for e in events] == [
        ("SOV line 3 Description", "Line 3", "Rebar"),
        ("SOV line 3 Cost code", old_code, code.label),
        ("SOV line 3 Amount", "75.25", "300.00")]
    assert {(e.user_id, e.project_id, e.action) for e in events} == {
        (people.standard.id, job.project.id, "changed")}
    assert all(e.at is not None and e.at.tzinfo is not None for e in events)
    page = client.get(job.commitment_url()).get_data(as_text=True)
    assert "Rebar" in page and "300.00" in page

    # an approved CCO's line: its change, then the approval withdrawn, in that order
    cco_line = job.approved.lines[0]
    before = len(_events("change_order", job.approved.id))
    _save(client, job.commitment_url(f"/change-orders/{job.approved.id}/lines/{cco_line.id}"),
          {**_cco_line_data(cco_line, "101.00"), "description": "More rebar"})
    events = _events("change_order", job.approved.id)[before:]
    assert [(e.field, e.old_value, e.new_value) for e in events][:2] == [
        ("Line Description", "Change", "More rebar"), ("Line Amount", "100.00", "101.00")]
    assert events[2].field == "Status" and events[2].new_value == "Pending – Revised"
    assert {e.user_id for e in events} == {people.standard.id}


def test_a_refused_save_changes_no_total_and_writes_no_history(client, auth, factory, people):
    """A save refused for its choice (a deactivated cost code, a category that does not
    exist) or as stale changes neither the line, nor a total, nor the history."""
    from models import CostCode

    job = Job(factory, people)
    auth.login(people.standard)
    retired = factory.cost_code(code="99-OLD")
    retired.active = False
    db.session.commit()
    line = job.commitment.sov_lines[0]
    item = job.ce.lines[0]
    history_before = (len(_events("commitment", job.commitment.id)),
                      len(_events("change_event", job.ce.id)))
    project = db.session.get(Project, job.project.id)
    totals_before = (commitment_workflow.list_totals(project),
                     ce_workflow.list_totals(project))
    for url, data in (
            (job.commitment_url(f"/sov/{line.id}"),
             _sov_data(line, "5.00", cost_code_id=retired.id)),
            (job.commitment_url(f"/sov/{line.id}"), _sov_data(line, "5.00", category_id=999999)),
            (job.commitment_url(f"/sov/{line.id}"), _sov_data(line, "5.00", version=0)),
            (job.ce_url(f"/lines/{item.id}"),
             _ce_line_data(item, "5.00", cost_code_id=retired.id)),
            (job.ce_url(f"/lines/{item.id}"), _ce_line_data(item, "5.00", version=0))):
        response = client.post(url, data=data, headers=HTMX)
        assert response.status_code in (409, 422), response.status_code
        assert "<option" in response.get_data(as_text=True)  # the form again, with choices
    db.session.expire_all()
    project = db.session.get(Project, job.project.id)
    assert (commitment_workflow.list_totals(project), ce_workflow.list_totals(project)) == \
        totals_before
    assert (len(_events("commitment", job.commitment.id)),
            len(_events("change_event", job.ce.id))) == history_before
    assert db.session.get(SovLine, line.id).amount == Decimal("1000.00")
    assert db.session.get(ChangeEventLine, item.id).cost_rom == Decimal("100.10")
    assert db.session.get(CostCode, retired.id).active is False
