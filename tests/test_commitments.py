"""Commitments and their schedule of values: totals, inline editing, bad input, locking."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from extensions import db
from models import Commitment, ErpStatus, HistoryEvent, SovLine
from tests.conftest import HTMX, commitment_url, error_for, fingerprint
from workflow.commitments import totals


@pytest.fixture
def commitment(factory, people):
    return factory.commitment(people.project, sov=("185000.00", "96500.00"))


def _sov_data(line, **overrides):
    data = {"description": line.description, "cost_code_id": line.cost_code_id,
            "category_id": line.category_id, "amount": str(line.amount),
            "version": line.version}
    data.update(overrides)
    return data


# ---- totals --------------------------------------------------------------------------------

def test_totals_are_exact_decimals(factory, people):
    c = factory.commitment(people.project, sov=("0.10", "0.20", "1000000.07"))
    sov = c.sov_lines
    factory.change_order(c, status="approved", lines=((sov[0], "0.10"), (sov[1], "-0.05")))
    factory.change_order(c, status="approved", lines=((sov[2], "99999.99"),))
    factory.change_order(c, status="pending_in_review", lines=((sov[0], "12.34"),))
    for ignored in ("draft", "rejected", "void", "no_charge"):
        factory.change_order(c, status=ignored, lines=((sov[0], "500.00"),))
    t = totals(c)
    assert t.original == Decimal("1000000.37")
    assert t.approved_changes == Decimal("100000.04")
    assert t.pending_changes == Decimal("12.34")
    assert t.revised == Decimal("1100000.41")
    assert all(isinstance(v, Decimal) for v in (t.original, t.approved_changes, t.revised))


def test_list_shows_totals_row_and_filters(client, pm, factory, people):
    summit = factory.vendor("Summit Concrete Co.")
    factory.commitment(people.project, vendor=summit, number="SC-1", sov=("100.00",))
    factory.commitment(people.project, number="PO-1", type_="purchase_order", status="draft",
                       sov=("50.25",))
    page = client.get(f"/projects/{people.project.id}/commitments/").get_data(as_text=True)
    assert "SC-1" in page and "PO-1" in page
    assert "Total (2)" in page and "$150.25" in page
    filtered = client.get(f"/projects/{people.project.id}/commitments/?vendor={summit.id}",
                          headers=HTMX)
    html = filtered.get_data(as_text=True)
    assert "SC-1" in html and "PO-1" not in html and "Total (1)" in html
    assert "<html" not in html and "HX-Request" in filtered.headers["Vary"]
    by_type = client.get(f"/projects/{people.project.id}/commitments/?type=purchase_order")
    assert "PO-1" in by_type.get_data(as_text=True)
    assert ">SC-1<" not in by_type.get_data(as_text=True)


# ---- creating and editing -------------------------------------------------------------------

def _new(client, project, **overrides):
    data = {"type": "subcontract", "number": "SC-2001", "title": "Steel",
            "vendor_id": overrides.pop("vendor_id"), "status": "draft"}
    data.update(overrides)
    return client.post(f"/projects/{project.id}/commitments/", data=data)


def test_create_commitment_then_see_it(client, pm, factory, people):
    vendor = factory.vendor("Ironline Steel Erectors")
    response = _new(client, people.project, vendor_id=vendor.id)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Subcontract SC-2001" in page and "Ironline Steel Erectors" in page
    assert "Created" in page  # the Change History


@pytest.mark.parametrize("overrides,field,message", [
    ({"number": "X" * 22}, "number", "Use at most 21 characters"),
    ({"number": ""}, "number", "Enter a number."),
    ({"title": "t" * 10_240}, "title", "Use at most 255 characters."),
    ({"status": "out_for_bid", "type": "purchase_order"}, "status",
     "Out for Bid is not a status of a Purchase Order."),
    ({"vendor_id": ""}, "vendor_id", "Choose a vendor."),
])
def test_bad_commitment_input(client, pm, factory, people, overrides, field, message):
    vendor = factory.vendor()
    overrides.setdefault("vendor_id", vendor.id)
    before = fingerprint()
    response = _new(client, people.project, **overrides)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in error_for(html, field)
    assert fingerprint() == before


def test_commitment_number_is_unique_per_project(client, pm, factory, people):
    factory.commitment(people.project, number="SC-1042")
    other_project = factory.project()
    factory.commitment(other_project, number="SC-7")
    vendor = factory.vendor()
    clash = _new(client, people.project, vendor_id=vendor.id, number="sc-1042")
    assert clash.status_code == 422
    assert b"SC-1042 is already used on this project." in clash.data
    elsewhere = _new(client, people.project, vendor_id=vendor.id, number="SC-7")
    assert elsewhere.status_code == 303  # another project's number is free here


def test_header_edit_records_history(client, pm, commitment):
    form = {"type": "subcontract", "number": commitment.number, "title": "Concrete & rebar",
            "vendor_id": commitment.vendor_id, "status": "complete",
            "version": commitment.version}
    response = client.post(commitment_url(commitment), data=form, headers=HTMX)
    assert response.status_code == 200
    assert "Concrete &amp; rebar" in response.get_data(as_text=True)
    events = db.session.scalars(select(HistoryEvent).where(HistoryEvent.field == "Status")).all()
    assert [(e.old_value, e.new_value, e.user.name) for e in events] == [
        ("Approved", "Complete", pm.name)]


# ---- schedule of values inline ------------------------------------------------------------

def test_add_sov_line_returns_the_form_row_and_totals(client, pm, commitment, factory):
    code = factory.cost_code("05-120", "Structural steel framing")
    response = client.post(commitment_url(commitment, "/sov"), headers=HTMX, data={
        "description": "Embeds", "cost_code_id": code.id,
        "category_id": factory.category("Material").id, "amount": "1,250.50"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and "HX-Request" in response.headers["Vary"]
    assert 'id="sov-new"' in html  # a fresh form
    assert 'hx-swap-oob="beforeend:#sov-table"' in html and "Embeds" in html
    assert 'id="commitment-totals"' in html and "$282,750.50" in html
    line = db.session.scalar(select(SovLine).where(SovLine.description == "Embeds"))
    assert line.amount == Decimal("1250.50") and line.line_number == 3


def test_edit_sov_line_partial_and_full_page(client, pm, commitment):
    line = commitment.sov_lines[0]
    partial = client.get(commitment_url(commitment, f"/sov/{line.id}?edit=1"), headers=HTMX)
    full = client.get(commitment_url(commitment, f"/sov/{line.id}?edit=1"))
    assert partial.status_code == full.status_code == 200
    assert "<html" not in partial.get_data(as_text=True)
    assert "<html" in full.get_data(as_text=True)
    assert "HX-Request" in partial.headers["Vary"] and "HX-Request" in full.headers["Vary"]
    saved = client.post(commitment_url(commitment, f"/sov/{line.id}"), headers=HTMX,
                        data=_sov_data(line, amount="190000"))
    assert saved.status_code == 200
    assert "$190,000.00" in saved.get_data(as_text=True)
    assert "$286,500.00" in saved.get_data(as_text=True)  # the new original total, out of band
    without_htmx = client.post(commitment_url(commitment, f"/sov/{line.id}"),
                               data=_sov_data(line, amount="191000"))
    assert without_htmx.status_code == 303


@pytest.mark.parametrize("overrides,field,message", [
    ({"amount": "twelve"}, "amount", "Enter an amount like 1250.00."),
    ({"amount": "10.005"}, "amount", "Use at most 2 decimal places."),
    ({"amount": "100000000000"}, "amount", "Enter an amount between"),
    ({"amount": "1e12"}, "amount", "Enter an amount like 1250.00."),
    ({"amount": "12,34,5"}, "amount", "Put commas only between groups of three digits"),
    ({"amount": "1,00"}, "amount", "Put commas only between groups of three digits"),
    ({"amount": "1 000"}, "amount", "Type the amount without spaces"),
    ({"amount": "\u0661\u0662\u0663"}, "amount", "Type the amount with the digits 0–9"),
    ({"amount": "\uff11\uff12\uff13"}, "amount", "Type the amount with the digits 0–9"),
    ({"amount": "+5"}, "amount", "Enter an amount like 1250.00."),
    ({"cost_code_id": ""}, "cost_code_id", "Choose a cost code."),
    ({"category_id": ""}, "category_id", "Choose a category."),
    ({"description": ""}, "description", "Enter a description."),
])
def test_bad_sov_input_is_explained_in_the_row(client, pm, commitment, overrides, field,
                                               message):
    line = commitment.sov_lines[0]
    before = fingerprint()
    response = client.post(commitment_url(commitment, f"/sov/{line.id}"), headers=HTMX,
                           data=_sov_data(line, **overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("<tr")
    assert message in error_for(html, field)
    assert fingerprint() == before


@pytest.mark.parametrize("typed,saved", [
    ("1,250.50", "1250.50"), ("$12,500,000", "12500000.00"), ("-$1,234.5", "-1234.50"),
    ("$-75", "-75.00"), ("(125.00)", "-125.00"), (" 300 ", "300.00"), (".5", "0.50"),
])
def test_amounts_typed_the_usual_ways_are_saved(client, pm, commitment, typed, saved):
    line = commitment.sov_lines[0]
    response = client.post(commitment_url(commitment, f"/sov/{line.id}"), headers=HTMX,
                           data=_sov_data(line, amount=typed))
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(SovLine, line.id).amount == Decimal(saved)


def test_script_in_a_description_is_escaped(client, pm, commitment):
    line = commitment.sov_lines[0]
    client.post(commitment_url(commitment, f"/sov/{line.id}"),
                data=_sov_data(line, description="<script>alert('x')</script>"))
    page = client.get(commitment_url(commitment)).get_data(as_text=True)
    assert "<script>alert('x')</script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_stale_sov_save_is_refused_and_input_kept(client, pm, commitment, factory, auth,
                                                 people):
    line = commitment.sov_lines[0]
    opened_version = line.version
    first = client.post(commitment_url(commitment, f"/sov/{line.id}"), headers=HTMX,
                        data=_sov_data(line, amount="111.11", version=opened_version))
    assert first.status_code == 200
    auth.logout()
    auth.login(people.standard)
    second = client.post(commitment_url(commitment, f"/sov/{line.id}"), headers=HTMX,
                         data=_sov_data(line, amount="222.22", version=opened_version))
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    assert f"{pm.name} changed this at" in html and "after you opened it" in html
    assert 'value="222.22"' in html  # their input is still on screen
    db.session.expire_all()
    assert db.session.get(SovLine, line.id).amount == Decimal("111.11")


def test_a_save_without_a_version_is_refused(client, pm, commitment):
    """A form that does not say which version it was opened from cannot overwrite anything."""
    line = commitment.sov_lines[0]
    before = fingerprint()
    data = _sov_data(line, amount="1.00")
    del data["version"]
    response = client.post(commitment_url(commitment, f"/sov/{line.id}"), headers=HTMX, data=data)
    assert response.status_code == 409
    assert "did not say which version" in response.get_data(as_text=True)
    header = client.post(commitment_url(commitment), data={
        "type": "subcontract", "number": commitment.number, "title": "Renamed",
        "vendor_id": commitment.vendor_id, "status": "approved"})
    assert header.status_code == 409
    assert b"did not say which version" in header.data
    assert fingerprint() == before


def test_stale_sov_delete_is_refused_with_who_and_when(client, pm, commitment, auth, people):
    line = commitment.sov_lines[1]
    opened_version = line.version
    assert client.post(commitment_url(commitment, f"/sov/{line.id}"), headers=HTMX,
                       data=_sov_data(line, amount="5.00")).status_code == 200
    auth.logout()
    auth.login(people.standard)
    before = fingerprint()
    refused = client.post(commitment_url(commitment, f"/sov/{line.id}/delete"), headers=HTMX,
                          data=_sov_data(line, version=opened_version))
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert f"{pm.name} changed this at" in html and "so it was not deleted" in html
    missing = client.post(commitment_url(commitment, f"/sov/{line.id}/delete"), headers=HTMX)
    assert missing.status_code == 409 and b"did not say which version" in missing.data
    assert fingerprint() == before
    db.session.expire_all()
    assert db.session.get(SovLine, line.id).amount == Decimal("5.00")


def test_delete_sov_line_used_by_a_cco_is_refused(client, pm, commitment, factory):
    used, free = commitment.sov_lines
    cco = factory.change_order(commitment, lines=((used, "10.00"),))
    before = fingerprint()
    refused = client.post(commitment_url(commitment, f"/sov/{used.id}/delete"), headers=HTMX,
                          data={"version": used.version})
    assert refused.status_code == 422
    assert f"CCO #{cco.number} changes this line".encode() in refused.data
    assert fingerprint() == before
    deleted = client.post(commitment_url(commitment, f"/sov/{free.id}/delete"), headers=HTMX,
                          data={"version": free.version})
    assert deleted.status_code == 200
    assert db.session.get(SovLine, free.id) is None
    assert "$185,000.00" in deleted.get_data(as_text=True)  # totals without the deleted line


def test_refused_sov_delete_does_not_name_a_private_cco(client, auth, people, commitment,
                                                        factory):
    used = commitment.sov_lines[0]
    factory.change_order(commitment, lines=((used, "10.00"),), private=True,
                         title="Backcharge for damage")
    auth.login(people.standard)
    before = fingerprint()
    refused = client.post(commitment_url(commitment, f"/sov/{used.id}/delete"), headers=HTMX,
                          data={"version": used.version})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "CCO #001" not in html
    assert "A commitment change order you can&#39;t view changes this line" in html
    assert fingerprint() == before


def test_sov_is_locked_while_with_accounting(client, pm, commitment):
    commitment.erp_status = ErpStatus.READY_TO_EXPORT
    db.session.commit()
    line = commitment.sov_lines[0]
    before = fingerprint()
    response = client.post(commitment_url(commitment, f"/sov/{line.id}"), headers=HTMX,
                           data=_sov_data(line, amount="1.00"))
    assert response.status_code == 409
    assert b"Ready to Export in ERP Integrations" in response.data
    assert fingerprint() == before
    page = client.get(commitment_url(commitment)).get_data(as_text=True)
    assert "Locked while the commitment is Ready to Export" in page


def test_sov_line_of_another_commitment_is_404(client, pm, commitment, factory, people):
    other = factory.commitment(people.project, sov=("5.00",))
    response = client.get(commitment_url(commitment, f"/sov/{other.sov_lines[0].id}?edit=1"))
    assert response.status_code == 404


def test_history_is_append_only(app, commitment, pm, client):
    line = commitment.sov_lines[0]
    client.post(commitment_url(commitment, f"/sov/{line.id}"), data=_sov_data(line, amount="1.00"))
    event = db.session.scalars(select(HistoryEvent)).first()
    assert event.field == "SOV line 1 Amount"
    assert (event.old_value, event.new_value) == ("185,000.00", "1.00")
    event.comment = "rewritten"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(HistoryEvent, event.id))
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()


def test_commitment_page_lists_visible_change_orders(client, pm, commitment, factory, people):
    factory.change_order(commitment, title="Visible one", status="approved",
                         lines=((commitment.sov_lines[0], "10.00"),))
    page = client.get(commitment_url(commitment)).get_data(as_text=True)
    assert "Visible one" in page and "Approved" in page and "Not Sent" in page
    assert db.session.get(Commitment, commitment.id).erp_status == ErpStatus.NOT_SENT


def test_the_change_orders_card_offers_what_the_commitment_allows(client, auth, factory, people):
    approved = factory.commitment(people.project, status="approved")
    draft = factory.commitment(people.project, status="draft")
    new_cco = f'href="{commitment_url(approved, "/change-orders/new")}">New change order</a>'
    from_ce = (f'href="/projects/{people.project.id}/change-events/commitment-co?'
               f'commitment={approved.id}">From a change event</a>')
    waits = "Change orders can be written once the commitment is Approved."

    auth.login(people.standard)
    page = client.get(commitment_url(approved)).get_data(as_text=True)
    assert new_cco in page and from_ce in page and waits not in page
    page = client.get(commitment_url(draft)).get_data(as_text=True)
    assert "New change order" not in page and waits in page

    people.project.change_events_enabled = False
    db.session.commit()
    page = client.get(commitment_url(approved)).get_data(as_text=True)
    assert new_cco in page and "From a change event" not in page

    auth.logout()
    auth.login(people.read_only)
    for commitment in (approved, draft):
        page = client.get(commitment_url(commitment)).get_data(as_text=True)
        assert "New change order" not in page and waits not in page
