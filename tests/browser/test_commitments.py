"""A person on a phone in the Commitments tool: the SOV and CCO lines edited in place with htmx,
the review, two people editing one line, and text that must stay text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from extensions import db
from models import ChangeOrder, ChangeOrderStatus, ProjectRole, SovLine
from tests.browser.conftest import no_horizontal_scroll, phone_page
from tests.conftest import PASSWORD, fingerprint

pytestmark = pytest.mark.browser


# ---- the job every test starts from ------------------------------------------------------------

@dataclass
class Job:
    """The ids the tests reach pages by, and the people who use them."""

    project_id: int
    commitment_id: int
    line_ids: list[int]
    pm: object
    reviewer: object
    super_: object

    def commitment_url(self, base: str) -> str:
        return f"{base}/projects/{self.project_id}/commitments/{self.commitment_id}"


@pytest.fixture
def job(factory) -> Job:
    """An Approved subcontract with two SOV lines (original $12,500.00) and three people."""
    project = factory.project(name="Harbor Lofts")
    pm = factory.user(name="Pat Manager")
    factory.member(project, pm, ProjectRole.ADMIN)
    reviewer = factory.user(name="Rita Reviewer")
    factory.member(project, reviewer, ProjectRole.ADMIN)
    super_ = factory.user(name="Sam Super")
    factory.member(project, super_, ProjectRole.STANDARD)
    concrete = factory.cost_code("03-300", "Cast-in-place concrete")
    steel = factory.cost_code("03-200", "Reinforcing steel")
    commitment = factory.commitment(project, vendor=factory.vendor("Summit Concrete Co."),
                                    number="SC-001", title="Concrete package")
    footings = factory.sov_line(commitment, amount="10000.00", description="Footings",
                                cost_code=concrete, category="Subcontract")
    rebar = factory.sov_line(commitment, amount="2500.00", description="Rebar supply",
                             cost_code=steel, category="Material")
    return Job(project_id=project.id, commitment_id=commitment.id,
               line_ids=[footings.id, rebar.id], pm=pm, reviewer=reviewer, super_=super_)


@pytest.fixture
def second_phone(browser):
    """A second person's phone: its own context, so its own session cookie."""
    with phone_page(browser) as page:
        yield page


# ---- helpers -----------------------------------------------------------------------------------

def _login(page, base: str, user, next_url: str) -> None:
    path = next_url.removeprefix(base)
    page.goto(f"{base}/auth/login?next={path}")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(next_url)


def _total(page, label: str):
    """The amount shown next to ``label`` in the commitment's totals."""
    return page.locator(f"#commitment-totals div:has(dt:text-is('{label}')) dd")


def _expect_totals(page, original: str, approved: str, revised: str) -> None:
    expect(_total(page, "Original")).to_have_text(original)
    expect(_total(page, "Approved changes")).to_have_text(approved)
    expect(_total(page, "Revised")).to_have_text(revised)


def _sov_amount(line_id: int) -> Decimal:
    """What the database holds now (the live server commits in its own sessions)."""
    db.session.expire_all()
    amount = db.session.scalar(select(SovLine.amount).where(SovLine.id == line_id))
    db.session.rollback()
    return amount


def _open_on_both(phone, second_phone, line_id: int, amount: str):
    """Both people open the same SOV line for editing; its row on each phone."""
    rows = [page.locator(f"#sov-line-{line_id}") for page in (phone, second_phone)]
    for row in rows:
        row.locator("a:has-text('Edit')").click()
        expect(row.locator("input[name=amount]")).to_have_value(amount)
    return rows


def _mark_page(page) -> None:
    """A marker that only survives if the page is never reloaded."""
    page.evaluate("window.__marker = 1")


def _assert_no_page_load(page, url: str) -> None:
    assert page.url == url
    assert page.evaluate("window.__marker") == 1


# ---- 1. the schedule of values, edited in place ------------------------------------------------

