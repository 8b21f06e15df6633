"""One sandbox however it is served: several Sandbox objects (or processes, as gunicorn
workers are) on one state file are one QuickBooks company -- one PurchaseOrder counter, one
set of tokens, one requestid store -- through the real python-quickbooks / intuit-oauth."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.purchaseorder import PurchaseOrder
from quickbooks.objects.vendor import Vendor

from qbo_sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEMO_REALM_ID,
    Sandbox,
    SandboxServer,
)

from .conftest import REDIRECT_URI, POBuilder

R = DEMO_REALM_ID
ROOT = Path(__file__).resolve().parents[2]


def _connect(base_url: str, token_base_url: str | None = None) -> AuthClient:
    """The OAuth flow: authorize on ``base_url``; the code is exchanged on ``token_base_url``
    (another process serving the same state file, as a load balancer would send it)."""
    auth = AuthClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, REDIRECT_URI,
                      environment=base_url + "/.well-known/openid_configuration")
    answer = requests.post(auth.get_authorization_url([Scopes.ACCOUNTING]), timeout=5,
                           data={"realmId": R, "decision": "allow"}, allow_redirects=False)
    callback = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    if token_base_url:
        auth = AuthClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, REDIRECT_URI,
                          environment=token_base_url + "/.well-known/openid_configuration")
    auth.get_bearer_token(callback["code"], realm_id=R)
    return auth


def _client(auth: AuthClient, base_url: str) -> QuickBooks:
    qb = QuickBooks(auth_client=auth, refresh_token=auth.refresh_token, company_id=R,
                    minorversion=75)
    qb.api_url_v3 = base_url + "/v3"  # this client only (python-quickbooks reads it per call)
    return qb


@pytest.fixture
def two_servers(tmp_path, qbo_insecure_transport):
    state = str(tmp_path / "qbo-sandbox.json")
    one = SandboxServer(sandbox=Sandbox(state_file=state)).start()
    two = SandboxServer(sandbox=Sandbox(state_file=state)).start()
    yield one, two
    one.stop()
    two.stop()


def test_two_sandboxes_on_one_state_file_are_one_company(two_servers):
    # gunicorn --workers 3: every worker must see the same company (issue 10)
    one, two = two_servers
    auth = _connect(one.base_url, token_base_url=two.base_url)  # code from one, token at two
    clients = [_client(auth, one.base_url), _client(auth, two.base_url)]
    builder = POBuilder()
    ids = [builder.purchase_order(doc_number=f"SC-{n}").save(qb=clients[n % 2]).Id
           for n in range(12)]
    assert ids == [str(101 + n) for n in range(12)]
    assert one.sandbox.counters()["purchase_orders"] == 12
    assert two.sandbox.counters()["purchase_orders"] == 12
    assert len(PurchaseOrder.all(qb=clients[0])) == len(PurchaseOrder.all(qb=clients[1])) == 12
    with pytest.raises(QuickbooksException) as info:  # SC-0 was made through the other one
        builder.purchase_order(doc_number="SC-0").save(qb=clients[1])
    assert info.value.error_code == 6140
    body = builder.purchase_order(doc_number="SC-R").to_json()
    first = clients[0].create_object("PurchaseOrder", body, request_id="shared-1")
    assert clients[1].create_object("PurchaseOrder", body, request_id="shared-1") == first
    one.sandbox.set_active(R, "Vendor", "57", False)  # a hook on one, seen by the other
    assert "Apex Electrical Services" not in [v.DisplayName for v in Vendor.all(qb=clients[1])]
    auth.refresh()  # refresh through two's discovery document; one sees the new tokens
    assert Vendor.get(56, qb=_client(auth, one.base_url)).Id == "56"


def test_concurrent_writers_on_two_sandboxes_lose_nothing(two_servers):
    one, two = two_servers
    auth = _connect(one.base_url)
    errors: list = []

    def write(base_url: str, worker: int) -> None:
        qb = _client(auth, base_url)
        for n in range(5):
            try:
                POBuilder().purchase_order(doc_number=f"W{worker}-{n}").save(qb=qb)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(server.base_url, i))
               for i, server in enumerate([one, two, one, two])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    ids = [po["Id"] for po in one.sandbox.purchase_orders(R)]
    assert sorted(ids, key=int) == [str(101 + n) for n in range(20)]
    state = json.loads(Path(one.sandbox.state_file).read_text())
    assert len(state["realms"][0]["entities"]["PurchaseOrder"]) == 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def two_processes(tmp_path, qbo_insecure_transport):
    state = str(tmp_path / "qbo-sandbox.json")
    procs, urls = [], []
    for _ in range(2):
        port = _free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "qbo_sandbox", "--port", str(port), "--state", state],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)}))
        urls.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 20
    for url in urls:
        while True:
            try:
                requests.get(url + "/.well-known/openid_configuration", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    yield urls
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(10)


def test_two_processes_on_one_state_file_are_one_company(two_processes):
    # two OS processes, as gunicorn workers are: one PurchaseOrder counter (issue 10)
    one, two = two_processes
    auth = _connect(one, token_base_url=two)
    clients = [_client(auth, one), _client(auth, two)]
    ids = [POBuilder().purchase_order(doc_number=f"P-{n}").save(qb=clients[n % 2]).Id
           for n in range(12)]
    assert ids == [str(101 + n) for n in range(12)]
    counters = [requests.get(f"{url}/_sandbox/realms/{R}/counters", timeout=5).json()
                for url in (one, two)]
    assert counters[0]["purchase_orders"] == counters[1]["purchase_orders"] == 12
    log = requests.get(f"{two}/_sandbox/requests", timeout=5).json()["requests"]
    assert [e["body"]["DocNumber"] for e in log if e["method"] == "POST"] == [
        f"P-{n}" for n in range(12)]

    # paused through one process, a call served by the other is held until resumed
    requests.post(f"{one}/_sandbox/realms/{R}/pause", timeout=5)
    done: list = []
    thread = threading.Thread(target=lambda: done.append(Vendor.get(56, qb=clients[1]).Id))
    thread.start()
    time.sleep(0.3)
    assert done == []
    requests.post(f"{one}/_sandbox/realms/{R}/resume", timeout=5)
    thread.join(5)
    assert done == ["56"]
    requests.post(f"{two}/_sandbox/reset", timeout=5)
    assert requests.get(f"{one}/_sandbox/realms/{R}/counters", timeout=5).json()[
        "purchase_orders"] == 0
