"""The approver's card on a 375x667 touch phone, measured: the first card's Accept and Reject
on the first screen and big enough for a thumb, Accept filled in the accent colour, the
confirmation inside the viewport, nothing wider than the screen, Back after a bulk Accept,
and an Exporting card that asks less and less often, and not at all while the tab is hidden."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from extensions import db
from models import ErpStatus
from tests import qbo_helpers
from tests.browser.conftest import log_in, phone_page
from workflow import erp

pytestmark = pytest.mark.browser

SMALL_PHONE = {"width": 375, "height": 667}
ACCENT = "rgb(31, 95, 191)"  # --accent in static/css/app.css


def small_phone(browser):
    """A 375 x 667 phone (the smallest the card is made for), its own session."""
    return phone_page(browser, SMALL_PHONE)


@pytest.fixture
def waiting(people, factory, connected, approver):
    """Two commitments Ready to Export, with a long title and a vendor written right to left."""
    made = []
    for number, title, vendor, amounts in (
            ("SC-1042", "Cast-in-place concrete for the north tower podium",
             "בטון הצפון בע״מ", ("185000.00", "96500.50")),
            ("SC-1043", "Slab on grade", "Summit Concrete Co.", ("3550.50",))):
        record = factory.commitment(people.project, vendor=factory.vendor(vendor), number=number,
                                    title=title, sov=amounts)
        qbo_helpers.map_for(record)
        erp.send_to_erp(people.project_admin, record)
        made.append(record)
    return made


def _usable_bottom(page) -> float:
    """The bottom of what a thumb can reach: the viewport less the fixed bottom bar."""
    return page.evaluate("""() => {
        const bar = document.querySelector('nav.tools');
        const fixed = bar && getComputedStyle(bar).position === 'fixed';
        return fixed ? bar.getBoundingClientRect().top : window.innerHeight;
    }""")


def _inside(box: dict, page) -> bool:
    return (box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= SMALL_PHONE["width"]
            and box["y"] + box["height"] <= _usable_bottom(page))


def _too_wide(page) -> list[str]:
    """Every shown element that reaches past the right edge (or is wider than the screen)."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const found = [];
        for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 || r.right <= 0 || getComputedStyle(el).visibility === 'hidden')
                continue;  // not shown, or put off-screen on purpose (skip link, table heads)
            if (r.right > width + 0.5 || r.width > width + 0.5)
                found.push(el.tagName + (el.id ? '#' + el.id : '') + ' ' + Math.round(r.right));
        }
        return found;
    }""")


def test_the_first_card_decides_on_the_first_screen(live_server, browser, waiting, approver):
    with small_phone(browser) as page:
        log_in(page, live_server, approver)
        page.goto(f"{live_server}/erp/")
        card = page.locator("article.erp-card").first
        accept, reject = card.locator("button.accept"), card.locator("button.reject")
        expect(accept).to_have_text("Accept $281,500.50")
        for button in (accept, reject):
            box = button.bounding_box()
            assert box["width"] >= 44 and box["height"] >= 44, box
            assert _inside(box, page), (box, _usable_bottom(page))
        assert accept.evaluate("b => getComputedStyle(b).backgroundColor") == ACCENT
        assert accept.evaluate("b => getComputedStyle(b).color") == "rgb(255, 255, 255)"
        assert _too_wide(page) == []
        # the Select box is labelled and comes after the decision, not before it
        select = card.get_by_role("checkbox", name=re.compile(r"^\s*Select "))
        assert select.bounding_box()["y"] > accept.bounding_box()["y"]

        accept.tap()
        confirmation = card.locator(".confirm-panel")
        expect(confirmation).to_be_visible()
        expect(confirmation).to_contain_text(
            "Export $281,500.50 to QuickBooks PurchaseOrder SC-1042 (בטון הצפון בע״מ)?")
        page.wait_for_timeout(300)  # scrolled into view
        assert _inside(confirmation.bounding_box(), page), confirmation.bounding_box()
        confirm = confirmation.locator("button:has-text('Confirm Accept')")
        box = confirm.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
        assert confirm.evaluate("b => getComputedStyle(b).backgroundColor") == ACCENT
        assert _too_wide(page) == []

        reject.tap()  # the reason opens in place of the confirmation
        expect(confirmation).to_be_hidden()
        expect(card.locator("textarea")).to_be_focused()
        assert _too_wide(page) == []


def test_the_preview_labels_its_columns_on_a_phone(live_server, browser, people, factory,
                                                   approver, erp_commitment):
    from tests.erp_fixtures import send_and_accept

    synced = send_and_accept(erp_commitment, people, approver)
    cco = factory.change_order(synced, status="approved",
                               lines=((synced.sov_lines[0], "3550.50"),))
    erp.send_to_erp(people.project_admin, cco)
    with small_phone(browser) as page:
        log_in(page, live_server, approver)
        page.goto(f"{live_server}/erp/change-orders/{cco.id}")
        page.locator("summary:has-text('QuickBooks preview')").tap()
        row = page.locator(".preview-lines tbody tr").first
        labels = row.locator("td").evaluate_all(
            "tds => tds.map(td => getComputedStyle(td, '::before').content)")
        assert labels == ['"PO line: "', '"Now: "', '"Change: "', '"After: "']
        expect(row).to_contain_text("$185,000.00")
        assert _too_wide(page) == []


def test_back_after_a_bulk_accept(live_server, browser, waiting, approver):
    with small_phone(browser) as page:
        log_in(page, live_server, approver)
        page.goto(f"{live_server}/erp/")
        for card in page.locator("article.erp-card").all():
            card.get_by_role("checkbox", name=re.compile(r"^\s*Select ")).check()
        bulk = page.locator("form.bulk button")
        assert _inside(bulk.bounding_box(), page)  # it stays in view once a card is selected
        bulk.tap()
        expect(page.locator("h1")).to_have_text("Accept 2 into QuickBooks?")
        page.locator("button:has-text('Confirm Accept of 2')").tap()
        expect(page.locator("h1")).to_have_text("Accepted")
        assert "/erp/accepted?" in page.url
        response = page.go_back()  # no "Confirm Form Resubmission", no ERR_CACHE_MISS
        assert response is None or response.ok
        expect(page.locator("h1")).to_have_text("Accept 2 into QuickBooks?")
        expect(page.locator("body")).to_contain_text("it will be left alone")
        page.go_forward()
        expect(page.locator("h1")).to_have_text("Accepted")


def test_an_exporting_card_backs_off_and_rests_while_hidden(live_server, browser, people,
                                                            factory, approver):
    record = factory.commitment(people.project, number="SC-1050", sov=("100.00",))
    record.erp_status = ErpStatus.EXPORTING
    db.session.commit()
    with small_phone(browser) as page:
        # The page's clock is Playwright's: its timers fire as the test moves the time on, so
        # the 18 s of backing off and resting take no wall time. Each ask falls due exactly
        # (nothing the millisecond before it).
        log_in(page, live_server, approver)
        page.clock.install(time=0)
        page.clock.pause_at(60)  # (seconds) from here the time moves only as the test says
        asked = []
        page.on("request", lambda r: asked.append(r.url) if "/card" in r.url else None)
        # Each ask as the page makes it (the card's erp-poll event) at the page's time: read
        # at once, unlike network requests, whose reports may come a moment later.
        page.add_init_script("""window.polls = [];
            document.addEventListener("erp-poll", () => window.polls.push(Date.now()), true);""")
        page.goto(f"{live_server}/erp/?tab=exporting")
        page.wait_for_selector('[data-poll-after="1"][data-polling]', state="attached")
        for after, wait in ((1, 2), (2, 4), (4, 8)):  # asks at 1 s, 3 s and 7 s, not eight
            page.clock.run_for(after * 1000 - 1)
            with page.expect_request(lambda r: "/card" in r.url):
                page.clock.run_for(1)
            page.wait_for_selector(f'[data-poll-after="{wait}"][data-polling]', state="attached")
        assert [re.search(r"wait=(\d+)", url).group(1) for url in asked] == ["2", "4", "8"]
        assert page.evaluate("window.polls") == [61_000, 63_000, 67_000]  # ms: 1, 3, 7 s in
        asked.clear()
        page.evaluate("""() => {
            Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""")
        page.clock.run_for(9_000)  # the 8 s ask falls due while hidden: nothing
        assert page.evaluate("window.polls.length") == 3
        with page.expect_request(lambda r: "/card" in r.url):
            page.evaluate("""() => {
                Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
                document.dispatchEvent(new Event('visibilitychange'));
            }""")
        assert page.evaluate("window.polls.length") == 4
        assert len(asked) == 1  # back in view: one ask at once
