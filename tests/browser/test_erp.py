"""The approver on a phone: accept a commitment, see it Synced, see the PO in QuickBooks."""

from __future__ import annotations

import subprocess

import pytest
from playwright.sync_api import expect

from models import ErpPermission
from tests import qbo_helpers
from tests.browser.conftest import log_in, no_horizontal_scroll
from workflow import erp

pytestmark = pytest.mark.browser


@pytest.fixture
def ready(app, sandbox, people, factory):
    qbo_helpers.connect(people.company_admin)
    commitment = factory.commitment(people.project, vendor=factory.vendor("Summit Concrete Co."),
                                    number="SC-3001", title="Foundations",
                                    sov=("185000.00", "96500.00"))
    qbo_helpers.map_for(commitment)
    erp.send_to_erp(people.project_admin, commitment)
    approver = factory.user(name="Alex Approver", erp=ErpPermission.STANDARD, can_push=True)
    return commitment, approver


@pytest.fixture
def worker(app, tmp_path):
    """With REDIS_URL the export waits for a worker: run a real one for the test."""
    from jobs.queue import is_inline

    if is_inline():
        yield None
        return
    process = qbo_helpers.start_worker(app, app.config["REDIS_URL"], tmp_path / "worker.log")
    yield process
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:  # still finishing a job on a busy machine: end it whole
        from tests.processes import kill_whole

        kill_whole(process)


def test_approver_accepts_on_a_phone_and_sees_it_synced(live_server, phone, ready,
                                                        sandbox_server, worker):
    commitment, approver = ready
    log_in(phone, live_server, approver)
    phone.click("nav.tools >> text=ERP Integrations")
    card = phone.locator(f"#erp-commitments-{commitment.id}")
    expect(card).to_contain_text("Ready to Export")
    expect(card).to_contain_text("$281,500.00")
    assert no_horizontal_scroll(phone)
    card.locator("button.accept").click()
    expect(card).to_contain_text("to QuickBooks PurchaseOrder")
    card.locator("button:has-text('Confirm Accept')").click()
    expect(card.locator(".ribbon")).to_have_text("Synced", timeout=15_000)
    expect(card).to_contain_text("In QuickBooks as PurchaseOrder")
    phone.goto(sandbox_server.base_url + "/")
    expect(phone.locator("body")).to_contain_text("SC-3001")
    expect(phone.locator("body")).to_contain_text("1. Line 1")


def test_reject_needs_a_reason_on_the_phone(live_server, phone, ready):
    commitment, approver = ready
    log_in(phone, live_server, approver)
    phone.goto(f"{live_server}/erp/")
    card = phone.locator(f"#erp-commitments-{commitment.id}")
    card.locator("button.reject").click()  # opens the reason in place
    expect(card.locator("textarea")).to_be_focused()
    card.locator("button:has-text('Reject with this reason')").click()
    expect(card).to_contain_text("Say why, so the project manager can correct it.")
    card.locator("textarea").fill("Wrong cost code on line 2")
    card.locator("button:has-text('Reject with this reason')").click()
    expect(card.locator(".ribbon")).to_have_text("Rejected")
    expect(card).to_contain_text("Rejected: Wrong cost code on line 2")


def test_a_card_the_pm_sends_appears_in_the_open_inbox_without_a_reload(
        live_server, browser, phone, ready, people, factory):
    """Two people on two phones: the approver's inbox is open; the project manager presses
    Send to ERP on another commitment; its card appears in the inbox by itself."""
    from tests.browser.conftest import PHONE

    commitment, approver = ready
    second = factory.commitment(people.project, vendor=commitment.vendor, number="SC-3002",
                                title="Slab", sov=("42000.00",))
    qbo_helpers.map_for(second)
    log_in(phone, live_server, approver)
    phone.goto(f"{live_server}/erp/")
    expect(phone.locator(f"#erp-commitments-{commitment.id}")).to_be_visible()
    expect(phone.locator(f"#erp-commitments-{second.id}")).to_have_count(0)
    phone.evaluate("window.__not_reloaded = true")

    pm = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    pm.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())
    log_in(pm, live_server, people.project_admin)
    pm.goto(f"{live_server}/projects/{people.project.id}/commitments/{second.id}")
    pm.locator("#erp button:has-text('Send to ERP')").click()
    expect(pm.locator("#erp")).to_contain_text("Ready to Export")

    expect(phone.locator(f"#erp-commitments-{second.id}")).to_be_visible(timeout=25_000)
    assert phone.evaluate("window.__not_reloaded") is True  # the same page, not reloaded
    expect(phone.locator("#count-ready_to_export")).to_have_text("2")
