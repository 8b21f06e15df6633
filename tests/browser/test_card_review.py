"""The approver's card and inbox as an approver on a 375 x 667 phone finds them after logging in:
a change order's card (with its "Approved by … for $…") deciding on the first screen with its
amount above everything else, the five statuses on one line, focus never under the bottom bar,
an empty reason answered next to the field with the keyboard still there, counts that agree
after the page updates itself, and long names, big and negative amounts that fit."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import expect

from extensions import db
from models import ErpStatus
from tests import qbo_helpers
from tests.browser.conftest import log_in, phone_page
from tests.browser.test_approver_card import SMALL_PHONE, _inside, _too_wide, _usable_bottom
from tests.erp_fixtures import send_and_accept
from workflow import erp

pytestmark = pytest.mark.browser

DESK = {"width": 1280, "height": 800}
VENDOR_60 = "Northwest Precision Architectural Metals & Glazing Systems I"
TITLE_100 = ("Structural steel, miscellaneous metals, curtain wall anchors and embeds for the "
             "north tower podium l")

# Every word of the visible text under ``root`` that is split over two lines (cut mid-word).
_WORDS_CUT = """root => {
    const cut = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const shown = node.parentElement.getBoundingClientRect();
        if (shown.width <= 1 || shown.height <= 1) continue;  // visually hidden text
        for (const word of node.textContent.matchAll(/\\S+/g)) {
            const range = document.createRange();
            range.setStart(node, word.index);
            range.setEnd(node, word.index + word[0].length);
            const lines = new Set([...range.getClientRects()].filter(r => r.width > 0)
                                  .map(r => Math.round(r.top)));
            if (lines.size > 1) cut.push(word[0]);
        }
    }
    return cut;
}"""


def _sent_cco(people, factory, approver, commitment, amounts, title="Added footing at grid C-4"):
    """An Approved CCO (the reviewer's approval on record) of a Synced commitment, sent to ERP."""
    synced = send_and_accept(commitment, people, approver)
    lines = tuple(zip(synced.sov_lines, amounts, strict=True))
    cco = factory.change_order(synced, status="approved", reviewer=people.project_admin,
                               title=title, lines=lines)
    erp.send_to_erp(people.project_admin, cco)
    return cco


@pytest.fixture
def long_cco(people, factory, connected, approver):
    """CCO #001 of SC-1099 (a 60-character vendor), $8,030.00, Ready to Export."""
    record = factory.commitment(people.project, vendor=factory.vendor(VENDOR_60),
                                number="SC-1099", title="Cast-in-place concrete",
                                sov=("185000.00", "96500.50"))
    qbo_helpers.map_for(record)
    return _sent_cco(people, factory, approver, record, ("5430.00", "2600.00"))


def test_a_change_orders_card_decides_on_the_first_screen(live_server, browser, long_cco,
                                                          approver):
    with phone_page(browser, SMALL_PHONE) as page:
        log_in(page, live_server, approver)
        assert page.url == f"{live_server}/erp/"  # the approver lands on the inbox
        card = page.locator("article.erp-card").first
        expect(card.locator("> .approved-by")).to_have_text(
            re.compile(r"^Approved by .+ on \d{4}-\d\d-\d\d for \$8,030\.00$"))
        amount = card.locator(".amount")
        expect(amount).to_contain_text(f"$8,030.00 changes PurchaseOrder SC-1099 · {VENDOR_60}")
        # the amount and what it changes come before everything else on the card
        assert amount.bounding_box()["y"] < card.locator("h2").bounding_box()["y"]
        accept, reject = card.locator("button.accept"), card.locator("button.reject")
        expect(accept).to_have_text("Accept $8,030.00")
        for button in (accept, reject):
            box = button.bounding_box()
            assert box["width"] >= 44 and box["height"] >= 44, box
            assert _inside(box, page), (box, _usable_bottom(page))  # not under the bottom bar
        assert _too_wide(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_the_five_statuses_take_one_line_at_375(live_server, browser, long_cco, approver):
    with phone_page(browser, SMALL_PHONE) as page:
        log_in(page, live_server, approver)
        tabs = page.locator(".inbox-counts a")
        expect(tabs).to_have_count(5)
        texts = [re.sub(r"\s+", " ", t).strip() for t in tabs.all_inner_texts()]
        assert texts == ["Ready to Export 1", "Exporting 0", "Failed to Export 0", "Rejected 0",
                         "Synced 1"]
        boxes = [tab.bounding_box() for tab in tabs.all()]
        assert len({round(box["y"]) for box in boxes}) == 1, boxes  # one line
        for box in boxes:
            assert box["width"] >= 44 and box["height"] >= 44, box
        for box, after in itertools.pairwise(boxes):  # side by side, not overlapping
            assert box["x"] + box["width"] <= after["x"], (box, after)
        assert page.locator(".inbox-counts").evaluate(_WORDS_CUT) == []
        assert _too_wide(page) == []


def test_focus_never_lands_under_the_bottom_bar(live_server, browser, long_cco, approver,
                                                people, factory):
    second = factory.commitment(people.project, number="SC-1100", sov=("3550.50",))
    qbo_helpers.map_for(second)
    erp.send_to_erp(people.project_admin, second)
    with phone_page(browser, SMALL_PHONE) as page:
        log_in(page, live_server, approver)
        card = page.locator("article.erp-card").nth(1)
        heading, accept = card.locator("h2 a"), card.locator("button.accept")
        # The card's heading in view, its Accept just inside the screen's bottom, where the
        # bar covers it: Tab from the heading to Accept.
        page.evaluate("el => window.scrollBy(0, el.getBoundingClientRect().top - 630)",
                      accept.element_handle())
        heading.evaluate("a => a.focus({preventScroll: true})")
        page.keyboard.press("Tab")
        expect(accept).to_be_focused()
        assert _inside(accept.bounding_box(), page), (accept.bounding_box(),
                                                      _usable_bottom(page))


def test_an_empty_reason_by_keyboard(live_server, browser, long_cco, approver):
    with phone_page(browser, SMALL_PHONE) as page:
        log_in(page, live_server, approver)
        card = page.locator("article.erp-card").first
        card.locator("button.reject").focus()
        page.keyboard.press("Enter")  # the reason opens in place, ready to type
        reason = card.locator("textarea")
        expect(reason).to_be_focused()
        page.keyboard.press("Tab")
        expect(card.locator("button:has-text('Reject with this reason')")).to_be_focused()
        page.keyboard.press("Enter")
        error = card.locator(".error")
        expect(error).to_have_text("Say why, so the project manager can correct it.")
        field, message = reason.bounding_box(), error.bounding_box()
        assert 0 <= message["y"] - (field["y"] + field["height"]) <= 24  # right under it
        # the keyboard is still in the reason, which names the message, not lost to the page
        expect(reason).to_be_focused()
        expect(reason).to_have_attribute("aria-describedby", error.get_attribute("id"))
        expect(card.locator(".ribbon")).to_have_text("Ready to Export")
        db.session.expire_all()
        assert long_cco.erp_status == ErpStatus.READY_TO_EXPORT


def test_counts_agree_after_the_page_updates_itself(live_server, browser, long_cco, approver,
                                                    people, factory):
    with phone_page(browser, DESK) as page:
        log_in(page, live_server, approver)
        expect(page.locator("article.erp-card")).to_have_count(1)
        arrived = factory.commitment(people.project, number="SC-1101", title="Rebar",
                                     sov=("3550.50",))
        qbo_helpers.map_for(arrived)
        erp.send_to_erp(people.project_admin, arrived)
        # no reload: the inbox asks every 10 s
        expect(page.locator("article.erp-card")).to_have_count(2, timeout=20_000)
        expect(page.locator(f"#erp-commitments-{arrived.id}")).to_contain_text(
            "Accept $3,550.50")
        expect(page.locator("#count-ready_to_export")).to_have_text("2")
        # whatever on the page offers "Ready to Export" with a count says 2, none the old 1
        offers = page.evaluate("""() => [...document.querySelectorAll('option, .inbox-counts a')]
            .map(e => e.textContent.replace(/\\s+/g, ' ').trim())
            .filter(t => t.startsWith('Ready to Export'))""")
        assert offers and all(re.fullmatch(r"Ready to Export \(?2\)?", t) for t in offers), offers


def test_long_names_and_big_and_negative_amounts_fit(live_server, browser, people, factory,
                                                     connected, approver):
    big = factory.commitment(people.project, vendor=factory.vendor(VENDOR_60), number="SC-1100",
                             title=TITLE_100, sov=("12000000.00", "345678.90"))
    qbo_helpers.map_for(big)
    erp.send_to_erp(people.project_admin, big)
    other = factory.commitment(people.project, vendor=factory.vendor(VENDOR_60[::-1]),
                               number="SC-1099", title=TITLE_100, sov=("185000.00", "96500.50"))
    qbo_helpers.map_for(other)
    credit = _sent_cco(people, factory, approver, other, ("-1250.00", "-3400.25"),
                       title=TITLE_100)
    assert len(VENDOR_60) == 60 and len(TITLE_100) == 100
    for viewport in (SMALL_PHONE, DESK):
        with phone_page(browser, viewport) as page:
            log_in(page, live_server, approver)
            for key, amount in ((f"commitments-{big.id}", "$12,345,678.90"),
                                (f"change-orders-{credit.id}", "-$4,650.25")):
                card = page.locator(f"#erp-{key}")
                expect(card.locator("h2")).to_contain_text(TITLE_100)
                expect(card.locator(".amount strong")).to_have_text(amount)
                accept = card.locator("button.accept")
                expect(accept).to_have_text(f"Accept {amount}")
                assert accept.bounding_box()["height"] <= 50  # one line, never wrapped
                assert card.locator(".amount").bounding_box()["y"] < \
                    card.locator("h2").bounding_box()["y"]
                reject = card.locator("button.reject").bounding_box()
                assert reject["width"] >= 44 and reject["height"] >= 44, reject
                assert card.evaluate(_WORDS_CUT) == [], viewport
                accept.click()
                panel = card.locator(".confirm-panel")
                expect(panel).to_contain_text(f"Export {amount} to QuickBooks PurchaseOrder")
                assert card.evaluate(_WORDS_CUT) == [], viewport
            assert _too_wide(page) == []
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
