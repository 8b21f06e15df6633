"""A project manager on a phone in the Change Events tool: a line item added in place, items
selected and "Create Commitment CO", then the designated reviewer approves the new CCO."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from extensions import db
from models import ChangeOrder, ChangeOrderStatus, ProjectRole
from tests.browser.conftest import no_horizontal_scroll
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def job(factory):
    project = factory.project(name="Harbor Lofts")
    pm = factory.user(name="Pat Manager")
    factory.member(project, pm, ProjectRole.ADMIN)
    reviewer = factory.user(name="Rita Reviewer")
    factory.member(project, reviewer, ProjectRole.ADMIN)
    concrete = factory.cost_code("03-300", "Cast-in-place concrete")
    vendor = factory.vendor("Summit Concrete Co.")
    commitment = factory.commitment(project, vendor=vendor, number="SC-001",
                                    title="Concrete package")
    factory.sov_line(commitment, amount="10000.00", description="Footings", cost_code=concrete,
                     category="Subcontract")
    ce = factory.change_event(project, title="Rock at the elevator pit")
    item = factory.change_event_line(ce, cost_code=concrete, category="Subcontract",
                                     vendor=vendor, cost_rom="1000.00",
                                     description="Extra footing")
    return {"project_id": project.id, "ce_id": ce.id, "item_id": item.id, "pm": pm,
            "reviewer": reviewer, "commitment_id": commitment.id}


def _login(page, base: str, user, url: str) -> None:
    page.goto(f"{base}/auth/login?next={url.removeprefix(base)}")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(url)


def test_add_an_item_create_a_commitment_co_and_approve_it(live_server, phone, job):
    ce_url = f"{live_server}/projects/{job['project_id']}/change-events/{job['ce_id']}"
    _login(phone, live_server, job["pm"], ce_url)
    assert no_horizontal_scroll(phone), "change event page"
    phone.evaluate("window.__marker = 1")

    new = phone.locator("#ce-line-new")
    new.locator("input[name=description]").fill("Dewatering pump")
    new.locator("select[name=cost_code_id]").select_option(label="03-300 Cast-in-place concrete")
    new.locator("select[name=category_id]").select_option(label="Equipment")
    new.locator("select[name=commitment_id]").select_option(
        label="SC-001 Concrete package (Summit Concrete Co.)")
    new.locator("input[name=cost_rom]").fill("750")
    new.locator("input[name=latest_cost]").fill("800.25")
    new.locator("button:has-text('Add line item')").click()
    added = phone.locator("#ce-lines-table tr", has_text="Dewatering pump")
    expect(added).to_contain_text("$800.25")
    expect(added).to_contain_text("Summit Concrete Co.")  # the commitment's vendor
    expect(phone.locator("#ce-totals div:has(dt:text-is('ROM')) dd")).to_have_text("$1,750.00")
    expect(phone.locator("#ce-line-new input[name=description]")).to_have_value("")
    assert phone.url == ce_url and phone.evaluate("window.__marker") == 1  # no page load

    added.locator("a:has-text('Edit')").click()
    expect(phone.locator("#ce-lines-table tr.editing button:has-text('Save line 2')")
           ).to_be_visible()
    assert no_horizontal_scroll(phone), "change event page, line item open"
    phone.locator("#ce-lines-table tr.editing a:has-text('Cancel')").click()
    expect(phone.locator("#ce-lines-table tr.editing")).to_have_count(0)

    phone.locator(f"#ce-item-{job['item_id']}").check()
    phone.locator("#ce-lines-table tr", has_text="Dewatering pump").locator(
        "input[type=checkbox]").check()
    phone.select_option("#ce-cco-commitment_id",
                        label="SC-001 Concrete package (Summit Concrete Co.)")
    phone.click("button:has-text('Create Commitment CO')")
    phone.wait_for_url(re.compile(r".*/change-orders/\d+$"))
    cco_url = phone.url
    cco_id = int(cco_url.rsplit("/", 1)[1])
    expect(phone.locator("#cco-header h1")).to_contain_text("CCO #001")
    expect(phone.locator("#cco-grand-total")).to_have_text("Grand total $1,800.25")
    footing = phone.locator("#cco-lines-table tr", has_text="Extra footing")
    expect(footing).to_contain_text("SOV line 1")
    expect(footing).to_contain_text("from CE #001 line 1")
    pump = phone.locator("#cco-lines-table tr", has_text="Dewatering pump")
    expect(pump).to_contain_text("New line")
    assert no_horizontal_scroll(phone), "CCO page"

    header = phone.locator("#cco-header")
    header.locator("a:has-text('Edit')").click()
    # the header's Status fact is a <dd id="cco-status"> until the edit form (whose status
    # field is also #cco-status) has replaced it: wait for the form's <select>
    phone.select_option("#cco-header select#cco-status", label="Pending – In Review")
    phone.select_option("#cco-designated_reviewer_id", label="Rita Reviewer")
    phone.click("#cco-header button:has-text('Save')")
    expect(header).to_contain_text("Pending – In Review")

    phone.click("button:has-text('Log out')")
    phone.wait_for_url(re.compile(r".*/auth/login"))
    _login(phone, live_server, job["reviewer"], cco_url)
    phone.click("#review button:has-text('Approve')")
    phone.wait_for_url(cco_url)
    expect(phone.locator("#review .review-answer")).to_contain_text("Approved by Rita Reviewer")
    db.session.expire_all()
    assert db.session.get(ChangeOrder, cco_id).status == ChangeOrderStatus.APPROVED
    db.session.rollback()

    phone.locator("#cco-lines-table a:has-text('CE #001')").first.click()
    phone.wait_for_url(ce_url)
    row = phone.locator("#ce-ccos tbody tr", has_text="SC-001")
    expect(row.locator("td[data-label=Status]")).to_have_text("Approved")
    expect(row.locator("td[data-label=ERP]")).to_have_text("Not Sent")
    expect(phone.locator(f"#ce-line-{job['item_id']}")).to_contain_text("On CCO #001 of SC-001")
    assert no_horizontal_scroll(phone), "change event page with its CCO"

    phone.goto(f"{live_server}/projects/{job['project_id']}/change-events/")
    assert no_horizontal_scroll(phone), "change events list"
    phone.goto(f"{live_server}/projects/{job['project_id']}/change-events/commitment-co")
    assert no_horizontal_scroll(phone), "Create Commitment CO across change events"
