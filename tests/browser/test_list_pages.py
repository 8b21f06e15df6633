"""The paged lists on a phone: Next swaps the list in place with htmx and puts its URL in the
address bar, the page never scrolls sideways, and Previous / Next are 44 px tap targets."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in, no_horizontal_scroll
from workflow.pages import PAGE_SIZE

pytestmark = pytest.mark.browser

PAGER = """() => [...document.querySelectorAll('.pager a')].map(
    e => e.getBoundingClientRect().height)"""


@pytest.mark.parametrize("path,listing,prefix", [
    ("/", "#project-list", "L-"),
    ("/admin/vendors", "#reference-list", "Supplier "),
])
def test_next_swaps_the_list_in_place_on_a_phone(live_server, phone, people, factory, path,
                                                 listing, prefix):
    for i in range(PAGE_SIZE + 5):
        factory.project(number=f"L-{i:03d}")
        factory.vendor(f"Supplier {i:03d}")
    log_in(phone, live_server, people.company_admin)
    phone.goto(live_server + path)
    assert no_horizontal_scroll(phone)
    assert all(h >= 43.5 for h in phone.evaluate(PAGER))
    phone.evaluate("window.notReloaded = true")

    phone.get_by_role("link", name="Next").click()
    phone.locator(listing).get_by_text(f"{prefix}054").wait_for()
    assert "after=" in phone.url  # the address bar names the page shown
    assert phone.evaluate("window.notReloaded") is True  # swapped in place, not reloaded
    assert phone.get_by_role("link", name="Next").count() == 0
    assert no_horizontal_scroll(phone)
    assert all(h >= 43.5 for h in phone.evaluate(PAGER))

    phone.get_by_role("link", name="Previous").click()
    phone.locator(listing).get_by_text(f"{prefix}000").wait_for()
    assert phone.get_by_role("link", name="Next").count() == 1
