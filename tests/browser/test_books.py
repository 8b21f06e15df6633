"""Starting from real books in the browser, on a phone and on a desk: link a commitment to the
bookkeeper's purchase order and Accept it; import purchase orders. Screenshots go to
``$SHOTS_DIR`` when it is set (to look at them; never into git)."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from extensions import db
from models import Commitment, ErpStatus
from tests import qbo_helpers
from tests.browser.conftest import log_in, no_horizontal_scroll
from tests.browser.test_erp import worker  # noqa: F401 (the fixture: a real worker with Redis)
from tests.qbo_helpers import DEMO_REALM

pytestmark = pytest.mark.browser

SIZES = {"phone": {"viewport": {"width": 375, "height": 667}, "is_mobile": True,
                   "has_touch": True, "device_scale_factor": 2},
         "desk": {"viewport": {"width": 1280, "height": 900}}}


@pytest.fixture(params=sorted(SIZES))
def page(request, browser):
    context = browser.new_context(**SIZES[request.param])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())
    page.size_name = request.param
    yield page
    context.close()


def shot(page, name: str) -> None:
    directory = os.environ.get("SHOTS_DIR")
    if directory:
        page.screenshot(path=f"{directory}/{name}-{page.size_name}.png", full_page=True)


def _line(amount, description, item="11", customer="2"):
    return {"DetailType": "ItemBasedExpenseLineDetail", "Amount": amount,
            "Description": description,
            "ItemBasedExpenseLineDetail": {"ItemRef": {"value": item}, "Qty": 1,
                                           "UnitPrice": amount,
                                           "CustomerRef": {"value": customer}}}


@pytest.fixture
def books(app, sandbox, people, factory):
    qbo_helpers.connect(people.company_admin)
    commitment = factory.commitment(people.project, vendor=factory.vendor("Summit Concrete Co."),
                                    number="SC-3100", title="Foundations",
                                    sov=("185000.00", "96500.00"))
    qbo_helpers.map_for(commitment)
    existing = sandbox.add_purchase_order(
        DEMO_REALM, "56", [_line(185000.0, "Foundations and footings"),
                           _line(90000.0, "Slab on grade"), _line(2400.0, "Pump truck")],
        doc_number="SC-3100", memo="Signed 3 March")
    to_import = [sandbox.add_purchase_order(DEMO_REALM, "56", [_line(1200.0 * n, f"Curbs {n}")],
                                            doc_number=f"PO-31{n:02d}") for n in (1, 2)]
    return commitment, existing, to_import


def test_link_then_accept(live_server, page, books, people, sandbox, worker):  # noqa: F811
    commitment, existing, _ = books
    admin = people.company_admin  # ERP admin, Can Push, project admin
    log_in(page, live_server, admin)
    page.goto(f"{live_server}/projects/{commitment.project_id}/commitments/{commitment.id}")
    page.click("text=Link to a QuickBooks purchase order")
    expect(page.locator("main")).to_contain_text("PurchaseOrder SC-3100")
    expect(page.locator("main")).to_contain_text("Pump truck")
    shot(page, "link-1-choose")
    page.click("text=Match its lines")
    first = commitment.sov_lines[0]
    expect(page.locator(f"#line-{first.id}")).to_have_value(existing["Line"][0]["Id"])
    page.select_option(f"#line-{commitment.sov_lines[1].id}", existing["Line"][1]["Id"])
    assert no_horizontal_scroll(page)
    shot(page, "link-2-match")
    page.click("button:has-text('Link to PurchaseOrder SC-3100')")
    expect(page.locator("#erp")).to_contain_text("Linked to QuickBooks PurchaseOrder SC-3100")
    shot(page, "link-3-linked")
    page.click("#erp button:has-text('Send to ERP')")
    expect(page.locator("#erp .ribbon")).to_have_text("Ready to Export")
    page.goto(f"{live_server}/erp/")
    card = page.locator(f"#erp-commitments-{commitment.id}")
    card.locator("summary:has-text('QuickBooks preview')").click()
    expect(card.locator("table.preview-lines")).to_contain_text("90,000.00")
    expect(card.locator("table.preview-lines")).to_contain_text("96,500.00")
    assert no_horizontal_scroll(page)
    shot(page, "link-4-card-preview")
    card.locator("button.accept").click()  # opens the confirmation: what goes where
    card.locator(".confirm-panel button:has-text('Confirm Accept')").click()
    expect(card.locator(".ribbon")).to_have_text("Synced", timeout=15_000)
    shot(page, "link-5-synced")
    pos = sandbox.purchase_orders(DEMO_REALM)
    assert len(pos) == 3  # the linked one and the two to import: none created
    po = sandbox.get(DEMO_REALM, "PurchaseOrder", existing["Id"])
    assert Decimal(str(po["TotalAmt"])) == Decimal("185000.00") + Decimal("96500.00") + 2400
    assert po["Memo"] == "Signed 3 March"


def test_import(live_server, page, books, people):
    _, _, to_import = books
    log_in(page, live_server, people.company_admin)
    page.goto(f"{live_server}/erp/")
    page.click("text=Import POs")
    page.select_option("#import-project", str(people.project.id))
    page.click("button:has-text('Show')")
    expect(page.locator("main")).to_contain_text("PurchaseOrder PO-3101")
    expect(page.locator("main")).to_contain_text("PurchaseOrder SC-3100")
    assert no_horizontal_scroll(page)
    shot(page, "import-1-list")
    for po in to_import:
        page.check(f"input[name=po][value='{po['Id']}']")
        for line in po["Line"]:
            select = page.locator(f"#choice-{po['Id']}-{line['Id']}")
            if select.count():  # item 11 maps to several cost codes here: asked for
                select.select_option(index=1)
    shot(page, "import-2-chosen")
    page.click("button:has-text('Import chosen')")
    expect(page.locator("main")).to_contain_text("PurchaseOrder PO-3101: imported as commitment")
    expect(page.locator("main")).to_contain_text("PurchaseOrder PO-3102: imported as commitment")
    assert no_horizontal_scroll(page)
    shot(page, "import-3-done")
    db.session.expire_all()
    imported = db.session.query(Commitment).filter(
        Commitment.number.in_(["PO-3101", "PO-3102"])).all()
    assert len(imported) == 2 and all(c.erp_status == ErpStatus.SYNCED for c in imported)
