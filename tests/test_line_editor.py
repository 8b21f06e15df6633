"""The inline line editor of SOV lines, CCO lines and change event items: saving one row costs
the same number of SQL statements whether its parent holds 5 lines or 50."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from extensions import db
from models import Project
from tests.conftest import app_statement

HTMX = {"HX-Request": "true"}


@pytest.fixture
def pm(client, auth, people):
    auth.login(people.project_admin)
    return people.project_admin


def _statements(action) -> tuple[list[str], object]:
    statements: list[str] = []
    listener = lambda *args: app_statement(args[2]) and statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        result = action()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return statements, result


def _sov_save(factory, project, count: int):
    commitment = factory.commitment(project, sov=("100.00",) * count)
    line = commitment.sov_lines[1]
    url = (f"/projects/{commitment.project_id}/commitments/{commitment.id}/sov/{line.id}")
    data = {"description": "Formwork", "cost_code_id": line.cost_code_id,
            "category_id": line.category_id, "amount": "123.45", "version": line.version}
    return url, data, 'id="commitment-totals"', f"{100 * (count - 1) + 123.45:,.2f}"


def _cco_save(factory, project, count: int):
    commitment = factory.commitment(project, sov=("100.00",) * count)
    cco = factory.change_order(commitment, lines=tuple((s, "10.00") for s in commitment.sov_lines))
    line = cco.lines[1]
    url = (f"/projects/{commitment.project_id}/commitments/{commitment.id}"
           f"/change-orders/{cco.id}/lines/{line.id}")
    data = {"sov_line_id": line.sov_line_id, "description": "Formwork", "amount": "123.45",
            "cost_code_id": "", "category_id": "", "version": line.version}
    return url, data, 'id="cco-grand-total"', f"{10 * (count - 1) + 123.45:,.2f}"


def _ce_save(factory, project, count: int):
    ce = factory.change_event(project)
    commitment = factory.commitment(project)
    for n in range(count):
        factory.change_event_line(ce, vendor=commitment.vendor,
                                  commitment=commitment if n % 2 else None)
    line = ce.lines[1]
    url = f"/projects/{ce.project_id}/change-events/{ce.id}/lines/{line.id}"
    data = {"description": "Formwork", "cost_code_id": line.cost_code_id,
            "category_id": line.category_id, "vendor_id": line.vendor_id,
            "commitment_id": line.commitment_id or "", "cost_rom": "123.45",
            "latest_cost": "", "version": line.version}
    return url, data, 'id="ce-totals"', f"{100 * (count - 1) + 123.45:,.2f}"


KINDS = {"sov": _sov_save, "cco": _cco_save, "ce": _ce_save}


def _count_save(client, factory, project_id: int, kind: str, count: int) -> int:
    project = db.session.get(Project, project_id)
    url, data, totals_id, total = KINDS[kind](factory, project, count)
    db.session.expire_all()  # the request loads what it shows, as it would in production
    statements, response = _statements(lambda: client.post(url, data=data, headers=HTMX))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "123.45" in html  # the saved row
    assert totals_id in html and 'hx-swap-oob="true"' in html and total in html  # the totals
    print(f"{kind} line save, {count} lines: {len(statements)} SQL statements")
    return len(statements)


@pytest.mark.scale  # many records: left out by make test-quick
@pytest.mark.parametrize("kind", KINDS)
def test_saving_a_line_costs_the_same_statements_for_5_lines_as_for_50(client, pm, factory,
                                                                       people, kind):
    project_id = people.project.id
    assert _count_save(client, factory, project_id, kind, 5) == \
        _count_save(client, factory, project_id, kind, 50)


def _totals_dl(html: str) -> str:
    import re

    found = re.search(r'<dl id="commitment-totals"[^>]*>.*?</dl>', html, re.S).group(0)
    return found.replace(' hx-swap-oob="true"', "")


def test_a_saved_row_answers_with_the_totals_its_page_shows_that_viewer(client, auth, factory,
                                                                         people):
    """The save's totals come from the share of the lists' totals it just wrote: a member who
    is no project admin sees the private CCOs they wrote, not the others (counted apart)."""
    standard, other = people.standard, people.project_admin
    commitment = factory.commitment(people.project, sov=("100.00", "100.00"))
    first, second = commitment.sov_lines
    factory.change_order(commitment, status="approved", private=True, creator=other,
                         lines=((first, "10.00"),))
    factory.change_order(commitment, status="approved", private=True, creator=standard,
                         lines=((second, "7.00"),))
    factory.change_order(commitment, status="pending_in_review", lines=((first, "3.00"),))
    auth.login(standard)
    url = f"/projects/{commitment.project_id}/commitments/{commitment.id}"
    db.session.expire_all()
    response = client.post(f"{url}/sov/{first.id}", headers=HTMX, data={
        "description": "Formwork", "cost_code_id": first.cost_code_id,
        "category_id": first.category_id, "amount": "123.45", "version": first.version})
    assert response.status_code == 200, response.get_data(as_text=True)
    saved = _totals_dl(response.get_data(as_text=True))
    assert "223.45" in saved and "7.00" in saved and "3.00" in saved
    assert "1 private change order you cannot see" in saved
    assert saved == _totals_dl(client.get(url).get_data(as_text=True))


@pytest.mark.parametrize("kind", ["sov", "ce"])
def test_a_save_checks_the_chosen_cost_code_without_offering_the_list(client, pm, factory,
                                                                       people, kind):
    """A deactivated cost code other than the line's own, or one that does not exist, is
    refused next to its field and nothing changes; the line's own, deactivated since, stays."""
    from models import CostCode

    project = db.session.get(Project, people.project.id)
    url, data, _, _ = KINDS[kind](factory, project, 2)
    retired = factory.cost_code(code="99-RETIRED")
    retired.active = False
    db.session.commit()
    for chosen in (retired.id, 999999):
        response = client.post(url, headers=HTMX, data={**data, "cost_code_id": chosen})
        html = response.get_data(as_text=True)
        assert response.status_code == 422, html
        assert "Not a valid choice" in html
        assert "<option" in html  # the form again, with its choices
    own = db.session.get(CostCode, data["cost_code_id"])
    own.active = False
    db.session.commit()
    # the version the refused saves posted is still the line's: they changed nothing
    response = client.post(url, headers=HTMX, data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "123.45" in response.get_data(as_text=True)
