"""The built-in QuickBooks sandbox: served by this app under /qbo-sandbox when no real
QuickBooks is configured, so the quick start shows the whole flow with no Intuit account."""

from __future__ import annotations

import base64
from datetime import timedelta

from flask import Flask

MOUNT = "/qbo-sandbox"
EXTENSION_KEY = "qbo_sandbox"
# What the app itself calls, protected by the sandbox's own client secret and tokens: open to
# every address. Everything else under the mount -- the pages (what is "in QuickBooks"), the
# authorize page and the test hooks -- is for this machine or a logged-in admin.
OPEN_PATHS = ("/.well-known/", "/oauth2/v1/", "/v1/openid_connect/", "/v3/company/")
REFUSED = b"The built-in QuickBooks sandbox answers only this machine or a logged-in admin.\n"


# What create_app hands the door (this package sits under the workflow and never imports it):
# the app's Content-Security-Policy, and who may enter, ``may_enter(user, path)``.
CSP_KEY = "changeorder.content_security_policy"
MAY_ENTER_KEY = "changeorder.sandbox_may_enter"


def mount_sandbox(app: Flask) -> None:
    """Serve the sandbox under /qbo-sandbox behind its door (``SandboxDoor``)."""
    from qbo_sandbox import Sandbox, create_sandbox_app

    sandbox = Sandbox(state_file=app.config["QBO_SANDBOX_STATE"])
    app.extensions[EXTENSION_KEY] = sandbox
    app.wsgi_app = SandboxDoor(app, app.wsgi_app, create_sandbox_app(sandbox))


def normalised(path: str) -> str:
    """The path as routing reads it: no empty, ``.`` or ``..`` segments (``//x/./y`` → ``/x/y``)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts) + ("/" if path.endswith("/") and parts else "")


def sandbox_policy(app: Flask) -> str:
    """The app's Content-Security-Policy (which ``create_app`` keeps in ``app.extensions``),
    its two inline style sheets allowed by hash."""
    import hashlib
    import re

    from qbo_sandbox import app as pages

    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"
        for template in (pages.AUTHORIZE_TEMPLATE, pages.INDEX_TEMPLATE)
        for style in re.findall(r"<style>(.*?)</style>", template, re.S))
    policy = app.extensions[CSP_KEY]
    return policy.replace("style-src 'self'", f"style-src 'self' {hashes}")


class SandboxDoor:
    """Dispatches the normalised path: under /qbo-sandbox to the sandbox, else to the app.

    The decision and the guard read the same normalised path that the sandbox then routes,
    so no spelling (``//``, ``/./``, ``..``) reaches a hook or page past the guard. Sandbox
    responses get the app's security headers (CSP, ``Cache-Control: no-store``)."""

    def __init__(self, app: Flask, inner, sandbox_wsgi):
        self.app, self.inner, self.sandbox = app, inner, sandbox_wsgi
        self.headers = [("Content-Security-Policy", sandbox_policy(app)),
                        ("Cache-Control", "no-store"),
                        ("X-Content-Type-Options", "nosniff"),
                        ("X-Frame-Options", "DENY"),
                        ("Referrer-Policy", "same-origin")]

    def __call__(self, environ, start_response):
        path = normalised(environ.get("PATH_INFO", ""))
        if path != MOUNT and not path.startswith(MOUNT + "/"):
            return self.inner(environ, start_response)
        rest = path[len(MOUNT):] or "/"
        if not rest.startswith(OPEN_PATHS) and not self.allowed(environ, rest):
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8"),
                                             *self.headers])
            return [REFUSED]
        environ = dict(environ, SCRIPT_NAME=environ.get("SCRIPT_NAME", "") + MOUNT,
                       PATH_INFO=rest)

        def with_headers(status, headers, exc_info=None):
            names = {name.lower() for name, _ in self.headers}
            kept = [(k, v) for k, v in headers if k.lower() not in names]
            return start_response(status, kept + self.headers, exc_info)

        return self.sandbox(environ, with_headers)

    def allowed(self, environ, rest: str) -> bool:
        """This machine (loopback, not relayed by a proxy) or a logged-in company admin; the
        authorize page also for an ERP admin connecting the app."""
        import ipaddress

        if "HTTP_X_FORWARDED_FOR" not in environ:
            try:
                if ipaddress.ip_address(environ.get("REMOTE_ADDR", "")).is_loopback:
                    return True
            except ValueError:
                pass
        from flask import g
        from flask_login import current_user

        may_enter = self.app.extensions[MAY_ENTER_KEY]  # create_app's: the workflow's rule
        with self.app.request_context(environ):
            g.pop("_login_user", None)  # this request's session, whatever an outer one held
            try:
                return may_enter(current_user._get_current_object(), rest)
            finally:
                g.pop("_login_user", None)  # nor leave it to the next request


def connect_demo_company(app: Flask, sandbox=None) -> str | None:
    """Connect to the sandbox's demo company as the OAuth flow would, import its lists.

    Runs before the server is up (``flask seed-demo``), so it asks the sandbox object directly
    for the authorization code and tokens that its /connect and /tokens endpoints would give.
    """
    from quickbooks.objects.account import Account
    from quickbooks.objects.customer import Customer
    from quickbooks.objects.item import Item
    from quickbooks.objects.vendor import Vendor

    from extensions import db
    from models.types import utcnow
    from qbo_sandbox import DEMO_REALM_ID
    from quickbooks_online.connection import connection_or_new, encrypt, switch_company
    from quickbooks_online.lists import store_records

    sandbox = sandbox or app.extensions.get(EXTENSION_KEY)
    if sandbox is None:
        return None
    connection = connection_or_new()
    if not connection.is_connected:
        config = app.config
        code = sandbox.issue_code(config["QBO_CLIENT_ID"], config["QBO_REDIRECT_URI"],
                                  DEMO_REALM_ID, "com.intuit.quickbooks.accounting")
        basic = base64.b64encode(
            f"{config['QBO_CLIENT_ID']}:{config['QBO_CLIENT_SECRET']}".encode()).decode()
        tokens = sandbox.token(f"Basic {basic}", {
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": config["QBO_REDIRECT_URI"]})
        now = utcnow()
        switch_company(connection, DEMO_REALM_ID)
        connection.company_name = sandbox.realm(DEMO_REALM_ID).company_info()["CompanyName"]
        connection.access_token_encrypted = encrypt(tokens["access_token"])
        connection.access_token_expires_at = now + timedelta(seconds=tokens["expires_in"])
        connection.refresh_token_encrypted = encrypt(tokens["refresh_token"])
        connection.refresh_token_expires_at = now + timedelta(
            seconds=tokens["x_refresh_token_expires_in"])
        connection.connected_at = now
        connection.token_generation += 1
    for entity, cls in (("Vendor", Vendor), ("Customer", Customer), ("Item", Item),
                        ("Account", Account)):
        objects = [cls.from_json(o) for o in sandbox.list_objects(DEMO_REALM_ID, entity)]
        store_records(DEMO_REALM_ID, entity, objects)
    db.session.commit()
    return connection.company_name
