"""Exporting a commitment as a QuickBooks PurchaseOrder, exactly once.

1. Look the PO up by DocNumber. If it is there and carries our marker, the create already
   happened (a crash or a lost answer after QuickBooks applied it): adopt it, write nothing.
2. Else create it, with ``requestid`` = the Export's key, so a retried request is answered
   from QuickBooks' first response instead of being applied twice.
3. A duplicate-DocNumber answer (6140) means someone got there first: look again.
"""

from __future__ import annotations

from dataclasses import dataclass

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
            return _result(existing)
        raise ForeignPurchaseOrder(
            f"QuickBooks already has a purchase order numbered {commitment.number} "
            f"(Id {existing.Id}) that ChangeOrder Desk did not create. Renumber one of them, "
            "then retry.", DUPLICATE_DOC_NUMBER)
    po = build_purchase_order(commitment, connection)
    saved = call(lambda qb: po.save(qb=qb, request_id=request_id))
    return _result(saved)
