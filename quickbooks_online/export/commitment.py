"""A commitment → its QuickBooks PurchaseOrder (docs/quickbooks.md, "Commitments").

1. Once the commitment has a PurchaseOrder Id, that PO is read by Id, always; its DocNumber
   may have been changed in QuickBooks. Gone (deleted in QuickBooks) → Failed to Export, in
   words, never a silent second PO. An Id of another QuickBooks company than the connected
   one → Failed to Export before any call (quickbooks_online/company.py).
2. Without an Id, a first try creates it directly, with a requestid derived from the
   Export's key (one call). Only when an earlier try may have created it (its answer lost),
   or QuickBooks refused the create for its DocNumber (6140), is the DocNumber looked up: a
   PO with it is adopted only if its marker block names exactly this commitment; any other
   is someone else's.
3. Else it is created, with a requestid derived from the Export's key.
4. An existing PO that differs from the commitment (rejected, corrected, resent) gets one
   sparse update: our lines, vendor, AP account, DocNumber and our marker block; a QuickBooks
   user's own lines, Memo and note text stay as they are.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

from sqlalchemy import func, select

from extensions import db
from models import Commitment, Export, QboPurchaseOrderState
from quickbooks_online import purchase_orders
from quickbooks_online.company import require_here
from quickbooks_online.connection import require_connection
from quickbooks_online.errors import QboPermanentError, QboStaleError
from quickbooks_online.export import ExportResult, register, request_id, result_of, sent_line_ids
from quickbooks_online.links import doc_number_of, link_of, plan_link, vendor_problem
from quickbooks_online.mapping import (
    commitment_blockers,
    purchase_order_payload,
    ref,
    set_amount,
    sov_line_description,
    sov_lines_payload,
)
from quickbooks_online.marker import NOTE_LIMIT, Marker, NoteTooLong, join_note, split_note
from quickbooks_online.ours import our_lines, remember

DUPLICATE_DOC_NUMBER = "6140"
LINE_NUMBER = re.compile(r"(\d+)\. ")


class ForeignPurchaseOrder(QboPermanentError):
    """A PO with our DocNumber exists in QuickBooks, but ChangeOrder Desk did not create it."""


class WrongPurchaseOrder(QboPermanentError):
    """The PO at the recorded Id carries another commitment's marker: never write to it."""


@register("commitment")
def push_commitment(export: Export) -> ExportResult:
    commitment = db.session.get(Commitment, export.commitment_id)
    require_here(commitment)  # its PurchaseOrder is another company's: write nothing, anywhere
    problems = commitment_blockers(commitment)  # a link may have been removed since it was sent
    if problems:
        raise QboPermanentError(" ".join(str(p) for p in problems), "mapping")
    # Could a PO of ours exist that its DocNumber no longer finds (our create applied but its
    # answer lost, then renumbered in QuickBooks)? Only if an earlier try got that far.
    tried_before = export.attempts > 1 or db.session.scalar(
        select(func.count()).select_from(Export).where(
            Export.commitment_id == commitment.id, Export.change_order_id.is_(None),
            Export.id != export.id)) > 0
    for attempt in range(3):
        key = request_id(export.idempotency_key, f"a{export.attempts}", attempt)
        try:
            result, po = _push_once(commitment, key, tried_before or attempt > 0)
            remember(commitment.id, po)  # a CCO's export then updates it in one call
            return result
        except QboStaleError:
            continue  # 5010: read again and decide again
        except (ForeignPurchaseOrder, WrongPurchaseOrder):
            raise
        except QboPermanentError as error:
            if error.code == DUPLICATE_DOC_NUMBER and not commitment.qbo_purchase_order_id:
                continue  # created meanwhile (by a retry of ours or by someone): look again
            raise
    raise QboPermanentError(f"QuickBooks kept refusing purchase order {commitment.doc_number}; "
                            "see the last error and retry.", "conflict")


def _marked_ours(commitment: Commitment, pos: list[dict]) -> dict | None:
    for po in pos:
        _, marker = split_note(po.get("PrivateNote"))
        if marker is not None and marker.names(commitment.id):
            return po
    return None


