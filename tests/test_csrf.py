"""Every unsafe request needs the CSRF token: in a hidden input or the X-CSRFToken header."""

from __future__ import annotations

import re

import pytest
from flask import g

from extensions import db
from models import ErpPermission
from tests.conftest import PASSWORD, fingerprint
from tests.test_permissions import STATE_CHANGING_ROUTES, matrix_start


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def _token(client, url="/auth/login") -> str:
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _login(client, user):
    email = user.email  # before the request below ends this session
    token = _token(client)
    response = client.post("/auth/login", data={"email": email, "password": PASSWORD,
                                                "csrf_token": token})
    assert response.status_code == 302


def test_login_without_token_is_refused(csrf_app, client, factory):
    user = factory.user()
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert b"Reload the page and try again." in response.data
    assert client.get("/").status_code == 302


# The unsafe routes CSRF protection skips on purpose: Intuit's webhook has no session or form
# (its intuit-signature proves it: tests/test_quickbooks_changes.py).
EXEMPT = {"/erp/webhooks/quickbooks"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _protected(app, csrf, endpoint: str, methods) -> bool:
    """What ``CSRFProtect.protect`` decides for a request to ``endpoint``, read from where it
    decides it: the view's and its blueprint's exemptions and the methods it checks."""
    view = app.view_functions[endpoint]
    blueprint = app.blueprints.get(endpoint.rpartition(".")[0])
    return (app.config["WTF_CSRF_CHECK_DEFAULT"]
            and set(methods) & UNSAFE <= set(app.config["WTF_CSRF_METHODS"])
            and blueprint not in csrf._exempt_blueprints
            and f"{view.__module__}.{view.__name__}" not in csrf._exempt_views)


def test_every_unsafe_route_is_checked_for_the_token_but_the_signed_webhook(tmp_path):
    """The rule where it lives: an app with its own settings (CSRF on, as in production)
    checks the token on every route that takes an unsafe method, the webhook alone excepted;
    every one of them is in ``STATE_CHANGING_ROUTES`` (the HTTP check below)."""
    from app import create_app
    from extensions import csrf

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/csrf.db",
                      "REDIS_URL": None}, instance_path=str(tmp_path))
    assert app.config.get("WTF_CSRF_ENABLED", True)
    decided = {rule.rule: _protected(app, csrf, rule.endpoint, rule.methods)
               for rule in app.url_map.iter_rules() if rule.methods & UNSAFE}
    assert {rule for rule, protected in decided.items() if not protected} == EXEMPT
    listed = {route.rule for route in STATE_CHANGING_ROUTES} | {"/auth/login"}
    assert set(decided) - EXEMPT == listed


def test_every_state_changing_route_refuses_a_post_without_token(csrf_app, client, matrix_seeds,
                                                                  sandbox_server):
    """One request per route of ``STATE_CHANGING_ROUTES`` (the login has its own test above),
    as a company admin with a session but no token: 400, and nothing changed."""
    refused = []
    for needs_qbo in (False, True):
        people, ids = matrix_start(matrix_seeds[needs_qbo], sandbox_server)
        g.pop("_login_user", None)  # the requests share the test's app context: reload the user
        _login(client, people.company_admin)
        before = fingerprint()
        for route in STATE_CHANGING_ROUTES:
            if route.needs_qbo != needs_qbo:
                continue
            data = {k.format(**ids): v.format(**ids) for k, v in route.data.items()}
            response = client.post(route.url.format(**ids), data=data)
            assert response.status_code == 400, (route.url, response.status_code)
            refused.append(route)
        assert fingerprint() == before, "a request without a token changed the database"
    assert sorted(refused, key=STATE_CHANGING_ROUTES.index) == STATE_CHANGING_ROUTES


def test_htmx_header_token_is_accepted(csrf_app, client, factory):
    admin = factory.user(is_company_admin=True, erp=ErpPermission.ADMIN, can_push=True)
    vendor = factory.vendor("Header Vendor")
    _login(client, admin)
    page = client.get("/admin/vendors").get_data(as_text=True)
    # The token lives on <body> for htmx (hx-headers:inherited) …
    token = re.search(r'hx-headers:inherited=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    response = client.post(f"/admin/vendors/{vendor.id}", data={"name": "Renamed", "active": "y"},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    db.session.refresh(vendor)
    assert vendor.name == "Renamed"


def test_error_for_htmx_is_retargeted_to_the_alerts_region(csrf_app, client, factory):
    admin = factory.user(is_company_admin=True)
    _login(client, admin)
    response = client.post("/admin/vendors", data={"name": "x"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#alerts"
    assert "<html" not in response.get_data(as_text=True)
