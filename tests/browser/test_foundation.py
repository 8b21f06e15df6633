"""A person on a phone: logging in, the navigation, inline editing with htmx."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from models import ErpPermission
from tests.browser.conftest import log_in, no_horizontal_scroll

pytestmark = pytest.mark.browser


def test_login_with_a_wrong_password_then_the_right_one(live_server, phone, people):
    phone.goto(f"{live_server}/auth/login")
    phone.fill("#email", people.read_only.email)
    phone.fill("#password", "wrong")
    phone.click("button:has-text('Log in')")
    expect(phone.locator("text=That email and password do not match")).to_be_visible()
    log_in(phone, live_server, people.read_only)
    assert phone.locator("h1").inner_text() == "Your projects"
    assert no_horizontal_scroll(phone)


def test_tools_bar_sits_at_the_bottom_on_a_phone(live_server, phone, people):
    log_in(phone, live_server, people.company_admin)
    phone.locator("main a", has_text=people.project.name).click()
    nav = phone.locator("nav.tools")
    box = nav.bounding_box()
    assert box["y"] + box["height"] == pytest.approx(740, abs=1)
    assert [a.strip() for a in nav.locator("a").all_inner_texts()] == [
        "Commitments", "Change Events", "ERP Integrations", "Admin"]
    assert no_horizontal_scroll(phone)


def test_inline_edit_with_htmx_from_the_local_fallback(live_server, phone, factory):
    admin = factory.user(is_company_admin=True, erp=ErpPermission.ADMIN, can_push=True)
    vendor = factory.vendor("Summit Concrete Co.")
    log_in(phone, live_server, admin)
    phone.goto(f"{live_server}/admin/vendors")
    assert phone.evaluate("typeof window.htmx") == "object"
    row = phone.locator(f"#vendors-{vendor.id}")
    row.locator("text=Edit").click()
    name = row.locator("input[name=name]")
    name.fill("")
    row.locator("button:has-text('Save')").click()
    expect(row.locator("text=Enter a name.")).to_be_visible()  # 422 partial swapped in place
    name.fill("Summit Concrete Company")
    row.locator("button:has-text('Save')").click()
    row.locator("td", has_text="Summit Concrete Company").wait_for()
    assert phone.url == f"{live_server}/admin/vendors"  # no page load happened
    assert no_horizontal_scroll(phone)


def test_admin_pages_fit_a_phone(live_server, phone, people):
    log_in(phone, live_server, people.company_admin)
    for path in ("/admin/users", "/admin/cost-codes",
                 f"/admin/projects/{people.project.id}/members"):
        phone.goto(live_server + path)
        assert no_horizontal_scroll(phone), path


def test_logout_button(live_server, phone, people):
    log_in(phone, live_server, people.standard)
    phone.click("button:has-text('Log out')")
    phone.wait_for_url(f"{live_server}/auth/login")
    expect(phone.locator("text=You have logged out.")).to_be_visible()