def _push_once(commitment: Commitment, key: str, tried_before: bool
               ) -> tuple[ExportResult, dict]:
    """(the result, the PurchaseOrder as QuickBooks now holds it)."""
    if commitment.qbo_purchase_order_id:
        po = purchase_orders.read(commitment.qbo_purchase_order_id)
        if _restore_requested(commitment):
            return _restore(commitment, po, key)
        if link_of(commitment) is not None:
            return _bring_linked_up_to_date(commitment, po, key)
        return _bring_up_to_date(commitment, po, key)
    if tried_before:
        # Only an earlier try may have created our PO (its answer lost): look for it by its
        # DocNumber first. A first try creates directly; a PO someone else numbered so makes
        # QuickBooks refuse the create (6140), and the next try looks (push_commitment).
        found = purchase_orders.find_by_doc_number(commitment.doc_number)
        ours = _marked_ours(commitment, found)
        if ours is None:
            # Renumbered in QuickBooks after a create whose answer we lost: our marker still
            # says whose it is. One more query, only when an earlier try may have created it.
            ours = _marked_ours(commitment,
                                purchase_orders.find_by_vendor(commitment.vendor.qbo_vendor_id))
        if ours is not None:
            if purchase_orders.expense_lines(ours) and not _ours(commitment, ours)[1]:
                # Ours by its marker, but none of its lines can be told to be ours: it was
                # imported or linked (its own words on its lines), and the line map went
                # with the Unlink. Appending our lines would put the commitment in twice.
                raise QboPermanentError(
                    f"QuickBooks PurchaseOrder {ours.get('DocNumber') or ours['Id']} "
                    f"(Id {ours['Id']}) is this commitment's, but which of its lines are the "
                    "SOV lines is no longer recorded since it was unlinked. Reject this "
                    "export, then link the commitment to that purchase order again (its ERP "
                    "panel), or delete that purchase order in QuickBooks and retry. Nothing "
                    "was written.", "unknown-lines")
            return _bring_up_to_date(commitment, ours, key)
        if found:
            raise ForeignPurchaseOrder(
                f"QuickBooks already has a purchase order numbered {commitment.doc_number} "
                f"(Id {found[0]['Id']}) that ChangeOrder Desk did not create for this "
                "commitment. Renumber one of them (or give this project a DocNumber prefix), "
                "then retry.", DUPLICATE_DOC_NUMBER)
    payload = purchase_order_payload(commitment, require_connection())
    created = purchase_orders.create(payload, key)
    lines = payload["Line"]
    return result_of(created, sent_line_ids(
        lines, created, [(sov.id, i) for i, (sov, _) in enumerate(sov_lines_payload(commitment))]
    )), created


def _restore_requested(commitment: Commitment) -> bool:
    return db.session.scalar(select(QboPurchaseOrderState.restore_requested_at).where(
        QboPurchaseOrderState.commitment_id == commitment.id)) is not None


def _restore(commitment: Commitment, po: dict, key: str) -> tuple[ExportResult, dict]:
    """"Restore ours" after a change made in QuickBooks: one sparse update that puts back the
    amount we wrote on each of our lines and our DocNumber (a linked or imported PO's own);
    every other line, the Memo and the note stay as QuickBooks holds them.

    An SOV line whose PO line was removed in QuickBooks is put back at its amount (its new
    line Id recorded): a line "N. description" that none of ours claims is taken as it (a try
    whose answer was lost put it there), else one is appended. A line a CCO added that was
    removed is not put back (it is that CCO's): Failed to Export, in words, nothing written."""
    ours = our_lines([commitment.id])[commitment.id]
    lines = [dict(line) for line in po.get("Line") or []]
    held = {str(line.get("Id")): i for i, line in enumerate(lines)}
    for line_id, our in ours.items():
        if line_id in held:
            lines[held[line_id]] = set_amount(lines[held[line_id]], our.amount)
    sov_line_ids = {sov.qbo_line_id for sov in commitment.sov_lines if sov.qbo_line_id}
    gone = [our.label for line_id, our in ours.items()
            if line_id not in held and line_id not in sov_line_ids]
    if gone:
        raise QboPermanentError(
            "Removed from PurchaseOrder " + (po.get("DocNumber") or str(po["Id"])) + " in "
            "QuickBooks: " + "; ".join(gone) + ". Restore ours puts back SOV lines, not a "
            "line a CCO added; put it back in QuickBooks, then Retry Export. Nothing was "
            "written.", "restore")
    missing = [sov for sov in commitment.sov_lines
               if sov.qbo_line_id and sov.qbo_line_id not in held]
    positions = []
    if missing:
        payloads = {sov.id: payload for sov, payload in sov_lines_payload(commitment)}
        free = [i for i, line in enumerate(lines) if str(line.get("Id")) not in ours
                and str(line.get("DetailType", "")).endswith("ExpenseLineDetail")]
        for sov in missing:
            amount = ours[sov.qbo_line_id].amount
            found = next((i for i in free
                          if lines[i].get("Description") == sov_line_description(sov)), None)
            if found is None:
                positions.append((sov.id, len(lines)))
                lines.append(set_amount(payloads[sov.id], amount))
            else:
                free.remove(found)
                positions.append((sov.id, found))
                lines[found] = set_amount(lines[found], amount)
    fields = {"Line": lines}
    doc_number = doc_number_of(commitment)  # a linked or imported PO keeps its own number
    if doc_number:
        fields["DocNumber"] = doc_number
    saved = purchase_orders.sparse_update(po, fields, request_id(key, f"r{po['SyncToken']}"))
    return result_of(saved, sent_line_ids(lines, saved, positions)), saved


