"""Webhook delivery, as Intuit sends it.

A change to an object (through the API, or "in QuickBooks" through the test hooks) becomes an
event; ``Sandbox.deliver_webhooks()`` (or, with ``deliver="immediate"``, a background thread
right after the change) POSTs the pending events to the configured URL, signed:
``intuit-signature`` is the base64 HMAC-SHA256 of the raw body with the verifier token
(https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks/managing-webhooks-notifications).

Two payload shapes: ``"cloudevents"`` (Intuit's format since 2026: a JSON array of CloudEvents
1.0, ``type`` ``qbo.purchaseorder.updated.v1``, ``intuitentityid``, ``intuitaccountid``) and
``"legacy"`` (``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities":
[{"name", "id", "operation", "lastUpdated"}]}}]}``, one notification per realm). An answer that
is not a 200 (or no answer within the timeout) leaves the events pending: the next delivery
sends them again, as Intuit retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

FORMATS = ("cloudevents", "legacy")
OPERATIONS = {"Create": "created", "Update": "updated", "Delete": "deleted"}


def signature(body: bytes, verifier_token: str) -> str:
    digest = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def event(realm_id: str, entity: str, obj_id: str, operation: str, when: str,
          epoch: float) -> dict:
    return {"realm_id": realm_id, "entity": entity, "id": obj_id, "operation": operation,
            "last_updated": when, "epoch": epoch, "event_id": str(uuid.uuid4())}


def payload(events: list[dict], fmt: str) -> bytes:
    if fmt == "cloudevents":
        body: object = [{
            "specversion": "1.0",
            "id": e["event_id"],
            "source": "intuit.sandbox",
            "type": f"qbo.{e['entity'].lower()}.{OPERATIONS[e['operation']]}.v1",
            "datacontenttype": "application/json",
            "time": datetime.fromtimestamp(e["epoch"], UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "intuitentityid": e["id"],
            "intuitaccountid": e["realm_id"],
            "data": {},
        } for e in events]
    else:
        by_realm: dict[str, list[dict]] = {}
        for e in events:
            by_realm.setdefault(e["realm_id"], []).append(
                {"name": e["entity"], "id": e["id"], "operation": e["operation"],
                 "lastUpdated": e["last_updated"]})
        body = {"eventNotifications": [
            {"realmId": realm_id, "dataChangeEvent": {"entities": entities}}
            for realm_id, entities in by_realm.items()]}
    return json.dumps(body).encode("utf-8")