def test_add_and_edit_sov_lines_in_place_with_live_totals(live_server, phone, job):
    url = job.commitment_url(live_server)
    _login(phone, live_server, job.pm, url)
    _expect_totals(phone, "$12,500.00", "$0.00", "$12,500.00")
    _mark_page(phone)

    new = phone.locator("#sov-new")
    new.locator("input[name=description]").fill("Pump truck")
    new.locator("select[name=cost_code_id]").select_option(label="03-300 Cast-in-place concrete")
    new.locator("select[name=category_id]").select_option(label="Equipment")
    new.locator("input[name=amount]").fill("1,250.50")
    new.locator("button:has-text('Add line')").click()

    added = phone.locator("#sov-table tr", has_text="Pump truck")
    expect(added).to_be_visible()
    expect(added).to_contain_text("03-300 Cast-in-place concrete")
    expect(added).to_contain_text("Equipment")
    expect(added).to_contain_text("$1,250.50")
    expect(added.locator("td[data-label='#']")).to_have_text("3")
    _expect_totals(phone, "$13,750.50", "$0.00", "$13,750.50")
    expect(phone.locator("#sov-new input[name=description]")).to_have_value("")  # ready again
    _assert_no_page_load(phone, url)

    rebar_id = job.line_ids[1]
    row = phone.locator(f"#sov-line-{rebar_id}")
    row.locator("a:has-text('Edit')").click()
    amount = row.locator("input[name=amount]")
    expect(amount).to_have_value("2,500.00")
    amount.fill("3000")
    row.locator("button:has-text('Save line 2')").click()
    expect(row.locator("td[data-label=Amount]")).to_have_text("$3,000.00")
    _expect_totals(phone, "$14,250.50", "$0.00", "$14,250.50")
    assert _sov_amount(rebar_id) == Decimal("3000.00")

    added.locator("a:has-text('Edit')").click()  # the row htmx appended works like the others
    added_row = phone.locator("#sov-table tr.editing")
    added_row.locator("input[name=amount]").fill("1000")
    added_row.locator("button:has-text('Save line 3')").click()
    expect(added.locator("td[data-label=Amount]")).to_have_text("$1,000.00")
    _expect_totals(phone, "$14,000.00", "$0.00", "$14,000.00")
    _assert_no_page_load(phone, url)


@pytest.mark.parametrize("typed, message", [
    ("abc", "Enter an amount like 1250.00."),
    ("1.234", "Use at most 2 decimal places."),
])
def test_a_bad_amount_is_explained_in_the_row_and_saves_nothing(live_server, phone, job,
                                                                typed, message):
    url = job.commitment_url(live_server)
    _login(phone, live_server, job.pm, url)
    _mark_page(phone)
    footings_id = job.line_ids[0]
    row = phone.locator(f"#sov-line-{footings_id}")
    row.locator("a:has-text('Edit')").click()
    amount = row.locator("input[name=amount]")
    expect(amount).to_be_visible()
    before = fingerprint()
    db.session.rollback()

    amount.fill(typed)
    row.locator("button:has-text('Save line 1')").click()

    field = row.locator(".field.has-error", has=phone.locator("input[name=amount]"))
    expect(field.locator("p.error")).to_have_text(message)
    expect(amount).to_have_value(typed)  # what they typed stays, to be corrected
    expect(amount).to_have_attribute("aria-invalid", "true")
    assert fingerprint() == before
    db.session.rollback()
    _expect_totals(phone, "$12,500.00", "$0.00", "$12,500.00")
    _assert_no_page_load(phone, url)


def test_saving_the_header_in_place_keeps_the_totals(live_server, phone, job):
    url = job.commitment_url(live_server)
    _login(phone, live_server, job.pm, url)
    header = phone.locator("#commitment-header")
    header.locator("a:has-text('Edit')").click()
    header.locator("input[name=title]").fill("Concrete package, revised")
    header.locator("button:has-text('Save')").click()
    expect(header.locator("h1")).to_contain_text("Concrete package, revised")
    _expect_totals(phone, "$12,500.00", "$0.00", "$12,500.00")

    new = phone.locator("#sov-new")  # and they keep following the schedule of values
    new.locator("input[name=description]").fill("Pump truck")
    new.locator("select[name=cost_code_id]").select_option(label="03-300 Cast-in-place concrete")
    new.locator("select[name=category_id]").select_option(label="Equipment")
    new.locator("input[name=amount]").fill("500")
    new.locator("button:has-text('Add line')").click()
    expect(phone.locator("#sov-table tr", has_text="Pump truck")).to_be_visible()
    _expect_totals(phone, "$13,000.00", "$0.00", "$13,000.00")