def known_line_ids(commitment: Commitment, po: dict) -> set[str]:
    """Every QuickBooks line Id we have written for this commitment on PurchaseOrder ``po``.
    Line Ids are per PurchaseOrder (each numbers its lines from 1): those an export recorded
    for another PO (the one before an Unlink, or another company's PO of the same Id) are
    not lines of this one."""
    from quickbooks_online.company import connected_realm

    known = {line.qbo_line_id for line in commitment.sov_lines if line.qbo_line_id}
    realm = connected_realm()
    for qbo_ids in db.session.scalars(select(Export.qbo_ids).where(
            Export.commitment_id == commitment.id, Export.change_order_id.is_(None),
            Export.qbo_ids.is_not(None))):
        recorded = json.loads(qbo_ids)
        if str(recorded.get("PurchaseOrder")) != str(po.get("Id")) \
                or recorded.get("Realm", realm) != realm:
            continue
        known.update(str(v) for v in (recorded.get("Lines") or {}).values())
    return known


def _owned(line: dict) -> tuple:
    """What we own of a line: compared to decide whether an update is needed."""
    kind = line.get("DetailType", "")
    detail = line.get(kind) or {}
    target = detail.get("ItemRef") or detail.get("AccountRef") or {}
    return (kind, Decimal(str(line.get("Amount") or 0)).quantize(Decimal("0.01")),
            line.get("Description") or "", str(target.get("value")),
            str((detail.get("CustomerRef") or {}).get("value")))


def _ours(commitment: Commitment, po: dict) -> tuple[dict[int, dict], set[str]]:
    """(SOV line id → its PO line, Ids of every PO line that is ours)."""
    lines = purchase_orders.expense_lines(po)
    known = known_line_ids(commitment, po)
    if known:
        by_id = {str(line.get("Id")): line for line in lines}
        matched = {sov.id: by_id[sov.qbo_line_id] for sov in commitment.sov_lines
                   if sov.qbo_line_id in by_id}
        return matched, {i for i in by_id if i in known}
    # Adopting a PO whose create answer was lost: the lines we wrote are numbered "N. …",
    # matched by number; any other line was added in QuickBooks and stays.
    by_number: dict[int, dict] = {}
    numbered: set[str] = set()
    for line in lines:
        number = LINE_NUMBER.match(line.get("Description") or "")
        if number:
            by_number.setdefault(int(number.group(1)), line)
            numbered.add(str(line.get("Id")))
    matched = {sov.id: by_number[sov.line_number] for sov in commitment.sov_lines
               if sov.line_number in by_number}
    return matched, numbered


def _merge(current: dict, wanted: dict) -> dict:
    """A line as read, with the fields we own replaced by what we want."""
    merged = {k: v for k, v in current.items()
              if not str(k).endswith("LineDetail") and k != "DetailType"}
    merged.update(wanted)
    merged["Id"] = current["Id"]
    return merged


def note_of(commitment: Commitment, po: dict) -> tuple[str, Marker | None]:
    """The PO's note split into the user's text and our marker; WrongPurchaseOrder if the
    marker names another commitment (then nothing may be written to it)."""
    user_text, marker = split_note(po.get("PrivateNote"))
    if marker is not None and not marker.names(commitment.id):
        raise WrongPurchaseOrder(
            f"QuickBooks PurchaseOrder {po['Id']} belongs to another ChangeOrder Desk "
            f"commitment (its note names commitment {marker.commitment_id}); nothing was "
            "written to it.", "wrong-record")
    return user_text, marker


def marked_note(po: dict, user_text: str, marker: Marker) -> str:
    """PrivateNote with the QuickBooks user's text kept word for word and our ``marker``; a
    note too long to hold both is not cut: Failed to Export, in words, nothing written."""
    try:
        return join_note(user_text, marker)
    except NoteTooLong as error:
        raise QboPermanentError(
            f"The private note of QuickBooks PurchaseOrder {po.get('DocNumber') or po['Id']} "
            f"is too long to hold ChangeOrder Desk's marker as well (QuickBooks keeps "
            f"{NOTE_LIMIT:,} characters). Nothing was written; shorten the note in QuickBooks "
            f"by at least {error.excess:,} characters, then Retry Export.", "note") from None


