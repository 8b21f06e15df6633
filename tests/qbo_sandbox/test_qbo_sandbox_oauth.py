"""Intuit OAuth 2.0 as intuit-oauth 1.2.6 sees it."""

from __future__ import annotations

import json

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks.exceptions import AuthorizationException, QuickbooksException
from quickbooks.objects.vendor import Vendor

from qbo_sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEMO_REALM_ID

REDIRECT_URI = "http://127.0.0.1:5000/quickbooks/callback"


def _auth_client(server, client_id=DEFAULT_CLIENT_ID, secret=DEFAULT_CLIENT_SECRET,
                 redirect_uri=REDIRECT_URI) -> AuthClient:
    return AuthClient(client_id, secret, redirect_uri, environment=server.discovery_url)


@pytest.fixture
def authorize(qbo_authorize):
    return qbo_authorize


def test_discovery_document_lists_every_endpoint(qbo_server, qbo_sandbox, authorize):
    doc = requests.get(qbo_server.discovery_url, timeout=5).json()
    for key in ("authorization_endpoint", "token_endpoint", "revocation_endpoint", "issuer",
                "jwks_uri", "userinfo_endpoint"):
        assert doc[key].startswith(qbo_server.base_url), key
    client = _auth_client(qbo_server)
    assert client.auth_endpoint == doc["authorization_endpoint"]
    assert client.token_endpoint == doc["token_endpoint"]
    assert client.revoke_endpoint == doc["revocation_endpoint"]
    assert requests.get(doc["jwks_uri"], timeout=5).json() == {"keys": []}


def test_authorize_page_shows_company_and_posting_redirects_with_code_state_realm(
        qbo_server, qbo_sandbox, authorize):
    client = _auth_client(qbo_server)
    url = client.get_authorization_url([Scopes.ACCOUNTING], state_token="st-123")
    page = requests.get(url, timeout=5)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assert "Connect Riverside Builders LLC (Sandbox)" in page.text
    assert "<form" in page.text and "<button" in page.text
    callback = authorize(qbo_server, client)
    assert callback["state"] == "st-123"
    assert callback["realmId"] == DEMO_REALM_ID
    assert callback["code"]


