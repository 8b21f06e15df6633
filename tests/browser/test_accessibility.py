"""axe-core (vendored from npm `axe-core`, MPL-2.0, under tests/browser/vendor/, for tests
only) on the main pages, at phone size, for each role: no violations."""

from __future__ import annotations

from pathlib import Path

import pytest

from models import ErpPermission, ErpStatus
from tests.browser.conftest import PHONE, log_in

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"


def _axe(page) -> list[dict]:
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return result


def _pages(people, factory):
    commitment = factory.commitment(people.project, sov=("1000.00",))
    sent = factory.commitment(people.project, sov=("500.00",))
    sent.erp_status = ErpStatus.READY_TO_EXPORT
    cco = factory.change_order(commitment, status="pending_in_review",
                               reviewer=people.project_admin,
                               lines=((commitment.sov_lines[0], "10.00"),))
    ce = factory.change_event(people.project)
    factory.change_event_line(ce, commitment=commitment, cost_rom="25.00")
    p = people.project.id
    return {
        "projects": "/",
        "commitments": f"/projects/{p}/commitments/",
        "commitment": f"/projects/{p}/commitments/{commitment.id}",
        "cco": f"/projects/{p}/commitments/{commitment.id}/change-orders/{cco.id}",
        "change events": f"/projects/{p}/change-events/",
        "change event": f"/projects/{p}/change-events/{ce.id}",
        "new commitment": f"/projects/{p}/commitments/new",
        "new change order": f"/projects/{p}/commitments/{commitment.id}/change-orders/new",
        "inbox": "/erp/",
        "inbox, exporting": "/erp/?tab=exporting",
        "card page": f"/erp/commitments/{sent.id}",
        "card page, Accept open": f"/erp/commitments/{sent.id}?open=accept",
        "card page, Reject open": f"/erp/commitments/{sent.id}?open=reject",
        "accept selected": f"/erp/accept-selected?selected=commitments:{sent.id}",
        "ERP settings": "/erp/settings",
        "email settings": "/account/notifications",
        "mail outbox": "/mail/outbox",
        "admin": "/admin/",
        "users": "/admin/users",
        "projects admin": "/admin/projects",
        "vendors": "/admin/vendors",
        "cost codes": "/admin/cost-codes",
        "members": f"/admin/projects/{p}/members",
        "system": "/system/",
    }


@pytest.fixture
def phone(browser):
    """A phone whose page may take axe's script: the app's CSP (rightly) refuses injected ones.
    The browser loads axe into every page itself (an init script), rather than the test
    sending its half megabyte again for each page."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, bypass_csp=True)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


ROLES = ("read_only", "standard", "project_admin", "company_admin", "approver")


@pytest.mark.parametrize("role", ROLES)
def test_no_axe_violations_on_the_main_pages(live_server, phone, people, factory, role):
    from extensions import db

    pages = _pages(people, factory)
    db.session.commit()
    if role == "approver":
        user = factory.user(name="Alex Approver", erp=ErpPermission.STANDARD, can_push=True)
    else:
        user = people.by_role(role)
    found = {}
    phone.goto(f"{live_server}/auth/login")
    found["login"] = _axe(phone)
    log_in(phone, live_server, user)
    for name, path in pages.items():
        response = phone.goto(live_server + path)
        if response.status != 200:
            continue  # a page this role may not open
        violations = _axe(phone)
        if violations:
            found[name] = violations
    found = {k: v for k, v in found.items() if v}
    assert found == {}, found
