"""Changes made in QuickBooks, in a real browser: the drift lines on the commitment page and
the ERP admin's Acknowledge through htmx, on a phone and on a desktop."""

from __future__ import annotations

import os

from qbo_sandbox import DEMO_REALM_ID
from tests.browser.conftest import log_in, no_horizontal_scroll, phone_page
from tests.erp_fixtures import send_and_accept
from workflow import qbo_drift

SHOTS = os.environ.get("SHOTS_DIR")  # set it to keep screenshots (never in git)


def _shot(page, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def test_changes_made_in_quickbooks_are_shown_and_acknowledged(live_server, browser, people,
                                                               erp_commitment, approver,
                                                               sandbox):
    synced = send_and_accept(erp_commitment, people, approver)
    qbo_drift.poll()
    po_id = synced.qbo_purchase_order_id
    second = sandbox.get(DEMO_REALM_ID, "PurchaseOrder", po_id)["Line"][1]["Id"]
    sandbox.edit_purchase_order(DEMO_REALM_ID, po_id, lines={second: {"Amount": 97000}})
    sandbox.add_purchase_order_line(DEMO_REALM_ID, po_id, 350, description="Freight",
                                    account_id="81")
    qbo_drift.poll()
    url = f"{live_server}/projects/{synced.project_id}/commitments/{synced.id}"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    desk = context.new_page()
    log_in(desk, live_server, people.company_admin)
    desk.goto(f"{live_server}/erp/quickbooks-changes")
    assert desk.get_by_text("Freight $350.00 added in QuickBooks").is_visible()
    _shot(desk, "quickbooks-changes-1280.png")
    desk.goto(url + "#erp")
    _shot(desk, "commitment-drift-1280.png")
    context.close()
    with phone_page(browser) as phone:
        log_in(phone, live_server, people.company_admin)
        phone.goto(url + "#erp")
        changes = phone.locator(".drift-changes li")
        assert changes.count() == 2
        assert "ours $96,500.50, QuickBooks $97,000.00" in changes.first.inner_text()
        assert no_horizontal_scroll(phone)
        _shot(phone, "commitment-drift-375.png")
        phone.get_by_role("button", name="Acknowledge (keep QuickBooks' version)").click()
        phone.get_by_text("QuickBooks' own changes to this PurchaseOrder were acknowledged"
                          ).wait_for()
        assert phone.locator(".drift-changes li").count() == 0
        _shot(phone, "commitment-acknowledged-375.png")


def test_the_list_and_a_change_orders_page_say_quickbooks_differs(live_server, browser, people,
                                                                  erp_commitment, approver,
                                                                  sandbox, factory):
    """On a phone and a desktop: the commitments list's "Differs in QuickBooks" leads to the
    commitment page's drift summary, and a CCO's page shows its commitment's drift, with no
    sideways scrolling."""
    synced = send_and_accept(erp_commitment, people, approver)
    cco = factory.change_order(synced, status="approved", lines=((synced.sov_lines[0], "2500.00"),),
                               reviewer=people.project_admin)
    qbo_drift.poll()
    po_id = synced.qbo_purchase_order_id
    second = sandbox.get(DEMO_REALM_ID, "PurchaseOrder", po_id)["Line"][1]["Id"]
    sandbox.edit_purchase_order(DEMO_REALM_ID, po_id, lines={second: {"Amount": 97000}})
    qbo_drift.poll()
    base = f"{live_server}/projects/{synced.project_id}/commitments/"
    for size, viewport in (("375", {"width": 375, "height": 667}),
                           ("1280", {"width": 1280, "height": 900})):
        with phone_page(browser, viewport) as page:
            log_in(page, live_server, people.read_only)
            page.goto(base)
            mark = page.get_by_role("link", name="Differs in QuickBooks")
            assert mark.is_visible() and no_horizontal_scroll(page)
            _shot(page, f"commitments-differs-{size}.png")
            mark.click()
            page.wait_for_url(f"{base}{synced.id}#quickbooks-drift")
            assert page.locator("#quickbooks-drift .drift-changes li").count() == 1
            page.goto(f"{base}{synced.id}/change-orders/{cco.id}")
            drift = page.locator("#erp .drift")
            assert "Commitment SC-1042's PurchaseOrder" in drift.inner_text()
            assert "CCO #001 not sent" in drift.inner_text()
            assert no_horizontal_scroll(page)
            _shot(page, f"cco-drift-{size}.png")
