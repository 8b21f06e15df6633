"""Every unsafe request needs the CSRF token: in a hidden input or the X-CSRFToken header."""

from __future__ import annotations

import re

import pytest

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
    token = _token(client)
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD,
                                                "csrf_token": token})
    assert response.status_code == 302


def test_login_without_token_is_refused(csrf_app, client, factory):
    user = factory.user()
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert b"Reload the page and try again." in response.data
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("route", STATE_CHANGING_ROUTES, ids=lambda r: r.url)
def test_every_state_changing_route_refuses_a_post_without_token(csrf_app, client, matrix_seeds,
                                                                  sandbox_server, route):
    people, ids = matrix_start(matrix_seeds[False], sandbox_server)
    _login(client, people.company_admin)
    before = fingerprint()
    data = {k: v.format(**ids) for k, v in route.data.items()}
    response = client.post(route.url.format(**ids), data=data)
    assert response.status_code == 400
    assert fingerprint() == before


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
