"""What we wrote to each commitment's PurchaseOrder, line by line: the amounts QuickBooks
should hold if nobody changed them there. Read for many commitments in two statements; for one
commitment whose SOV lines are loaded, from its ledger (workflow/inbox.py) with no statement.

A SOV line's PO line holds its amount plus every Synced CCO's changes to it; a line a Synced
CCO added holds that CCO line's amount (docs/quickbooks.md, "CCOs").

And the PurchaseOrder itself as QuickBooks answered our last write (``last_write`` /
``remember``), or as change data capture last saw it (``remember_seen``): a CCO's export sends
its update from it with that SyncToken, one call; QuickBooks refuses a stale token (5010).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update

from extensions import db
from models import ChangeOrder, ChangeOrderLine, Commitment, ErpStatus, SovLine
from quickbooks_online.connection import get_connection

CHUNK = 900  # ids in one IN (…): under SQLite's limit of bound parameters
# What a later update needs of a PurchaseOrder, and all it sends back: the Line array whole
# (every field of every line, a bookkeeper's lines included) and the note.
KEPT = ("Id", "SyncToken", "DocNumber", "PrivateNote", "Line")


@dataclass(frozen=True)
class OurLine:
    qbo_line_id: str
    label: str  # "line 2 Slab on grade", or "CCO 003: Rebar"
    amount: Decimal
    # a line a private CCO added: its label names neither the CCO nor its words, and no
    # difference says its amount (anyone who reads the drift or the history sees them)
    private: bool = False


PRIVATE_LINE = "A private CCO's line"


def our_lines(commitment_ids: list[int]) -> dict[int, dict[str, OurLine]]:
    """Commitment id → {QuickBooks line Id → what we wrote there}."""
    result: dict[int, dict[str, OurLine]] = {}
    for start in range(0, len(commitment_ids), CHUNK):
        ids = commitment_ids[start:start + CHUNK]
        sov_rows = db.session.execute(
            select(SovLine.id, SovLine.commitment_id, SovLine.line_number,
                   SovLine.description, SovLine.amount, SovLine.qbo_line_id)
            .where(SovLine.commitment_id.in_(ids))).all()
        cco_rows = db.session.execute(
            select(ChangeOrder.commitment_id, ChangeOrder.number, ChangeOrderLine.sov_line_id,
                   ChangeOrderLine.description, ChangeOrderLine.amount,
                   ChangeOrderLine.qbo_line_id, ChangeOrder.private)
            .join(ChangeOrder, ChangeOrderLine.change_order_id == ChangeOrder.id)
            .where(ChangeOrder.commitment_id.in_(ids),
                   ChangeOrder.erp_status == ErpStatus.SYNCED)).all()
        added: dict[int, dict[int, Decimal]] = {cid: {} for cid in ids}
        new_lines: dict[int, list[tuple]] = {cid: [] for cid in ids}
        for row in cco_rows:
            if row.sov_line_id is not None:
                sums = added[row.commitment_id]
                sums[row.sov_line_id] = sums.get(row.sov_line_id, Decimal(0)) + row.amount
            elif row.qbo_line_id:
                new_lines[row.commitment_id].append(
                    (row.qbo_line_id, row.number, row.description, row.amount, row.private))
        sov_of: dict[int, list] = {cid: [] for cid in ids}
        for row in sov_rows:
            sov_of[row.commitment_id].append(row)
        result.update({cid: ours_from(sov_of[cid], added[cid], new_lines[cid]) for cid in ids})
    return result


def ours_from(sov_lines, added: dict[int, Decimal], new_lines: list[tuple]
              ) -> dict[str, OurLine]:
    """One commitment's lines as we wrote them: ``sov_lines`` (rows or SovLine records: id,
    line_number, description, amount, qbo_line_id) each with the Synced CCOs' changes to it
    (``added``: SOV line id → their sum), and the lines Synced CCOs added (``new_lines``:
    QuickBooks line Id, CCO number, description, amount, whether the CCO is private)."""
    result: dict[str, OurLine] = {}
    for qbo_line_id, number, description, amount, private in new_lines:
        result[qbo_line_id] = (OurLine(qbo_line_id, PRIVATE_LINE, amount, private=True)
                               if private else
                               OurLine(qbo_line_id, f"CCO {number}: {description}", amount))
    for line in sov_lines:
        if line.qbo_line_id:
            result[line.qbo_line_id] = OurLine(
                line.qbo_line_id, f"line {line.line_number} {line.description}",
                line.amount + added.get(line.id, Decimal(0)))
    return result


# ---- the PurchaseOrder as QuickBooks last answered us ----------------------------------------

def last_write(commitment_id: int, po_id: str | None) -> dict | None:
    """The PurchaseOrder ``po_id`` as QuickBooks answered our last write to it (or as change
    data capture last saw it): what it holds if its SyncToken is still that one. None when
    nothing is recorded for that PO (never written since this was kept, or unlinked since)."""
    if not po_id:
        return None
    recorded = db.session.scalar(select(Commitment.qbo_last_write)
                                 .where(Commitment.id == commitment_id))
    if not recorded:
        return None
    try:
        po = json.loads(recorded)
    except ValueError:
        return None
    if str(po.get("Id")) != str(po_id) or po.get("SyncToken") is None:
        return None
    if po.pop(REALM, None) != _realm():  # ids are per company: another company's PO 12 is
        return None  # not ours, and a SyncToken that happens to match must never reach it
    return po


REALM = "_realm"  # the company (realm) the recorded PO belongs to


def _realm() -> str | None:
    connection = get_connection()
    return connection.realm_id if connection is not None else None


def _kept(po: dict) -> str:
    return json.dumps({**{key: po[key] for key in KEPT if key in po}, REALM: _realm()})


def remember(commitment_id: int, po: dict) -> None:
    """Record ``po`` (QuickBooks' answer to our write, or a fresh read) as what QuickBooks
    holds. A Core UPDATE in the export's transaction: committed with the Synced status, gone
    with it if that fails; the commitment's version (what people's forms check) is not
    touched."""
    db.session.execute(update(Commitment).where(Commitment.id == commitment_id)
                       .values(qbo_last_write=_kept(po))
                       .execution_options(synchronize_session=False))


def _token(po: dict) -> int:
    try:
        return int(po.get("SyncToken"))
    except (TypeError, ValueError):
        return -1


def remember_seen(commitment_id: int, po: dict) -> None:
    """Change data capture read ``po``: kept if it is newer than what is recorded (a poll that
    read the PO before our last write must not put back the older version; an older one would
    only cost a 5010 and a read, never a wrong write)."""
    recorded = last_write(commitment_id, str(po.get("Id")))
    if recorded is not None and _token(recorded) >= _token(po):
        return
    remember(commitment_id, po)
