"""The QuickBooks connection: OAuth, encrypted tokens, refresh under a lock, API clients.

Tokens live encrypted (Fernet, key QBO_TOKEN_KEY) on the single ``QboConnection`` row. The
access token is reused until it expires. A refresh takes the row's write lock first (an UPDATE
of ``token_generation``), then looks again: if another worker refreshed meanwhile, its tokens
are used; otherwise this worker refreshes and saves the rotated refresh token in the same
transaction. So two workers never spend the same refresh token.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from types import SimpleNamespace
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from requests_oauthlib import OAuth2Session
from sqlalchemy import select, update

from extensions import db
from models import QboConnection, User
from models.types import utcnow
from quickbooks_online.errors import (
    QboAuthError,
    QboConnectionMissing,
    QboError,
    QboOtherCompany,
    QboPermanentError,
    QboTransientError,
    classify,
)
from quickbooks_online.limits import note_success, realm_slot

log = logging.getLogger(__name__)
T = TypeVar("T")
EXPIRY_MARGIN = timedelta(seconds=60)  # refresh a little before QuickBooks would refuse
# The token endpoint's answers that no retry will change (RFC 6749 §5.2). Anything else from
# it (a 5xx, an odd 4xx, no answer at all) is Intuit having a bad moment: retry with backoff.
REFUSED_GRANT = "invalid_grant"
REFUSED_CLIENT = "invalid_client"


# ---- configuration ----------------------------------------------------------------------------

def _loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}


def allow_plain_http_on_loopback() -> None:
    """oauthlib refuses http://; allow it only when every configured endpoint is loopback."""
    config = current_app.config
    urls = [config["QBO_API_URL"]]
    if "://" in config["QBO_ENVIRONMENT"]:
        urls.append(config["QBO_ENVIRONMENT"])
    if all(_loopback_http(url) for url in urls):
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def auth_client(connection: QboConnection | None = None, *,
                access_token: str | None = None) -> AuthClient:
    """An intuit-oauth client; it downloads Intuit's discovery document as it is made, so a
    failure to reach Intuit here is a QboTransientError (try again later)."""
    config = current_app.config
    allow_plain_http_on_loopback()
    try:
        client = AuthClient(config["QBO_CLIENT_ID"], config["QBO_CLIENT_SECRET"],
                            config["QBO_REDIRECT_URI"], config["QBO_ENVIRONMENT"])
    except AuthClientError as error:
        raise QboTransientError(
            "QuickBooks' sign-in service could not be reached (its discovery document "
            f"answered HTTP {error.status_code}). Try again later.", "oauth") from None
    except requests.RequestException as error:
        raise QboTransientError(
            "QuickBooks' sign-in service could not be reached "
            f"({type(error).__name__}). Try again later.", "network") from None
    if connection is not None:
        client.realm_id = connection.realm_id
        client.access_token = access_token
        client.refresh_token = decrypt(connection.refresh_token_encrypted)
    return client


def _fernet() -> Fernet:
    return Fernet(current_app.config["QBO_TOKEN_KEY"].encode())


