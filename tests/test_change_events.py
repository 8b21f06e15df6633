"""Change events: numbers, line items in place, "Create Commitment CO", the rules, the switch."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select

from extensions import db
from models import (
    ChangeEvent,
    ChangeEventLine,
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Project,
)
from tests.conftest import HTMX, at_once, error_for, fingerprint
from workflow.change_events import ChangeEventInput, create_change_event


@pytest.fixture
def job(factory, people):
    """An Approved subcontract with two SOV lines and two change events with four items."""
    concrete = factory.cost_code("03-300", "Cast-in-place concrete")
    rebar = factory.cost_code("03-200", "Reinforcing steel")
    temp = factory.cost_code("01-500", "Temporary facilities")
    vendor = factory.vendor("Summit Concrete Co.")
    commitment = factory.commitment(people.project, vendor=vendor, number="SC-1042")
    factory.sov_line(commitment, amount="10000.00", description="Footings", cost_code=concrete,
                     category="Subcontract")
    factory.sov_line(commitment, amount="2500.00", description="Rebar", cost_code=rebar,
                     category="Material")
    first = factory.change_event(people.project, title="Rock at grid C",
                                 change_reason="Existing Condition")
    second = factory.change_event(people.project, title="Owner adds a canopy",
                                  change_reason="Owner Change")
    items = [
        factory.change_event_line(first, cost_code=concrete, category="Subcontract",
                                  vendor=vendor, cost_rom="1000.00", latest_cost="1250.50",
                                  description="Extra footing"),
        factory.change_event_line(first, cost_code=temp, category="Equipment", vendor=vendor,
                                  cost_rom="400.00", description="Rock hammer"),
        factory.change_event_line(second, cost_code=rebar, category="Material",
                                  commitment=commitment, cost_rom="300.00", latest_cost="0.00",
                                  description="Canopy rebar"),
        factory.change_event_line(second, cost_code=concrete, category="Subcontract",
                                  vendor=factory.vendor("Apex Electrical Services"),
                                  cost_rom="900.00", description="Canopy lighting"),
    ]
    return {"commitment": commitment, "events": (first, second), "items": items,
            "vendor": vendor}


def _ce_url(ce, rest=""):
    return f"/projects/{ce.project_id}/change-events/{ce.id}{rest}"


def _cco_from(client, project_id, commitment, items, **extra):
    data = {"commitment_id": commitment.id, "line_ids": [i.id for i in items], **extra}
    return client.post(f"/projects/{project_id}/change-events/commitment-co", data=data)


def _ccos():
    db.session.expire_all()
    return db.session.scalars(select(ChangeOrder).order_by(ChangeOrder.id)).all()


# ---- change events and their numbers -----------------------------------------------------------

def test_create_a_change_event_and_numbers_run_per_project(client, pm, people, factory):
    base = f"/projects/{people.project.id}/change-events/"
    for title in ("First", "Second"):
        response = client.post(base, data={"title": title, "status": "open",
                                           "scope": "out_of_scope", "type": "owner_change",
                                           "change_reason": "Owner Change",
                                           "description": "Owner asked."})
        assert response.status_code == 303
    other = factory.project()
    factory.member(other, pm, people.project_admin.memberships[0].role)
    assert client.post(f"/projects/{other.id}/change-events/", data={
        "title": "Elsewhere", "status": "open", "scope": "tbd", "type": "tbd"}).status_code == 303
    rows = db.session.execute(select(ChangeEvent.project_id, ChangeEvent.number, ChangeEvent.title)
                              .order_by(ChangeEvent.id)).all()
    assert [(r.number, r.title) for r in rows] == [("001", "First"), ("002", "Second"),
                                                   ("001", "Elsewhere")]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "CE #002" in page and "Out of Scope" in page and "Owner Change" in page


def test_change_event_numbers_skip_rows_put_in_directly(client, pm, people):
    db.session.add(ChangeEvent(project=people.project, number="007", title="Imported"))
    db.session.commit()
    response = client.post(f"/projects/{people.project.id}/change-events/", data={
        "title": "Next", "status": "open", "scope": "tbd", "type": "tbd"})
    assert response.status_code == 303
    assert db.session.scalar(select(ChangeEvent.number)
                             .where(ChangeEvent.title == "Next")) == "008"


def test_two_change_events_created_at_once_get_different_numbers(app, people):
    """Four creators in four threads, each with its own connection and transaction."""
    project_id, user_id = people.project.id, people.standard.id

    def create(_):
        from models import User

        actor, project = db.session.get(User, user_id), db.session.get(Project, project_id)
        return lambda: create_change_event(actor, project, ChangeEventInput(title="Race"))

    outcomes = at_once(app, 4, create)
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    numbers = db.session.scalars(select(ChangeEvent.number)
                                 .where(ChangeEvent.project_id == project_id)).all()
    assert sorted(numbers) == ["001", "002", "003", "004"]


def test_header_edited_in_place(client, pm, job):
    ce = job["events"][0]
    form = client.get(_ce_url(ce, "/header?edit=1"), headers=HTMX)
    assert form.status_code == 200 and "<html" not in form.get_data(as_text=True)
    saved = client.post(_ce_url(ce), headers=HTMX, data={
        "title": "Rock at grid C and D", "status": "pending", "scope": "in_scope",
        "type": "existing_condition", "change_reason": "Existing Condition",
        "version": ce.version})
    assert saved.status_code == 200
    html = saved.get_data(as_text=True)
    assert 'id="ce-header"' in html and "Rock at grid C and D" in html and "Pending" in html
    assert "<html" not in html


# ---- the list ----------------------------------------------------------------------------------

def test_list_filters_and_totals(client, pm, job, people):
    base = f"/projects/{people.project.id}/change-events/"
    page = client.get(base).get_data(as_text=True)
    assert "Rock at grid C" in page and "Owner adds a canopy" in page
    totals = page.split('class="totals"')[1]
    assert "$2,600.00" in totals  # ROM: 1000 + 400 + 300 + 900
    assert "$1,250.50" in totals  # latest cost where known: 1250.50 + 0.00
    apex = job["items"][3].vendor_id
    filtered = client.get(f"{base}?vendor={apex}", headers=HTMX).get_data(as_text=True)
    assert "<html" not in filtered and 'id="ce-list"' in filtered
    assert "Owner adds a canopy" in filtered and "Rock at grid C" not in filtered
    assert "Total (1)" in filtered and "$1,200.00" in filtered
    job["events"][1].status = "closed"
    db.session.commit()
    by_status = client.get(f"{base}?status=open&scope=tbd").get_data(as_text=True)
    assert "Rock at grid C" in by_status and "Owner adds a canopy" not in by_status


# ---- line items in place -----------------------------------------------------------------------

def test_add_edit_and_delete_line_items_in_place(client, pm, job, factory):
    ce = job["events"][0]
    code = job["items"][0].cost_code
    added = client.post(_ce_url(ce, "/lines"), headers=HTMX, data={
        "description": "Dewatering", "cost_code_id": code.id,
        "category_id": factory.category("Equipment").id, "vendor_id": "",
        "commitment_id": job["commitment"].id, "cost_rom": "1,000", "latest_cost": ""})
    assert added.status_code == 200
    html = added.get_data(as_text=True)
    assert 'hx-swap-oob="beforeend:#ce-lines-table"' in html
    assert 'id="ce-totals"' in html and "$2,400.00" in html  # ROM 1000 + 400 + 1000
    line = db.session.scalar(select(ChangeEventLine).where(
        ChangeEventLine.description == "Dewatering"))
    assert line.line_number == 3 and line.latest_cost is None
    assert line.vendor_id == job["vendor"].id  # the commitment's vendor, filled in

    form = client.get(_ce_url(ce, f"/lines/{line.id}?edit=1"), headers=HTMX)
    assert form.status_code == 200 and 'hx-target="closest tr"' in form.get_data(as_text=True)
    saved = client.post(_ce_url(ce, f"/lines/{line.id}"), headers=HTMX, data={
        "description": "Dewatering pump", "cost_code_id": code.id,
        "category_id": factory.category("Equipment").id, "cost_rom": "1000",
        "latest_cost": "1,100.25", "version": line.version})
    assert saved.status_code == 200
    html = saved.get_data(as_text=True)
    assert "Dewatering pump" in html and "$1,100.25" in html and 'id="ce-totals"' in html

    db.session.refresh(line)
    deleted = client.post(_ce_url(ce, f"/lines/{line.id}/delete"), headers=HTMX,
                          data={"version": line.version})
    assert deleted.status_code == 200 and "$1,400.00" in deleted.get_data(as_text=True)
    assert deleted.headers["HX-Reswap"] == "delete"  # htmx 4 removes the row
    assert db.session.get(ChangeEventLine, line.id) is None
    history = client.get(_ce_url(ce)).get_data(as_text=True)
    assert "Line 3 Latest cost" in history


def test_stale_or_versionless_line_item_delete_is_refused(client, pm, job, auth, people,
                                                         factory):
    ce, item = job["events"][0], job["items"][1]
    opened_version = item.version
    data = {"description": "Rock hammer, 2 days", "cost_code_id": item.cost_code_id,
            "category_id": item.category_id, "cost_rom": "800.00",
            "vendor_id": item.vendor_id, "version": opened_version}
    assert client.post(_ce_url(ce, f"/lines/{item.id}"), headers=HTMX,
                       data=data).status_code == 200
    auth.logout()
    auth.login(people.standard)
    before = fingerprint()
    refused = client.post(_ce_url(ce, f"/lines/{item.id}/delete"), headers=HTMX,
                          data={**data, "version": opened_version})
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert f"{pm.name} changed this at" in html and "so it was not deleted" in html
    missing = client.post(_ce_url(ce, f"/lines/{item.id}/delete"), headers=HTMX)
    assert missing.status_code == 409 and b"did not say which version" in missing.data
    header = client.post(_ce_url(ce), headers=HTMX, data={
        "title": "No version", "status": "open", "scope": "tbd", "type": "tbd"})
    assert header.status_code == 409 and b"did not say which version" in header.data
    assert fingerprint() == before


@pytest.mark.parametrize("overrides,field,message", [
    ({"cost_rom": "abc"}, "cost_rom", "Enter an amount like 1250.00."),
    ({"cost_rom": "1.999"}, "cost_rom", "Use at most 2 decimal places."),
    ({"latest_cost": "123456789012"}, "latest_cost", "Enter an amount between"),
    ({"cost_rom": "100000000000"}, "cost_rom", "Enter an amount between"),
    ({"cost_code_id": ""}, "cost_code_id", "Choose a cost code."),
    ({"description": "x" * 10_240}, "description", "Use at most 255 characters."),
    ({"vendor_id": "{apex}", "commitment_id": "{commitment}"}, "commitment_id",
     "SC-1042 is with Summit Concrete Co., not Apex Electrical Services."),
])
def test_bad_line_item_input(client, pm, job, factory, overrides, field, message):
    ce = job["events"][0]
    data = {"description": "New", "cost_code_id": job["items"][0].cost_code_id,
            "category_id": factory.category("Labor").id, "cost_rom": "5", "latest_cost": ""}
    data.update({k: v.format(apex=job["items"][3].vendor_id, commitment=job["commitment"].id)
                 for k, v in overrides.items()})
    before = fingerprint()
    response = client.post(_ce_url(ce, "/lines"), headers=HTMX, data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert message in error_for(html, field)
    assert fingerprint() == before


@pytest.mark.parametrize("overrides,field,message", [
    ({"title": ""}, "title", "Enter a title."),
    ({"title": "x" * 10_240}, "title", "Use at most 255 characters."),
    ({"change_reason": "Because"}, "change_reason", "Not a valid choice."),
])
def test_bad_change_event_input(client, pm, people, overrides, field, message):
    data = {"title": "Rock", "status": "open", "scope": "tbd", "type": "tbd"}
    data.update(overrides)
    before = fingerprint()
    response = client.post(f"/projects/{people.project.id}/change-events/", data=data)
    assert response.status_code == 422
    assert message in error_for(response.get_data(as_text=True), field)
    assert fingerprint() == before


def test_markup_is_shown_as_text(client, pm, people):
    script = '<script>alert("x")</script>'
    response = client.post(f"/projects/{people.project.id}/change-events/", data={
        "title": script, "status": "open", "scope": "tbd", "type": "tbd",
        "description": script})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert script not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    listing = client.get(f"/projects/{people.project.id}/change-events/").get_data(as_text=True)
    assert script not in listing


# ---- "Create Commitment CO" --------------------------------------------------------------------

def test_create_a_cco_from_items_of_two_change_events(client, pm, job, people):
    commitment, (first, second) = job["commitment"], job["events"]
    items = job["items"][:3]
    response = _cco_from(client, people.project.id, commitment, items,
                         change_event_id=first.id)
    assert response.status_code == 303
    (cco,) = _ccos()
    assert response.headers["Location"].endswith(
        f"/commitments/{commitment.id}/change-orders/{cco.id}")
    assert cco.status == ChangeOrderStatus.DRAFT and cco.number == "001"
    assert cco.change_reason == "Existing Condition"  # from the first change event
    assert cco.title == "Rock at grid C; Owner adds a canopy"
    by_item = {line.change_event_line_id: line for line in cco.lines}
    footing, hammer, canopy = (by_item[i.id] for i in items)
    # Latest cost when there is one (even 0.00), else the ROM.
    assert (footing.amount, hammer.amount, canopy.amount) == (
        Decimal("1250.50"), Decimal("400.00"), Decimal("0.00"))
    # Same cost code + category as an SOV line: a change to it; otherwise a new line.
    assert footing.sov_line.description == "Footings"
    assert canopy.sov_line.description == "Rebar"
    assert hammer.sov_line is None
    assert (hammer.cost_code.code, hammer.category.name) == ("01-500", "Equipment")
    assert cco.grand_total == Decimal("1650.50")

    cco_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert cco_page.count("from <a") == 3
    assert f'href="/projects/{people.project.id}/change-events/{first.id}">CE #001</a>' \
        in cco_page
    assert f'href="/projects/{people.project.id}/change-events/{second.id}">CE #002</a>' \
        in cco_page
    ce_page = client.get(_ce_url(second)).get_data(as_text=True)
    ccos = ce_page.split('id="ce-ccos"')[1]
    assert "#001 · SC-1042" in ccos and "Draft" in ccos
    assert 'class="ribbon ribbon-not_sent">Not Sent' in ccos
    assert "On CCO #001 of SC-1042" in ce_page.split('id="ce-ccos"')[0]
    history = client.get(_ce_url(first)).get_data(as_text=True)
    assert "Commitment CO" in history and "CCO #001 of SC-1042" in history


def test_amounts_stay_editable_on_the_cco(client, pm, job, people):
    _cco_from(client, people.project.id, job["commitment"], job["items"][:1])
    (cco,) = _ccos()
    line = cco.lines[0]
    url = (f"/projects/{people.project.id}/commitments/{cco.commitment_id}/change-orders/"
           f"{cco.id}/lines/{line.id}")
    response = client.post(url, headers=HTMX, data={
        "sov_line_id": line.sov_line_id, "description": line.description, "amount": "999.00",
        "version": line.version})
    assert response.status_code == 200
    db.session.expire_all()
    line = db.session.get(ChangeOrderLine, line.id)
    assert line.amount == Decimal("999.00") and line.change_event_line_id == job["items"][0].id


def test_an_item_feeds_one_live_cco(client, pm, job, people):
    commitment, items = job["commitment"], job["items"]
    assert _cco_from(client, people.project.id, commitment, items[1:3]).status_code == 303
    before = fingerprint()
    response = _cco_from(client, people.project.id, commitment, items[:2],
                         change_event_id=job["events"][0].id)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_for(html, "line_ids") == "Line 2 of CE #001 is already on CCO #001 of SC-1042."
    assert 'id="ce-header"' in html  # answered on the change event's page, ticks kept
    assert f'value="{items[0].id}" form="ce-cco-form" id="ce-item-{items[0].id}" checked' in html
    assert fingerprint() == before


def test_two_people_making_a_cco_from_one_item_at_once_get_one_cco(app, job, people,
                                                                    monkeypatch):
    """Three "Create Commitment CO" presses in three threads (own connection, own transaction)
    on SQLite and PostgreSQL alike: one CCO, two clear refusals. A pause between the check and
    the write gives every thread the chance to pass the check before the first one commits."""
    import time

    from models import Commitment, User
    from workflow import change_events
    from workflow.errors import InvalidInput

    original = change_events.create_change_order

    def slow_create(*args, **kwargs):
        time.sleep(0.3)
        return original(*args, **kwargs)

    monkeypatch.setattr(change_events, "create_change_order", slow_create)
    commitment_id, item_id = job["commitment"].id, job["items"][0].id
    user_ids = [people.standard.id, people.project_admin.id, people.company_admin.id]

    def press(index):
        actor = db.session.get(User, user_ids[index])
        target = db.session.get(Commitment, commitment_id)
        return lambda: change_events.create_commitment_co(actor, target, [item_id]).id

    outcomes = at_once(app, 3, press)
    made = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, InvalidInput)]
    assert len(made) == 1 and len(refused) == 2, outcomes
    for error in refused:
        assert error.errors["line_ids"] == "Line 1 of CE #001 is already on CCO #001 of SC-1042."
    lines = db.session.scalars(select(ChangeOrderLine)
                               .where(ChangeOrderLine.change_event_line_id == item_id)).all()
    assert len(lines) == 1 and len(_ccos()) == 1


def test_deleting_an_item_while_it_becomes_a_cco_never_unlinks_the_cco(app, job, people,
                                                                      monkeypatch):
    """Delete a line item and make a CCO from it at the same moment: one wins and the other
    is refused. Never both, which would leave the new CCO line silently unlinked."""
    import time

    from models import ChangeEventLine, Commitment, User
    from workflow import change_events
    from workflow.errors import InvalidInput

    checked = change_events.live_cco_lines

    def slow_check(*args, **kwargs):  # both sides pass their check before either writes
        found = checked(*args, **kwargs)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(change_events, "live_cco_lines", slow_check)
    commitment_id, item_id, admin_id = job["commitment"].id, job["items"][0].id, \
        people.project_admin.id

    def press(index):
        actor = db.session.get(User, admin_id)
        if index == 0:
            target = db.session.get(Commitment, commitment_id)
            return lambda: change_events.create_commitment_co(actor, target, [item_id]).id
        item = db.session.get(ChangeEventLine, item_id)
        version = item.version
        return lambda: change_events.delete_line_item(actor, item, version)

    made, deleted = at_once(app, 2, press)
    db.session.expire_all()
    item = db.session.get(ChangeEventLine, item_id)
    if isinstance(made, int):  # the CCO first: the delete is refused, the link kept
        assert isinstance(deleted, InvalidInput), deleted
        assert "is on CCO #001 of SC-1042" in deleted.errors["line"]
        assert item is not None
        (line,) = db.session.scalars(select(ChangeOrderLine)).all()
        assert line.change_event_line_id == item_id
    else:  # the delete first: the CCO is refused, nothing made
        assert deleted is None and isinstance(made, InvalidInput), (made, deleted)
        assert item is None and _ccos() == []


def test_two_deletes_of_one_item_at_once_delete_it_once(app, job, people):
    from models import ChangeEventLine, User
    from workflow import change_events
    from workflow.errors import Gone

    item_id, admin_id = job["items"][0].id, people.project_admin.id

    def press(index):
        actor = db.session.get(User, admin_id)
        item = db.session.get(ChangeEventLine, item_id)
        version = item.version
        return lambda: change_events.delete_line_item(actor, item, version)

    outcomes = at_once(app, 2, press)
    assert sorted(type(o).__name__ for o in outcomes) == ["Gone", "NoneType"], outcomes
    assert "Someone deleted this" in next(o for o in outcomes if isinstance(o, Gone)).message
    assert db.session.get(ChangeEventLine, item_id) is None


def test_voiding_the_cco_frees_its_items_and_it_cannot_come_back(client, pm, job, people):
    commitment, items = job["commitment"], job["items"][:2]
    _cco_from(client, people.project.id, commitment, items)
    (first,) = _ccos()
    url = f"/projects/{people.project.id}/commitments/{commitment.id}/change-orders/{first.id}"
    assert client.post(url, data={"title": first.title, "status": "void",
                                  "version": first.version}).status_code == 303
    assert _cco_from(client, people.project.id, commitment, items).status_code == 303
    first, second = _ccos()
    assert {line.change_event_line_id for line in second.lines} == {i.id for i in items}

    before = fingerprint()
    response = client.post(url, data={"title": first.title, "status": "draft",
                                      "version": first.version})
    assert response.status_code == 422
    assert "Line 1 of CE #001 is already on CCO #002 of SC-1042." in error_for(
        response.get_data(as_text=True), "status")
    assert fingerprint() == before


def test_deleting_the_cco_line_frees_the_item(client, pm, job, people):
    commitment, item = job["commitment"], job["items"][0]
    _cco_from(client, people.project.id, commitment, job["items"][:2])
    (cco,) = _ccos()
    line = next(li for li in cco.lines if li.change_event_line_id == item.id)
    assert _cco_from(client, people.project.id, commitment, [item]).status_code == 422
    client.post(f"/projects/{people.project.id}/commitments/{commitment.id}/change-orders/"
                f"{cco.id}/lines/{line.id}/delete", headers=HTMX,
                data={"version": line.version})
    assert _cco_from(client, people.project.id, commitment, [item]).status_code == 303
    assert [c.number for c in _ccos()] == ["001", "002"]


def test_an_item_on_a_live_cco_cannot_be_deleted(client, pm, job, people):
    item = job["items"][0]
    _cco_from(client, people.project.id, job["commitment"], [item])
    before = fingerprint()
    response = client.post(_ce_url(item.change_event, f"/lines/{item.id}/delete"),
                           headers=HTMX, data={"version": item.version})
    assert response.status_code == 422
    assert "Line 1 of CE #001 is on CCO #001 of SC-1042." in response.get_data(as_text=True)
    assert fingerprint() == before


def test_a_private_cco_is_not_named_on_change_event_pages(client, auth, pm, job, people):
    """Someone who may not see a private CCO learns only that the item is used elsewhere."""
    first = job["events"][0]
    item = job["items"][0]
    _cco_from(client, people.project.id, job["commitment"], [item])
    (cco,) = _ccos()
    cco.private = True
    db.session.commit()
    admin_page = client.get(_ce_url(first)).get_data(as_text=True)
    assert "On CCO #001 of SC-1042" in admin_page  # the project admin may see it
    assert "CCO #001 of SC-1042" in admin_page.split('id="history"')[1]
    auth.logout()
    auth.login(people.standard)

    page = unescape(client.get(_ce_url(first)).get_data(as_text=True))
    assert "CCO #001" not in page and "#001 · SC-1042" not in page
    assert "On another CCO you can't view" in page
    history = page.split('id="history"')[1]
    assert "Commitment CO" in history
    assert "Another commitment change order you can't view" in history
    selection = client.get(f"/projects/{people.project.id}/change-events/commitment-co")
    assert "CCO #001" not in selection.get_data(as_text=True)

    before = fingerprint()
    refused = _cco_from(client, people.project.id, job["commitment"], [item],
                        change_event_id=first.id)
    assert refused.status_code == 422
    assert error_for(refused.get_data(as_text=True), "line_ids") == (
        "Line 1 of CE #001 is already on another commitment change order you can't view.")
    deleting = client.post(_ce_url(first, f"/lines/{item.id}/delete"), headers=HTMX,
                           data={"version": item.version})
    assert deleting.status_code == 422
    message = unescape(deleting.get_data(as_text=True))
    assert "CCO #001" not in message
    assert "Line 1 of CE #001 is on another commitment change order you can't view." in message
    assert fingerprint() == before


def test_a_line_item_deleted_after_its_cco_was_voided_leaves_the_cco_line(client, pm, job,
                                                                          people):
    commitment, item = job["commitment"], job["items"][0]
    _cco_from(client, people.project.id, commitment, [item])
    (cco,) = _ccos()
    cco.status = ChangeOrderStatus.VOID
    db.session.commit()
    response = client.post(_ce_url(item.change_event, f"/lines/{item.id}/delete"),
                           headers=HTMX, data={"version": item.version})
    assert response.status_code == 200
    (cco,) = _ccos()
    assert len(cco.lines) == 1 and cco.lines[0].change_event_line_id is None


@pytest.mark.parametrize("pick,message", [
    (lambda items: [items[0], items[3]],
     "Line 2 of CE #002 is for Apex Electrical Services, but SC-1042 is with "
     "Summit Concrete Co."),
    (lambda items: [], "Choose at least one line item."),
])
def test_refused_selections_change_nothing(client, pm, job, people, pick, message):
    before = fingerprint()
    response = _cco_from(client, people.project.id, job["commitment"], pick(job["items"]))
    assert response.status_code == 422
    assert error_for(response.get_data(as_text=True), "line_ids") == message
    assert fingerprint() == before


def test_an_item_for_another_commitment_is_refused(client, pm, job, people, factory):
    other = factory.commitment(people.project, vendor=job["vendor"], number="SC-2000")
    before = fingerprint()
    response = _cco_from(client, people.project.id, other, [job["items"][2]])
    assert response.status_code == 422
    assert error_for(response.get_data(as_text=True), "line_ids") == \
        "Line 1 of CE #002 is for SC-1042, not SC-2000."
    assert fingerprint() == before


def test_only_on_an_approved_commitment(client, pm, job, people, factory):
    draft = factory.commitment(people.project, vendor=job["vendor"], status="draft")
    before = fingerprint()
    response = _cco_from(client, people.project.id, draft, job["items"][:1])
    assert response.status_code == 409
    assert b"only on an Approved commitment" in response.data
    assert fingerprint() == before


def test_a_commitment_of_another_project_is_refused(client, pm, job, people, factory):
    elsewhere = factory.commitment(factory.project(), vendor=job["vendor"])
    before = fingerprint()
    response = _cco_from(client, people.project.id, elsewhere, job["items"][:1])
    assert response.status_code == 422
    assert "Choose a commitment of this project." in error_for(
        response.get_data(as_text=True), "commitment_id")
    assert fingerprint() == before


def test_selection_page_across_change_events_filters_by_vendor_or_commitment(client, pm, job,
                                                                             people):
    base = f"/projects/{people.project.id}/change-events/commitment-co"
    commitment = job["commitment"]
    by_vendor = client.get(f"{base}?vendor={job['vendor'].id}").get_data(as_text=True)
    assert "Extra footing" in by_vendor and "Canopy rebar" in by_vendor
    assert "Canopy lighting" not in by_vendor
    by_commitment = client.get(f"{base}?commitment={commitment.id}").get_data(as_text=True)
    assert "Canopy rebar" in by_commitment and "Extra footing" not in by_commitment
    assert re.search(rf'<option selected value="{commitment.id}">SC-1042', by_commitment)
    commitment_page = client.get(
        f"/projects/{people.project.id}/commitments/{commitment.id}").get_data(as_text=True)
    assert f"{base}?commitment={commitment.id}" in commitment_page  # "from a change event"


# ---- the tool switch ---------------------------------------------------------------------------

def test_turning_the_tool_off_hides_it_and_closes_its_routes(client, auth, people, job):
    ce, commitment = job["events"][0], job["commitment"]
    auth.login(people.standard)
    assert client.post(f"/projects/{people.project.id}/change-events/settings",
                       data={}).status_code == 403
    auth.logout()
    auth.login(people.project_admin)
    response = client.post(f"/projects/{people.project.id}/change-events/settings", data={})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Project, people.project.id).change_events_enabled is False

    commitment_url = f"/projects/{people.project.id}/commitments/{commitment.id}"
    page = client.get(commitment_url).get_data(as_text=True)
    assert "Change Events" not in page and "From a change event" not in page
    assert "commitment-co" not in page
    base = f"/projects/{people.project.id}/change-events"
    for url in (f"{base}/new", _ce_url(ce), f"{base}/commitment-co",
                _ce_url(ce, f"/lines/{job['items'][0].id}?edit=1")):
        assert client.get(url).status_code == 404, url
    before = fingerprint()
    assert client.post(f"{base}/", data={"title": "X", "status": "open", "scope": "tbd",
                                         "type": "tbd"}).status_code == 404
    assert _cco_from(client, people.project.id, commitment, job["items"][:1]).status_code == 404
    assert fingerprint() == before
    off = client.get(f"{base}/")
    assert off.status_code == 404 and b"turned off for this project" in off.data
    assert b"Save settings" in off.data  # a project admin can turn it back on
    auth.logout()
    auth.login(people.read_only)
    assert b"Save settings" not in client.get(f"{base}/").data
    auth.logout()

    auth.login(people.project_admin)
    client.post(f"{base}/settings", data={"change_events_enabled": "y"})
    assert client.get(_ce_url(ce)).status_code == 200
    assert "Change Events" in client.get(commitment_url).get_data(as_text=True)


def test_the_switch_is_recorded(client, pm, people):
    from models import HistoryEvent

    client.post(f"/projects/{people.project.id}/change-events/settings", data={})
    event = db.session.scalar(select(HistoryEvent).where(HistoryEvent.subject_type == "project"))
    assert (event.field, event.old_value, event.new_value) == ("Change Events tool", "Yes", "No")
    assert db.session.scalar(select(func.count()).select_from(ChangeEvent)) == 0


# ---- demo data ---------------------------------------------------------------------------------

def test_demo_change_events_are_ready_to_become_a_cco_and_seeding_twice_changes_nothing(app):
    from demo import seed_demo
    from models import Commitment, User
    from workflow.change_events import create_commitment_co

    seed_demo()
    before = fingerprint()
    seed_demo()
    assert fingerprint() == before
    events = db.session.scalars(select(ChangeEvent).order_by(ChangeEvent.number)).all()
    assert [ce.number for ce in events] == ["001", "002"]
    pm = db.session.scalar(select(User).where(User.email == "pm@example.com"))
    sc1042 = db.session.scalar(select(Commitment).where(Commitment.number == "SC-1042"))
    summit = [i for ce in events for i in ce.lines if i.vendor.name == "Summit Concrete Co."]
    assert any(i.vendor.name == "Apex Electrical Services" for i in events[1].lines)
    cco = create_commitment_co(pm, sc1042, [i.id for i in summit])
    assert sorted((line.sov_line.line_number if line.sov_line else None, line.amount)
                  for line in cco.lines if line.sov_line) == [
        (1, Decimal("1150.00")), (1, Decimal("4150.00")), (3, Decimal("1200.00"))]
    (new_line,) = [line for line in cco.lines if line.sov_line is None]
    assert (new_line.cost_code.code, new_line.amount) == ("01-500", Decimal("875.00"))
