"""A CCO → one sparse update of its commitment's PurchaseOrder (docs/quickbooks.md, "CCOs").

Each SOV line the CCO changes: that PO line's Amount becomes its amount as read from
QuickBooks plus the sum of this CCO's changes to it (QuickBooks takes one change per line per
CCO). Each line the CCO adds: a new PO line. The CCO's number joins our marker block. Every
line as read is sent back with its Id (a QuickBooks user's own lines included), so nothing
else changes; Memo and the user's note text are not sent at all.

One call when nothing changed in QuickBooks: the update is computed from the PurchaseOrder as
QuickBooks answered our last write (quickbooks_online/ours.py) and sent with that SyncToken.
QuickBooks refuses a stale SyncToken with 5010 and writes nothing; only then is the PO read.

Exactly once: before a write that is not guarded by the SyncToken of our own last write, the
PO is read; if its marker already lists this CCO the change is in QuickBooks and nothing is
written (an applied write whose answer was lost has moved the SyncToken on, so the one-call
update gets a 5010 and the read finds the CCO). A 5010 means read again and decide again.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from extensions import db
from models import ChangeOrder, Export, SovLine
from quickbooks_online import purchase_orders
from quickbooks_online.company import require_here
from quickbooks_online.errors import QboPermanentError, QboStaleError
from quickbooks_online.export import ExportResult, register, request_id, result_of, sent_line_ids
from quickbooks_online.export.commitment import marked_note, note_of
from quickbooks_online.links import leftovers, token_of
from quickbooks_online.mapping import (
    cco_line_description,
    change_order_blockers,
    change_order_sums,
    line_payload,
    mappings_for,
    not_mapped,
    set_amount,
)
from quickbooks_online.marker import Marker
from quickbooks_online.ours import last_write, remember
from quickbooks_online.plans import Plan, PreviewLine

ZERO = Decimal("0.00")


def plan_change_order(cco: ChangeOrder, po_lines: list[dict],
                      mappings: dict | None = None) -> Plan:
    """The same arithmetic for the export and for the approver's preview (which passes the
    ``mappings`` of a whole page of cards, read at once)."""
    lines = [dict(line) for line in po_lines]
    index_by_id = {str(line.get("Id")): i for i, line in enumerate(lines)}
    plan = Plan(lines)
    for sov_line_id, change in change_order_sums(cco).items():
        sov_line = db.session.get(SovLine, sov_line_id)
        index = index_by_id.get(str(sov_line.qbo_line_id))
        if sov_line.qbo_line_id is None or index is None:
            plan.problems.append(f"SOV line {sov_line.line_number} ({sov_line.description}) is "
                                 "not on the QuickBooks purchase order any more (was its line "
                                 "deleted in QuickBooks?).")
            continue
        now = Decimal(str(lines[index].get("Amount") or 0)).quantize(Decimal("0.01"))
        after = now + change
        if after < 0:
            plan.problems.append(f"SOV line {sov_line.line_number} would go below zero in "
                                 f"QuickBooks ({now:,.2f} {change:+,.2f}); QuickBooks refuses "
                                 "negative purchase order lines.")
        lines[index] = set_amount(lines[index], after)
        plan.preview.append(PreviewLine(sov_line.label, now, change, after))
    new = [line for line in cco.lines if line.sov_line_id is None]
    if mappings is None:
        mappings = mappings_for({(line.cost_code_id, line.category_id) for line in new})
    customer = cco.commitment.project.qbo_customer_id
    for line in new:
        mapping = mappings.get((line.cost_code_id, line.category_id))
        if mapping is None:
            plan.problems.append(not_mapped(line.cost_code, line.category))
            continue
        plan.new_lines.append((line.id, len(lines)))
        lines.append(line_payload(cco_line_description(cco, line.description), line.amount,
                                  mapping, customer))
        plan.preview.append(PreviewLine(line.description, None, line.amount, line.amount))
    return plan


def _recorded_new_lines(cco: ChangeOrder, po: dict) -> dict[int, str]:
    """The CCO's new lines found again in a PO that already has the CCO (the update's answer
    was lost): by their description, in order, among lines no SOV line claims."""
    claimed = {line.qbo_line_id for line in cco.commitment.sov_lines}
    free = [line for line in purchase_orders.expense_lines(po)
            if str(line.get("Id")) not in claimed]
    found: dict[int, str] = {}
    for cco_line in (line for line in cco.lines if line.sov_line_id is None):
        wanted = cco_line_description(cco, cco_line.description)[:4000]
        for candidate in free:
            if candidate.get("Description") == wanted:
                found[cco_line.id] = str(candidate["Id"])
                free.remove(candidate)
                break
    return found


def _update_of(cco: ChangeOrder, po: dict, token: str) -> tuple[Plan, str] | None:
    """The sparse update that adds the CCO to ``po``: (the plan, the new PrivateNote); None
    when the PO's marker block already lists the CCO. QboPermanentError: it cannot be sent
    (an unlinked CCO's old change still there, a line gone, a negative line, a PO of
    another commitment)."""
    user_text, marker = note_of(cco.commitment, po)
    if marker is not None and marker.has_change_order(token):
        return None
    left = leftovers(cco, po)  # unlinked: what it had put in must be gone first
    if left:
        raise QboPermanentError(" ".join(left), "unlinked")
    plan = plan_change_order(cco, po.get("Line") or [])
    if plan.problems:
        raise QboPermanentError(" ".join(plan.problems), "mapping")
    note = marked_note(po, user_text, (marker or Marker(cco.commitment_id))
                       .without_change_order(cco.number).with_change_order(token))
    return plan, note


def _send(export: Export, cco: ChangeOrder, po: dict, plan: Plan, note: str,
          key: str) -> ExportResult:
    saved = purchase_orders.sparse_update(po, {"Line": plan.lines, "PrivateNote": note}, key)
    remember(cco.commitment_id, saved)
    return replace(result_of(saved, sent_line_ids(plan.lines, saved, plan.new_lines)),
                   written_over=str(po["SyncToken"]))


def _from_last_write(export: Export, cco: ChangeOrder, token: str) -> ExportResult | None:
    """One call when nothing changed in QuickBooks since our last write: the update computed
    from the PurchaseOrder as QuickBooks answered that write (or as change data capture last
    saw it), sent with its SyncToken. If QuickBooks holds anything newer it refuses the token
    (5010) and nothing is written. None: not sent this way — refused, or the recorded PO
    would lead to anything but a plain update (the CCO already in it, a problem to report);
    the caller then reads the PO and decides on what QuickBooks really holds."""
    po = last_write(cco.commitment_id, cco.commitment.qbo_purchase_order_id)
    if po is None:
        return None
    try:
        update = _update_of(cco, po, token)
    except QboPermanentError:
        return None
    if update is None:
        return None
    key = request_id(export.idempotency_key, f"a{export.attempts}", "w", f"u{po['SyncToken']}")
    try:
        return _send(export, cco, po, *update, key)
    except QboStaleError:
        return None  # changed in QuickBooks since our last write: read it
    except QboPermanentError:
        return None  # refused: decided again, and said, on the PO as QuickBooks holds it


@register("change_order")
def push_change_order(export: Export) -> ExportResult:
    cco = db.session.get(ChangeOrder, export.change_order_id)
    commitment = cco.commitment
    # The commitment's PurchaseOrder is another company's: neither the recorded last write
    # nor a read by its Id may reach the connected company's PO of that Id.
    require_here(commitment, of_change_order=True)
    problems = change_order_blockers(cco)  # a link may have been removed since it was sent
    if problems:
        raise QboPermanentError(" ".join(str(p) for p in problems), "mapping")
    token = token_of(cco)  # "004", or "004r1" once sent again after an unlink
    sent = _from_last_write(export, cco, token)
    if sent is not None:
        return sent
    for attempt in range(4):
        po = purchase_orders.read(commitment.qbo_purchase_order_id)
        update = _update_of(cco, po, token)
        if update is None:  # already in QuickBooks (a write whose answer was lost)
            remember(commitment.id, po)
            return result_of(po, _recorded_new_lines(cco, po))
        key = request_id(export.idempotency_key, f"a{export.attempts}", attempt,
                         f"u{po['SyncToken']}")
        try:
            return _send(export, cco, po, *update, key)
        except QboStaleError:
            continue  # changed in QuickBooks since we read it: read again, decide again
    raise QboPermanentError(f"PurchaseOrder {commitment.doc_number} kept changing in QuickBooks "
                            "while we updated it; retry the export.", "conflict")
