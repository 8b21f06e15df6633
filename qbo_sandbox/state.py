"""State of a sandbox: companies (realms), OAuth clients and grants, limits, test hooks.

Everything is guarded by one re-entrant lock (``Sandbox.lock``). Time comes from an
injectable clock (``Sandbox(clock=...)``) plus an offset moved by ``advance_time()``, so
token expiry and the per-minute throttle window can be tested without waiting.

With a state file (``Sandbox(state_file=...)``) the file IS the sandbox, shared by every
process that opens it: taking ``Sandbox.lock`` also takes an exclusive ``fcntl.flock`` on
``<state_file>.lock`` and reloads the file if another process changed it; releasing it writes
the state back (atomically: a temporary file renamed over it) if anything changed. So two
processes (gunicorn workers) serving the same file see one company: one PurchaseOrder
counter, one set of tokens, one requestid store. Only what cannot outlive a process stays
per process: calls in flight and the request log.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import fcntl
import json
import os
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from ipaddress import ip_address
from urllib.parse import urlsplit

from . import cdc, demo_company, entities, faults, query, webhooks

# QuickBooks Online reports times in the company's zone; the sandbox uses a fixed US offset.
QBO_TZ = timezone(timedelta(hours=-7), "PDT")

FAULT_KINDS = ("5010", "401", "429", "500", "drop", "500_after_apply", "drop_after_apply")
# Faults of the OAuth token endpoint (``inject_oauth_fault``): an outage at Intuit's side.
OAUTH_FAULT_KINDS = ("500", "503", "drop")
MAX_REQUEST_ID = 50  # Intuit: "The RequestID can have a maximum of 50 characters"
# Intuit serves minor version 75 by default and ignores lower ones (since August 2025).
MIN_MINOR_VERSION = 75
REQUEST_LOG_SIZE = 1000
REQUEST_LOG_BODY_MAX = 20_000
FAULT_ALIASES = {
    "stale": "5010",
    "unauthorized": "401",
    "3200": "401",
    "throttle": "429",
    "3001": "429",
    "server_error": "500",
    "dropped": "drop",
    "drop_connection": "drop",
}
AFTER_APPLY = ("500_after_apply", "drop_after_apply")


ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
PAYMENT_SCOPE = "com.intuit.quickbooks.payment"
# The scopes Intuit's authorize endpoint knows; any other is ``error=invalid_scope``.
KNOWN_SCOPES = frozenset({
    "openid", "email", "profile", "address", "phone", "intuit_name",
    ACCOUNTING_SCOPE, PAYMENT_SCOPE, "com.intuit.quickbooks.payroll",
    "com.intuit.quickbooks.payroll.timetracking", "com.intuit.quickbooks.payroll.benefits",
    "com.intuit.quickbooks.payroll.payslip.read"})
# The user behind every sandbox grant, and which userinfo claims each scope releases.
SANDBOX_USER = {
    "sub": "sandbox-user",
    "email": "demo.user@riverside-builders.example", "emailVerified": True,
    "givenName": "Demo", "familyName": "User",
    "phoneNumber": "+1 (503) 555-0142", "phoneNumberVerified": True,
    "address": {"streetAddress": "1200 River Road", "locality": "Portland",
                "region": "OR", "postalCode": "97201", "country": "US"},
}
USERINFO_CLAIMS = {
    "email": ("email", "emailVerified"),
    "profile": ("givenName", "familyName"),
    "phone": ("phoneNumber", "phoneNumberVerified"),
    "address": ("address",),
}


def scope_set(scope: str | None) -> set[str]:
    return {part for part in (scope or "").split() if part}


def grants_company_access(scope: str | None) -> bool:
    """Whether a grant of ``scope`` reaches a company (Accounting or Payments API): only
    then does the authorize redirect carry a ``realmId``."""
    return bool(scope_set(scope) & {ACCOUNTING_SCOPE, PAYMENT_SCOPE})


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(f"{status} {error} {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    # None: any loopback redirect URI is allowed
    redirect_uris: list[str] | None = None

    def allows(self, redirect_uri: str | None) -> bool:
        if not redirect_uri:
            return False
        if self.redirect_uris is not None:
            return redirect_uri in self.redirect_uris
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        if parts.hostname == "localhost":
            return True
        try:
            return ip_address(parts.hostname).is_loopback
        except ValueError:
            return False


@dataclass
class Grant:
    """One authorisation of a client for a realm: a refresh token and its access tokens."""

    grant_id: str
    client_id: str
    realm_id: str
    scope: str
    refresh_token: str
    refresh_expires_at: float
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at
    revoked: bool = False


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    realm_id: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class ApiResponse:
    status: int
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering

    def json(self) -> dict:
        return json.loads(self.text)


class Realm:
    """One QuickBooks company."""

    def __init__(self, realm_id: str, company_name: str) -> None:
        self.realm_id = realm_id
        self.company_name = company_name
        self.entities: dict[str, dict[str, dict]] = {name: {} for name in entities.ENTITY_NAMES}
        self.next_ids: dict[str, int] = {}
        self.next_line_id: dict[str, int] = {}
        self.deleted: dict[str, set[str]] = {}
        # when each deleted object was deleted (its LastUpdatedTime in the CDC answer)
        self.deleted_at: dict[str, dict[str, str]] = {}
        self.settings: dict[str, object] = {"duplicate_doc_number_check": True}
        self.request_count = 0
        self.write_count = 0
        self.throttled_count = 0
        self.request_times: deque[float] = deque()
        self.in_flight = 0
        self.faults: deque[str] = deque()
        self.request_ids: dict[str, tuple[int, str]] = {}
        # every requestid received: {"count", "status", "code", "stored"}
        self.seen_request_ids: dict[str, dict] = {}
        self.paused = False
        self.api_delay = 0.0
        # per process: calls in flight and the event that holds them while paused
        self.gate = threading.Event()
        self.gate.set()

    # ids -------------------------------------------------------------------------------
    def peek_id(self, entity: str) -> str:
        if entity not in self.next_ids:
            numbers = [int(i) for i in self.entities[entity] if i.isdigit()]
            start = demo_company.FIRST_PURCHASE_ORDER_ID if entity == "PurchaseOrder" else 1
            self.next_ids[entity] = max([start - 1, *numbers]) + 1
        return str(self.next_ids[entity])

    def take_id(self, entity: str) -> str:
        obj_id = self.peek_id(entity)
        self.next_ids[entity] += 1
        return obj_id

    # lookups ---------------------------------------------------------------------------
    def company_info(self) -> dict:
        return next(iter(self.entities["CompanyInfo"].values()))

    def default_ap_account(self) -> dict:
        accounts = self.entities["Account"]
        preferred = accounts.get(demo_company.DEFAULT_AP_ACCOUNT_ID)
        if preferred and preferred.get("Active", True):
            return preferred
        for account in accounts.values():
            if account.get("AccountType") == "Accounts Payable" and account.get("Active", True):
                return account
        raise faults.required_param("APAccountRef")

    def refresh_customer_names(self) -> None:
        customers = self.entities["Customer"]

        def fqn(obj: dict, depth: int = 0) -> tuple[str, int]:
            parent_id = (obj.get("ParentRef") or {}).get("value")
            if not parent_id or parent_id not in customers or depth > 20:
                return obj["DisplayName"], 0
            parent_name, level = fqn(customers[parent_id], depth + 1)
            return f"{parent_name}:{obj['DisplayName']}", level + 1

        for obj in customers.values():
            obj["FullyQualifiedName"], obj["Level"] = fqn(obj)

    def purchase_order_count(self) -> int:
        return len(self.entities["PurchaseOrder"])

    # persistence -----------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "realm_id": self.realm_id,
            "company_name": self.company_name,
            "entities": self.entities,
            "next_ids": self.next_ids,
            "next_line_id": self.next_line_id,
            "deleted": {k: sorted(v) for k, v in self.deleted.items()},
            "deleted_at": self.deleted_at,
            "settings": self.settings,
            "request_ids": {k: list(v) for k, v in self.request_ids.items()},
            "seen_request_ids": self.seen_request_ids,
            "faults": list(self.faults),
            "paused": self.paused,
            "api_delay": self.api_delay,
            "request_times": list(self.request_times),
            "counters": {"requests": self.request_count, "writes": self.write_count,
                         "throttled": self.throttled_count},
        }

    @classmethod
    def from_json(cls, data: dict) -> Realm:
        realm = cls(data["realm_id"], data["company_name"])
        realm.entities.update(data["entities"])
        realm.next_ids = data.get("next_ids", {})
        realm.next_line_id = data.get("next_line_id", {})
        realm.deleted = {k: set(v) for k, v in data.get("deleted", {}).items()}
        realm.deleted_at = data.get("deleted_at", {})
        realm.settings.update(data.get("settings", {}))
        realm.request_ids = {k: (v[0], v[1]) for k, v in data.get("request_ids", {}).items()}
        realm.seen_request_ids = data.get("seen_request_ids", {})
        realm.faults = deque(data.get("faults", []))
        realm.paused = bool(data.get("paused", False))
        realm.api_delay = float(data.get("api_delay", 0.0))
        realm.request_times = deque(data.get("request_times", []))
        counters = data.get("counters", {})
        realm.request_count = counters.get("requests", 0)
        realm.write_count = counters.get("writes", 0)
        realm.throttled_count = counters.get("throttled", 0)
        if realm.paused:
            realm.gate.clear()
        return realm


def _seed(realm: Realm, when: str) -> None:
    meta = {"CreateTime": when, "LastUpdatedTime": when}

    def put(entity: str, obj: dict) -> None:
        obj.update({"domain": "QBO", "sparse": False, "SyncToken": "0",
                    "MetaData": dict(meta)})
        realm.entities[entity][obj["Id"]] = obj

    info = copy.deepcopy(demo_company.COMPANY_INFO)
    info["CompanyName"] = realm.company_name
    put("CompanyInfo", {"Id": "1", **info})
    for acct in demo_company.ACCOUNTS:
        put("Account", {**acct, "FullyQualifiedName": acct["Name"], "Active": True,
                        "SubAccount": False, "CurrentBalance": 0,
                        "CurrentBalanceWithSubAccounts": 0,
                        "CurrencyRef": {"value": "USD", "name": "United States Dollar"}})
    for vendor in demo_company.VENDORS:
        put("Vendor", {**vendor, "CompanyName": vendor["DisplayName"],
                       "PrintOnCheckName": vendor["DisplayName"], "Active": True,
                       "Balance": 0, "Vendor1099": False,
                       "CurrencyRef": {"value": "USD", "name": "United States Dollar"}})
    for customer in demo_company.CUSTOMERS:
        obj = {"Id": customer["Id"], "DisplayName": customer["DisplayName"],
               "CompanyName": customer["DisplayName"],
               "PrintOnCheckName": customer["DisplayName"], "Active": True,
               "Taxable": False, "Balance": 0, "BalanceWithJobs": 0, "BillWithParent": False,
               "Job": False, "IsProject": False,
               "CurrencyRef": {"value": "USD", "name": "United States Dollar"}}
        if customer.get("ParentId"):
            obj["Job"] = True
            obj["ParentRef"] = {"value": customer["ParentId"]}
        put("Customer", obj)
    realm.refresh_customer_names()
    accounts = realm.entities["Account"]
    for item in demo_company.ITEMS:
        obj = {"Id": item["Id"], "Name": item["Name"], "FullyQualifiedName": item["Name"],
               "Type": item["Type"], "Active": True, "Taxable": False,
               "TrackQtyOnHand": False, "UnitPrice": 0, "PurchaseCost": 0}
        for key, ref in (("IncomeAccountId", "IncomeAccountRef"),
                         ("ExpenseAccountId", "ExpenseAccountRef")):
            if item.get(key):
                account = accounts[item[key]]
                obj[ref] = {"value": account["Id"], "name": account["Name"]}
        put("Item", obj)
    for employee in demo_company.EMPLOYEES:
        name = f"{employee['GivenName']} {employee['FamilyName']}"
        put("Employee", {**employee, "DisplayName": name, "PrintOnCheckName": name,
                         "Active": True, "BillableTime": False})
    for cls in demo_company.CLASSES:
        put("Class", {**cls, "FullyQualifiedName": cls["Name"], "Active": True,
                      "SubClass": False})


def _b64_basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    if ":" not in decoded:
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


_UNSET = object()


class _StateLock:
    """A re-entrant lock that, around its outermost hold, shares the state file.

    Outermost acquire: the thread lock, then an exclusive ``flock`` on the lock file, then a
    reload of the state file if another process (or another ``Sandbox`` on the same file)
    replaced it. Outermost release: the state is written back if it changed, then both locks
    are released. Without a state file it is a plain ``RLock``.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self._rlock = threading.RLock()
        self._depth = 0
        self._sandbox = sandbox

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._rlock.acquire(blocking, timeout):
            return False
        self._depth += 1
        if self._depth == 1:
            try:
                self._sandbox._enter_shared()
            except BaseException:
                self._depth -= 1
                self._rlock.release()
                raise
        return True

    def release(self) -> None:
        try:
            if self._depth == 1:
                self._sandbox._leave_shared()
        finally:
            self._depth -= 1
            self._rlock.release()

    def __enter__(self) -> _StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Sandbox:
    """The emulated QuickBooks Online: state, behaviour and test hooks."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        rate_limit_per_minute: int = 500,
        concurrency_limit: int = 10,
        access_token_ttl: int = 3600,
        refresh_token_ttl: int = 8_726_400,
        auth_code_ttl: int = 300,
        duplicate_doc_number_check: bool = True,
        clients: list[OAuthClient] | None = None,
        state_file: str | None = None,
        replay_faults: bool = True,
    ) -> None:
        self.state_file = os.path.abspath(state_file) if state_file else None
        self._lock_fd: int | None = None
        self._loaded_sig: tuple | None = None
        self._dirty = False
        self._request_log: deque[dict] = deque(maxlen=REQUEST_LOG_SIZE)
        self._log_seq = 0
        self.lock = _StateLock(self)
        self.clock = clock or time.time
        self._initial_config = {
            "rate_limit_per_minute": rate_limit_per_minute,
            "concurrency_limit": concurrency_limit,
            "access_token_ttl": access_token_ttl,
            "refresh_token_ttl": refresh_token_ttl,
            "auth_code_ttl": auth_code_ttl,
            "duplicate_doc_number_check": duplicate_doc_number_check,
            "replay_faults": replay_faults,
        }
        self._initial_clients = clients
        self.gate_timeout = 30.0
        # webhook delivery is per process: its configuration, pending events and attempts
        self.webhook: dict | None = None
        self.webhook_events: list[dict] = []
        self.webhook_log: list[dict] = []
        with self.lock:  # loads the state file if there is one
            if self._loaded_sig is None:
                self.reset()

    # ------------------------------------------------------------------------ time
    def now(self) -> float:
        return self.clock() + self._time_offset

    def advance_time(self, seconds: float) -> None:
        """Move the sandbox clock forward (tokens expire, the throttle window slides)."""
        with self.lock:
            self._time_offset += seconds
            self._persist()

    def timestamp(self, *, millis: bool = True) -> str:
        moment = datetime.fromtimestamp(self.now(), QBO_TZ)
        return moment.isoformat(timespec="milliseconds" if millis else "seconds")

    def today(self) -> str:
        return datetime.fromtimestamp(self.now(), QBO_TZ).date().isoformat()

    # ----------------------------------------------------------------- configuration
    def reset(self) -> None:
        """Back to the initial state: demo company only, no POs, no tokens, no faults."""
        with self.lock:
            for realm in getattr(self, "realms", {}).values():
                realm.paused = False
                realm.gate.set()
            self._time_offset = 0.0
            cfg = self._initial_config
            self.rate_limit_per_minute = cfg["rate_limit_per_minute"]
            self.concurrency_limit = cfg["concurrency_limit"]
            self.access_token_ttl = cfg["access_token_ttl"]
            self.refresh_token_ttl = cfg["refresh_token_ttl"]
            self.auth_code_ttl = cfg["auth_code_ttl"]
            self.replay_faults = cfg["replay_faults"]
            self._request_log.clear()
            self._truncate_shared_log()
            self.clients: dict[str, OAuthClient] = {}
            self.register_client(demo_company.DEFAULT_CLIENT_ID,
                                 demo_company.DEFAULT_CLIENT_SECRET)
            for client in self._initial_clients or []:
                self.clients[client.client_id] = copy.deepcopy(client)
            self.realms: dict[str, Realm] = {}
            self.codes: dict[str, AuthCode] = {}
            self.grants: dict[str, Grant] = {}
            self._refresh_index: dict[str, str] = {}
            self._access_index: dict[str, str] = {}
            self.oauth_faults: deque[str] = deque()
            self.webhook: dict | None = None
            self.webhook_events: list[dict] = []
            self.webhook_log: list[dict] = []
            self.add_company(demo_company.DEMO_REALM_ID, demo_company.DEMO_COMPANY_NAME)
            self._persist()

    def configure(
        self,
        *,
        rate_limit_per_minute: int | None = None,
        concurrency_limit: int | None = None,
        access_token_ttl: int | None = None,
        refresh_token_ttl: int | None = None,
        replay_faults: bool | None = None,
    ) -> None:
        """Change limits of this sandbox (until ``reset()``). ``replay_faults``: whether a
        fault is stored under its ``requestid`` and answered again to a retry (default True,
        Intuit's "the same response as the original request")."""
        with self.lock:
            self._persist()
            if replay_faults is not None:
                self.replay_faults = bool(replay_faults)
            if rate_limit_per_minute is not None:
                self.rate_limit_per_minute = int(rate_limit_per_minute)
            if concurrency_limit is not None:
                self.concurrency_limit = int(concurrency_limit)
            if access_token_ttl is not None:
                self.access_token_ttl = int(access_token_ttl)
            if refresh_token_ttl is not None:
                self.refresh_token_ttl = int(refresh_token_ttl)

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: list[str] | None = None
    ) -> OAuthClient:
        """Register an OAuth client; ``redirect_uris=None`` allows any loopback URI."""
        with self.lock:
            client = OAuthClient(client_id, client_secret,
                                 list(redirect_uris) if redirect_uris is not None else None)
            self.clients[client_id] = client
            self._persist()
            return client

    def add_company(self, realm_id: str, company_name: str) -> Realm:
        """Add a realm seeded with the demo lists (see ``demo_company``)."""
        with self.lock:
            realm = Realm(str(realm_id), company_name)
            realm.settings["duplicate_doc_number_check"] = self._initial_config[
                "duplicate_doc_number_check"]
            _seed(realm, self.timestamp(millis=False))
            self.realms[realm.realm_id] = realm
            self._persist()
            return realm

    def realm(self, realm_id: str = demo_company.DEMO_REALM_ID) -> Realm:
        with self.lock:
            try:
                return self.realms[str(realm_id)]
            except KeyError:
                raise LookupError(f"unknown realm {realm_id}") from None

    # ------------------------------------------------------------------------- OAuth
    def check_authorize(self, client_id: str | None, redirect_uri: str | None) -> OAuthClient:
        """Raise OAuthError unless the client may be sent back to ``redirect_uri``."""
        with self.lock:
            client = self.clients.get(client_id or "")
        if client is None:
            raise OAuthError(400, "invalid_client", "Unknown client_id.")
        if not client.allows(redirect_uri):
            raise OAuthError(400, "invalid_request",
                             "redirect_uri is not registered for this client.")
        return client

    def issue_code(self, client_id: str, redirect_uri: str, realm_id: str, scope: str) -> str:
        with self.lock:
            self.check_authorize(client_id, redirect_uri)
            if not grants_company_access(scope):
                realm_id = ""  # sign-in only: no company is chosen, no realmId comes back
            elif realm_id not in self.realms:
                raise OAuthError(400, "invalid_request", "Unknown company.")
            code = "AB" + secrets.token_urlsafe(32)
            self.codes[code] = AuthCode(client_id, redirect_uri, realm_id, scope,
                                        self.now() + self.auth_code_ttl)
            self._persist()
            return code

    def authenticate_client(self, authorization: str | None) -> OAuthClient:
        creds = _b64_basic(authorization)
        client = self.clients.get(creds[0]) if creds else None
        if client is None or not secrets.compare_digest(
            client.client_secret.encode(), creds[1].encode()  # type: ignore[index]
        ):
            raise OAuthError(401, "invalid_client")
        return client

    def _issue_tokens(self, grant: Grant) -> dict:
        now = self.now()
        access = "eyJ" + secrets.token_urlsafe(48)
        grant.access_tokens[access] = now + self.access_token_ttl
        self._access_index[access] = grant.grant_id
        return {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": self.access_token_ttl,
            "refresh_token": grant.refresh_token,
            "x_refresh_token_expires_in": max(0, round(grant.refresh_expires_at - now)),
        }

    def token(self, authorization: str | None, form: dict[str, str]) -> dict:
        """The token endpoint (authorization_code and refresh_token grants)."""
        with self.lock:
            client = self.authenticate_client(authorization)
            grant_type = form.get("grant_type")
            now = self.now()
            if grant_type == "authorization_code":
                code = self.codes.get(form.get("code") or "")
                if (code is None or code.used or code.expires_at <= now
                        or code.client_id != client.client_id
                        or code.redirect_uri != form.get("redirect_uri")):
                    raise OAuthError(400, "invalid_grant")
                code.used = True
                self._persist()
                grant = Grant(
                    grant_id=secrets.token_hex(8),
                    client_id=client.client_id,
                    realm_id=code.realm_id,
                    scope=code.scope,
                    refresh_token=self._new_refresh_token(),
                    refresh_expires_at=now + self.refresh_token_ttl,
                )
                self.grants[grant.grant_id] = grant
                self._refresh_index[grant.refresh_token] = grant.grant_id
            elif grant_type == "refresh_token":
                grant_id = self._refresh_index.get(form.get("refresh_token") or "")
                grant = self.grants.get(grant_id or "")
                if (grant is None or grant.revoked or grant.client_id != client.client_id
                        or grant.refresh_expires_at <= now):
                    raise OAuthError(400, "invalid_grant")
                # rotate: the old refresh token stops working at once
                del self._refresh_index[grant.refresh_token]
                grant.refresh_token = self._new_refresh_token()
                grant.refresh_expires_at = now + self.refresh_token_ttl
                self._refresh_index[grant.refresh_token] = grant.grant_id
            else:
                raise OAuthError(400, "unsupported_grant_type")
            body = self._issue_tokens(grant)
            self._persist()
            return body

    @staticmethod
    def _new_refresh_token() -> str:
        return "AB11" + secrets.token_hex(23)

    def revoke(self, authorization: str | None, token: str | None) -> None:
        """Revoke the grant a refresh or access token belongs to (all of its tokens)."""
        with self.lock:
            client = self.authenticate_client(authorization)
            if not token:
                raise OAuthError(400, "invalid_request", "token is required.")
            grant_id = self._refresh_index.get(token) or self._access_index.get(token)
            grant = self.grants.get(grant_id or "")
            if grant is not None and grant.client_id == client.client_id:
                self._revoke_grant(grant)
                self._persist()

    def _revoke_grant(self, grant: Grant) -> None:
        grant.revoked = True
        self._refresh_index.pop(grant.refresh_token, None)
        for access in grant.access_tokens:
            self._access_index.pop(access, None)

    def bearer_problem(self, realm_id: str | None, authorization: str | None) -> str | None:
        """Why an Authorization header does not give access to ``realm_id`` (None: it does)."""
        check = self.bearer_check(realm_id, authorization)
        return check[1] if check else None

    def bearer_check(self, realm_id: str | None,
                     authorization: str | None) -> tuple[int, str] | None:
        """``(401, why)`` for a missing/unknown/expired/revoked token, ``(403, why)`` for a
        good token used on a company it was not issued for; None when it gives access."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return 401, "Authorization header missing or not a Bearer token"
        token = authorization[7:].strip()
        with self.lock:
            grant = self.grants.get(self._access_index.get(token, ""))
            if grant is None:
                if any(token in g.access_tokens for g in self.grants.values()):
                    return 401, "Token revoked"
                return 401, "Malformed bearer token: unknown token"
            if grant.revoked:
                return 401, "Token revoked"
            if grant.access_tokens[token] <= self.now():
                return 401, f"Token expired: {token[:12]}..."
            if realm_id is not None and not grants_company_access(grant.scope):
                return 403, ("The app is not authorized for company data: the token's scope "
                             f"({grant.scope}) grants no QuickBooks company")
            if realm_id is not None and grant.realm_id != realm_id:
                return 403, (f"The app is not authorized for company {realm_id} (the token "
                             f"was issued for another company)")
        return None

    def user_info(self, authorization: str | None) -> dict | None:
        """Intuit's userinfo: ``sub`` always, then only the claims of the grant's scopes
        (``email``: email, emailVerified; ``profile``: givenName, familyName; ``phone``:
        phoneNumber, phoneNumberVerified; ``address``: address). None: no valid token.
        A token without ``openid`` gets ``{}`` (the route answers 403 insufficient_scope)."""
        if self.bearer_problem(None, authorization):
            return None
        with self.lock:
            grant = self.grants[self._access_index[authorization[7:].strip()]]  # type: ignore[index]
            scopes = scope_set(grant.scope)
        if "openid" not in scopes:
            return {}
        info: dict = {"sub": SANDBOX_USER["sub"]}
        for scope, claims in USERINFO_CLAIMS.items():
            if scope in scopes:
                info.update({claim: copy.deepcopy(SANDBOX_USER[claim]) for claim in claims})
        return info

    # ------------------------------------------------------------------------- hooks
    def inject_fault(self, realm_id: str, kind: str, count: int = 1) -> None:
        """Make the next ``count`` API calls of the realm fail with ``kind``.

        Kinds: ``"5010"`` (stale object), ``"401"`` (3200), ``"429"`` (3001), ``"500"``,
        ``"drop"`` (connection closed without a response), ``"500_after_apply"`` and
        ``"drop_after_apply"`` (the request is processed -- a write happens -- then the
        500 / dropped connection is what the client gets).
        """
        kind = FAULT_ALIASES.get(str(kind), str(kind))
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        with self.lock:
            self.realm(realm_id).faults.extend([kind] * int(count))
            self._persist()

    def inject_oauth_fault(self, kind: str, count: int = 1) -> None:
        """Make the next ``count`` calls of the token endpoint fail with ``kind``: ``"500"``,
        ``"503"`` (Intuit's side is down; nothing is processed, no token rotates) or
        ``"drop"`` (the connection closes with no answer)."""
        kind = str(kind)
        if kind not in OAUTH_FAULT_KINDS:
            raise ValueError(f"unknown OAuth fault kind {kind!r}; use one of "
                             f"{OAUTH_FAULT_KINDS}")
        with self.lock:
            self.oauth_faults.extend([kind] * int(count))
            self._persist()

    def take_oauth_fault(self) -> str | None:
        """The token endpoint's next injected fault, if any (used by the app)."""
        with self.lock:
            if not self.oauth_faults:
                return None
            self._persist()
            return self.oauth_faults.popleft()

    def pending_oauth_faults(self) -> list[str]:
        with self.lock:
            return list(self.oauth_faults)

    def clear_oauth_faults(self) -> None:
        with self.lock:
            self.oauth_faults.clear()
            self._persist()

    def pending_faults(self, realm_id: str) -> list[str]:
        with self.lock:
            return list(self.realm(realm_id).faults)

    def clear_faults(self, realm_id: str) -> None:
        with self.lock:
            self.realm(realm_id).faults.clear()
            self._persist()

    def expire_access_tokens(self, realm_id: str) -> int:
        """Expire every access token issued for the realm now; returns how many."""
        with self.lock:
            now = self.now()
            count = 0
            for grant in self.grants.values():
                if grant.realm_id == str(realm_id):
                    for token, expires in grant.access_tokens.items():
                        if expires > now:
                            grant.access_tokens[token] = now
                            count += 1
            self._persist()
            return count

    def edit_purchase_order(
        self,
        realm_id: str,
        po_id: str,
        *,
        private_note: object = _UNSET,
        memo: object = _UNSET,
        doc_number: object = _UNSET,
        lines: dict[str, dict] | None = None,
        add_lines: list[dict] | None = None,
        remove_line_ids: list[str] | None = None,
        **fields: object,
    ) -> dict:
        """Change a PurchaseOrder as a user would "inside QuickBooks".

        ``private_note`` / ``memo`` / ``doc_number``: set (None clears) the PrivateNote, the
        Memo, the DocNumber (a renumbering; at most 21 characters; the QuickBooks screen only
        warns about a number already in use, so a duplicate is accepted here).
        ``lines`` maps a line Id to the fields to change (``Description``, ``Amount``, or a
        detail dict merged into the line's detail). ``add_lines`` appends lines (validated as
        the API validates them; new Ids), ``remove_line_ids`` deletes lines (at least one
        must remain); other keyword arguments set top-level fields.
        The SyncToken goes up by one and TotalAmt is recomputed. Returns the new object.
        """
        with self.lock:
            realm = self.realm(realm_id)
            current = realm.entities["PurchaseOrder"].get(str(po_id))
            if current is None:
                raise LookupError(f"no PurchaseOrder {po_id} in realm {realm_id}")
            po = copy.deepcopy(current)
            for key, value in (("PrivateNote", private_note), ("Memo", memo),
                               ("DocNumber", doc_number)):
                if value is _UNSET:
                    continue
                if value is None or value == "":
                    po.pop(key, None)
                    continue
                value = str(value)
                if key == "DocNumber" and len(value) > entities.DOC_NUMBER_MAX:
                    raise ValueError(f"DocNumber {value!r} is longer than "
                                     f"{entities.DOC_NUMBER_MAX} characters")
                po[key] = value
            po.update(copy.deepcopy(fields))
            by_id = {line["Id"]: line for line in po.get("Line", [])}
            for line_id, changes in (lines or {}).items():
                line = by_id.get(str(line_id))
                if line is None:
                    raise LookupError(f"no line {line_id} on PurchaseOrder {po_id}")
                for key, value in changes.items():
                    if isinstance(value, dict) and isinstance(line.get(key), dict):
                        line[key].update(value)
                    else:
                        line[key] = value
                    if key == "Amount":
                        line[key] = float(entities.money(value, "Amount"))
            removed = {str(i) for i in remove_line_ids or []}
            po["Line"] = [line for line in po.get("Line", []) if line["Id"] not in removed]
            next_line = realm.next_line_id.get(po["Id"], 1)
            if add_lines:
                try:
                    added, next_line = entities.build_lines(
                        realm, [{k: v for k, v in copy.deepcopy(line).items() if k != "Id"}
                                for line in add_lines], [], next_line)
                except faults.QBOFault as fault:
                    raise ValueError(f"line refused: {fault.code} {fault.detail}") from None
                po["Line"].extend(added)
            if not po["Line"]:
                raise ValueError("a purchase order keeps at least one line")
            realm.next_line_id[po["Id"]] = next_line
            for index, line in enumerate(po["Line"], start=1):
                line["LineNum"] = index
            po["TotalAmt"] = float(sum(entities.money(line["Amount"], "Amount")
                                       for line in po["Line"]))
            po["SyncToken"] = str(int(po["SyncToken"]) + 1)
            po["MetaData"] = {**po["MetaData"], "LastUpdatedTime": self.timestamp(millis=False)}
            realm.entities["PurchaseOrder"][po["Id"]] = po
            self._emit(realm.realm_id, "PurchaseOrder", po["Id"], "Update",
                       po["MetaData"]["LastUpdatedTime"])
            self._persist()
            return copy.deepcopy(po)

    def add_purchase_order(
        self,
        realm_id: str,
        vendor_id: str,
        lines: list[dict],
        *,
        doc_number: str | None = None,
        memo: str | None = None,
        private_note: str | None = None,
        txn_date: str | None = None,
    ) -> dict:
        """A bookkeeper enters a PurchaseOrder in QuickBooks (books that existed before the
        app): ``lines`` as the API takes them. Validated as the API validates a create, the
        DocNumber check included. Returns the new object."""
        body: dict = {"VendorRef": {"value": str(vendor_id)}, "Line": copy.deepcopy(lines)}
        for key, value in (("DocNumber", doc_number), ("Memo", memo),
                           ("PrivateNote", private_note), ("TxnDate", txn_date)):
            if value is not None:
                body[key] = value
        with self.lock:
            realm = self.realm(realm_id)
            try:
                obj = entities.create(realm, "PurchaseOrder", body,
                                      now=self.timestamp(millis=False), today=self.today())
            except faults.QBOFault as fault:
                raise ValueError(f"purchase order refused: {fault.code} {fault.detail}") from None
            self._emit(realm.realm_id, "PurchaseOrder", obj["Id"], "Create",
                       self.timestamp(millis=False))
            self._persist()
            return copy.deepcopy(obj)
    def add_purchase_orders(self, realm_id: str, bodies: list[dict]) -> list[dict]:
        """Books that already exist: create PurchaseOrders without API calls (validated as
        the API's create; no request counted). Returns the created objects."""
        created = []
        with self.lock:
            realm = self.realm(realm_id)
            stamp = self.timestamp(millis=False)
            for body in bodies:
                try:
                    obj = entities.create(realm, "PurchaseOrder", copy.deepcopy(body),
                                          now=stamp, today=self.today())
                except faults.QBOFault as fault:
                    raise ValueError(f"purchase order refused: {fault.code} "
                                     f"{fault.detail}") from None
                self._emit(realm.realm_id, "PurchaseOrder", obj["Id"], "Create", stamp)
                created.append(copy.deepcopy(obj))
            self._persist()
        return created

    def renumber_purchase_order(self, realm_id: str, po_id: str, doc_number: str) -> dict:
        """A user changes the PO's number (DocNumber) in QuickBooks."""
        return self.edit_purchase_order(realm_id, po_id, doc_number=doc_number)

    def add_purchase_order_line(
        self,
        realm_id: str,
        po_id: str,
        amount: object,
        *,
        description: str | None = None,
        item_id: str | None = None,
        account_id: str | None = None,
        customer_id: str | None = None,
        billable: bool = False,
    ) -> dict:
        """A user adds a line in QuickBooks: an item line (``item_id``) or an account line
        (``account_id``, exactly one of the two). Returns the new object."""
        if (item_id is None) == (account_id is None):
            raise ValueError("give exactly one of item_id and account_id")
        detail_type = ("ItemBasedExpenseLineDetail" if item_id is not None
                       else "AccountBasedExpenseLineDetail")
        detail: dict = ({"ItemRef": {"value": str(item_id)}} if item_id is not None
                        else {"AccountRef": {"value": str(account_id)}})
        if customer_id is not None:
            detail["CustomerRef"] = {"value": str(customer_id)}
        detail["BillableStatus"] = "Billable" if billable else "NotBillable"
        line: dict = {"Amount": amount, "DetailType": detail_type, detail_type: detail}
        if description is not None:
            line["Description"] = description
        return self.edit_purchase_order(realm_id, po_id, add_lines=[line])

    def delete_purchase_order(self, realm_id: str, po_id: str) -> None:
        """A user deletes the PO in QuickBooks: reads and updates of it are then 610."""
        with self.lock:
            realm = self.realm(realm_id)
            if realm.entities["PurchaseOrder"].pop(str(po_id), None) is None:
                raise LookupError(f"no PurchaseOrder {po_id} in realm {realm_id}")
            realm.deleted.setdefault("PurchaseOrder", set()).add(str(po_id))
            stamp = self.timestamp(millis=False)
            realm.deleted_at.setdefault("PurchaseOrder", {})[str(po_id)] = stamp
            self._emit(realm.realm_id, "PurchaseOrder", str(po_id), "Delete", stamp)
            self._persist()

    def set_active(self, realm_id: str, entity: str, obj_id: str, active: bool) -> dict:
        """Make a name-list object (Vendor, Customer, Item, Account, Class) (in)active."""
        entity = entities.URL_NAMES.get(entity.lower(), entity)
        if entity not in entities.NAME_LISTS:
            raise ValueError(f"{entity} is not a name list")
        with self.lock:
            obj = self.realm(realm_id).entities[entity].get(str(obj_id))
            if obj is None:
                raise LookupError(f"no {entity} {obj_id}")
            obj["Active"] = bool(active)
            obj["SyncToken"] = str(int(obj["SyncToken"]) + 1)
            obj["MetaData"]["LastUpdatedTime"] = self.timestamp(millis=False)
            self._emit(str(realm_id), entity, obj["Id"], "Update",
                       obj["MetaData"]["LastUpdatedTime"])
            self._persist()
            return copy.deepcopy(obj)

    def set_custom_transaction_numbers(self, realm_id: str, enabled: bool) -> None:
        """QuickBooks' "custom transaction numbers" company setting (off by default: a
        PurchaseOrder created without DocNumber gets the next number)."""
        with self.lock:
            self.realm(realm_id).settings["custom_transaction_numbers"] = bool(enabled)
            self._persist()

    def set_duplicate_doc_number_check(self, realm_id: str, enabled: bool) -> None:
        """QuickBooks' "warn if duplicate PO number" company setting (on by default)."""
        with self.lock:
            self.realm(realm_id).settings["duplicate_doc_number_check"] = bool(enabled)
            self._persist()

    # -------------------------------------------------------------------- webhooks
    def configure_webhooks(self, url: str | None, verifier_token: str = "",
                           fmt: str = "cloudevents", deliver: str = "manual",
                           timeout: float = 3.0) -> None:
        """Deliver change events to ``url`` signed with ``verifier_token`` (``None``: off).
        ``fmt``: ``"cloudevents"`` (Intuit's format since 2026) or ``"legacy"``
        (``eventNotifications``). ``deliver``: ``"manual"`` (``deliver_webhooks()`` sends
        what is pending) or ``"immediate"`` (a background thread sends right after each
        change). Events of changes made while off are not kept."""
        if fmt not in webhooks.FORMATS:
            raise ValueError(f"unknown webhook format {fmt!r}; use one of {webhooks.FORMATS}")
        if deliver not in ("manual", "immediate"):
            raise ValueError("deliver is 'manual' or 'immediate'")
        with self.lock:
            self.webhook = None if not url else {
                "url": url, "verifier_token": verifier_token, "format": fmt,
                "deliver": deliver, "timeout": float(timeout)}
            self.webhook_events = []

    def pending_webhook_events(self) -> list[dict]:
        with self.lock:
            return copy.deepcopy(self.webhook_events)

    def webhook_deliveries(self) -> list[dict]:
        """Every delivery attempt: ``status`` (None: no answer), ``events``, ``body``,
        ``signature``, ``seconds`` (how long the endpoint took to answer)."""
        with self.lock:
            return copy.deepcopy(self.webhook_log)

    def _emit(self, realm_id: str, entity: str, obj_id: str, operation: str,
              when: str) -> None:
        with self.lock:
            if self.webhook is None:
                return
            self.webhook_events.append(
                webhooks.event(realm_id, entity, obj_id, operation, when, self.now()))
            immediate = self.webhook["deliver"] == "immediate"
        if immediate:
            threading.Thread(target=self.deliver_webhooks, daemon=True).start()

    def deliver_webhooks(self) -> list[dict]:
        """POST the pending events (one signed request); returns the attempts made. Events
        not answered with a 200 stay pending and go again with the next delivery."""
        import requests  # only when a delivery is made

        with self.lock:
            config = copy.deepcopy(self.webhook)
            events, self.webhook_events = self.webhook_events, []
        if config is None or not events:
            return []
        body = webhooks.payload(events, config["format"])
        sig = webhooks.signature(body, config["verifier_token"])
        started = time.monotonic()
        status: int | None = None
        try:
            answer = requests.post(config["url"], data=body, timeout=config["timeout"],
                                   headers={"Content-Type": "application/json",
                                            "intuit-signature": sig})
            status = answer.status_code
        except requests.RequestException:
            status = None
        attempt = {"status": status, "events": len(events), "body": body.decode("utf-8"),
                   "signature": sig, "seconds": round(time.monotonic() - started, 3)}
        with self.lock:
            self.webhook_log.append(attempt)
            if status != 200:
                self.webhook_events[:0] = events
        return [attempt]

    def pause_api(self, realm_id: str) -> None:
        """Hold the realm's API calls after admission (they stay "in flight", counted by
        the concurrency limit) until ``resume_api`` (or ``gate_timeout``, 30 s)."""
        with self.lock:
            realm = self.realm(realm_id)
            realm.paused = True
            realm.gate.clear()
            self._persist()

    def resume_api(self, realm_id: str) -> None:
        with self.lock:
            realm = self.realm(realm_id)
            realm.paused = False
            realm.gate.set()
            self._persist()

    def set_api_delay(self, realm_id: str, seconds: float) -> None:
        """Every API call of the realm takes ``seconds`` longer (held while in flight, after
        admission); 0 turns it off."""
        if float(seconds) < 0:
            raise ValueError("the delay cannot be negative")
        with self.lock:
            self.realm(realm_id).api_delay = float(seconds)
            self._persist()

    def request_log(self, realm_id: str | None = None, since: int = 0) -> list[dict]:
        """The API calls received (newest last, at most the last 1000): ``seq``, ``time``,
        ``realm_id``, ``method``, ``path``, ``params`` (the query string), ``requestid``,
        ``minorversion_served``, ``body`` (JSON as sent, or text), ``status``, ``code`` (the
        fault code, if any), ``replayed`` (answered from the requestid store),
        ``injected`` (an injected fault kind), ``dropped``. ``since``: only ``seq > since``."""
        with self.lock:
            entries = self._read_shared_log() if self.state_file else list(self._request_log)
        return [copy.deepcopy(e) for e in entries
                if e["seq"] > since and (realm_id is None or e["realm_id"] == str(realm_id))]

    def clear_request_log(self) -> None:
        with self.lock:
            self._request_log.clear()
            self._truncate_shared_log()

    def request_ids_seen(self, realm_id: str = demo_company.DEMO_REALM_ID) -> list[dict]:
        """Every ``requestid`` the realm received, in first-seen order: ``requestid``,
        ``count`` (calls that carried it), ``status`` and ``code`` of the stored answer,
        ``stored`` (whether later calls with it are answered from the store)."""
        with self.lock:
            realm = self.realm(realm_id)
            return [{"requestid": rid, **copy.deepcopy(info),
                     "stored": rid in realm.request_ids}
                    for rid, info in realm.seen_request_ids.items()]

    def in_flight(self, realm_id: str) -> int:
        with self.lock:
            return self.realm(realm_id).in_flight

    def counters(self, realm_id: str = demo_company.DEMO_REALM_ID) -> dict:
        """``requests``: API calls received for the realm (failed ones too);
        ``writes``: creates/updates/deletes applied; ``throttled``: 429s for the limits;
        ``purchase_orders``: purchase orders that exist."""
        with self.lock:
            realm = self.realm(realm_id)
            return {
                "requests": realm.request_count,
                "writes": realm.write_count,
                "throttled": realm.throttled_count,
                "purchase_orders": realm.purchase_order_count(),
                "in_flight": realm.in_flight,
                "pending_faults": len(realm.faults),
            }

    def get(self, realm_id: str, entity: str, obj_id: str) -> dict | None:
        """A copy of a stored object, or None."""
        entity = entities.URL_NAMES.get(entity.lower(), entity)
        with self.lock:
            obj = self.realm(realm_id).entities[entity].get(str(obj_id))
            return copy.deepcopy(obj)

    def list_objects(self, realm_id: str, entity: str) -> list[dict]:
        """Copies of all stored objects of an entity, by Id."""
        entity = entities.URL_NAMES.get(entity.lower(), entity)
        with self.lock:
            objs = self.realm(realm_id).entities[entity].values()
            return sorted((copy.deepcopy(o) for o in objs), key=lambda o: int(o["Id"]))

    def purchase_orders(self, realm_id: str = demo_company.DEMO_REALM_ID) -> list[dict]:
        return self.list_objects(realm_id, "PurchaseOrder")

    # ----------------------------------------------------------------------- the API
    def _json(self, status: int, body: dict, headers: dict | None = None) -> ApiResponse:
        return ApiResponse(status, json.dumps(body), dict(headers or {}))

    def _fault(self, fault: faults.QBOFault) -> ApiResponse:
        return self._json(fault.status, fault.body(self.timestamp()))

    def _unauthorized(self, detail: str) -> ApiResponse:
        body = faults.authentication_failed_body(detail, int(self.now() * 1000))
        return self._json(401, body, {
            "WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'})

    def _forbidden(self, detail: str) -> ApiResponse:
        return self._json(403, faults.authorization_failed_body(detail, int(self.now() * 1000)))

    def _auth_response(self, check: tuple[int, str]) -> ApiResponse:
        status, detail = check
        return self._forbidden(detail) if status == 403 else self._unauthorized(detail)

    def handle_api(
        self,
        method: str,
        realm_id: str,
        path: str,
        args: dict[str, str],
        body: str,
        authorization: str | None,
    ) -> ApiResponse:
        """Answer one call to ``/v3/company/{realm_id}/{path}`` (and log it)."""
        note: dict = {}
        response = self._handle_api(method, str(realm_id), path, args, body, authorization,
                                    note)
        self._log_request(method, str(realm_id), path, args, body, response, note)
        return response

    def _handle_api(
        self, method: str, realm_id: str, path: str, args: dict[str, str], body: str,
        authorization: str | None, note: dict,
    ) -> ApiResponse:
        with self.lock:
            realm = self.realms.get(realm_id)
            if realm is None:  # a company this app (token) is not connected to
                check = self.bearer_check(None, authorization)
                return self._auth_response(
                    check or (403, f"The app is not authorized for company {realm_id}"))
            realm.request_count += 1
            self._persist()
            injected = realm.faults.popleft() if realm.faults else None
            note["injected"] = injected
            if injected is not None and injected not in AFTER_APPLY:
                return self._injected(injected)
        response = self._admitted(realm_id, method, path, args, body, authorization, note)
        if injected == "500_after_apply":
            return self._fault(faults.server_error())
        if injected == "drop_after_apply":
            return ApiResponse(0, drop=True)
        return response

    def _injected(self, kind: str) -> ApiResponse:
        if kind == "5010":
            return self._fault(faults.stale_object())
        if kind == "401":
            return self._unauthorized(f"Token expired: injected by the sandbox at {self.now()}")
        if kind == "429":
            return self._fault(faults.throttled())
        if kind == "500":
            return self._fault(faults.server_error())
        return ApiResponse(0, drop=True)

    def _admitted(
        self, realm_id: str, method: str, path: str, args: dict[str, str], body: str,
        authorization: str | None, note: dict,
    ) -> ApiResponse:
        with self.lock:
            realm = self.realm(realm_id)
            check = self.bearer_check(realm_id, authorization)
            if check:
                return self._auth_response(check)
            now = self.now()
            while realm.request_times and realm.request_times[0] <= now - 60:
                realm.request_times.popleft()
            if (len(realm.request_times) >= self.rate_limit_per_minute
                    or realm.in_flight >= self.concurrency_limit):
                realm.throttled_count += 1
                self._persist()
                return self._fault(faults.throttled())
            realm.request_times.append(now)
            realm.in_flight += 1
            delay = realm.api_delay
            self._persist()
        try:
            self._wait_while_paused(realm_id)
            if delay > 0:
                time.sleep(delay)
            with self.lock:
                return self._dispatch(self.realm(realm_id), method, path, args, body, note)
        finally:
            with self.lock:
                current = self.realms.get(realm_id)
                if current is not None:
                    current.in_flight = max(0, current.in_flight - 1)

    def _wait_while_paused(self, realm_id: str) -> None:
        deadline = time.monotonic() + self.gate_timeout
        while True:
            with self.lock:
                realm = self.realms.get(realm_id)
                if realm is None or not realm.paused:
                    return
                gate = realm.gate
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.state_file:  # another process may resume it: look again soon
                time.sleep(min(remaining, 0.02))
            else:
                gate.wait(remaining)

    def _dispatch(
        self, realm: Realm, method: str, path: str, args: dict[str, str], body: str,
        note: dict,
    ) -> ApiResponse:
        minor = (args.get("minorversion") or "").strip()
        if minor and not minor.isdigit():
            return self._fault(faults.invalid_property(
                "minorversion", f"{minor!r} is not a supported minor version."))
        # Intuit (since August 2025): no minorversion, or one below 75, is served as 75
        note["minorversion_served"] = max(MIN_MINOR_VERSION, int(minor or 0))
        request_id = args.get("requestid")
        if request_id and len(request_id) > MAX_REQUEST_ID:
            return self._fault(faults.string_length("requestid", MAX_REQUEST_ID,
                                                    len(request_id)))
        if request_id:
            seen = realm.seen_request_ids.setdefault(
                request_id, {"count": 0, "status": None, "code": None})
            seen["count"] += 1
            self._persist()
        if request_id and request_id in realm.request_ids:
            status, text = realm.request_ids[request_id]
            note["replayed"] = True
            return ApiResponse(status, text)
        try:
            result = self._route(realm, method, path, args, body)
        except faults.QBOFault as fault:
            response = self._fault(fault)
            if request_id:
                seen.update(status=response.status, code=fault.code)
                if self.replay_faults:  # "the same response as the original request"
                    realm.request_ids[request_id] = (response.status, response.text)
            return response
        response = self._json(200, result)
        if request_id:
            realm.request_ids[request_id] = (response.status, response.text)
            seen.update(status=200, code=None)
        if method == "POST" and "QueryResponse" not in result:
            self._persist()
        return response

    def _route(
        self, realm: Realm, method: str, path: str, args: dict[str, str], body: str
    ) -> dict:
        parts = [p for p in path.split("/") if p]
        if parts and parts[0].lower() == "query" and len(parts) == 1:
            text = args.get("query") if method == "GET" else (body or args.get("query"))
            parsed = query.parse_query(text or "", entities.URL_NAMES)
            objs = list(realm.entities[parsed.entity].values())
            result = query.execute(parsed, objs, name_list=parsed.entity in entities.NAME_LISTS)
            return {"QueryResponse": copy.deepcopy(result), "time": self.timestamp()}
        if parts and parts[0].lower() == "cdc" and len(parts) == 1 and method == "GET":
            return cdc.answer(realm, args, now=self.now(), company_tz=QBO_TZ,
                              entity_names=entities.URL_NAMES, stamp=self.timestamp())
        entity = entities.URL_NAMES.get(parts[0].lower()) if parts else None
        if entity is None:
            raise faults.unsupported_operation(f"{method} /{path}")
        if len(parts) == 2 and method == "GET":
            obj = entities.read(realm, entity, parts[1])
            return {entity: copy.deepcopy(obj), "time": self.timestamp()}
        if len(parts) != 1 or method != "POST":
            raise faults.unsupported_operation(f"{method} /{path}")
        try:
            data = json.loads(body or "")
        except ValueError:
            raise faults.invalid_property(
                "body", "Request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise faults.invalid_property("body", f"Request body must be a {entity} object.")
        operation = (args.get("operation") or "").lower()
        includes = {part.strip().lower() for part in (args.get("include") or "").split(",")}
        allow_dup = "allowduplicatedocnum" in includes
        stamp = self.timestamp(millis=False)
        if operation == "delete":
            obj = entities.delete(realm, entity, data)
            realm.deleted_at.setdefault(entity, {})[obj["Id"]] = stamp
            change = "Delete"
        elif operation == "update" or data.get("Id") not in (None, "", 0, "0"):
            obj = entities.update(realm, entity, data, now=stamp, today=self.today(),
                                  allow_duplicate_doc_number=allow_dup)
            change = "Update"
        elif operation in ("", "create"):
            obj = entities.create(realm, entity, data, now=stamp, today=self.today(),
                                  allow_duplicate_doc_number=allow_dup)
            change = "Create"
        else:
            raise faults.unsupported_operation(operation)
        realm.write_count += 1
        self._emit(realm.realm_id, entity, obj["Id"], change, stamp)
        return {entity: copy.deepcopy(obj), "time": self.timestamp()}

    # ------------------------------------------------------------------ request log
    def _log_request(self, method: str, realm_id: str, path: str, args: dict[str, str],
                     body: str, response: ApiResponse, note: dict) -> None:
        code = None
        if response.status not in (0, 200) and response.text:
            with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
                answer = json.loads(response.text)
                if "Fault" in answer:
                    code = answer["Fault"]["Error"][0]["code"]
                else:
                    code = answer["fault"]["error"][0]["code"]
        sent: object = body[:REQUEST_LOG_BODY_MAX] if body else None
        if body:
            with contextlib.suppress(ValueError):
                sent = json.loads(body)
        with self.lock:
            self._log_seq += 1
            self._persist()
            entry = {
                "seq": self._log_seq,
                "time": self.timestamp(),
                "realm_id": realm_id,
                "method": method,
                "path": path,
                "params": dict(args),
                "requestid": args.get("requestid"),
                "minorversion_served": note.get("minorversion_served"),
                "body": sent,
                "status": response.status,
                "code": code,
                "replayed": bool(note.get("replayed")),
                "injected": note.get("injected"),
                "dropped": response.drop,
            }
            self._request_log.append(entry)
            if self.state_file:
                with open(self._log_path(), "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")
                if os.path.getsize(self._log_path()) > 8_000_000:
                    self._rewrite_shared_log(self._read_shared_log())

    def _log_path(self) -> str:
        return f"{self.state_file}.requests.jsonl"

    def _read_shared_log(self) -> list[dict]:
        try:
            with open(self._log_path(), encoding="utf-8") as fh:
                lines = fh.readlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in lines[-REQUEST_LOG_SIZE:]:
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
        return entries

    def _rewrite_shared_log(self, entries: list[dict]) -> None:
        self._atomic_write(self._log_path(),
                           "".join(json.dumps(e) + "\n" for e in entries))

    def _truncate_shared_log(self) -> None:
        if self.state_file and os.path.exists(self._log_path()):
            self._rewrite_shared_log([])

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> dict:
        with self.lock:
            return {
                "time_offset": self._time_offset,
                "config": {
                    "rate_limit_per_minute": self.rate_limit_per_minute,
                    "concurrency_limit": self.concurrency_limit,
                    "access_token_ttl": self.access_token_ttl,
                    "refresh_token_ttl": self.refresh_token_ttl,
                    "auth_code_ttl": self.auth_code_ttl,
                    "replay_faults": self.replay_faults,
                },
                "log_seq": self._log_seq,
                "clients": [vars(c) for c in self.clients.values()],
                "realms": [r.to_json() for r in self.realms.values()],
                "grants": [vars(g) for g in self.grants.values()],
                "codes": {k: vars(v) for k, v in self.codes.items()},
                "oauth_faults": list(self.oauth_faults),
            }

    @staticmethod
    def _atomic_write(path: str, text: str) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".qbo_sandbox_state")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def save_state(self, path: str) -> None:
        """Write the state to ``path`` atomically (a temporary file renamed over it)."""
        self._atomic_write(path, json.dumps(self.to_json(), indent=1))

    def load_state(self, path: str) -> None:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        with self.lock:
            self._apply_state(data)

    def _apply_state(self, data: dict) -> None:
        """Take the state from ``data``; calls in flight and their gates stay this process's."""
        old_realms = getattr(self, "realms", {})
        self._time_offset = data.get("time_offset", 0.0)
        config = {**self._initial_config, **data.get("config", {})}
        self.rate_limit_per_minute = config["rate_limit_per_minute"]
        self.concurrency_limit = config["concurrency_limit"]
        self.access_token_ttl = config["access_token_ttl"]
        self.refresh_token_ttl = config["refresh_token_ttl"]
        self.auth_code_ttl = config["auth_code_ttl"]
        self.replay_faults = config["replay_faults"]
        self._log_seq = data.get("log_seq", self._log_seq)
        self.clients = {c["client_id"]: OAuthClient(**c) for c in data["clients"]}
        self.realms = {r["realm_id"]: Realm.from_json(r) for r in data["realms"]}
        for realm_id, realm in self.realms.items():
            old = old_realms.get(realm_id)
            if old is not None:
                realm.in_flight = old.in_flight
                realm.gate = old.gate
                if realm.paused:
                    realm.gate.clear()
                else:
                    realm.gate.set()
        self.grants = {g["grant_id"]: Grant(**g) for g in data["grants"]}
        self.codes = {k: AuthCode(**v) for k, v in data.get("codes", {}).items()}
        self.oauth_faults = deque(data.get("oauth_faults", []))
        self._refresh_index = {}
        self._access_index = {}
        for grant in self.grants.values():
            if not grant.revoked:
                self._refresh_index[grant.refresh_token] = grant.grant_id
                for token in grant.access_tokens:
                    self._access_index[token] = grant.grant_id

    def _persist(self) -> None:
        """Mark the state changed: written to the state file when the lock is released."""
        if self.state_file:
            self._dirty = True

    def _file_sig(self) -> tuple | None:
        try:
            stat = os.stat(self.state_file)  # type: ignore[arg-type]
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _enter_shared(self) -> None:
        """Called by ``lock`` on its outermost acquire: flock, then reload if changed."""
        if not self.state_file:
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(f"{self.state_file}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            sig = self._file_sig()
            if sig is not None and sig != self._loaded_sig:
                with open(self.state_file, encoding="utf-8") as fh:
                    text = fh.read()
                if text.strip():
                    self._apply_state(json.loads(text))
                    self._loaded_sig = sig
        except BaseException:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            raise

    def _leave_shared(self) -> None:
        """Called by ``lock`` on its outermost release: write back if changed, unlock."""
        if not self.state_file or self._lock_fd is None:
            return
        try:
            if self._dirty:
                self.save_state(self.state_file)
                self._loaded_sig = self._file_sig()
                self._dirty = False
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
