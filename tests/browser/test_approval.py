"""On a phone: the project manager changes an approved CCO's amount, and the page says at once
that the approval is withdrawn (header, review box, ERP panel), without a reload.

With SHOTS_DIR set, the CCO page is photographed approved and withdrawn at 375 and 1280 px."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from extensions import db
from models import ChangeOrder, ChangeOrderLine, ChangeOrderStatus, ProjectRole
from tests.browser.conftest import no_horizontal_scroll
from tests.conftest import PASSWORD
from tests.erp_fixtures import send_and_accept
from workflow.change_orders import review

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOTS_DIR")


@pytest.fixture
def approved(app, factory, people, erp_commitment, approver):
    """CCO #001 of SC-1042, approved by Sam Ortiz for $3,550.50 (two lines)."""
    commitment = send_and_accept(erp_commitment, people, approver)
    sam = factory.user(name="Sam Ortiz", email="sam.ortiz@example.com")
    factory.member(people.project, sam, ProjectRole.STANDARD)
    sov1, sov2 = commitment.sov_lines
    cco = factory.change_order(commitment, status="pending_in_review", reviewer=sam,
                               lines=((sov1, "1150.50"), (sov2, "2400.00")),
                               title="Footing at grid C-4")
    review(sam, cco, approve=True, comment="OK per RFI 14", version=cco.version)
    url = (f"/projects/{commitment.project_id}/commitments/{commitment.id}"
           f"/change-orders/{cco.id}")
    return cco.id, url, people.project_admin


def _login(page, base, user, path):
    page.goto(f"{base}/auth/login?next={path}")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(base + path)


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
        for part in ("#cco-header", "#review", "#erp"):
            page.locator(part).screenshot(path=os.path.join(SHOTS, f"{name}-{part[1:]}.png"))


def _withdraw_on(page, base, approved, suffix):
    cco_id, path, pm = approved
    _login(page, base, pm, path)
    header = page.locator("#cco-header")
    expect(header.locator("#cco-status-fact")).to_have_text("Approved")
    expect(page.locator("#erp")).to_contain_text("Approved by Sam Ortiz on")
    expect(page.locator("#erp")).to_contain_text("for $3,550.50")
    _shot(page, f"cco-approved-{suffix}")
    page.evaluate("window.__marker = 1")

    db.session.expire_all()
    line_id = db.session.get(ChangeOrder, cco_id).lines[1].id
    db.session.rollback()
    row = page.locator(f"#cco-line-{line_id}")
    row.locator("a:has-text('Edit')").click()
    row.locator("input[name=amount]").fill("2600.00")
    row.locator("button:has-text('Save line')").click()
    expect(page.locator(f"#cco-line-{line_id}")).to_contain_text("$2,600.00")

    # the header, the review box and the ERP panel say so, with no reload
    expect(header.locator("#cco-status-fact")).to_have_text("Pending – Revised")
    expect(page.locator("#review")).to_contain_text("line 2 $2,400.00 → $2,600.00")
    expect(page.locator("#erp")).to_contain_text(
        "The change order must be Approved (it is Pending – Revised).")
    expect(page.locator("#erp")).not_to_contain_text("Approved by Sam Ortiz")
    expect(page.locator("#erp button:has-text('Send to ERP')")).to_be_disabled()
    assert page.evaluate("window.__marker") == 1
    assert no_horizontal_scroll(page)
    _shot(page, f"cco-withdrawn-{suffix}")

    db.session.expire_all()
    cco = db.session.get(ChangeOrder, cco_id)
    assert cco.status == ChangeOrderStatus.PENDING_REVISED
    assert db.session.get(ChangeOrderLine, line_id).amount == Decimal("2600.00")
    db.session.rollback()


def test_a_changed_amount_withdraws_the_approval_in_place_on_a_phone(live_server, phone,
                                                                      approved):
    _withdraw_on(phone, live_server, approved, "375")


def test_a_changed_amount_withdraws_the_approval_in_place_on_a_desktop(live_server, browser,
                                                                        approved):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())
    try:
        _withdraw_on(page, live_server, approved, "1280")
    finally:
        context.close()
