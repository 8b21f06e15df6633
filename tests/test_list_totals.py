"""The commitments and change events lists' totals rows are kept as records change
(models/list_totals.py): whatever is added, edited, moved, made private or removed, the totals
row a viewer sees equals the sum of the records the filters match, counted the slow way, and
rebuilding every kept total from the lines finds exactly what was kept."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from extensions import db
from models import (
    ChangeEvent,
    ChangeEventLine,
    ChangeEventScope,
    ChangeEventStatus,
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    CommitmentStatus,
    CommitmentType,
    ProjectRole,
    SovLine,
)
from models.list_totals import (
    change_event_list_totals,
    change_event_sums,
    commitment_list_totals,
    commitment_sums,
    rebuild,
)
from tests.migration_app import migration_app
from workflow import change_events as ce_workflow
from workflow import commitments as commitment_workflow
from workflow.change_orders import can_view

ZERO = Decimal("0.00")


# ---- the slow way ------------------------------------------------------------------------------

def slow_commitment_totals(project, viewer, **filters):
    """What the totals row must say: every matching commitment's totals as its own page shows
    them to ``viewer``, added up."""
    query = commitment_workflow.filtered_commitments(project, **filters)
    ids = list(db.session.scalars(query.with_only_columns(Commitment.id)))
    found = commitment_workflow.totals_by_commitment(ids, viewer)
    return len(ids), commitment_workflow.sum_totals(found.values())


def slow_change_event_totals(project, **filters):
    query = ce_workflow.filtered_change_events(project, **filters)
    ids = list(db.session.scalars(query.with_only_columns(ChangeEvent.id)))
    return len(ids), ce_workflow.sum_totals(ce_workflow.totals_by_change_event(ids).values())


def kept_rows() -> dict[str, set]:
    """The kept tables, without list totals rows that add up to nothing."""
    out = {}
    for table in (commitment_sums, change_event_sums):
        out[table.name] = set(db.session.execute(select(table)).all())
    for table in (commitment_list_totals, change_event_list_totals):
        amounts = [c for c in table.columns if not c.primary_key]
        out[table.name] = {row for row in db.session.execute(select(table)).all()
                           if any(getattr(row, c.name) for c in amounts)}
    return out


def assert_rebuild_finds_what_was_kept() -> None:
    kept = kept_rows()
    rebuild(db.session.connection())
    assert kept_rows() == kept
    db.session.rollback()


# ---- a project that changes at random ----------------------------------------------------------

class Site:
    """A project with vendors, people in every role, and helpers that change it through the
    ORM (what every workflow function ends in), committing each change."""

    def __init__(self, factory):
        self.factory = factory
        self.cast = factory.cast()
        self.project = self.cast.project
        self.project.change_events_enabled = True
        self.vendors = [factory.vendor() for _ in range(3)]
        self.people = [self.cast.read_only, self.cast.standard, self.cast.project_admin,
                       self.cast.company_admin]
        self.writers = [self.cast.standard, self.cast.project_admin]
        db.session.commit()

    def commitments(self):
        return list(db.session.scalars(select(Commitment).where(
            Commitment.project_id == self.project.id).order_by(Commitment.id)))

    def change_events(self):
        return list(db.session.scalars(select(ChangeEvent).where(
            ChangeEvent.project_id == self.project.id).order_by(ChangeEvent.id)))


def money(rng) -> str:
    return f"{rng.randint(-5_000, 50_000)}.{rng.randint(0, 99):02d}"


def step(site: Site, rng: random.Random) -> str:
    """One random change; returns what it did (for a failure's message)."""
    f = site.factory
    commitments = site.commitments()
    if not commitments or rng.random() < 0.08:
        kind = rng.choice(list(CommitmentType))
        f.commitment(site.project, vendor=rng.choice(site.vendors), type_=kind.value,
                     status=rng.choice(["draft", "approved"]), sov=(money(rng),))
        return "new commitment"
    commitment = rng.choice(commitments)
    ccos = list(commitment.change_orders)
    lines = list(commitment.sov_lines)
    action = rng.randrange(16)
    if action == 0:
        f.sov_line(commitment, amount=money(rng))
    elif action == 1 and lines:
        rng.choice(lines).amount = Decimal(money(rng))
    elif action == 2 and lines and not any(
            line.sov_line_id for cco in ccos for line in cco.lines):
        db.session.delete(max(lines, key=lambda line: line.line_number))  # numbers stay unique
    elif action == 3:
        commitment.vendor = rng.choice(site.vendors)
    elif action == 4:
        commitment.status = rng.choice([CommitmentStatus.DRAFT, CommitmentStatus.APPROVED])
    elif action == 5:
        creator = rng.choice(site.writers)
        f.change_order(commitment, status=rng.choice(list(ChangeOrderStatus)).value,
                       lines=tuple((rng.choice(lines), money(rng)) for _ in range(
                           rng.randint(0, 2))) if lines else (),
                       private=rng.random() < 0.5, creator=creator,
                       reviewer=rng.choice([None, *site.people]))
    elif action == 6 and ccos:
        rng.choice(ccos).status = rng.choice(list(ChangeOrderStatus))
    elif action == 7 and ccos:
        cco = rng.choice(ccos)
        cco.private = not cco.private
    elif action == 8 and ccos:
        rng.choice(ccos).viewers = rng.sample(site.people, rng.randint(0, 2))
    elif action == 9 and ccos:
        rng.choice(ccos).designated_reviewer = rng.choice([None, *site.people])
    elif action == 10 and ccos and lines:
        cco = rng.choice(ccos)
        db.session.add(ChangeOrderLine(change_order=cco, sov_line=rng.choice(lines),
                                       description="More", amount=Decimal(money(rng))))
    elif action == 11 and any(cco.lines for cco in ccos):
        line = rng.choice([line for cco in ccos for line in cco.lines])
        if rng.random() < 0.5:
            line.amount = Decimal(money(rng))
        else:
            db.session.delete(line)
    elif action == 12:
        events = site.change_events()
        if not events or rng.random() < 0.3:
            ce = f.change_event(site.project)
            events = [ce]
        ce = rng.choice(events)
        f.change_event_line(ce, vendor=rng.choice([None, *site.vendors]),
                            cost_rom=money(rng))
    elif action == 13 and site.change_events():
        ce = rng.choice(site.change_events())
        if rng.random() < 0.5:
            ce.status = rng.choice(list(ChangeEventStatus))
        else:
            ce.scope = rng.choice(list(ChangeEventScope))
    elif action == 14 and site.change_events():
        items = [line for ce in site.change_events() for line in ce.lines]
        if items:
            item = rng.choice(items)
            choice = rng.randrange(3)
            if choice == 0:
                item.vendor = rng.choice([None, *site.vendors])
            elif choice == 1:
                item.latest_cost = rng.choice([None, Decimal(money(rng))])
            else:
                last = max(item.change_event.lines, key=lambda line: line.line_number)
                if not last.cco_lines:
                    db.session.delete(last)  # the last one: line numbers stay unique
    elif action == 15:
        commitment.type = rng.choice(list(CommitmentType))
    db.session.commit()
    return f"action {action} on {commitment.number}"


def check(site: Site, rng: random.Random, what: str) -> None:
    viewer = rng.choice(site.people)
    filters = {"type": rng.choice([None, *CommitmentType]),
               "status": rng.choice([None, CommitmentStatus.DRAFT, CommitmentStatus.APPROVED]),
               "vendor_id": rng.choice([None, *(v.id for v in site.vendors)])}
    kept = commitment_workflow.list_totals(site.project, viewer, **filters)
    assert kept == slow_commitment_totals(site.project, viewer, **filters), (what, filters)
    ce_filters = {"status": rng.choice([None, *ChangeEventStatus]),
                  "scope": rng.choice([None, *ChangeEventScope]),
                  "vendor_id": rng.choice([None, *(v.id for v in site.vendors)])}
    assert ce_workflow.list_totals(site.project, **ce_filters) == slow_change_event_totals(
        site.project, **ce_filters), (what, ce_filters)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_totals_row_follows_every_change(factory, seed):
    rng = random.Random(seed)
    site = Site(factory)
    for _ in range(70):
        what = step(site, rng)
        check(site, rng, what)
    for viewer in site.people:
        for vendor in (None, *site.vendors):
            assert commitment_workflow.list_totals(
                site.project, viewer, vendor_id=vendor and vendor.id) == slow_commitment_totals(
                site.project, viewer, vendor_id=vendor and vendor.id)
    assert_rebuild_finds_what_was_kept()


# ---- what a viewer sees ------------------------------------------------------------------------

def test_each_viewer_sees_the_private_change_orders_they_may_open(factory, client, auth):
    cast = factory.cast()
    reviewer = factory.user(name="Rita Reviewer")
    factory.member(cast.project, reviewer, ProjectRole.STANDARD)
    commitment = factory.commitment(cast.project, sov=("10000.00",))
    line = commitment.sov_lines[0]
    factory.change_order(commitment, status="approved", lines=((line, "500.00"),))
    factory.change_order(commitment, status="approved", lines=((line, "2000.00"),),
                         private=True, creator=cast.project_admin, reviewer=reviewer)
    factory.change_order(commitment, status="pending_in_review", lines=((line, "300.00"),),
                         private=True, creator=cast.standard)

    def footer(user):
        auth.logout()
        auth.login(user)
        page = client.get(f"/projects/{cast.project.id}/commitments/").get_data(as_text=True)
        return page.split('<tr class="totals">', 1)[1].split("</tr>", 1)[0], page

    row, page = footer(cast.read_only)  # sees neither private one
    assert "$10,500.00" in row and "$10,000.00" in row
    assert "2 private change orders you cannot see" in page
    row, page = footer(reviewer)  # reviews the approved one
    assert "$12,500.00" in row
    assert "1 private change order you cannot see" in page
    row, page = footer(cast.standard)  # wrote the pending one: pending is not in the revised
    assert "$10,500.00" in row
    assert "1 private change order you cannot see" in page
    row, page = footer(cast.project_admin)  # a project admin sees every one
    assert "$12,500.00" in row
    assert "cannot see" not in page
    # A named viewer sees it as soon as they are named.
    cco = db.session.scalars(select(ChangeOrder).where(ChangeOrder.private.is_(True),
                                                       ChangeOrder.status == "approved")).one()
    cco.viewers = [cast.read_only]
    db.session.commit()
    assert can_view(cast.read_only, cco)
    row, page = footer(cast.read_only)
    assert "$12,500.00" in row
    assert "1 private change order you cannot see" in page


@pytest.mark.scale  # many records: left out by make test-quick
def test_the_vendor_filter_offers_a_bounded_list_and_the_one_chosen(factory, client, pm,
                                                                      people):
    from workflow.pages import VENDOR_CHOICES

    project = people.project
    vendors = [factory.vendor(name=f"Vendor {n:03d}") for n in range(VENDOR_CHOICES + 3)]
    for vendor in vendors:
        factory.commitment(project, vendor=vendor)
    page = client.get(f"/projects/{project.id}/commitments/").get_data(as_text=True)
    options = page.split('name="vendor"', 1)[1].split("</select>", 1)[0]
    assert options.count("<option value=") == VENDOR_CHOICES + 1  # "All" and the first 100
    assert f"First {VENDOR_CHOICES} vendors by name" in options
    assert "Vendor 102" not in options
    last = vendors[-1]
    page = client.get(f"/projects/{project.id}/commitments/?vendor={last.id}").get_data(
        as_text=True)
    options = page.split('name="vendor"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{last.id}" selected>Vendor 102</option>' in options
    assert "Total (1)" in page
    # a vendor's name in the list is the way to the others
    assert f"/projects/{project.id}/commitments/?vendor={last.id}" in page


# ---- upgrades ----------------------------------------------------------------------------------

def test_the_upgrade_sums_what_was_there(tmp_path):
    app = migration_app(tmp_path)
    with app.app_context():
        upgrade(revision="0012")
        for statement in (
            "INSERT INTO projects (id, number, name, active, created_at, change_events_enabled,"
            " last_change_event_number) VALUES (1, 'P-1', 'Tower', 1, '2026-01-01', 1, 1)",
            "INSERT INTO vendors (id, name, active) VALUES (7, 'Acme', 1)",
            "INSERT INTO cost_codes (id, code, description, active) VALUES (1, '03', 'Concrete',"
            " 1)",
            "INSERT INTO commitments (id, project_id, vendor_id, type, number, title,"
            " description, status, erp_status, last_cco_number, created_at, updated_at, version)"
            " VALUES (1, 1, 7, 'subcontract', 'SC-1', 'Pour', '', 'approved', 'not_sent', 1,"
            " '2026-01-01', '2026-01-01', 1)",
            "INSERT INTO sov_lines (id, commitment_id, line_number, description, cost_code_id,"
            " category_id, amount, updated_at, version) VALUES (1, 1, 1, 'Slab', 1, 1, 1000.25,"
            " '2026-01-01', 1)",
            "INSERT INTO change_orders (id, commitment_id, number, title, description,"
            " change_reason, status, executed, private, erp_status, erp_reopen_pending,"
            " created_at, updated_at, version) VALUES (1, 1, '001', 'More', '', '', 'approved',"
            " 0, 0, 'not_sent', 0, '2026-01-01', '2026-01-01', 1)",
            "INSERT INTO change_order_lines (id, change_order_id, sov_line_id, description,"
            " amount, updated_at, version) VALUES (1, 1, 1, 'More slab', 99.50, '2026-01-01',"
            " 1)",
            "INSERT INTO change_events (id, project_id, number, title, status, scope, type,"
            " change_reason, description, created_at, updated_at, version) VALUES (1, 1, '001',"
            " 'Rock', 'open', 'tbd', 'owner_change', '', '', '2026-01-01', '2026-01-01', 1)",
            "INSERT INTO change_event_lines (id, change_event_id, line_number, cost_code_id,"
            " category_id, vendor_id, description, cost_rom, latest_cost, updated_at, version)"
            " VALUES (1, 1, 1, 1, 1, 7, 'Dig', 400.00, NULL, '2026-01-01', 1)",
        ):
            db.session.execute(text(statement))
        db.session.commit()
        upgrade()
        from models import Project

        project = db.session.get(Project, 1)
        count, totals = commitment_workflow.list_totals(project)
        assert (count, totals.original, totals.approved_changes, totals.revised) == (
            1, Decimal("1000.25"), Decimal("99.50"), Decimal("1099.75"))
        assert commitment_workflow.list_totals(project, vendor_id=7)[0] == 1
        count, totals = ce_workflow.list_totals(project, vendor_id=7)
        assert (count, totals.cost_rom, totals.latest_cost) == (1, Decimal("400.00"), ZERO)
        db.session.remove()
        db.engine.dispose()


# ---- two people at once ------------------------------------------------------------------------

def test_two_changes_to_one_commitment_at_once_are_both_counted(app, factory, people):
    """On PostgreSQL two transactions change one commitment's total together: the second to
    commit adds up what the first committed (SQLite runs them one after the other)."""
    from tests.conftest import at_once

    commitment = factory.commitment(people.project, sov=("1000.00",))
    line = commitment.sov_lines[0]
    ccos = [factory.change_order(commitment, status="approved", lines=((line, "10.00"),))
            for _ in range(4)]
    ids = [cco.lines[0].id for cco in ccos]
    project_id, commitment_id = people.project.id, commitment.id

    def action(index):
        record = db.session.get(ChangeOrderLine, ids[index])

        def change():
            record.amount = Decimal("100.00") * (index + 1)
            db.session.commit()
        return change

    outcomes = at_once(app, 4, action)
    assert outcomes == [None] * 4
    from models import Project

    project = db.session.get(Project, project_id)
    count, totals = commitment_workflow.list_totals(project)
    assert count == 1
    assert totals.approved_changes == Decimal("1000.00")  # 100 + 200 + 300 + 400
    assert commitment_workflow.totals(db.session.get(Commitment, commitment_id)) == totals
    assert_rebuild_finds_what_was_kept()


def test_sov_and_change_event_lines_removed_leave_the_totals(factory, people):
    commitment = factory.commitment(people.project, sov=("1000.00", "250.00"))
    ce = factory.change_event(people.project)
    item = factory.change_event_line(ce, cost_rom="75.00")
    db.session.delete(db.session.get(SovLine, commitment.sov_lines[1].id))
    db.session.delete(db.session.get(ChangeEventLine, item.id))
    db.session.commit()
    assert commitment_workflow.list_totals(people.project)[1].original == Decimal("1000.00")
    assert ce_workflow.list_totals(people.project) == (1, ce_workflow.Totals(ZERO, ZERO))
    assert_rebuild_finds_what_was_kept()
