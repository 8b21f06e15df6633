"""A deactivated vendor, cost code or category is never offered by a select, and a request that
names one anyway is refused next to its field with nothing changed — on every form that names
one, the optional choices (a CCO line's cost code and category, a change event item's vendor)
as much as the required ones. A record's own, deactivated after it was saved, still saves."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from extensions import db
from models import Category, ChangeEventLine, ChangeOrderLine, Commitment, CostCode, SovLine, Vendor
from tests.conftest import error_for, fingerprint

HTMX = {"HX-Request": "true"}
NOT_OFFERED = "Not a valid choice."


@dataclass
class Case:
    url: str
    data: dict  # a request that saves as it is


def _deactivated(factory, field: str) -> int:
    """A record of the kind ``field`` names, deactivated before the request."""
    if field == "vendor_id":
        record = factory.vendor(name="Gone Vendor Co")
    elif field == "cost_code_id":
        record = factory.cost_code(code="99-GONE")
    else:
        record = factory.category("Other")
    record.active = False
    db.session.commit()
    return record.id


def _cco(factory, people):
    commitment = factory.commitment(people.project, sov=("1000.00",))
    cco = factory.change_order(commitment)
    url = f"/projects/{people.project.id}/commitments/{commitment.id}/change-orders/{cco.id}/lines"
    return commitment, cco, url


def cco_line_add(factory, people) -> Case:
    _, _, url = _cco(factory, people)
    return Case(url, {"sov_line_id": "", "cost_code_id": factory.cost_code().id,
                      "category_id": factory.category("Labor").id, "description": "New pour",
                      "amount": "250.00"})


def cco_line_save(factory, people) -> Case:
    _, cco, url = _cco(factory, people)
    line = ChangeOrderLine(change_order=cco, cost_code_own=factory.cost_code(),
                           category_own=factory.category("Labor"), description="New pour",
                           amount=100)
    db.session.add(line)
    db.session.commit()
    return Case(f"{url}/{line.id}", {"sov_line_id": "", "cost_code_id": line.cost_code_id,
                                     "category_id": line.category_id, "description": "New pour",
                                     "amount": "250.00", "version": line.version})


def _ce_data(line=None, **values) -> dict:
    data = {"description": "Extra rock", "cost_rom": "250.00", "latest_cost": "",
            "commitment_id": "", "vendor_id": ""}
    if line is not None:
        data.update(cost_code_id=line.cost_code_id, category_id=line.category_id,
                    vendor_id=line.vendor_id or "", version=line.version)
    return {**data, **values}


def ce_item_add(factory, people) -> Case:
    ce = factory.change_event(people.project)
    return Case(f"/projects/{people.project.id}/change-events/{ce.id}/lines",
                _ce_data(cost_code_id=factory.cost_code().id,
                         category_id=factory.category("Labor").id,
                         vendor_id=factory.vendor().id))


def ce_item_save(factory, people) -> Case:
    ce = factory.change_event(people.project)
    line = factory.change_event_line(ce, vendor=factory.vendor())
    return Case(f"/projects/{people.project.id}/change-events/{ce.id}/lines/{line.id}",
                _ce_data(line))


def sov_line_add(factory, people) -> Case:
    commitment = factory.commitment(people.project, status="draft")
    return Case(f"/projects/{people.project.id}/commitments/{commitment.id}/sov",
                {"description": "Formwork", "cost_code_id": factory.cost_code().id,
                 "category_id": factory.category("Labor").id, "amount": "250.00"})


def sov_line_save(factory, people) -> Case:
    commitment = factory.commitment(people.project, status="draft", sov=("1000.00",))
    line = commitment.sov_lines[0]
    return Case(f"/projects/{people.project.id}/commitments/{commitment.id}/sov/{line.id}",
                {"description": "Formwork", "cost_code_id": line.cost_code_id,
                 "category_id": line.category_id, "amount": "250.00", "version": line.version})


def _commitment_data(vendor_id, **values) -> dict:
    return {"type": "subcontract", "number": "SC-77", "title": "Steel", "vendor_id": vendor_id,
            "status": "draft", "description": "", **values}


def commitment_create(factory, people) -> Case:
    return Case(f"/projects/{people.project.id}/commitments/",
                _commitment_data(factory.vendor().id))


def commitment_edit(factory, people) -> Case:
    commitment = factory.commitment(people.project, status="draft", number="SC-77")
    return Case(f"/projects/{people.project.id}/commitments/{commitment.id}",
                _commitment_data(commitment.vendor_id, version=commitment.version))


# (what is saved, the field given a deactivated record)
REFUSED = [
    (cco_line_add, "cost_code_id"), (cco_line_add, "category_id"),
    (cco_line_save, "cost_code_id"), (cco_line_save, "category_id"),
    (ce_item_add, "vendor_id"), (ce_item_save, "vendor_id"),
    (ce_item_add, "cost_code_id"), (ce_item_save, "category_id"),
    (sov_line_add, "cost_code_id"), (sov_line_save, "category_id"),
    (commitment_create, "vendor_id"), (commitment_edit, "vendor_id"),
]


@pytest.mark.parametrize(("build", "field"), REFUSED,
                         ids=[f"{b.__name__}-{f}" for b, f in REFUSED])
def test_a_deactivated_record_is_refused_next_to_its_field(client, auth, factory, people,
                                                           build, field):
    case = build(factory, people)
    retired = _deactivated(factory, field)
    auth.login(people.project_admin)
    before = fingerprint()
    response = client.post(case.url, headers=HTMX, data={**case.data, field: retired})
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html
    assert error_for(html, field) == NOT_OFFERED
    assert fingerprint() == before
    # the same request with the active record it had saves
    assert client.post(case.url, headers=HTMX, data=case.data).status_code in (200, 303)
    assert fingerprint() != before


# (what is saved, the field whose record is deactivated after it was saved, the line's model)
KEPT = [
    (cco_line_save, "cost_code_id", ChangeOrderLine), (cco_line_save, "category_id",
                                                       ChangeOrderLine),
    (ce_item_save, "cost_code_id", ChangeEventLine), (ce_item_save, "vendor_id",
                                                      ChangeEventLine),
    (sov_line_save, "cost_code_id", SovLine), (commitment_edit, "vendor_id", Commitment),
]
MODELS = {"cost_code_id": CostCode, "category_id": Category, "vendor_id": Vendor}


@pytest.mark.parametrize(("build", "field", "model"), KEPT,
                         ids=[f"{b.__name__}-{f}" for b, f, _ in KEPT])
def test_a_record_deactivated_after_it_was_chosen_still_saves_unchanged(
        client, auth, factory, people, build, field, model):
    case = build(factory, people)
    own = db.session.get(MODELS[field], case.data[field])
    own.active = False
    db.session.commit()
    auth.login(people.project_admin)
    changed = ({"title": "Rebar"} if model is Commitment else {"description": "Rebar"})
    response = client.post(case.url, headers=HTMX, data={**case.data, **changed})
    assert response.status_code in (200, 303), response.get_data(as_text=True)
    db.session.expire_all()
    saved = db.session.get(model, int(case.url.rsplit("/", 1)[1]))
    assert getattr(saved, field) == own.id
    assert "Rebar" in (saved.title if model is Commitment else saved.description)


def test_the_workflow_refuses_a_deactivated_record_without_the_form(factory, people):
    """Every line's save checks in the workflow too, whatever form (or script) called it."""
    from decimal import Decimal

    from workflow.change_events import LineItemInput, add_line_item
    from workflow.change_orders import LineInput, add_line
    from workflow.commitments import SovInput, add_sov_line
    from workflow.errors import InvalidInput

    retired = _deactivated(factory, "cost_code_id")
    labor = factory.category("Labor").id
    commitment = factory.commitment(people.project, status="draft")
    approved = factory.commitment(people.project)
    calls = [
        lambda: add_sov_line(people.project_admin, commitment, SovInput(
            description="Formwork", cost_code_id=retired, category_id=labor,
            amount=Decimal("1.00"))),
        lambda: add_line(people.project_admin, factory.change_order(approved), LineInput(
            sov_line_id=None, description="New pour", amount=Decimal("1.00"),
            cost_code_id=retired, category_id=labor)),
        lambda: add_line_item(people.project_admin, factory.change_event(people.project),
                              LineItemInput(cost_code_id=retired, category_id=labor,
                                            description="Rock", cost_rom=Decimal("1.00"))),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as refused:
            call()
        assert refused.value.errors == {"cost_code_id": NOT_OFFERED}
        db.session.rollback()
