"""Intuit's webhook notifications: the signature check and which companies a delivery names.

Intuit signs each delivery: the ``intuit-signature`` header is the base64 HMAC-SHA256 of the
raw body, keyed with the app's verifier token
(https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks/managing-webhooks-notifications).
Two body shapes are accepted: the CloudEvents array Intuit moved to in 2026 (``type``
``qbo.purchaseorder.updated.v1``, ``intuitaccountid`` the realm) and the older
``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [...]}}]}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json


def signature_ok(body: bytes, signature: str | None, verifier_token: str | None) -> bool:
    """Whether ``signature`` is Intuit's for ``body``; compared in constant time."""
    if not signature or not verifier_token:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def purchase_order_realms(body: bytes) -> set[str]:
    """The companies whose PurchaseOrders the delivery says changed (either shape); a body of
    any other shape names none (it is still answered 200: Intuit would only send it again)."""
    try:
        data = json.loads(body)
    except ValueError:
        return set()
    realms: set[str] = set()
    if isinstance(data, list):  # CloudEvents
        for event in data:
            if (isinstance(event, dict)
                    and str(event.get("type", "")).lower().startswith("qbo.purchaseorder.")):
                realms.add(str(event.get("intuitaccountid") or ""))
    elif isinstance(data, dict):
        for notification in _list(data.get("eventNotifications")):
            if not isinstance(notification, dict):
                continue
            change = notification.get("dataChangeEvent")
            entities = _list(change.get("entities")) if isinstance(change, dict) else []
            if any(isinstance(e, dict) and e.get("name") == "PurchaseOrder" for e in entities):
                realms.add(str(notification.get("realmId") or ""))
    realms.discard("")
    return realms


def _list(value) -> list:
    return value if isinstance(value, list) else []
