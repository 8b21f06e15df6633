"""What went wrong in a QuickBooks call, sorted by what to do about it.

See docs/quickbooks.md, "Errors"."""

from __future__ import annotations

import json
import re

import requests
from quickbooks import exceptions as qbx

# Validation and mapping problems that no retry will fix.
PERMANENT_CODES = {610, 2020, 2500}
AUTH_CODES = {401, 3100, 3200}
THROTTLE_CODE = 3001
STALE_CODE = 5010


class QboError(Exception):
    """A QuickBooks call failed. ``code`` is QuickBooks' error code as a string."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class QboAuthError(QboError):
    """401 / 3200: the access token is missing, expired or revoked."""


class QboStaleError(QboError):
    """5010: the object changed in QuickBooks since it was read."""


class QboTransientError(QboError):
    """Throttled (429 / 3001), a 5xx, a timeout or a dropped connection: retry with backoff."""


class QboPermanentError(QboError):
    """Validation or mapping (2020, 610, 2500, 6000-6999 ...): retrying will not help."""


class QboConnectionMissing(QboPermanentError):
    """There is no working QuickBooks connection (never connected, revoked, or expired)."""


class QboOtherCompany(QboPermanentError):
    """The record is linked to another QuickBooks company (realm) than the connected one, or
    the connection was switched to another company while this work ran: nothing is read or
    written by an Id of another company (docs/quickbooks.md, "Switching QuickBooks company")."""


def _plain(message: str, detail: str) -> str:
    """QuickBooks' message and detail as one sentence a person can read.

    QuickBooks' Detail often starts with its Message ("Object Not Found : Something you're
    trying to use ..."): then the detail alone says it all, without saying it twice.
    """
    message = (message or "").strip()
    detail = (detail or "").strip()
    if not detail or detail in message:
        text = message
    elif not message or message in detail:
        text = detail
    else:
        text = f"{message}: {detail}"
    text = re.sub(r"\s+:\s*", ": ", text)
    return text or "QuickBooks refused the request."


def classify(error: Exception) -> QboError:
    """Turn a python-quickbooks / requests exception into one of the errors above."""
    if isinstance(error, QboError):
        return error
    if isinstance(error, requests.RequestException):  # timeouts, dropped connections ...
        return QboTransientError(f"QuickBooks did not answer ({type(error).__name__}).",
                                 "network")
    if isinstance(error, qbx.QuickbooksException):
        code = int(error.error_code or 0)
        if code >= 10000 and _is_authorization_fault(error):
            # A 403 (AuthorizationFault 3100): this token may not use this company. No refresh
            # or retry changes that; python-quickbooks reports it as a generic 10000.
            return QboPermanentError(
                "QuickBooks refused access to this company (AuthorizationFault 3100): the "
                "connection belongs to another company or lost its permission. An ERP admin "
                "must connect to QuickBooks again.", "3100")
        message = _plain(error.message, error.detail if isinstance(error.detail, str) else "")
        if isinstance(error, qbx.AuthorizationException) or code in AUTH_CODES:
            return QboAuthError(_auth_message(error), str(code or 401))
        if code == STALE_CODE:
            return QboStaleError(message, str(code))
        if code == THROTTLE_CODE:
            return QboTransientError("QuickBooks asked us to slow down (throttled).", str(code))
        if code >= 10000 or isinstance(error, qbx.SevereException):
            return QboTransientError(f"QuickBooks had a server error: {message}", str(code))
        return QboPermanentError(message, str(code))
    raise error


def _is_authorization_fault(error) -> bool:
    text = f"{error.message} {error.detail}"
    return "status code '403'" in text or '"3100"' in text


def _auth_message(error) -> str:
    """The 3200 detail from a 401's lowercase ``fault`` body, when there is one."""
    try:
        body = json.loads(error.detail)
        return body["fault"]["error"][0].get("detail") or "QuickBooks refused the access token."
    except (TypeError, ValueError, KeyError, IndexError):
        return "QuickBooks refused the access token."