def test_tapping_a_label_in_add_a_line_focuses_its_own_field_while_a_row_is_open(
        live_server, phone, job):
    _login(phone, live_server, job.pm, job.commitment_url(live_server))
    row = phone.locator(f"#sov-line-{job.line_ids[0]}")
    row.locator("a:has-text('Edit')").click()
    expect(row.locator("input[name=amount]")).to_be_visible()
    for name, label in (("description", "Description"), ("amount", "Amount")):
        phone.locator(f"#sov-new label:text-is('{label}')").click()
        expect(phone.locator(f"#sov-new [name={name}]")).to_be_focused()


# ---- 2. a change order from creation to approval -----------------------------------------------

def test_create_a_cco_add_lines_in_place_and_approve_it(live_server, phone, job):
    url = job.commitment_url(live_server)
    _login(phone, live_server, job.pm, url)
    phone.locator("a:has-text('New change order')").click()

    phone.fill("#cco-title", "Deeper footings at grid C")
    phone.select_option("#cco-status", label="Pending – In Review")
    phone.select_option("#cco-designated_reviewer_id", label="Rita Reviewer")
    phone.click("button:has-text('Create change order')")
    phone.wait_for_url(re.compile(r".*/change-orders/\d+$"))
    cco_url = phone.url
    cco_id = int(cco_url.rsplit("/", 1)[1])
    expect(phone.locator("#cco-header h1")).to_contain_text("CCO #001")
    expect(phone.locator("#cco-header")).to_contain_text("Pending – In Review")
    expect(phone.locator("#cco-grand-total")).to_have_text("Grand total $0.00")
    _mark_page(phone)

    new = phone.locator("#cco-line-new")
    new.locator("select[name=sov_line_id]").select_option(
        label="1. Footings (03-300 Subcontract)")
    new.locator("input[name=amount]").fill("1500")
    new.locator("button:has-text('Add line')").click()
    first = phone.locator("#cco-lines-table tr", has_text="SOV line 1")
    expect(first).to_contain_text("Footings")  # the SOV line's description by default
    expect(first).to_contain_text("$1,500.00")
    expect(phone.locator("#cco-grand-total")).to_have_text("Grand total $1,500.00")

    new = phone.locator("#cco-line-new")  # a fresh form was swapped in
    new.locator("select[name=sov_line_id]").select_option(
        label="New line (choose cost code + category)")
    new.locator("input[name=description]").fill("Dewatering pump")
    new.locator("input[name=amount]").fill("750.25")
    new.locator("select[name=cost_code_id]").select_option(label="03-200 Reinforcing steel")
    new.locator("select[name=category_id]").select_option(label="Equipment")
    new.locator("button:has-text('Add line')").click()
    second = phone.locator("#cco-lines-table tr", has_text="Dewatering pump")
    expect(second).to_contain_text("New line")
    expect(second).to_contain_text("03-200 Reinforcing steel")
    expect(second).to_contain_text("Equipment")
    expect(second).to_contain_text("$750.25")
    expect(phone.locator("#cco-grand-total")).to_have_text("Grand total $2,250.25")
    _assert_no_page_load(phone, cco_url)
    expect(phone.locator("#review")).to_contain_text("Waiting for Rita Reviewer")

    phone.click("button:has-text('Log out')")
    phone.wait_for_url(re.compile(r".*/auth/login"))
    _login(phone, live_server, job.reviewer, cco_url)
    phone.fill("#review-comment", "Agreed on site with Summit.")
    phone.click("#review button:has-text('Approve')")
    phone.wait_for_url(cco_url)
    expect(phone.locator("#review .review-answer")).to_contain_text("Approved by Rita Reviewer")
    expect(phone.locator("#review .review-answer")).to_contain_text("Agreed on site with Summit.")
    expect(phone.locator("#cco-header div:has(dt:text-is('Status')) dd")).to_have_text(
        "Approved")
    expect(phone.locator("#review button")).to_have_count(0)  # decided once

    db.session.expire_all()
    assert db.session.get(ChangeOrder, cco_id).status == ChangeOrderStatus.APPROVED
    db.session.rollback()

    phone.goto(url)
    _expect_totals(phone, "$12,500.00", "$2,250.25", "$14,750.25")
    cco_row = phone.locator("#change-orders tbody tr", has_text="Deeper footings at grid C")
    expect(cco_row.locator("td[data-label=Status]")).to_have_text("Approved")
    expect(cco_row.locator("td[data-label=Amount]")).to_have_text("$2,250.25")


