"""Our records → QuickBooks objects (DESIGN §3), and what is missing before a send."""

from __future__ import annotations

from decimal import Decimal

from quickbooks.objects.base import Ref
from quickbooks.objects.detailline import (
    AccountBasedExpenseLine,
    AccountBasedExpenseLineDetail,
    ItemBasedExpenseLine,
    ItemBasedExpenseLineDetail,
)
from quickbooks.objects.purchaseorder import PurchaseOrder
from sqlalchemy import select

from extensions import db
from models import Commitment, CostMapping, QboConnection, SovLine
from quickbooks_online.connection import get_connection

MARKER_PREFIX = "ChangeOrder Desk"


def commitment_marker(commitment: Commitment) -> str:
    """Written into the PurchaseOrder's PrivateNote, so a rerun recognises its own PO."""
    return f"{MARKER_PREFIX} commitment {commitment.id}"


def _mapping_for(cost_code_id: int, category_id: int) -> CostMapping | None:
    return db.session.scalar(select(CostMapping).where(CostMapping.cost_code_id == cost_code_id,
                                                       CostMapping.category_id == category_id))


def mapping_blockers(commitment: Commitment) -> list[str]:
    """Everything unmapped or unset that stops this commitment reaching QuickBooks."""
    problems = []
    connection = get_connection()
    if connection is None or not connection.is_connected:
        problems.append("QuickBooks is not connected (ERP Integrations → Settings).")
    elif not connection.ap_account_id:
        problems.append("No AP account is chosen in ERP Integrations → Settings.")
    if not commitment.project.qbo_customer_id:
        problems.append(f"Project {commitment.project.number} is not linked to a QuickBooks "
                        "customer or job.")
    if not commitment.vendor.qbo_vendor_id:
        problems.append(f"Vendor {commitment.vendor.name} is not linked to a QuickBooks vendor.")
    if not commitment.sov_lines:
        problems.append("The schedule of values has no lines.")
    seen = set()
    for line in commitment.sov_lines:
        pair = (line.cost_code_id, line.category_id)
        if pair not in seen and _mapping_for(*pair) is None:
            seen.add(pair)
            problems.append(f"{line.cost_code.code} {line.category.name} is not mapped to a "
                            "QuickBooks item or account.")
    return problems


def _line(number: int, description: str, amount: Decimal, mapping: CostMapping,
          customer_ref: Ref):
    if mapping.qbo_item_id:
        line = ItemBasedExpenseLine()
        detail = ItemBasedExpenseLineDetail()
        detail.ItemRef = Ref()
        detail.ItemRef.value = mapping.qbo_item_id
        detail.Qty = 1
        detail.UnitPrice = amount
        detail.BillableStatus = "NotBillable"
        detail.CustomerRef = customer_ref
        line.ItemBasedExpenseLineDetail = detail
    else:
        line = AccountBasedExpenseLine()
        detail = AccountBasedExpenseLineDetail()
        detail.AccountRef = Ref()
        detail.AccountRef.value = mapping.qbo_account_id
        detail.BillableStatus = "NotBillable"
        detail.CustomerRef = customer_ref
        line.AccountBasedExpenseLineDetail = detail
    line.LineNum = number
    line.Description = description[:4000]
    line.Amount = amount
    return line


def _ref(value: str) -> Ref:
    ref = Ref()
    ref.value = value
    return ref


def sov_line_description(line: SovLine) -> str:
    return f"{line.line_number}. {line.description}"


def build_purchase_order(commitment: Commitment, connection: QboConnection) -> PurchaseOrder:
    """The PurchaseOrder for a commitment: one line per SOV line, DocNumber = its number."""
    po = PurchaseOrder()
    po.DocNumber = commitment.number
    po.VendorRef = _ref(commitment.vendor.qbo_vendor_id)
    po.APAccountRef = _ref(connection.ap_account_id)
    po.PrivateNote = f"{commitment_marker(commitment)}: {commitment.title}"[:4000]
    po.POStatus = "Open"
    customer = _ref(commitment.project.qbo_customer_id)
    po.Line = [
        _line(line.line_number, sov_line_description(line), line.amount,
              _mapping_for(line.cost_code_id, line.category_id), customer)
        for line in commitment.sov_lines
    ]
    return po
