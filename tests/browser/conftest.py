"""Browser tests: Debian's Chromium driven by Playwright against the app on a loopback port."""

from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, require

CHROMIUM = "/usr/bin/chromium"

# expect() waits as long as the pages' own default (10 s), not Playwright's 5 s: with two xdist
# workers on two cores a page may take longer than 5 s to change on a busy machine.
expect.set_options(timeout=10_000)
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def live_server(app):
    app.config["WTF_CSRF_ENABLED"] = True  # the real thing: tokens in forms and htmx headers
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def browser():
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - requirements-dev installs it
        require(False, "playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )
        yield browser
        browser.close()


@contextmanager
def phone_page(browser, viewport=PHONE):
    """A phone of its own: its own browser context, so its own session cookie."""
    context = browser.new_context(viewport=viewport, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    # No internet here: the CDN is unreachable, so htmx must come from the local fallback.
    page.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def phone(browser):
    with phone_page(browser) as page:
        yield page


def log_in(page, base, user):
    page.goto(f"{base}/auth/login")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    # approvers land on the inbox, everyone else on their projects
    page.wait_for_url(re.compile(re.escape(base) + r"/(erp/)?$"))


def no_horizontal_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