# ---- 3. fits a phone ---------------------------------------------------------------------------

def test_commitment_and_cco_pages_fit_a_phone_with_forms_open(live_server, phone, job,
                                                              factory):
    footings = db.session.get(SovLine, job.line_ids[0])
    cco = factory.change_order(footings.commitment, status="pending_in_review",
                               lines=[(footings, "480.00")], reviewer=job.reviewer,
                               creator=job.pm, title="Extra formwork at the elevator pit")
    cco_url = f"{job.commitment_url(live_server)}/change-orders/{cco.id}"
    cco_line_id = cco.lines[0].id
    url = job.commitment_url(live_server)
    _login(phone, live_server, job.pm, url)
    assert no_horizontal_scroll(phone), "commitment page"

    row = phone.locator(f"#sov-line-{job.line_ids[0]}")
    row.locator("a:has-text('Edit')").click()
    expect(row.locator("button:has-text('Save line 1')")).to_be_visible()
    assert no_horizontal_scroll(phone), "commitment page, SOV line 1 open"
    row.locator("input[name=amount]").fill("abc")
    row.locator("button:has-text('Save line 1')").click()
    expect(row.locator("p.error")).to_be_visible()
    assert no_horizontal_scroll(phone), "commitment page, SOV line 1 with an error"
    phone.locator("#commitment-header a:has-text('Edit')").click()
    expect(phone.locator("#commitment-header button:has-text('Save')")).to_be_visible()
    assert no_horizontal_scroll(phone), "commitment page, header form open"

    phone.goto(cco_url)
    assert no_horizontal_scroll(phone), "CCO page"
    line_row = phone.locator(f"#cco-line-{cco_line_id}")
    line_row.locator("a:has-text('Edit')").click()
    expect(line_row.locator("button:has-text('Save line')")).to_be_visible()
    assert no_horizontal_scroll(phone), "CCO page, line open"
    phone.locator("#cco-header a:has-text('Edit')").click()
    expect(phone.locator("#cco-header button:has-text('Save')")).to_be_visible()
    assert no_horizontal_scroll(phone), "CCO page, header form open"


# ---- 4. two people, one line -------------------------------------------------------------------

def test_second_save_of_the_same_sov_line_is_refused_and_keeps_the_typing(
        live_server, phone, second_phone, job):
    url = job.commitment_url(live_server)
    line_id = job.line_ids[0]
    _login(phone, live_server, job.pm, url)
    _login(second_phone, live_server, job.super_, url)

    first, second = _open_on_both(phone, second_phone, line_id, "10,000.00")
    first.locator("input[name=amount]").fill("11000")
    first.locator("button:has-text('Save line 1')").click()
    expect(first.locator("td[data-label=Amount]")).to_have_text("$11,000.00")
    _expect_totals(phone, "$13,500.00", "$0.00", "$13,500.00")

    second.locator("input[name=amount]").fill("12500")
    second.locator("button:has-text('Save line 1')").click()
    alert = second.locator("[role=alert]")
    expect(alert).to_contain_text("Pat Manager changed this at")
    expect(alert).to_contain_text("after you opened it")
    expect(second.locator("input[name=amount]")).to_have_value("12500")
    assert _sov_amount(line_id) == Decimal("11000.00")

    # Having read the message, a second Save is deliberate and goes through.
    second.locator("button:has-text('Save line 1')").click()
    expect(second.locator("td[data-label=Amount]")).to_have_text("$12,500.00")
    _expect_totals(second_phone, "$15,000.00", "$0.00", "$15,000.00")
    assert _sov_amount(line_id) == Decimal("12500.00")


