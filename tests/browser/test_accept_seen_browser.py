"""Accept is of what the approver saw, in a browser at 375x667 and 1280 (tests/test_accept_seen.py
has the rest): an old Confirm Accept is refused in words on the card, and the card of a CCO whose
commitment was unlinked says why Accept waits, with Reject still there. SHOTS_DIR keeps the
screenshots."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from models import ChangeOrder, Commitment, ErpStatus
from tests import test_accept_seen as seen
from tests.browser.conftest import log_in, phone_page
from tests.test_accept_seen import UNLINKED, _fresh, _retrieve_edit_reapprove_resend
from workflow import books

pytestmark = pytest.mark.browser
sam, cco = seen.sam, seen.cco  # the fixtures, here too (erp_admin: tests/erp_fixtures.py)

SHOTS = os.environ.get("SHOTS_DIR")  # set it to keep screenshots (never in git)


@pytest.mark.parametrize("size", [{"width": 375, "height": 667}, {"width": 1280, "height": 800}],
                         ids=["phone", "desktop"])
def test_in_a_browser_an_old_confirm_is_refused_in_words_and_an_unlinked_cco_says_why(
        live_server, browser, size, people, approver, sam, erp_admin, cco):
    with phone_page(browser, size) as page:
        log_in(page, live_server, approver)
        page.goto(f"{live_server}/erp/change-orders/{cco.id}?open=accept")
        card = page.locator("article.erp-card")
        expect(card.locator(".confirm-panel")).to_contain_text("Export $1,000.00")
        _retrieve_edit_reapprove_resend(people, sam, cco.id, "25000.00")
        card.locator("button:has-text('Confirm Accept')").click()
        expect(card.locator(".flash-error")).to_have_text(
            "This change order changed since you opened it: it is now $25,000.00. Look at it "
            "again before accepting.")
        expect(card.locator("button.accept")).to_have_text("Accept $25,000.00")
        _shot(page, f"stale-accept-{size['width']}")
        assert _fresh(ChangeOrder, cco.id).erp_status == ErpStatus.READY_TO_EXPORT

        books.unlink_commitment(erp_admin, _fresh(Commitment, cco.commitment_id), "Replaced")
        page.goto(f"{live_server}/erp/change-orders/{cco.id}")
        expect(card.locator(".hint").first).to_have_text(
            f"Accept: {UNLINKED} Reject it back to the project.")
        expect(card.locator("button.accept")).to_have_count(0)
        expect(card.locator("button.reject")).to_be_visible()
        _shot(page, f"unlinked-{size['width']}")


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
