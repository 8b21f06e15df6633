"""Exporting a commitment as a QuickBooks PurchaseOrder, exactly once.

1. Look the PO up by DocNumber. If it is there and carries our marker, the create already
   happened (a crash or a lost answer after QuickBooks applied it): adopt it. If what it holds
   is not what we would send now (the commitment was rejected, edited and resent since), bring
   it up to date first: one full update with the current lines, under its SyncToken (a 5010
   means someone changed it meanwhile: read it again and decide again).
2. Else create it, with ``requestid`` = the Export's key, so a retried request is answered
   from QuickBooks' first response instead of being applied twice.
3. A duplicate-DocNumber answer (6140) means someone got there first: look again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from quickbooks.objects.purchaseorder import PurchaseOrder

from extensions import db
from models import Commitment, Export
from quickbooks_online.connection import call, require_connection
from quickbooks_online.errors import QboPermanentError, QboStaleError
from quickbooks_online.mapping import build_purchase_order, commitment_marker, mapping_blockers

DUPLICATE_DOC_NUMBER = "6140"


class ForeignPurchaseOrder(QboPermanentError):
    """A PO with our DocNumber exists in QuickBooks, but ChangeOrder Desk did not create it."""


@dataclass(frozen=True)
class PurchaseOrderResult:
    purchase_order_id: str
    sync_token: str
    line_ids: dict[int, str]  # SOV line number → QuickBooks line Id


def _find(number: str) -> PurchaseOrder | None:
    found = call(lambda qb: PurchaseOrder.filter(DocNumber=number, qb=qb))
    return found[0] if found else None


def _result(po: PurchaseOrder) -> PurchaseOrderResult:
    line_ids = {}
    for line in po.Line or []:
        number = str(line.Description or "").split(".", 1)[0]
        if number.isdigit() and line.Id:
            line_ids[int(number)] = str(line.Id)
    return PurchaseOrderResult(str(po.Id), str(po.SyncToken), line_ids)


def push_commitment(export: Export) -> PurchaseOrderResult:
    commitment = db.session.get(Commitment, export.commitment_id)
    connection = require_connection()
    marker = commitment_marker(commitment)
    problems = mapping_blockers(commitment)  # a link may have been removed since it was sent
    if problems:
        raise QboPermanentError(" ".join(problems), "mapping")
    for _ in range(3):
        try:
            return _create_once(commitment, connection, marker, export.idempotency_key)
        except QboStaleError:
            continue  # 5010: read again and decide again
        except ForeignPurchaseOrder:
            raise
        except QboPermanentError as error:
            if error.code == DUPLICATE_DOC_NUMBER:
                continue  # created meanwhile (by a retry of ours or by someone): look again
            raise
    raise QboPermanentError(f"QuickBooks kept refusing purchase order {commitment.number}; "
                            "see the last error and retry.", "conflict")


def _create_once(commitment: Commitment, connection, marker: str,
                 request_id: str) -> PurchaseOrderResult:
    """Steps 1 to 3 once: adopt our PO if it exists, else create it."""
    existing = _find(commitment.number)
    if existing is not None:
        if marker in (existing.PrivateNote or ""):
            wanted = build_purchase_order(commitment, connection)
            if _shape(existing) == _shape(wanted):
                return _result(existing)
            return _update(existing, wanted, request_id)
        raise ForeignPurchaseOrder(
            f"QuickBooks already has a purchase order numbered {commitment.number} "
            f"(Id {existing.Id}) that ChangeOrder Desk did not create. Renumber one of them, "
            "then retry.", DUPLICATE_DOC_NUMBER)
    po = build_purchase_order(commitment, connection)
    saved = call(lambda qb: po.save(qb=qb, request_id=request_id))
    return _result(saved)


def _ref_value(ref) -> str | None:
    return str(ref.value) if ref is not None and getattr(ref, "value", None) else None


def _line_shape(line) -> tuple:
    item = getattr(line, "ItemBasedExpenseLineDetail", None)
    account = getattr(line, "AccountBasedExpenseLineDetail", None)
    detail = item or account
    return (str(line.Description or ""), Decimal(str(line.Amount or 0)).quantize(Decimal("0.01")),
            "item" if item else "account",
            _ref_value(getattr(item, "ItemRef", None)) if item
            else _ref_value(getattr(account, "AccountRef", None)),
            _ref_value(getattr(detail, "CustomerRef", None)))


def _shape(po: PurchaseOrder) -> tuple:
    """What we send and QuickBooks keeps, comparable between our PO and the one it holds."""
    return (_ref_value(po.VendorRef), _ref_value(po.APAccountRef), str(po.PrivateNote or ""),
            tuple(_line_shape(line) for line in po.Line or []
                  if getattr(line, "DetailType", "").endswith("ExpenseLineDetail")))


def _update_request_id(request_id: str, sync_token: str) -> str:
    """The update's own requestid (the create's would be answered with the create's reply):
    the Export's key and the SyncToken it updates, at most 50 characters as Intuit allows."""
    candidate = f"{request_id}-u{sync_token}"
    if len(candidate) <= 50:
        return candidate
    return "cod-u-" + hashlib.sha256(candidate.encode()).hexdigest()[:44]


def _update(existing: PurchaseOrder, wanted: PurchaseOrder, request_id: str
            ) -> PurchaseOrderResult:
    """A full update of our own PO to what the commitment says now; lines of the same SOV line
    number keep their QuickBooks Id, the others are replaced."""
    ids = _result(existing).line_ids
    for line in wanted.Line:
        number = str(line.Description or "").split(".", 1)[0]
        line.Id = ids.get(int(number)) if number.isdigit() else None
    wanted.Id = existing.Id
    wanted.SyncToken = existing.SyncToken
    update_id = _update_request_id(request_id, str(existing.SyncToken))
    saved = call(lambda qb: wanted.save(qb=qb, request_id=update_id))
    return _result(saved)