def test_deleting_a_sov_line_someone_just_changed_is_refused_then_deliberate(
        live_server, phone, second_phone, job):
    """The Delete button sends the row's version with htmx: a stale delete says who changed
    the line and when; pressed again after reading that, it deletes."""
    url = job.commitment_url(live_server)
    line_id = job.line_ids[1]
    _login(phone, live_server, job.pm, url)
    _login(second_phone, live_server, job.super_, url)
    _mark_page(phone)
    first, second = _open_on_both(phone, second_phone, line_id, "2,500.00")
    second.locator("input[name=amount]").fill("3000")
    second.locator("button:has-text('Save line 2')").click()
    expect(second.locator("td[data-label=Amount]")).to_have_text("$3,000.00")

    phone.on("dialog", lambda dialog: dialog.accept())  # hx-confirm: "Delete line 2?"
    first.locator("button:has-text('Delete line')").click()
    alert = first.locator("[role=alert]")
    expect(alert).to_contain_text("Sam Super changed this at")
    expect(alert).to_contain_text("so it was not deleted")
    assert _sov_amount(line_id) == Decimal("3000.00")

    first.locator("button:has-text('Delete line')").click()
    expect(phone.locator(f"#sov-line-{line_id}")).to_have_count(0)
    _expect_totals(phone, "$10,000.00", "$0.00", "$10,000.00")
    assert _sov_amount(line_id) is None
    _assert_no_page_load(phone, url)


# ---- 5. text stays text ------------------------------------------------------------------------

def test_markup_in_a_cco_title_is_shown_as_text(live_server, phone, job):
    dialogs = []

    def refuse(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    phone.on("dialog", refuse)
    title = '<script>alert("title")</script><img src=x onerror=alert("img")>'
    url = job.commitment_url(live_server)
    _login(phone, live_server, job.pm, url)
    phone.locator("a:has-text('New change order')").click()
    phone.fill("#cco-title", title)
    phone.click("button:has-text('Create change order')")
    phone.wait_for_url(re.compile(r".*/change-orders/\d+$"))
    header = phone.locator("#cco-header")
    expect(header.locator("h1 small")).to_contain_text(title)
    assert header.locator("script, img").count() == 0

    # The header again, this time swapped in by htmx (which runs scripts it swaps in).
    header.locator("a:has-text('Edit')").click()
    expect(phone.locator("#cco-header #cco-title")).to_have_value(title)
    phone.fill("#cco-header #cco-description", "Scope unchanged.")
    phone.click("#cco-header button:has-text('Save')")
    expect(header.locator("p.description")).to_have_text("Scope unchanged.")
    expect(header.locator("h1 small")).to_contain_text(title)
    assert header.locator("script, img").count() == 0
    expect(phone.locator("#history")).to_contain_text(title)

    phone.goto(url)
    row = phone.locator("#change-orders tbody tr").first
    expect(row.locator("td[data-label=Title]")).to_have_text(title)
    assert row.locator("script, img").count() == 0
    assert dialogs == []



def test_find_reaches_a_cost_code_beyond_the_first_listed(live_server, phone, job, factory):
    """With more cost codes than the select lists, typing in Find fills it with the matches;
    Enter there finds, it does not add the line."""
    from workflow.reference import OFFERED

    for n in range(OFFERED + 20):
        factory.cost_code(f"{100 + n}-500", f"Trade {n:03d}")
    url = job.commitment_url(live_server)
    _login(phone, live_server, job.pm, url)
    _mark_page(phone)
    new = phone.locator("#sov-new")
    select = new.locator("select[name=cost_code_id]")
    expect(select.locator("option", has_text="Trade 115")).to_have_count(0)  # not listed
    new.locator("input[name=description]").fill("Glazing")
    find = new.get_by_label("Find cost code")
    find.fill("trade 115")
    find.press("Enter")
    expect(select.locator("option", has_text="Trade 115")).to_have_count(1)
    assert phone.locator("#sov-table tr", has_text="Glazing").count() == 0  # Enter added nothing
    select.select_option(label="215-500 Trade 115")
    new.locator("select[name=category_id]").select_option(label="Material")
    new.locator("input[name=amount]").fill("800")
    new.locator("button:has-text('Add line')").click()
    added = phone.locator("#sov-table tr", has_text="Glazing")
    expect(added).to_contain_text("215-500 Trade 115")
    _expect_totals(phone, "$13,300.00", "$0.00", "$13,300.00")
    _assert_no_page_load(phone, url)
    assert no_horizontal_scroll(phone)
