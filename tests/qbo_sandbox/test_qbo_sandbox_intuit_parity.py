"""The sandbox's last differences from Intuit, each put right and pinned here: unknown scopes,
automatic PurchaseOrder numbers, sign-in-only (OpenID) tokens, userinfo claims by scope, the
exact query validation details, and the refresh token's lifetime. Through the unmodified
intuit-oauth 1.2.6 / python-quickbooks 0.9.12 clients (or plain HTTP where a client hides the
detail); the comment at the top of each test names the Intuit page it rests on."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException, ValidationException
from quickbooks.objects.purchaseorder import PurchaseOrder
from quickbooks.objects.vendor import Vendor

from qbo_sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEMO_REALM_ID

R = DEMO_REALM_ID
ACCOUNTING = "com.intuit.quickbooks.accounting"


def _authorize_raw(server, redirect_uri: str, scope: str, state: str = "st-9") -> dict:
    query = urlencode({"client_id": DEFAULT_CLIENT_ID, "response_type": "code",
                       "scope": scope, "redirect_uri": redirect_uri, "state": state})
    response = requests.post(f"{server.base_url}/connect/oauth2?{query}",
                             data={"realmId": R, "decision": "allow"},
                             allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(redirect_uri + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


# ----------------------------------------------------------------------- unknown scope


@pytest.mark.parametrize("scope", ["com.intuit.quickbooks.banking",
                                   f"openid {ACCOUNTING} com.intuit.quickbooks.banking",
                                   "openid email made_up"])
def test_an_unknown_scope_sends_back_invalid_scope_without_code_or_realm(
        qbo_server, qbo_sandbox, qbo_redirect_uri, scope):
    # invalid_scope is returned to the redirect URI: https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0
    back = _authorize_raw(qbo_server, qbo_redirect_uri, scope)
    assert back == {"error": "invalid_scope", "state": "st-9"}
    # the GET (the consent page) is refused the same way, before any page is shown
    query = urlencode({"client_id": DEFAULT_CLIENT_ID, "response_type": "code",
                       "scope": scope, "redirect_uri": qbo_redirect_uri, "state": "s2"})
    page = requests.get(f"{qbo_server.base_url}/connect/oauth2?{query}",
                        allow_redirects=False, timeout=5)
    assert page.status_code == 302 and "error=invalid_scope" in page.headers["Location"]
    assert "code=" not in page.headers["Location"]


# ---------------------------------------------------------------- automatic DocNumber


def test_a_purchase_order_without_doc_number_gets_the_next_number(qbo_client, qbo_po,
                                                                  qbo_sandbox):
    # "Custom transaction numbers" off (the default): QuickBooks numbers the transaction itself: https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/purchaseorder
    first = qbo_po.purchase_order(doc_number=None).save(qb=qbo_client)
    second = qbo_po.purchase_order(doc_number=None).save(qb=qbo_client)
    assert first.DocNumber and second.DocNumber
    assert int(second.DocNumber) == int(first.DocNumber) + 1
    # a number sent is kept, and the next automatic one follows the highest given
    sent = qbo_po.purchase_order(doc_number="SC-1042").save(qb=qbo_client)
    assert sent.DocNumber == "SC-1042"
    qbo_sandbox.delete_purchase_order(R, second.Id)  # never the same number twice
    third = qbo_po.purchase_order(doc_number=None).save(qb=qbo_client)
    assert int(third.DocNumber) == int(second.DocNumber) + 1
    # with custom transaction numbers on, a PO created without a number has none
    qbo_sandbox.set_custom_transaction_numbers(R, True)
    bare = qbo_po.purchase_order(doc_number=None).save(qb=qbo_client)
    assert not getattr(bare, "DocNumber", None)


# ------------------------------------------------------------------ OpenID-only tokens


def test_openid_email_alone_has_no_realm_and_no_company_access(qbo_server, qbo_sandbox,
                                                               qbo_api_urls, qbo_authorize):
    # Sign in with Intuit: no realmId without an accounting/payments scope; userinfo claims: https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/openid-connect
    client = AuthClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
                        "http://127.0.0.1:5000/signin/callback",
                        environment=qbo_server.discovery_url)
    back = qbo_authorize(qbo_server, client, scopes=[Scopes.OPENID, Scopes.EMAIL])
    assert "realmId" not in back and back["code"]
    client.get_bearer_token(back["code"])
    assert client.realm_id is None
    assert client.get_user_info().json() == {
        "sub": "sandbox-user", "email": "demo.user@riverside-builders.example",
        "emailVerified": True}
    qb = QuickBooks(auth_client=client, refresh_token=client.refresh_token, company_id=R,
                    minorversion=75)
    with pytest.raises(QuickbooksException) as info:
        Vendor.get(56, qb=qb)
    assert "403" in info.value.message and '"code": "3100"' in info.value.message


@pytest.mark.parametrize(("scopes", "claims"), [
    ([Scopes.OPENID], {"sub"}),
    ([Scopes.OPENID, Scopes.PROFILE], {"sub", "givenName", "familyName"}),
    ([Scopes.OPENID, Scopes.PHONE], {"sub", "phoneNumber", "phoneNumberVerified"}),
    ([Scopes.OPENID, Scopes.ADDRESS], {"sub", "address"}),
    ([Scopes.OPENID, Scopes.EMAIL, Scopes.PROFILE, Scopes.PHONE, Scopes.ADDRESS,
      Scopes.ACCOUNTING],
     {"sub", "email", "emailVerified", "givenName", "familyName", "phoneNumber",
      "phoneNumberVerified", "address"}),
])
def test_userinfo_carries_the_claims_of_the_granted_scopes(qbo_connect, scopes, claims):
    # userinfo claims per scope: https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/openid-connect
    info = qbo_connect(scopes=scopes).get_user_info().json()
    assert set(info) == claims
    if "address" in info:
        assert set(info["address"]) == {"streetAddress", "locality", "region", "postalCode",
                                        "country"}


def test_accounting_and_openid_together_still_reach_the_company(qbo_connect, qbo_make_client):
    client = qbo_connect(scopes=[Scopes.OPENID, Scopes.EMAIL, Scopes.ACCOUNTING])
    assert client.realm_id == R
    assert Vendor.get(56, qb=qbo_make_client(client)).Id == "56"


# ------------------------------------------------------------------- query validation


def test_maxresults_1001_is_4001_with_intuits_detail(qbo_client):
    # MAXRESULTS at most 1000: https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries
    with pytest.raises(ValidationException) as info:
        PurchaseOrder.query("select * from PurchaseOrder maxresults 1001", qb=qbo_client)
    assert info.value.error_code == 4001
    assert info.value.message == "Invalid query"
    assert info.value.detail == ("QueryValidationError: value 1001 is too large. "
                                 "Max allowed value is 1000")


def test_a_filter_on_a_property_that_cannot_be_queried_is_4001(qbo_raw):
    # only filterable properties: https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries
    answer = qbo_raw("GET", "query",
                     params={"query": "select * from PurchaseOrder where Memo = 'x'"})
    assert answer.status_code == 400
    error = answer.json()["Fault"]["Error"][0]
    assert (error["code"], error["Message"], error["Detail"]) == (
        "4001", "Invalid query", "QueryValidationError: property 'Memo' is not queryable")


# ------------------------------------------------------------- refresh token lifetime


def test_a_new_refresh_token_lives_exactly_8726400_seconds(qbo_server, qbo_sandbox, qbo_clock,
                                                           qbo_authorize, qbo_redirect_uri,
                                                           monkeypatch):
    # x_refresh_token_expires_in of a new refresh token is 8726400 (101 days): https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/faq
    def ticking() -> float:  # a real clock moves between two readings of one request
        qbo_clock.now += 0.003
        return qbo_clock.now

    monkeypatch.setattr(qbo_sandbox, "clock", ticking)
    client = AuthClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, qbo_redirect_uri,
                        environment=qbo_server.discovery_url)
    back = qbo_authorize(qbo_server, client)
    client.get_bearer_token(back["code"], realm_id=back["realmId"])
    assert client.x_refresh_token_expires_in == 8726400
    qbo_clock.now += 1234.3
    client.refresh()
    assert client.x_refresh_token_expires_in == 8726400
