"""The built-in QuickBooks sandbox: served by this app under /qbo-sandbox when no real
QuickBooks is configured, so the quick start shows the whole flow with no Intuit account."""

from __future__ import annotations

import base64
from datetime import timedelta

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

MOUNT = "/qbo-sandbox"
EXTENSION_KEY = "qbo_sandbox"


def mount_sandbox(app: Flask) -> None:
    from qbo_sandbox import Sandbox, create_sandbox_app

    sandbox = Sandbox(state_file=app.config["QBO_SANDBOX_STATE"])
    app.extensions[EXTENSION_KEY] = sandbox
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {MOUNT: create_sandbox_app(sandbox)})


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
