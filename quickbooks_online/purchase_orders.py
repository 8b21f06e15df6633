"""PurchaseOrder reads and writes as JSON, through python-quickbooks' client.

Every function is one QuickBooks call made with ``call`` (token refresh under the lock, the
realm's rate limits, errors classified).
"""

from __future__ import annotations

import json

from quickbooks_online.connection import call
from quickbooks_online.errors import QboPermanentError

OBJECT_NOT_FOUND = "610"


class PurchaseOrderGone(QboPermanentError):
    """The PurchaseOrder we recorded is no longer in QuickBooks (deleted there)."""


def read(po_id: str) -> dict:
    """The PurchaseOrder as QuickBooks holds it now (fresh SyncToken and lines)."""
    try:
        answer = call(lambda qb: qb.get_single_object("PurchaseOrder", pk=po_id))
    except QboPermanentError as error:
        if error.code == OBJECT_NOT_FOUND:
            raise PurchaseOrderGone(
                f"QuickBooks no longer has PurchaseOrder {po_id}, which this commitment was "
                "exported to (was it deleted in QuickBooks?). ChangeOrder Desk will not "
                "create a second one by itself: restore it in QuickBooks, or ask an admin to "
                "unlink it, then retry.", OBJECT_NOT_FOUND) from None
        raise
    return answer["PurchaseOrder"]


def find_by_doc_number(doc_number: str) -> list[dict]:
    escaped = doc_number.replace("\\", "\\\\").replace("'", "\\'")
    statement = f"select * from PurchaseOrder where DocNumber = '{escaped}'"  # noqa: S608
    answer = call(lambda qb: qb.query(statement))
    return list(answer.get("QueryResponse", {}).get("PurchaseOrder", []))


def find_by_vendor(vendor_id: str) -> list[dict]:
    """Every PurchaseOrder of one QuickBooks vendor (VendorRef is filterable), page by page."""
    found, start = [], 1
    escaped = str(vendor_id).replace("\\", "\\\\").replace("'", "\\'")
    while True:
        statement = (f"select * from PurchaseOrder where VendorRef = '{escaped}' "  # noqa: S608
                     f"STARTPOSITION {start} MAXRESULTS 1000")
        answer = call(lambda qb, statement=statement: qb.query(statement))
        page = list(answer.get("QueryResponse", {}).get("PurchaseOrder", []))
        found.extend(page)
        if len(page) < 1000:
            return found
        start += 1000


def create(body: dict, request_id: str) -> dict:
    answer = call(lambda qb: qb.create_object("PurchaseOrder", json.dumps(body),
                                              request_id=request_id))
    return answer["PurchaseOrder"]


def sparse_update(po: dict, fields: dict, request_id: str) -> dict:
    """Change only ``fields`` of the PurchaseOrder read as ``po`` (its Id and SyncToken)."""
    body = {"Id": po["Id"], "SyncToken": po["SyncToken"], "sparse": True, **fields}
    answer = call(lambda qb: qb.update_object("PurchaseOrder", json.dumps(body),
                                              request_id=request_id))
    return answer["PurchaseOrder"]


def expense_lines(po: dict) -> list[dict]:
    return [line for line in po.get("Line") or []
            if str(line.get("DetailType", "")).endswith("ExpenseLineDetail")]


def page(*, vendor_id: str | None = None, start: int = 1, size: int = 50) -> list[dict]:
    """One page of the company's PurchaseOrders (of one vendor), ``start`` 1-based."""
    where = ""
    if vendor_id is not None:
        escaped = str(vendor_id).replace("\\", "\\\\").replace("'", "\\'")
        where = f"where VendorRef = '{escaped}' "
    statement = (f"select * from PurchaseOrder {where}"  # noqa: S608
                 f"STARTPOSITION {int(start)} MAXRESULTS {int(size)}")
    answer = call(lambda qb: qb.query(statement))
    return list(answer.get("QueryResponse", {}).get("PurchaseOrder", []))


def line_target(line: dict) -> tuple[str, str | None]:
    """("Item" or "Account", its QuickBooks Id) of an expense line."""
    kind = str(line.get("DetailType", ""))
    detail = line.get(kind) or {}
    if kind == "ItemBasedExpenseLineDetail":
        return "Item", (detail.get("ItemRef") or {}).get("value")
    return "Account", (detail.get("AccountRef") or {}).get("value")


def line_customer(line: dict) -> str | None:
    detail = line.get(str(line.get("DetailType", ""))) or {}
    value = (detail.get("CustomerRef") or {}).get("value")
    return str(value) if value is not None else None
