"""The status page, the server object, independence of sandboxes, persistence, the CLI."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from quickbooks.objects.purchaseorder import PurchaseOrder

from qbo_sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEMO_REALM_ID,
    Sandbox,
    SandboxServer,
)
from qbo_sandbox.__main__ import build_parser


def test_html_page_lists_company_and_created_po_escaped(qbo_server, qbo_client, qbo_po):
    po = qbo_po.purchase_order(doc_number="SC-1042", note="<script>alert(1)</script> CCO-001",
                               lines=[qbo_po.item_line(1234.5, "13", "4", "Steel & bolts")])
    created = po.save(qb=qbo_client)
    page = requests.get(qbo_server.base_url + "/", timeout=5)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    html = page.text
    for text in ("Riverside Builders LLC (Sandbox)", "Summit Concrete Co.",
                 "Riverside Holdings:Riverside Medical Office Building",
                 "Harbor Point Partners:Harbor Point Parking Structure",
                 "Concrete - Subcontract", "Accounts Payable (A/P)", "Field",
                 "SC-1042", "1234.50", "Structural Steel - Subcontract (13)",
                 f'id="po-{created.Id}"'):
        assert text in html, text
    assert "Steel &amp; bolts" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; CCO-001" in html
    assert "<script>" not in html


def test_server_urls(qbo_server):
    assert qbo_server.base_url.startswith("http://127.0.0.1:")
    assert qbo_server.api_base_url == qbo_server.base_url + "/v3/company"
    assert qbo_server.api_url_v3 == qbo_server.base_url + "/v3"
    assert qbo_server.discovery_url.startswith(qbo_server.base_url)


def _connect(server: SandboxServer) -> QuickBooks:
    auth = AuthClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, "http://localhost/cb",
                      environment=server.discovery_url)
    url = auth.get_authorization_url([Scopes.ACCOUNTING])
    location = requests.post(url, allow_redirects=False, timeout=5).headers["Location"]
    callback = parse_qs(urlsplit(location).query)
    auth.get_bearer_token(callback["code"][0], realm_id=callback["realmId"][0])
    return QuickBooks(auth_client=auth, refresh_token=auth.refresh_token,
                      company_id=DEMO_REALM_ID, minorversion=75)


def test_two_servers_have_independent_state(qbo_api_urls, qbo_po, monkeypatch):
    with SandboxServer() as one, SandboxServer() as two:
        monkeypatch.setattr(QuickBooks, "api_url_v3", one.api_url_v3)
        qbo_po.purchase_order().save(qb=_connect(one))
        assert one.sandbox.counters()["purchase_orders"] == 1
        assert two.sandbox.counters()["purchase_orders"] == 0
        monkeypatch.setattr(QuickBooks, "api_url_v3", two.api_url_v3)
        assert PurchaseOrder.all(qb=_connect(two)) == []


def test_state_file_persists_between_restarts(tmp_path, qbo_api_urls, qbo_po, monkeypatch):
    state = tmp_path / "qbo.json"
    with SandboxServer(state_file=str(state)) as first:
        monkeypatch.setattr(QuickBooks, "api_url_v3", first.api_url_v3)
        qb = _connect(first)
        created = qbo_po.purchase_order().save(qb=qb)
        refresh_token = qb.auth_client.refresh_token
    assert json.loads(state.read_text())["realms"][0]["entities"]["PurchaseOrder"]
    with SandboxServer(state_file=str(state)) as second:
        assert second.sandbox.get(DEMO_REALM_ID, "PurchaseOrder", created.Id)["DocNumber"] == (
            "SC-1042")
        auth = AuthClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, "http://localhost/cb",
                          environment=second.discovery_url)
        auth.refresh(refresh_token=refresh_token)  # the grant survived the restart
        monkeypatch.setattr(QuickBooks, "api_url_v3", second.api_url_v3)
        qb = QuickBooks(auth_client=auth, refresh_token=auth.refresh_token,
                        company_id=DEMO_REALM_ID, minorversion=75)
        po = qbo_po.purchase_order(doc_number="SC-2").save(qb=qb)
        assert int(po.Id) == int(created.Id) + 1


def test_sandbox_without_server_and_cli_parser():
    sandbox = Sandbox(rate_limit_per_minute=7)
    assert sandbox.rate_limit_per_minute == 7
    sandbox.configure(rate_limit_per_minute=1)
    sandbox.reset()
    assert sandbox.rate_limit_per_minute == 7
    args = build_parser().parse_args(["--host", "127.0.0.1", "--port", "5055", "--state",
                                      "x.json", "--client", "id", "secret",
                                      "http://127.0.0.1:5000/cb"])
    assert (args.host, args.port, args.state) == ("127.0.0.1", 5055, "x.json")
    assert args.client == [["id", "secret", "http://127.0.0.1:5000/cb"]]


def test_the_sandbox_page_reads_on_a_phone():
    """A viewport meta and a main landmark, and the wide purchase order table scrolls in its
    own box instead of widening the page."""
    from qbo_sandbox import create_sandbox_app

    page = create_sandbox_app().test_client().get("/").get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<main>" in page and "</main>" in page
