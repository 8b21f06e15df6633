"""Starting from existing books (docs/quickbooks.md, "Existing purchase orders" and "Unlink").

* A commitment **linked** to a PurchaseOrder that was already in QuickBooks keeps the link in
  ``Commitment.qbo_link`` (its Id, DocNumber, and every PO line as it was when linked) and the
  line map on its SOV lines (``SovLine.qbo_line_id``). Its first export is one sparse update
  planned here: matched lines brought to the SOV amounts, SOV lines without a match appended,
  every other PO line (the bookkeeper's) sent back as read, our marker block added.
* A CCO **unlinked** after it synced keeps in ``ChangeOrder.erp_unlink`` what it had put into
  QuickBooks (its change per SOV line, its new lines' Ids, the PurchaseOrder) and how many times
  it was unlinked. Its next export is marked with a new token ("004r1") and first checks that
  what it had put in is gone: never applied twice, never skipped because an old token is there.
"""

from __future__ import annotations

import json
from decimal import Decimal

from models import ChangeOrder, Commitment, ErpStatus
from quickbooks_online import purchase_orders
from quickbooks_online.company import connected_realm
from quickbooks_online.mapping import (
    line_payload,
    mappings_for,
    not_mapped,
    set_amount,
    sov_line_description,
    synced_changes,
)
from quickbooks_online.marker import change_order_token
from quickbooks_online.plans import Plan, PreviewLine

CENT = Decimal("0.01")


def amount_of(line: dict) -> Decimal:
    return Decimal(str(line.get("Amount") or 0)).quantize(CENT)


# ---- a commitment linked to an existing PurchaseOrder ------------------------------------------

def link_of(commitment: Commitment) -> dict | None:
    """The link to an existing PurchaseOrder (None: none, or we created the PO)."""
    return json.loads(commitment.qbo_link) if commitment.qbo_link else None


def doc_number_of(commitment: Commitment) -> str:
    """The DocNumber its PurchaseOrder holds as far as we are concerned: a PO that was linked
    or imported keeps its own (as read then), one we created has the commitment's."""
    link = link_of(commitment)
    return (link.get("doc_number") or "") if link is not None else commitment.doc_number


def vendor_problem(commitment: Commitment, po: dict | None = None) -> str | None:
    """Why a linked commitment may not be written to its PurchaseOrder: the PO (``po`` as
    read, or as it was linked) is not its vendor's in QuickBooks (the commitment's vendor was
    edited after linking, or the PO moved to another vendor in QuickBooks). None: it is."""
    link = link_of(commitment)
    if link is None or link.get("imported"):
        return None
    if po is not None:
        vendor = str((po.get("VendorRef") or {}).get("value") or "")
        name = (po.get("VendorRef") or {}).get("name") or ""
        doc = po.get("DocNumber") or po.get("Id")
    else:
        vendor, name, doc = link.get("vendor"), link.get("vendor_name"), link.get("doc_number")
        if not vendor:  # linked before the vendor was kept: the export checks it
            return None
    if vendor == str(commitment.vendor.qbo_vendor_id or ""):
        return None
    return (f"Linked to QuickBooks PurchaseOrder {doc or link['po']}, which is "
            f"{name or 'another vendor'}'s, not {commitment.vendor.name}'s. Put the vendor "
            "right (here or in QuickBooks), or unlink the commitment and link it to one of "
            f"{commitment.vendor.name}'s purchase orders.")


def link_record(po: dict, *, imported: bool = False) -> str:
    """What ``Commitment.qbo_link`` keeps of the PurchaseOrder as read when linking."""
    return json.dumps({
        "po": str(po["Id"]), "doc_number": po.get("DocNumber") or "",
        "vendor": str((po.get("VendorRef") or {}).get("value") or ""),
        "vendor_name": (po.get("VendorRef") or {}).get("name") or "",
        "date": po.get("TxnDate") or "", "total": str(po.get("TotalAmt") or 0),
        "imported": imported,
        "lines": [{"Id": str(line.get("Id")), "Amount": str(amount_of(line)),
                   "Description": line.get("Description") or ""}
                  for line in purchase_orders.expense_lines(po)]})