def test_authorize_cancel_redirects_with_access_denied(qbo_server, qbo_sandbox, authorize):
    client = _auth_client(qbo_server)
    url = client.get_authorization_url([Scopes.ACCOUNTING], state_token="s1")
    response = requests.post(url, data={"decision": "deny"}, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    assert "error=access_denied" in response.headers["Location"]
    assert "code=" not in response.headers["Location"]


def test_authorize_refuses_unknown_client_and_foreign_redirect_uri(
        qbo_server, qbo_sandbox, authorize):
    unknown = _auth_client(qbo_server, client_id="nobody")
    response = requests.get(unknown.get_authorization_url([Scopes.ACCOUNTING]), timeout=5,
                            allow_redirects=False)
    assert response.status_code == 400
    foreign = _auth_client(qbo_server, redirect_uri="https://evil.example/cb")
    response = requests.post(foreign.get_authorization_url([Scopes.ACCOUNTING]), timeout=5,
                             allow_redirects=False)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_registered_client_only_accepts_its_redirect_uris(qbo_server, qbo_sandbox, authorize):
    qbo_sandbox.register_client("app-1", "secret-1", ["http://127.0.0.1:8000/cb"])
    good = _auth_client(qbo_server, "app-1", "secret-1", "http://127.0.0.1:8000/cb")
    callback = authorize(qbo_server, good)
    good.get_bearer_token(callback["code"], realm_id=callback["realmId"])
    assert good.access_token
    other = _auth_client(qbo_server, "app-1", "secret-1", "http://127.0.0.1:8001/cb")
    response = requests.post(other.get_authorization_url([Scopes.ACCOUNTING]), timeout=5,
                             allow_redirects=False)
    assert response.status_code == 400


def test_code_exchange_sets_tokens_and_code_is_single_use(qbo_server, qbo_sandbox, authorize):
    client = _auth_client(qbo_server)
    callback = authorize(qbo_server, client)
    client.get_bearer_token(callback["code"], realm_id=callback["realmId"])
    assert client.access_token and client.refresh_token
    assert client.expires_in == 3600
    assert client.x_refresh_token_expires_in > 8_000_000
    assert client.realm_id == DEMO_REALM_ID
    with pytest.raises(AuthClientError) as info:
        client.get_bearer_token(callback["code"], realm_id=callback["realmId"])
    assert info.value.status_code == 400
    assert json.loads(info.value.content) == {"error": "invalid_grant"}


def test_code_expires_and_must_match_redirect_uri(qbo_server, qbo_sandbox, authorize):
    client = _auth_client(qbo_server)
    other = _auth_client(qbo_server, redirect_uri="http://localhost:5000/other")
    code = authorize(qbo_server, client)["code"]
    with pytest.raises(AuthClientError) as info:
        other.get_bearer_token(code)
    assert json.loads(info.value.content) == {"error": "invalid_grant"}
    code = authorize(qbo_server, client)["code"]
    qbo_sandbox.advance_time(301)
    with pytest.raises(AuthClientError) as info:
        client.get_bearer_token(code)
    assert info.value.status_code == 400


def test_bad_client_secret_is_invalid_client_401(qbo_server, qbo_sandbox, authorize):
    good = _auth_client(qbo_server)
    code = authorize(qbo_server, good)["code"]
    bad = _auth_client(qbo_server, secret="wrong")
    with pytest.raises(AuthClientError) as info:
        bad.get_bearer_token(code, realm_id=DEMO_REALM_ID)
    assert info.value.status_code == 401
    assert json.loads(info.value.content) == {"error": "invalid_client"}
    # no Basic auth at all
    response = requests.post(good.token_endpoint, timeout=5,
                             data={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": REDIRECT_URI})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_unsupported_grant_type(qbo_server, qbo_sandbox, authorize):
    client = _auth_client(qbo_server)
    response = requests.post(client.token_endpoint, auth=(DEFAULT_CLIENT_ID,
                                                          DEFAULT_CLIENT_SECRET),
                             data={"grant_type": "password"}, timeout=5)
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


def test_refresh_rotates_and_old_refresh_token_is_refused(qbo_server, qbo_connect,
                                                          qbo_make_client):
    client = qbo_connect()
    old_refresh, old_access = client.refresh_token, client.access_token
    client.refresh()
    assert client.refresh_token != old_refresh
    assert client.access_token != old_access
    with pytest.raises(AuthClientError) as info:
        client.refresh(refresh_token=old_refresh)
    assert info.value.status_code == 400
    assert json.loads(info.value.content) == {"error": "invalid_grant"}
    # the new tokens work
    qb = qbo_make_client(client)
    assert Vendor.get(56, qb=qb).DisplayName == "Summit Concrete Co."
    newest = client.refresh_token
    client.refresh()
    assert client.refresh_token != newest


def test_access_token_expires_then_refresh_gives_access_again(qbo_sandbox, qbo_connect,
                                                              qbo_make_client):
    client = qbo_connect()
    qb = qbo_make_client(client)
    assert Vendor.get(56, qb=qb).Id == "56"
    qbo_sandbox.advance_time(3599)
    assert Vendor.get(56, qb=qb).Id == "56"
    qbo_sandbox.advance_time(2)
    with pytest.raises(AuthorizationException) as info:
        Vendor.get(56, qb=qb)
    assert info.value.error_code == 401
    error = json.loads(info.value.detail)["fault"]["error"][0]
    assert error["code"] == "3200"
    assert error["detail"].startswith("Token expired")
    client.refresh()
    assert Vendor.get(56, qb=qbo_make_client(client)).Id == "56"


def test_access_token_lifetime_is_configurable(qbo_sandbox, qbo_connect, qbo_make_client):
    qbo_sandbox.configure(access_token_ttl=60)
    client = qbo_connect()
    assert client.expires_in == 60
    qb = qbo_make_client(client)
    qbo_sandbox.advance_time(61)
    with pytest.raises(AuthorizationException):
        Vendor.get(56, qb=qb)


def test_refresh_token_expires(qbo_sandbox, qbo_connect):
    client = qbo_connect()
    qbo_sandbox.advance_time(8_726_401)
    with pytest.raises(AuthClientError) as info:
        client.refresh()
    assert json.loads(info.value.content) == {"error": "invalid_grant"}


def test_revoke_kills_refresh_and_access_tokens(qbo_sandbox, qbo_connect, qbo_make_client):
    client = qbo_connect()
    qb = qbo_make_client(client)
    assert Vendor.get(56, qb=qb).Id == "56"
    refresh_token = client.refresh_token
    assert client.revoke() is True
    with pytest.raises(AuthorizationException) as info:
        Vendor.get(56, qb=qb)
    assert json.loads(info.value.detail)["fault"]["error"][0]["code"] == "3200"
    with pytest.raises(AuthClientError) as info:
        client.refresh(refresh_token=refresh_token)
    assert json.loads(info.value.content) == {"error": "invalid_grant"}


def test_revoke_with_access_token_revokes_the_grant(qbo_sandbox, qbo_connect):
    client = qbo_connect()
    client.revoke(token=client.access_token)
    with pytest.raises(AuthClientError):
        client.refresh()


def test_revoke_requires_client_auth(qbo_server, qbo_connect):
    client = qbo_connect()
    response = requests.post(client.revoke_endpoint, json={"token": client.refresh_token},
                             auth=(DEFAULT_CLIENT_ID, "wrong"), timeout=5)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
    client.refresh()  # still valid


def test_token_is_bound_to_its_realm(qbo_sandbox, qbo_connect, qbo_make_client):
    qbo_sandbox.add_company("4620816365000000001", "Second Co (Sandbox)")
    client = qbo_connect("4620816365000000001")
    assert client.realm_id == "4620816365000000001"
    from quickbooks import QuickBooks

    qb = QuickBooks(auth_client=client, refresh_token=client.refresh_token,
                    company_id=DEMO_REALM_ID, minorversion=75)
    # another company's realm: 403 / 3100 (see test_token_of_another_company_is_403_3100)
    with pytest.raises(QuickbooksException) as info:
        Vendor.get(56, qb=qb)
    assert "403" in info.value.message
    assert Vendor.get(56, qb=qbo_make_client(client, "4620816365000000001")).Id == "56"


def test_userinfo_needs_a_valid_token(qbo_server, qbo_connect):
    client = qbo_connect(scopes=[Scopes.ACCOUNTING, Scopes.OPENID, Scopes.EMAIL])
    assert client.get_user_info().json()["email"]
    client.revoke()
    with pytest.raises(AuthClientError) as info:
        client.get_user_info()
    assert info.value.status_code == 401
