"""Fixtures for the QuickBooks Online sandbox conformance tests.

Every fixture is prefixed ``qbo_``. One sandbox server runs for the session; each test gets
it reset (fresh demo company, no tokens, default limits, clock back to real time). Clients
are the unmodified python-quickbooks and intuit-oauth.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from quickbooks.objects.base import Ref
from quickbooks.objects.detailline import (
    AccountBasedExpenseLine,
    AccountBasedExpenseLineDetail,
    ItemBasedExpenseLine,
    ItemBasedExpenseLineDetail,
)
from quickbooks.objects.purchaseorder import PurchaseOrder

from qbo_sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEMO_REALM_ID,
    SandboxServer,
)

REDIRECT_URI = "http://127.0.0.1:5000/quickbooks/callback"
_DEFAULT = object()


class FakeClock:
    """A controllable clock for the sandbox."""

    def __init__(self, start: float = 1_767_261_600.0) -> None:  # 2026-01-01T10:00Z
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def qbo_insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    # plain http is only acceptable because the sandbox is on loopback
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture(scope="session")
def qbo_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def qbo_server(qbo_clock: FakeClock):
    server = SandboxServer(clock=qbo_clock).start()
    yield server
    server.stop()


@pytest.fixture
def qbo_sandbox(qbo_server: SandboxServer, qbo_clock: FakeClock):
    """The sandbox state (hooks), freshly reset for this test."""
    qbo_clock.now = FakeClock().now
    qbo_server.sandbox.reset()
    yield qbo_server.sandbox
    qbo_server.sandbox.reset()


@pytest.fixture
def qbo_api_urls(qbo_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point python-quickbooks at the sandbox (class attributes), restored afterwards."""
    monkeypatch.setattr(QuickBooks, "api_url_v3", qbo_server.api_url_v3)
    monkeypatch.setattr(QuickBooks, "sandbox_api_url_v3", qbo_server.api_url_v3)


def authorize(server: SandboxServer, auth_client: AuthClient, realm_id: str = DEMO_REALM_ID,
              scopes: list | None = None) -> dict[str, str]:
    """Drive the authorize page like a user who clicks Connect; return the callback query."""
    url = auth_client.get_authorization_url(scopes or [Scopes.ACCOUNTING])
    response = requests.post(url, data={"realmId": realm_id, "decision": "allow"},
                             allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(auth_client.redirect_uri + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def qbo_authorize():
    """``authorize(server, auth_client, realm_id)`` -> the callback query (code, state, realmId)."""
    return authorize


@pytest.fixture
def qbo_redirect_uri() -> str:
    return REDIRECT_URI


@pytest.fixture
def qbo_connect(qbo_server: SandboxServer, qbo_sandbox):
    """``connect(realm_id=DEMO_REALM_ID, scopes=[Scopes.ACCOUNTING])`` -> an AuthClient
    holding fresh tokens."""

    def connect(realm_id: str = DEMO_REALM_ID, scopes: list | None = None) -> AuthClient:
        auth_client = AuthClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, REDIRECT_URI,
                                 environment=qbo_server.discovery_url)
        callback = authorize(qbo_server, auth_client, realm_id, scopes)
        auth_client.get_bearer_token(callback["code"], realm_id=callback.get("realmId"))
        return auth_client

    return connect


@pytest.fixture
def qbo_make_client(qbo_api_urls, qbo_connect):
    """``make(auth_client=None, realm_id=DEMO_REALM_ID)`` -> a python-quickbooks client."""

    def make(auth_client: AuthClient | None = None, realm_id: str = DEMO_REALM_ID) -> QuickBooks:
        auth_client = auth_client or qbo_connect(realm_id)
        return QuickBooks(auth_client=auth_client, refresh_token=auth_client.refresh_token,
                          company_id=realm_id, minorversion=75)

    return make


@pytest.fixture
def qbo_auth(qbo_connect) -> AuthClient:
    return qbo_connect()


@pytest.fixture
def qbo_client(qbo_make_client, qbo_auth) -> QuickBooks:
    """A python-quickbooks client connected to the demo realm."""
    return qbo_make_client(qbo_auth)


@pytest.fixture
def qbo_raw(qbo_server: SandboxServer, qbo_auth: AuthClient):
    """``raw(method, path, **kwargs)``: a plain ``requests`` call to the demo realm's API with
    the bearer token and ``minorversion=75`` unless given (to look at exact bodies)."""

    def raw(method: str, path: str, *, token: object = _DEFAULT, realm_id=DEMO_REALM_ID,
            params: dict | None = None, **kwargs) -> requests.Response:
        params = {"minorversion": "75", **(params or {})}
        params = {k: v for k, v in params.items() if v is not None}
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        if token is _DEFAULT:
            token = qbo_auth.access_token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = f"{qbo_server.api_base_url}/{realm_id}/{path}"
        return requests.request(method, url, params=params, headers=headers, timeout=5,
                                **kwargs)

    return raw


def _ref(value: str) -> Ref:
    ref = Ref()
    ref.value = value
    return ref


class POBuilder:
    """Builds python-quickbooks PurchaseOrder objects the way an app would."""

    @staticmethod
    def item_line(amount, item_id="11", customer_id="2", description=None, *, qty=None,
                  unit_price=None, line_id=None) -> ItemBasedExpenseLine:
        line = ItemBasedExpenseLine()
        line.Amount = amount
        line.Description = description
        line.Id = line_id
        detail = ItemBasedExpenseLineDetail()
        detail.ItemRef = _ref(item_id) if item_id is not None else None
        detail.CustomerRef = _ref(customer_id) if customer_id is not None else None
        detail.BillableStatus = "Billable"
        if qty is not None:
            detail.Qty = qty
        if unit_price is not None:
            detail.UnitPrice = unit_price
        line.ItemBasedExpenseLineDetail = detail
        return line

    @staticmethod
    def account_line(amount, account_id="81", customer_id="2", description=None, *,
                     line_id=None) -> AccountBasedExpenseLine:
        line = AccountBasedExpenseLine()
        line.Amount = amount
        line.Description = description
        line.Id = line_id
        detail = AccountBasedExpenseLineDetail()
        detail.AccountRef = _ref(account_id) if account_id is not None else None
        detail.CustomerRef = _ref(customer_id) if customer_id is not None else None
        line.AccountBasedExpenseLineDetail = detail
        return line

    def purchase_order(self, doc_number="SC-1042", vendor_id="56", lines=None, note=None,
                       ) -> PurchaseOrder:
        po = PurchaseOrder()
        po.VendorRef = _ref(vendor_id) if vendor_id is not None else None
        po.DocNumber = doc_number
        po.PrivateNote = note
        po.Line = lines if lines is not None else [
            self.item_line(1500, "11", "2", "Footings"),
            self.account_line(250.5, "81", "2", "Pump truck"),
        ]
        return po


@pytest.fixture
def qbo_po() -> POBuilder:
    return POBuilder()
