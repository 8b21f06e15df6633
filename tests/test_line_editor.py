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