def plan_link(commitment: Commitment, po_lines: list[dict], mappings: dict | None = None,
              line_ids: dict[int, str] | None = None):
    """The first export of a linked commitment, for the export and for the approver's preview
    alike: each matched PO line brought to its SOV line's amount, each SOV line without a
    match appended, every other line as read. ``line_ids``: SOV line id → PO line Id (default:
    the line map made when linking)."""
    if line_ids is None:
        line_ids = {sov.id: sov.qbo_line_id for sov in commitment.sov_lines if sov.qbo_line_id}
    lines = [dict(line) for line in po_lines]
    index_by_id = {str(line.get("Id")): i for i, line in enumerate(lines)}
    plan = Plan(lines)
    unmatched = [sov for sov in commitment.sov_lines if sov.id not in line_ids]
    if mappings is None:
        mappings = mappings_for({(sov.cost_code_id, sov.category_id) for sov in unmatched})
    for sov in commitment.sov_lines:
        if sov.id in line_ids:
            index = index_by_id.get(str(line_ids[sov.id]))
            if index is None:
                plan.problems.append(f"The QuickBooks line matched to SOV line "
                                     f"{sov.line_number} ({sov.description}) is not on the "
                                     "purchase order any more; unlink and link it again.")
                continue
            now = amount_of(lines[index])
            lines[index] = set_amount(lines[index], sov.amount)
            plan.new_lines.append((sov.id, index))
            plan.preview.append(PreviewLine(f"{sov.line_number}. {sov.description} "
                                            f"(PO line: {lines[index].get('Description') or ''})",
                                            now, sov.amount - now, sov.amount))
            continue
        mapping = mappings.get((sov.cost_code_id, sov.category_id))
        if mapping is None:
            plan.problems.append(not_mapped(sov.cost_code, sov.category))
            continue
        plan.new_lines.append((sov.id, len(lines)))
        lines.append(line_payload(sov_line_description(sov), sov.amount, mapping,
                                  commitment.project.qbo_customer_id))
        plan.preview.append(PreviewLine(sov_line_description(sov), None, sov.amount,
                                        sov.amount))
    claimed = {str(line_id) for line_id in line_ids.values()}
    for line in po_lines:  # the bookkeeper's own lines: sent back as read, shown as kept
        if str(line.get("Id")) not in claimed:
            now = amount_of(line)
            plan.preview.append(PreviewLine(f"{line.get('Description') or 'PO line'} "
                                            "(not matched: kept as it is)", now,
                                            Decimal("0.00"), now))
    return plan


def link_preview(commitment: Commitment):
    """The approver's preview of a linked commitment's Accept, on the PO as it was linked (no
    QuickBooks call); None for a commitment that is not linked or already synced."""
    link = link_of(commitment)
    if link is None or link.get("imported") or commitment.erp_status == ErpStatus.SYNCED:
        return None
    return plan_link(commitment, link["lines"])


# ---- a CCO unlinked after it synced ------------------------------------------------------------

def unlink_of(cco: ChangeOrder) -> dict | None:
    return json.loads(cco.erp_unlink) if cco.erp_unlink else None


def token_of(cco: ChangeOrder) -> str:
    """This sending's token in the marker block."""
    unlink = unlink_of(cco)
    return change_order_token(cco.number, unlink["count"] if unlink else 0)


def footprint(cco: ChangeOrder) -> str:
    """What a Synced CCO has put into QuickBooks, recorded when it is unlinked."""
    before = unlink_of(cco) or {}
    changes: dict[str, str] = {}
    for line in cco.lines:
        if line.sov_line_id is not None:
            key = str(line.sov_line_id)
            changes[key] = str(Decimal(changes.get(key, "0")) + line.amount)
    return json.dumps({
        "count": int(before.get("count", 0)) + 1,
        "po": cco.commitment.qbo_purchase_order_id,
        "realm": cco.commitment.qbo_realm_id,  # ids are per company (quickbooks_online/company.py)
        "changes": changes,
        "new_lines": [line.qbo_line_id for line in cco.lines
                      if line.sov_line_id is None and line.qbo_line_id]})


def leftovers(cco: ChangeOrder, po: dict) -> list[str]:
    """Why an unlinked CCO cannot be sent again onto ``po`` yet: what it had put into
    QuickBooks is still there, or the line no longer holds what our books say it would
    without it. Empty: gone, so the CCO is applied to what QuickBooks holds now."""
    unlink = unlink_of(cco)
    if unlink is None:
        return []
    commitment = cco.commitment
    lines = {str(line.get("Id")): line for line in purchase_orders.expense_lines(po)}
    problems = []
    if unlink.get("po") == str(po.get("Id")) and unlink.get("realm") in (None, connected_realm()):
        still = [lines[i].get("Description") or i for i in unlink.get("new_lines", [])
                 if i in lines]
        if still:
            problems.append(f"CCO {cco.number} was unlinked, but the lines it added are still "
                            f"on PurchaseOrder {po.get('DocNumber') or po['Id']} in QuickBooks ("
                            + "; ".join(still) + "). Remove them there, then Retry Export.")
    synced = synced_changes(commitment)
    for sov in commitment.sov_lines:
        earlier = Decimal(unlink.get("changes", {}).get(str(sov.id), "0"))
        line = lines.get(str(sov.qbo_line_id))
        if not earlier or line is None:
            continue
        without = sov.amount + synced.get(sov.id, Decimal("0"))
        holds = amount_of(line)
        if holds == without:
            continue
        if holds == without + earlier:
            problems.append(f"PO line for SOV line {sov.line_number} still holds "
                            f"{holds:,.2f}, CCO {cco.number}'s earlier change of "
                            f"{earlier:+,.2f} included. Take it out in QuickBooks (the line "
                            f"should hold {without:,.2f}), then Retry Export.")
        else:
            problems.append(f"PO line for SOV line {sov.line_number} holds {holds:,.2f} in "
                            f"QuickBooks; without CCO {cco.number}'s earlier change our books "
                            f"say {without:,.2f}. Put it right in QuickBooks, then Retry Export.")
    return problems
