"""What changed in QuickBooks: Intuit's webhook, and the ERP admins' list of commitments whose
PurchaseOrder QuickBooks changed."""

from __future__ import annotations

import logging

from flask import current_app, request
from flask_login import current_user, login_required

from blueprints.erp import bp
from blueprints.rendering import render
from extensions import csrf
from quickbooks_online.webhooks import purchase_order_realms, signature_ok
from workflow import qbo_drift

log = logging.getLogger(__name__)


@bp.post("/webhooks/quickbooks")
@csrf.exempt
def quickbooks_webhook():
    """Intuit's webhook: verified (``intuit-signature``), answered at once; a change to a
    PurchaseOrder of the connected company queues the same read the worker's poll makes. An
    unsigned or wrongly signed request changes nothing and is logged."""
    body = request.get_data(cache=False)
    if not signature_ok(body, request.headers.get("intuit-signature"),
                        current_app.config.get("QBO_WEBHOOK_VERIFIER_TOKEN")):
        log.warning("QuickBooks webhook refused: %s signature (from %s, %d bytes)",
                    "a wrong" if request.headers.get("intuit-signature") else "no",
                    request.remote_addr, len(body))
        return "", 401
    qbo_drift.webhook_received(purchase_order_realms(body))
    return "", 200


@bp.get("/quickbooks-changes")
@login_required
def quickbooks_changes():
    """Every commitment whose PurchaseOrder QuickBooks changed (ERP admins)."""
    rows = qbo_drift.changed_in_quickbooks(current_user)
    return render("erp/quickbooks_changes.html", None, tool="erp", rows=rows,
                  limit=qbo_drift.LIST_LIMIT)