def encrypt(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


def decrypt(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise QboConnectionMissing("The stored QuickBooks tokens cannot be read (the token key "
                                   "changed). Connect to QuickBooks again.") from None


# ---- the connection row ----------------------------------------------------------------------

def get_connection() -> QboConnection | None:
    return db.session.scalar(select(QboConnection).order_by(QboConnection.id))


_CACHED = "changeorder.qbo_connection"  # Session.info: (its transaction, the connection row)


def connection_this_transaction() -> QboConnection | None:
    """The connection row, read once per transaction (a page of cards asks for every card's
    company). The row itself is kept, not its realm, so a change to it in this session shows;
    ``switch_company`` forgets it."""
    session = db.session()
    cached = session.info.get(_CACHED)
    if cached is not None and cached[0] is session.get_transaction():
        return cached[1]
    connection = get_connection()
    if connection is not None:
        session.info[_CACHED] = (session.get_transaction(), connection)
    return connection


def connection_or_new() -> QboConnection:
    connection = get_connection()
    if connection is None:
        connection = QboConnection()
        db.session.add(connection)
        db.session.flush()
    return connection


def needs_reconnect(connection: QboConnection | None) -> bool:
    """QuickBooks refused the connection's refresh token (revoked, expired): it was connected,
    was not disconnected here, and now has no tokens. Connecting again is the only cure."""
    return bool(connection is not None and connection.realm_id and connection.connected_at
                and not connection.refresh_token_encrypted)


def _forget_tokens(connection: QboConnection) -> None:
    connection.access_token_encrypted = None
    connection.refresh_token_encrypted = None
    connection.access_token_expires_at = None


def oauth_error(error: AuthClientError) -> str:
    """The ``error`` of a token endpoint's JSON answer (``invalid_grant`` ...), or ''."""
    try:
        body = error.response.json()
    except (ValueError, AttributeError):
        return ""
    return str(body.get("error") or "") if isinstance(body, dict) else ""


def require_connection() -> QboConnection:
    connection = get_connection()
    if connection is None or not connection.is_connected:
        raise QboConnectionMissing("QuickBooks is not connected. An ERP admin can connect it in "
                                   "ERP Integrations → Settings.")
    return connection


def store_tokens(connection: QboConnection, client: AuthClient) -> None:
    now = utcnow()
    connection.access_token_encrypted = encrypt(client.access_token)
    connection.access_token_expires_at = now + timedelta(seconds=int(client.expires_in or 3600))
    connection.refresh_token_encrypted = encrypt(client.refresh_token)
    if client.x_refresh_token_expires_in:
        connection.refresh_token_expires_at = now + timedelta(
            seconds=int(client.x_refresh_token_expires_in))
    connection.last_refreshed_at = now


# ---- OAuth: connect and disconnect -------------------------------------------------------------

def authorization_url(state: str) -> str:
    return auth_client().get_authorization_url([Scopes.ACCOUNTING], state_token=state)


def complete_connection(actor: User, code: str, realm_id: str) -> QboConnection:
    """Exchange the authorization code for tokens and remember the company."""
    client = auth_client()
    try:
        client.get_bearer_token(code, realm_id=realm_id)
    except AuthClientError as error:
        raise QboError(f"QuickBooks refused the connection ({error.status_code}). "
                       "Try Connect to QuickBooks again.") from None
    except requests.RequestException as error:
        raise QboError(f"QuickBooks did not answer ({type(error).__name__}). "
                       "Try Connect to QuickBooks again.") from None
    connection = connection_or_new()
    switch_company(connection, realm_id)
    store_tokens(connection, client)
    connection.token_generation += 1
    connection.connected_by = actor
    connection.connected_at = utcnow()
    db.session.flush()
    connection.company_name = _company_name(connection, client.access_token)
    db.session.commit()
    return connection


def switch_company(connection: QboConnection, realm_id: str) -> bool:
    """Point the connection at ``realm_id``. If it was another company (realm) before, every
    link to that company's lists is forgotten: the project → Customer and vendor → Vendor
    links, the cost code mappings and the AP account. QuickBooks ids are per company (Vendor
    56 of one is not Vendor 56 of another), so until they are linked again from the new
    company's imported lists, Send to ERP says what is not linked. True if links were
    forgotten.

    Commitments' PurchaseOrder links are kept, as history: each carries the company it is in
    (``Commitment.qbo_realm_id``; one recorded before that column existed gets the old company
    here), so it now reads as another company's PurchaseOrder. Nothing reads or writes by
    that Id any more: its exports are refused with words until it is unlinked
    (quickbooks_online/company.py; docs/quickbooks.md, "Switching QuickBooks company")."""
    from models import Commitment, CostMapping, Project, Vendor

    previous = connection.realm_id
    connection.realm_id = realm_id
    db.session().info.pop(_CACHED, None)
    if not previous or previous == realm_id:
        return False
    log.warning("QuickBooks company changed from realm %s to %s: links forgotten, "
                "PurchaseOrder links kept as the old company's", previous, realm_id)
    connection.ap_account_id = None
    # Change data capture starts over with a full read of this company: where the old one's
    # polls had got to says nothing of it (a company connected again has changed meanwhile).
    connection.cdc_changed_since = None
    db.session.execute(update(Commitment).where(Commitment.qbo_purchase_order_id.is_not(None),
                                                Commitment.qbo_realm_id.is_(None))
                       .values(qbo_realm_id=previous)
                       .execution_options(synchronize_session="fetch"))
    db.session.execute(update(Project).where(Project.qbo_customer_id.is_not(None))
                       .values(qbo_customer_id=None)
                       .execution_options(synchronize_session="fetch"))
    db.session.execute(update(Vendor).where(Vendor.qbo_vendor_id.is_not(None))
                       .values(qbo_vendor_id=None)
                       .execution_options(synchronize_session="fetch"))
    for mapping in db.session.scalars(select(CostMapping)):
        db.session.delete(mapping)
    return True


def _company_name(connection: QboConnection, access_token: str) -> str:
    from quickbooks.objects.company_info import CompanyInfo

    qb = _quickbooks(connection, access_token)
    try:
        info = CompanyInfo.get(connection.realm_id, qb=qb)
    except Exception as error:
        log.warning("could not read CompanyInfo: %s", error)
        return f"Company {connection.realm_id}"
    return info.CompanyName


def disconnect(connection: QboConnection) -> None:
    """Revoke the refresh token at Intuit and forget both tokens (mappings are kept)."""
    token = decrypt(connection.refresh_token_encrypted)
    if token:
        try:
            auth_client().revoke(token=token)
        except AuthClientError as error:  # already invalid: forgetting it is what matters
            log.warning("revoke answered %s", error.status_code)
        except (QboError, requests.RequestException) as error:
            log.warning("could not reach QuickBooks to revoke the token: %s", error)
    _forget_tokens(connection)
    connection.connected_at = None  # disconnected on purpose, not refused (needs_reconnect)
    connection.token_generation += 1
    db.session.commit()


# ---- tokens in use -------------------------------------------------------------------------

@dataclass
class _Token:
    value: str
    generation: int


def _current_token() -> _Token:
    connection = require_connection()
    db.session.refresh(connection)
    expires = connection.access_token_expires_at
    if connection.access_token_encrypted and expires and expires - EXPIRY_MARGIN > utcnow():
        return _Token(decrypt(connection.access_token_encrypted), connection.token_generation)
    return refresh_access_token(connection.token_generation)


def refresh_access_token(seen_generation: int) -> _Token:
    """Refresh once, serialised: whoever comes second uses the first one's new tokens."""
    db.session.commit()  # start a fresh transaction; the UPDATE below takes the row lock
    connection = require_connection()
    db.session.execute(update(QboConnection).where(QboConnection.id == connection.id)
                       .values(token_generation=QboConnection.token_generation + 1)
                       .execution_options(synchronize_session=False))
    db.session.refresh(connection)
    if connection.token_generation - 1 != seen_generation:
        # Another worker refreshed after we read the token: use theirs.
        db.session.rollback()
        db.session.refresh(connection)
        return _Token(decrypt(connection.access_token_encrypted), connection.token_generation)
    try:
        client = auth_client(connection)
        client.refresh()
    except AuthClientError as error:
        kind = oauth_error(error)
        if kind == REFUSED_GRANT:
            # Revoked or expired for good: forget the tokens (still under the row lock), so
            # the settings page says to connect again and nothing tries them again.
            _forget_tokens(connection)
            db.session.commit()
            log.warning("QuickBooks refused the refresh token of realm %s (invalid_grant)",
                        connection.realm_id)
            raise QboConnectionMissing(
                "QuickBooks no longer accepts this connection (its refresh token was "
                "refused). An ERP admin must connect to QuickBooks again in ERP Integrations "
                "→ Settings.", REFUSED_GRANT) from None
        db.session.rollback()
        if kind == REFUSED_CLIENT:
            raise QboPermanentError(
                "QuickBooks refused this app's client id or secret (invalid_client). Check "
                "QBO_CLIENT_ID and QBO_CLIENT_SECRET.", REFUSED_CLIENT) from None
        raise QboTransientError(
            "QuickBooks' sign-in service could not renew the access token (HTTP "
            f"{error.status_code}). Try again later.", str(error.status_code)) from None
    except requests.RequestException as error:
        db.session.rollback()
        raise QboTransientError(
            "QuickBooks' sign-in service did not answer while renewing the access token "
            f"({type(error).__name__}). Try again later.", "network") from None
    except QboError:
        db.session.rollback()
        raise
    store_tokens(connection, client)
    db.session.commit()
    log.info("QuickBooks tokens refreshed for realm %s", connection.realm_id)
    return _Token(client.access_token, connection.token_generation)


# ---- API calls -------------------------------------------------------------------------------

# The company (realm) the work under way decided against (``company_pinned``): a call to any
# other is refused before it is made.
_pinned_realm: ContextVar[str | None] = ContextVar("qbo_pinned_realm", default=None)


@contextmanager
def company_pinned(realm_id: str | None) -> Iterator[None]:
    """Every QuickBooks call made inside goes to company ``realm_id``, or is not made: if the
    connection is switched to another company meanwhile, ``call`` raises QboOtherCompany
    instead. An export decides which PurchaseOrder to write on the company connected when it
    starts; the Id it decided on means nothing in another company. None pins nothing."""
    token = _pinned_realm.set(realm_id)
    try:
        yield
    finally:
        _pinned_realm.reset(token)


def _check_pinned(realm_id: str | None) -> None:
    pinned = _pinned_realm.get()
    if pinned is not None and realm_id != pinned:
        log.warning("QuickBooks call refused: pinned to realm %s, connected to %s",
                    pinned, realm_id)
        raise QboOtherCompany(
            f"The QuickBooks connection was switched to another company (company {realm_id}, "
            f"was {pinned}) while this ran; nothing more was sent. Check the record, then "
            "try again.", "other-company")


def _quickbooks(connection: QboConnection, access_token: str) -> QuickBooks:
    """A python-quickbooks client on the configured base URL, with a request timeout."""
    config = current_app.config
    allow_plain_http_on_loopback()
    # python-quickbooks reads only these four attributes of its auth client; a full AuthClient
    # would download the discovery document on every call.
    credentials = SimpleNamespace(client_id=config["QBO_CLIENT_ID"], access_token=access_token,
                                  refresh_token=None, environment=config["QBO_ENVIRONMENT"])
    qb = QuickBooks(auth_client=credentials, company_id=connection.realm_id,
                    minorversion=config["QBO_MINOR_VERSION"])
    qb.api_url_v3 = qb.sandbox_api_url_v3 = config["QBO_API_URL"]  # per instance, not global
    session = OAuth2Session(config["QBO_CLIENT_ID"], token={"access_token": access_token})
    session.request = partial(session.request, timeout=config["QBO_TIMEOUT"])
    qb.session = session
    return qb


def call(operation: Callable[[QuickBooks], T]) -> T:
    """Run ``operation(qb)``; on 401/3200 refresh the token once (under the lock) and retry."""
    token = _current_token()
    connection = require_connection()
    realm_id = connection.realm_id
    _check_pinned(realm_id)
    try:
        with realm_slot(realm_id):
            answer = operation(_quickbooks(connection, token.value))
        note_success(realm_id)
        return answer
    except Exception as error:
        problem = classify(error)
        if not isinstance(problem, QboAuthError):
            raise problem from error
    token = refresh_access_token(token.generation)
    _check_pinned(connection.realm_id)
    try:
        with realm_slot(realm_id):
            answer = operation(_quickbooks(connection, token.value))
        note_success(realm_id)
        return answer
    except Exception as error:
        problem = classify(error)
        if isinstance(problem, QboAuthError):
            raise QboConnectionMissing("QuickBooks refused a freshly refreshed token. "
                                       "Connect to QuickBooks again.") from error
        raise problem from error
