"""What every answer tells the browser: a strict CSP, no caching of pages, compressed and
long-cached static files; and the built-in sandbox's hooks closed to strangers."""

from __future__ import annotations

import gzip
import re

import pytest

from tests import test_permissions as matrix

HTMX = {"HX-Request": "true"}


def test_pages_carry_a_strict_content_security_policy(client):
    from blueprints.rendering import HTMX_CDN_URL, HTMX_INTEGRITY

    policy = client.get("/auth/login").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == f"'self' {HTMX_CDN_URL} '{HTMX_INTEGRITY}'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline script"),
    (re.compile(r"<style\b", re.I), "an inline stylesheet"),
    (re.compile(r"\sstyle=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+=", re.I), "an inline event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


@pytest.mark.parametrize("cdn", [False, True])
def test_no_page_has_inline_script_or_style(client, auth, people, factory, app, cdn):
    app.config["HTMX_CDN"] = cdn
    ids = matrix._ids(people, factory)
    pages = [page for page, _ in matrix.PAGES] + ["/auth/login"]
    for role in ("company_admin", "read_only"):
        auth.login(people.by_role(role))
        for page in pages:
            response = client.get(page.format(**ids), follow_redirects=True)
            html = response.get_data(as_text=True)
            for pattern, what in INLINE:
                assert not pattern.search(html), f"{page} as {role} has {what}"
        auth.logout()


def test_authenticated_pages_are_not_stored(client, auth, people):
    auth.login(people.read_only)
    for url in ("/", f"/projects/{people.project.id}/commitments/"):
        assert client.get(url).headers["Cache-Control"] == "no-store"


def test_static_files_are_cached_long_under_a_content_hash(client):
    page = client.get("/auth/login").get_data(as_text=True)
    css = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', page)
    assert css, "the stylesheet URL carries the file's hash"
    response = client.get(css.group(1))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = client.get("/static/css/app.css?v=000000000000")  # an old hash: no long cache
    assert "immutable" not in stale.headers.get("Cache-Control", "")


def test_html_css_and_js_are_gzipped(client):
    page = client.get("/auth/login", headers={"Accept-Encoding": "gzip, br"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert b"Log in to ChangeOrder Desk" in gzip.decompress(page.data)
    assert "Accept-Encoding" in page.headers["Vary"]
    html = gzip.decompress(page.data).decode()
    for url in re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js)\?v=\w+)"', html):
        response = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.headers["Content-Encoding"] == "gzip", url
        gzip.decompress(response.data)
    assert "Content-Encoding" not in client.get("/auth/login").headers  # not asked: plain


def test_a_favicon_and_a_web_app_manifest(client):
    assert client.get("/favicon.ico").status_code == 200
    page = client.get("/auth/login").get_data(as_text=True)
    manifest = re.search(r'rel="manifest" href="([^"]+)"', page).group(1)
    data = client.get(manifest).get_json(force=True)
    assert data["name"] == "ChangeOrder Desk" and data["icons"]


# ---- the built-in sandbox's hooks ----------------------------------------------------------------

@pytest.fixture
def sandbox_app(app):
    from app import guard_sandbox_hooks
    from quickbooks_online.builtin import mount_sandbox

    mount_sandbox(app)
    guard_sandbox_hooks(app)
    return app


STRANGER = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.mark.parametrize("hook", ["/qbo-sandbox/_sandbox/reset",
                                  "/qbo-sandbox/_sandbox/config",
                                  "/qbo-sandbox/_sandbox/realms/9341453050298165/faults"])
def test_sandbox_hooks_refuse_a_stranger(sandbox_app, hook):
    client = sandbox_app.test_client()
    response = client.post(hook, json={"kind": "throttle"}, environ_base=STRANGER)
    assert response.status_code == 403
    proxied = client.post(hook, json={}, headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403  # behind a proxy, loopback is everyone


def test_sandbox_hooks_answer_loopback_and_a_logged_in_admin(sandbox_app, people, factory):
    client = sandbox_app.test_client()
    assert client.post("/qbo-sandbox/_sandbox/reset", json={}).status_code == 200
    client.post("/auth/login", data={"email": people.company_admin.email,
                                     "password": "correct-horse-battery"},
                environ_base=STRANGER)
    assert client.post("/qbo-sandbox/_sandbox/reset", json={},
                       environ_base=STRANGER).status_code == 200
    other = sandbox_app.test_client()
    other.post("/auth/login", data={"email": people.standard.email,
                                    "password": "correct-horse-battery"}, environ_base=STRANGER)
    assert other.post("/qbo-sandbox/_sandbox/reset", json={},
                      environ_base=STRANGER).status_code == 403


def test_the_sandbox_api_itself_stays_reachable(sandbox_app):
    client = sandbox_app.test_client()
    response = client.get("/qbo-sandbox/.well-known/openid_configuration",
                          environ_base=STRANGER)
    assert response.status_code == 200


SPELLINGS = ["/qbo-sandbox//_sandbox/realms/9341453050298165/faults",
             "/qbo-sandbox/./_sandbox/realms/9341453050298165/faults",
             "//qbo-sandbox//_sandbox//realms/9341453050298165/faults",
             "/qbo-sandbox/v3/../_sandbox/realms/9341453050298165/faults"]


@pytest.mark.parametrize("hook", SPELLINGS)
def test_no_spelling_of_a_hook_gets_past_the_guard(sandbox_app, hook):
    client = sandbox_app.test_client()
    for environ, headers in ((STRANGER, {}), ({}, {"X-Forwarded-For": "1.2.3.4"})):
        response = client.post(hook, json={"kind": "429", "count": 1}, environ_base=environ,
                               headers=headers)
        assert response.status_code in (403, 404, 405), response.get_data(as_text=True)
        assert b"pending" not in response.data
    counters = "/qbo-sandbox//_sandbox/realms/9341453050298165/counters"
    assert client.get(counters, environ_base=STRANGER).status_code == 403
    assert client.delete(hook, environ_base=STRANGER).status_code in (403, 404, 405)
    # Nothing was injected: the loopback client sees no pending fault.
    pending = client.get("/qbo-sandbox/_sandbox/realms/9341453050298165/counters").get_json()
    assert "429" not in str(pending.get("pending", ""))


def test_the_sandbox_pages_need_an_admin_and_carry_the_apps_headers(sandbox_app, people):
    client = sandbox_app.test_client()
    stranger = client.get("/qbo-sandbox/", environ_base=STRANGER)
    assert stranger.status_code == 403 and b"PurchaseOrder" not in stranger.data
    assert client.get("/qbo-sandbox/", headers={"X-Forwarded-For": "1.2.3.4"}).status_code == 403
    member = sandbox_app.test_client()
    member.post("/auth/login", data={"email": people.standard.email,
                                     "password": "correct-horse-battery"}, environ_base=STRANGER)
    assert member.get("/qbo-sandbox/", environ_base=STRANGER).status_code == 403
    client.post("/auth/login", data={"email": people.company_admin.email,
                                     "password": "correct-horse-battery"}, environ_base=STRANGER)
    page = client.get("/qbo-sandbox/", environ_base=STRANGER)
    assert page.status_code == 200 and b"QuickBooks Online sandbox" in page.data
    assert page.headers["Cache-Control"] == "no-store"
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    assert "style-src 'self' 'sha256-" in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    # The loopback client (the tests, the app calling its own sandbox) stays open.
    local = sandbox_app.test_client().get("/qbo-sandbox/")
    assert local.status_code == 200 and local.headers["Cache-Control"] == "no-store"


def test_the_sandbox_style_sheets_match_the_policy(sandbox_app):
    import base64
    import hashlib

    page = sandbox_app.test_client().get("/qbo-sandbox/").get_data(as_text=True)
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = sandbox_app.test_client().get("/qbo-sandbox/").headers["Content-Security-Policy"]
    assert f"'sha256-{digest}'" in policy
