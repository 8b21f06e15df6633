"""On a phone, under the strict Content-Security-Policy: htmx and our scripts still run, nothing
inline is blocked, inputs do not make iOS zoom, and tap targets are big enough."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

TARGETS = """() => [...document.querySelectorAll(
    'main a, main button, main select, main input:not([type=hidden]), header a, header button,'
    + ' nav a')].filter(e => e.offsetParent !== null && !e.closest('p.hint, .description'))
    .map(e => ({what: e.outerHTML.slice(0, 80), h: e.getBoundingClientRect().height,
                w: e.getBoundingClientRect().width, font: parseFloat(getComputedStyle(e).fontSize),
                tag: e.tagName, type: e.type || ''}))"""


def _violations(page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security" in m.text
            else None)
    return messages


def _pages(people, factory):
    commitment = factory.commitment(people.project, sov=("1000.00",))
    cco = factory.change_order(commitment, status="pending_in_review",
                               lines=((commitment.sov_lines[0], "10.00"),))
    base = f"/projects/{people.project.id}/commitments/"
    return [base, f"{base}{commitment.id}", f"{base}{commitment.id}/change-orders/{cco.id}",
            "/erp/", f"/projects/{people.project.id}/change-events/"]


def test_the_htmx_fallback_and_our_script_run_under_the_policy(app, live_server, phone,
                                                                people, factory):
    app.config["HTMX_CDN"] = True  # the CDN is unreachable here: the fallback file loads it
    blocked = _violations(phone)
    log_in(phone, live_server, people.company_admin)
    phone.goto(f"{live_server}/projects/{people.project.id}/commitments/")
    assert phone.evaluate("typeof window.htmx") == "object"
    picker = phone.locator("#project-picker")
    picker.select_option(index=1)  # data-navigate, handled by static/js/app.js
    phone.wait_for_url(f"{live_server}/projects/{people.project.id}/**")
    assert blocked == []


def test_inputs_are_16px_and_tap_targets_44px_on_a_phone(live_server, phone, people, factory):
    blocked = _violations(phone)
    pages = _pages(people, factory)
    log_in(phone, live_server, people.company_admin)
    for path in pages:
        phone.goto(live_server + path)
        for target in phone.evaluate(TARGETS):
            if target["tag"] in ("INPUT", "SELECT", "TEXTAREA") and target["type"] != "checkbox":
                assert target["font"] >= 16, (path, target)
            if target["type"] != "checkbox":
                assert target["h"] >= 43.5, (path, target)
    assert blocked == []
