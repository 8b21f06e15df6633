"""Selects of cost codes and vendors offer the first 100 and a Find box for the others, so a
record's page costs the same with 20 cost codes or 2,000 (blueprints/fields.py:offer)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from extensions import db
from models import CostCode, SovLine, Vendor
from tests.conftest import commitment_url
from workflow.reference import OFFERED

HTMX = {"HX-Request": "true"}


@pytest.fixture
def many_codes():
    """OFFERED + 20 active cost codes, numbered in code order, and one deactivated."""
    codes = [CostCode(code=f"{n:04d}", description=f"Trade {n:04d}")
             for n in range(OFFERED + 20)]
    codes.append(CostCode(code="9999", description="Retired trade", active=False))
    db.session.add_all(codes)
    db.session.commit()
    return codes


def _select(html: str, name: str) -> str:
    return html.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]


def test_the_new_line_form_offers_the_first_codes_and_a_find_box(client, pm, people, factory,
                                                                 many_codes):
    commitment = factory.commitment(people.project, sov=("1000.00",))
    page = client.get(commitment_url(commitment)).get_data(as_text=True)
    form = page.split('id="sov-new"', 1)[1]
    options = _select(form, "cost_code_id")
    assert "0000 Trade 0000" in options and f"{OFFERED - 1:04d} Trade" in options
    assert f"{OFFERED:04d} Trade" not in options and "Retired trade" not in options
    assert 'data-picker="/pick/cost_code?' in form
    assert f"The first {OFFERED} are listed; type in Find for the others." in form


def test_a_line_may_use_a_code_found_with_find_and_not_a_retired_one(client, pm, people,
                                                                      factory, many_codes):
    commitment = factory.commitment(people.project, sov=("1000.00",))
    beyond = many_codes[OFFERED + 10]  # not among the first the select offers
    category = factory.category("Material").id
    response = client.post(commitment_url(commitment, "/sov"), headers=HTMX, data={
        "description": "Embeds", "cost_code_id": beyond.id, "category_id": category,
        "amount": "250.00"})
    assert response.status_code == 200
    line = db.session.scalar(select(SovLine).where(SovLine.description == "Embeds"))
    assert line.cost_code_id == beyond.id and line.amount == Decimal("250.00")
    # its edit form keeps it selected although it is not among the first
    row = client.get(commitment_url(commitment, f"/sov/{line.id}?edit=1"), headers=HTMX)
    assert (f'<option selected value="{beyond.id}">' in row.get_data(as_text=True)
            or f'<option value="{beyond.id}" selected>' in row.get_data(as_text=True))

    # the one just past the first listed is no exception
    edge = many_codes[OFFERED]
    response = client.post(commitment_url(commitment, "/sov"), headers=HTMX, data={
        "description": "Edge", "cost_code_id": edge.id, "category_id": category,
        "amount": "5.00"})
    assert response.status_code == 200
    assert db.session.scalar(select(SovLine.cost_code_id).where(
        SovLine.description == "Edge")) == edge.id

    retired = many_codes[-1]
    before = db.session.scalar(select(db.func.count()).select_from(SovLine))
    response = client.post(commitment_url(commitment, "/sov"), headers=HTMX, data={
        "description": "Old work", "cost_code_id": retired.id, "category_id": category,
        "amount": "10.00"})
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(SovLine)) == before


def test_find_lists_the_matches_and_keeps_the_one_chosen(client, pm, many_codes):
    chosen = many_codes[3]
    response = client.get(f"/pick/cost_code?q=trade 011&selected={chosen.id}&blank=Choose…")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<option") == 1 + 1 + 10  # blank, the chosen one, 0110…0119
    assert f'<option value="{chosen.id}" selected>0003 Trade 0003</option>' in html
    assert "0119 Trade 0119" in html and "0120" not in html
    nothing = client.get("/pick/cost_code?q=%25_%25").get_data(as_text=True)
    assert "Nothing matches" in nothing  # % and _ are letters to look for, not wildcards
    assert client.get("/pick/nothing?q=a").status_code == 404


def test_find_asks_for_a_login(client, many_codes):
    response = client.get("/pick/vendor?q=a")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_a_change_event_page_offers_at_most_the_first_vendors_and_codes(client, pm, people,
                                                                        factory):
    people.project.change_events_enabled = True
    db.session.commit()
    ce = factory.change_event(people.project)
    factory.change_event_line(ce, cost_rom="100.00")
    url = f"/projects/{people.project.id}/change-events/{ce.id}"
    few = client.get(url).get_data(as_text=True)
    assert "data-picker" not in few  # a short list needs no Find box
    db.session.add_all([Vendor(name=f"Vendor {n:04d}") for n in range(3 * OFFERED)])
    db.session.add_all([CostCode(code=f"{n:04d}", description="Trade")
                        for n in range(3 * OFFERED)])
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    form = page.split('id="ce-line-new"', 1)[1] if 'id="ce-line-new"' in page else page
    vendors, codes = _select(form, "vendor_id"), _select(form, "cost_code_id")
    assert vendors.count("<option") == OFFERED + 1  # "—" and the first OFFERED
    assert "Vendor 0000" in vendors and f"Vendor {OFFERED:04d}" not in vendors
    assert codes.count("<option") == OFFERED + 1
    assert 'data-picker="/pick/vendor?' in form and 'data-picker="/pick/cost_code?' in form
    # Find reaches the others
    found = client.get(f"/pick/vendor?q=vendor 0{2 * OFFERED}").get_data(as_text=True)
    assert f"Vendor 0{2 * OFFERED}" in found


@pytest.mark.parametrize("kind", ["vendor", "cost_code"])
@pytest.mark.parametrize("role,allowed", [("outsider", False), ("read_only", False),
                                          ("standard", True), ("project_admin", True),
                                          ("company_admin", True)])
def test_find_answers_only_those_who_edit_lines_somewhere(client, auth, people, factory, kind,
                                                          role, allowed):
    factory.vendor("Hidden Supply Co.")
    db.session.add(CostCode(code="7777", description="Hidden trade"))
    db.session.commit()
    auth.login(getattr(people, role))
    response = client.get(f"/pick/{kind}?q=hidden", headers=HTMX)
    if allowed:
        assert response.status_code == 200
        assert ("Hidden Supply Co." if kind == "vendor" else "Hidden trade") in \
            response.get_data(as_text=True)
    else:
        assert response.status_code == 403
        assert b"Hidden" not in response.data


def test_an_approver_on_no_project_gets_no_vendors(client, auth, factory):
    from models import ErpPermission

    factory.vendor("Hidden Supply Co.")
    approver = factory.user(erp=ErpPermission.STANDARD, can_push=True)
    auth.login(approver)
    response = client.get("/pick/vendor?q=", headers=HTMX)
    assert response.status_code == 403 and b"Hidden Supply" not in response.data
