"""What we wrote to each commitment's PurchaseOrder, line by line: the amounts QuickBooks
should hold if nobody changed them there. Read for many commitments in two statements.

A SOV line's PO line holds its amount plus every Synced CCO's changes to it; a line a Synced
CCO added holds that CCO line's amount (docs/quickbooks.md, "CCOs").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from extensions import db
from models import ChangeOrder, ChangeOrderLine, ErpStatus, SovLine

CHUNK = 900  # ids in one IN (…): under SQLite's limit of bound parameters


@dataclass(frozen=True)
class OurLine:
    qbo_line_id: str
    label: str  # "line 2 Slab on grade", or "CCO 003: Rebar"
    amount: Decimal


def our_lines(commitment_ids: list[int]) -> dict[int, dict[str, OurLine]]:
    """Commitment id → {QuickBooks line Id → what we wrote there}."""
    result: dict[int, dict[str, OurLine]] = {cid: {} for cid in commitment_ids}
    for start in range(0, len(commitment_ids), CHUNK):
        ids = commitment_ids[start:start + CHUNK]
        sov_rows = db.session.execute(
            select(SovLine.id, SovLine.commitment_id, SovLine.line_number,
                   SovLine.description, SovLine.amount, SovLine.qbo_line_id)
            .where(SovLine.commitment_id.in_(ids))).all()
        cco_rows = db.session.execute(
            select(ChangeOrder.commitment_id, ChangeOrder.number, ChangeOrderLine.sov_line_id,
                   ChangeOrderLine.description, ChangeOrderLine.amount,
                   ChangeOrderLine.qbo_line_id)
            .join(ChangeOrder, ChangeOrderLine.change_order_id == ChangeOrder.id)
            .where(ChangeOrder.commitment_id.in_(ids),
                   ChangeOrder.erp_status == ErpStatus.SYNCED)).all()
        added: dict[int, Decimal] = {}
        for row in cco_rows:
            if row.sov_line_id is not None:
                added[row.sov_line_id] = added.get(row.sov_line_id, Decimal(0)) + row.amount
            elif row.qbo_line_id:
                result[row.commitment_id][row.qbo_line_id] = OurLine(
                    row.qbo_line_id, f"CCO {row.number}: {row.description}", row.amount)
        for row in sov_rows:
            if row.qbo_line_id:
                result[row.commitment_id][row.qbo_line_id] = OurLine(
                    row.qbo_line_id, f"line {row.line_number} {row.description}",
                    row.amount + added.get(row.id, Decimal(0)))
    return result