def _bring_up_to_date(commitment: Commitment, po: dict, key: str
                      ) -> tuple[ExportResult, dict]:
    user_text, marker = note_of(commitment, po)
    matched, ours = _ours(commitment, po)
    wanted = sov_lines_payload(commitment)
    our_lines = [_merge(matched[sov.id], payload) if sov.id in matched else payload
                 for sov, payload in wanted]
    theirs = [line for line in po.get("Line") or [] if str(line.get("Id")) not in ours]
    connection = require_connection()
    note = marked_note(po, user_text,
                       Marker(commitment.id, marker.change_orders if marker else ()))
    same = (
        [_owned(line) for line in our_lines]
        == [_owned(line) for line in po.get("Line") or [] if str(line.get("Id")) in ours]
        and len(matched) == len(ours)
        and (po.get("VendorRef") or {}).get("value") == commitment.vendor.qbo_vendor_id
        and (po.get("APAccountRef") or {}).get("value") == connection.ap_account_id
        and po.get("DocNumber") == commitment.doc_number
        and (po.get("PrivateNote") or "") == note)
    positions = [(sov.id, i) for i, (sov, _) in enumerate(wanted)]
    if same:
        return result_of(po, {sov_id: str(our_lines[i]["Id"]) for sov_id, i in positions
                              if our_lines[i].get("Id")}), po
    lines = our_lines + theirs
    saved = purchase_orders.sparse_update(po, {
        "Line": lines,
        "VendorRef": ref(commitment.vendor.qbo_vendor_id),
        "APAccountRef": ref(connection.ap_account_id),
        "DocNumber": commitment.doc_number,
        "PrivateNote": note,
    }, request_id(key, f"u{po['SyncToken']}"))
    return result_of(saved, sent_line_ids(lines, saved, positions)), saved



def _bring_linked_up_to_date(commitment: Commitment, po: dict, key: str
                             ) -> tuple[ExportResult, dict]:
    """The first export of a commitment linked to a PurchaseOrder that was already in
    QuickBooks: one sparse update of its lines and note, nothing else (DocNumber, vendor,
    Memo and the bookkeeper's own lines stay as they are).

    Exactly once: amounts are set, not added, and an SOV line without a match is appended only
    if no line added since the link carries its description yet (a try whose answer was lost
    appended it; our marker block in the note says a try got that far; a line that was on the
    PO when linked and left unmatched is the bookkeeper's even with the same words). When
    nothing would change, nothing is written."""
    user_text, marker = note_of(commitment, po)
    wrong_vendor = vendor_problem(commitment, po)
    if wrong_vendor:
        raise WrongPurchaseOrder(wrong_vendor + " Nothing was written.", "wrong-record")
    line_ids = {sov.id: str(sov.qbo_line_id) for sov in commitment.sov_lines if sov.qbo_line_id}
    if marker is not None:
        # Only a line added since the link can be one we appended: a line that was on the PO
        # when it was linked and left unmatched is the bookkeeper's, whatever its words.
        linked = {str(line.get("Id")) for line in (link_of(commitment) or {}).get("lines", [])}
        free = [line for line in purchase_orders.expense_lines(po)
                if str(line.get("Id")) not in set(line_ids.values())
                and str(line.get("Id")) not in linked]
        for sov in commitment.sov_lines:
            if sov.id in line_ids:
                continue
            for line in free:
                if line.get("Description") == sov_line_description(sov):
                    line_ids[sov.id] = str(line["Id"])
                    free.remove(line)
                    break
    plan = plan_link(commitment, po.get("Line") or [], line_ids=line_ids)
    if plan.problems:
        raise QboPermanentError(" ".join(plan.problems), "mapping")
    note = marked_note(po, user_text,
                       Marker(commitment.id, marker.change_orders if marker else ()))
    if (marker is not None and len(line_ids) == len(commitment.sov_lines)
            and all(row.change == 0 for row in plan.preview)
            and (po.get("PrivateNote") or "") == note):
        return result_of(po, line_ids), po  # already as wanted: write nothing
    saved = purchase_orders.sparse_update(po, {"Line": plan.lines, "PrivateNote": note},
                                          request_id(key, f"u{po['SyncToken']}"))
    return result_of(saved, sent_line_ids(plan.lines, saved, plan.new_lines)), saved
