"""Starting from real books: link a commitment to a PurchaseOrder already in QuickBooks,
import PurchaseOrders as commitments, and unlink (docs/lifecycle.md, docs/quickbooks.md).

* **Link** (ERP admin): a commitment that is not in QuickBooks yet is tied to one of its
  vendor's PurchaseOrders and its SOV lines matched to PO lines. Nothing is written to
  QuickBooks; the first Accept is one sparse update (quickbooks_online/links.py).
* **Import** (ERP admin): PurchaseOrders no commitment holds become Synced commitments, their
  SOV lines from the PO lines through the cost mappings in reverse. All or nothing per PO.
* **Unlink** (ERP admin with Can Push): a Synced CCO goes back to Not Sent (editable,
  resendable; its next export checks that what it had put in was removed in QuickBooks), and a
  commitment lets go of its PurchaseOrder (to be linked again or exported anew). Refused while
  an export of that commitment (or of one of its CCOs) is queued or running.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import (
    ChangeOrder,
    Commitment,
    CommitmentStatus,
    CommitmentType,
    CostMapping,
    ErpStatus,
    Export,
    ExportStatus,
    Project,
    QboPurchaseOrderState,
    SovLine,
    User,
    Vendor,
)
from models.limits import MAX_COMMITMENT_NUMBER
from quickbooks_online.company import connected_realm, elsewhere, held_here, where_linked
from workflow import history, kinds
from workflow.erp import REASON_LIMIT, Action
from workflow.erp_status import move_erp_status
from workflow.errors import AlreadyHandled, InvalidInput, Locked, PermissionDenied
from workflow.locking import take_write_lock
from workflow.permissions import is_erp_admin
from workflow.text import clean_text

IMPORT_PAGE = 25  # PurchaseOrders read from QuickBooks for one page of the import list
CHOICES_LIMIT = 200
LINKABLE = (ErpStatus.NOT_SENT, ErpStatus.REJECTED)
COMMITMENT_UNLINKABLE = (ErpStatus.NOT_SENT, ErpStatus.REJECTED, ErpStatus.SYNCED,
                         ErpStatus.FAILED_TO_EXPORT)
DESCRIPTION_LIMIT = 255
TITLE_LIMIT = 255


def can_unlink(user: User | None) -> bool:
    """ERP admin who also holds Can Push to Accounting."""
    return bool(is_erp_admin(user) and user.active and user.can_push_to_accounting)


def _quickbooks(call):
    """Run a QuickBooks read; a refusal or an outage becomes words for the page."""
    from quickbooks_online.errors import QboError

    try:
        return call()
    except QboError as error:
        raise Locked(f"QuickBooks could not be read: {error}") from None


# ---- what the ERP panel offers -----------------------------------------------------------------

def books_actions(user: User, subject) -> list[Action]:
    """Link / Unlink on a commitment's or a CCO's ERP panel (only to whoever may press them);
    another ERP kind has none (Link and Unlink are about PurchaseOrders of commitments)."""
    offers = {"commitment": _commitment_actions, "change_order": _cco_actions}
    return offers.get(kinds.of(subject).name, lambda user, subject: [])(user, subject)


def _cco_actions(user: User, cco) -> list[Action]:
    if cco.erp_status == ErpStatus.SYNCED and can_unlink(user):
        return [Action("unlink", "Unlink", True)]
    return []


def _commitment_actions(user: User, subject) -> list[Action]:
    actions = []
    if (subject.erp_status in LINKABLE and not subject.qbo_purchase_order_id
            and is_erp_admin(user)):
        actions.append(Action("link", "Link to a QuickBooks purchase order", True))
    if (subject.qbo_purchase_order_id and subject.erp_status in COMMITMENT_UNLINKABLE
            and can_unlink(user)):
        actions.append(Action("unlink", "Unlink from PurchaseOrder", True))
    return actions


# ---- unlink ------------------------------------------------------------------------------------

def _reason(reason: str) -> str:
    try:
        reason = clean_text(reason or "")
    except ValueError as error:
        raise InvalidInput({"reason": str(error)}) from None
    if not reason:
        raise InvalidInput({"reason": "Say why, for the history."})
    if len(reason) > REASON_LIMIT:
        raise InvalidInput({"reason": f"Use at most {REASON_LIMIT:,} characters."})
    return reason


def _export_in_flight(commitment: Commitment) -> bool:
    """An export of the commitment or of one of its CCOs is queued or running."""
    return bool(db.session.scalar(select(exists().where(
        Export.commitment_id == commitment.id,
        Export.status.in_((ExportStatus.QUEUED, ExportStatus.RUNNING))))))


def _lock(commitment: Commitment) -> None:
    take_write_lock(commitment)
    if _export_in_flight(commitment):
        db.session.rollback()
        raise Locked(f"An export of {commitment.number} is queued or running; unlink once it "
                     "has finished.")


def _unlink_cco(actor: User, cco: ChangeOrder, comment: str) -> None:
    from quickbooks_online.links import footprint

    cco.erp_unlink = footprint(cco)
    for line in cco.lines:
        line.qbo_line_id = None
    db.session.flush()
    move_erp_status(cco, (ErpStatus.SYNCED,), ErpStatus.NOT_SENT, erp_rejection_reason=None,
                    updated_by_id=actor.id)
    history.record(actor, cco, "unlinked", field="ERP status", old=ErpStatus.SYNCED,
                   new=ErpStatus.NOT_SENT, comment=comment)


def unlink_change_order(actor: User, cco: ChangeOrder, reason: str) -> None:
    """A Synced CCO → Not Sent, editable and resendable (ERP admin with Can Push). Nothing is
    written to QuickBooks: the bookkeeper removes its lines there first."""
    if not can_unlink(actor):
        raise PermissionDenied("Only an ERP admin who holds Can Push to Accounting can unlink.")
    reason = _reason(reason)
    _lock(cco.commitment)
    db.session.refresh(cco)
    if cco.erp_status != ErpStatus.SYNCED:
        raise AlreadyHandled(f"CCO #{cco.number} is {cco.erp_status.label}, not Synced: there "
                             "is nothing to unlink.")
    _unlink_cco(actor, cco, reason)
    db.session.commit()


def unlink_commitment(actor: User, commitment: Commitment, reason: str) -> None:
    """The commitment lets go of its PurchaseOrder (deleted or replaced in QuickBooks): it can
    be linked again or exported anew. Its Synced CCOs are unlinked with it (they were in that
    PurchaseOrder). Nothing is written to QuickBooks."""
    if not can_unlink(actor):
        raise PermissionDenied("Only an ERP admin who holds Can Push to Accounting can unlink.")
    reason = _reason(reason)
    _lock(commitment)
    if not commitment.qbo_purchase_order_id:
        raise AlreadyHandled(f"{commitment.number} is not linked to a PurchaseOrder.")
    if commitment.erp_status not in COMMITMENT_UNLINKABLE:
        raise Locked(f"{commitment.number} is {commitment.erp_status.label}: retrieve it first.")
    po_id = commitment.qbo_purchase_order_id
    if elsewhere(commitment):  # kept in the history as what it was: another company's
        po_id = f"{po_id} (company {commitment.qbo_realm_id})"
    for cco in commitment.change_orders:
        if cco.erp_status == ErpStatus.SYNCED:
            _unlink_cco(actor, cco, f"Unlinked with commitment {commitment.number}: {reason}")
    # A CCO with accounting is now for whatever PurchaseOrder the commitment gets next: a card
    # opened before, naming this one, must not accept it (docs/lifecycle.md, "Accept is of
    # what the approver saw").
    db.session.execute(update(ChangeOrder).where(
        ChangeOrder.commitment_id == commitment.id,
        ChangeOrder.erp_status.in_((ErpStatus.READY_TO_EXPORT, ErpStatus.FAILED_TO_EXPORT)))
        .values(version=ChangeOrder.version + 1).execution_options(synchronize_session=False))
    before = commitment.erp_status
    for line in commitment.sov_lines:
        line.qbo_line_id = None
    commitment.qbo_purchase_order_id = commitment.qbo_sync_token = None
    commitment.qbo_realm_id = None
    commitment.qbo_total = None
    commitment.qbo_link = None
    # What change data capture last read of that PO is not about the next one it gets.
    db.session.execute(delete(QboPurchaseOrderState).where(
        QboPurchaseOrderState.commitment_id == commitment.id))
    db.session.flush()
    if before in (ErpStatus.SYNCED, ErpStatus.FAILED_TO_EXPORT):
        move_erp_status(commitment, (before,), ErpStatus.NOT_SENT, erp_rejection_reason=None,
                        updated_by_id=actor.id)
    history.record(actor, commitment, "unlinked", field="QuickBooks PurchaseOrder", old=po_id,
                   new=None, comment=reason)
    db.session.commit()


# ---- link --------------------------------------------------------------------------------------

@dataclass
class PoSummary:
    """A PurchaseOrder as the link and import pages show it."""

    po: dict
    lines: list[dict]
    vendor: Vendor | None = None
    problems: list[str] = field(default_factory=list)
    choices: dict[str, list] = field(default_factory=dict)  # PO line Id → [(value, label)]
    resolved: dict[str, tuple[int, int]] = field(default_factory=dict)  # line → (code, cat)
    labels: dict[str, str] = field(default_factory=dict)  # line → its resolved pair in words

    @property
    def id(self) -> str:
        return str(self.po["Id"])

    @property
    def doc_number(self) -> str:
        return self.po.get("DocNumber") or f"(no number, Id {self.id})"

    @property
    def date(self) -> str:
        return self.po.get("TxnDate") or ""

    @property
    def total(self) -> Decimal:
        return Decimal(str(self.po.get("TotalAmt") or 0)).quantize(Decimal("0.01"))

    @property
    def memo(self) -> str:
        return self.po.get("Memo") or ""


def _summary(po: dict) -> PoSummary:
    from quickbooks_online.purchase_orders import expense_lines

    return PoSummary(po, expense_lines(po))


def _taken(po_ids: list[str]) -> dict[str, Commitment]:
    """PurchaseOrder Id → the commitment that holds it, for these Ids of the connected
    company (one statement; a link to another company's PO of the same Id is not one)."""
    if not po_ids:
        return {}
    return {c.qbo_purchase_order_id: c for c in db.session.scalars(
        select(Commitment).where(Commitment.qbo_purchase_order_id.in_(po_ids), held_here()))}


def _marked_for_other(po: dict, commitment_id: int | None) -> int | None:
    from quickbooks_online.marker import split_note

    _, marker = split_note(po.get("PrivateNote"))
    if marker is not None and marker.commitment_id != commitment_id:
        return marker.commitment_id
    return None


def _require_linkable(actor: User, commitment: Commitment) -> None:
    if not is_erp_admin(actor):
        raise PermissionDenied("Only an ERP admin can link a commitment to QuickBooks.")
    if elsewhere(commitment):
        raise Locked(f"{commitment.number} is linked to {where_linked(commitment)}; unlink "
                     "it first.")
    if commitment.qbo_purchase_order_id:
        raise Locked(f"{commitment.number} is already linked to PurchaseOrder "
                     f"{commitment.qbo_purchase_order_id}; unlink it first.")
    if commitment.erp_status not in LINKABLE:
        raise Locked(f"{commitment.number} is {commitment.erp_status.label}; only a commitment "
                     "not yet in QuickBooks can be linked.")
    if not commitment.vendor.qbo_vendor_id:
        raise Locked(f"Vendor {commitment.vendor.name} is not linked to a QuickBooks vendor "
                     "(ERP Integrations → Settings).")


def linkable_purchase_orders(actor: User, commitment: Commitment) -> list[PoSummary]:
    """The vendor's PurchaseOrders that no other commitment holds."""
    from quickbooks_online import purchase_orders

    _require_linkable(actor, commitment)
    found = _quickbooks(lambda: purchase_orders.find_by_vendor(commitment.vendor.qbo_vendor_id))
    taken = _taken([str(po["Id"]) for po in found])
    return [_summary(po) for po in found
            if str(po["Id"]) not in taken and _marked_for_other(po, commitment.id) is None]


def suggested_matches(commitment: Commitment, lines: list[dict]) -> dict[int, str]:
    """SOV line id → the PO line suggested for it: the same amount first, then the closest
    description; each PO line at most once, a line with nothing close left unmatched."""
    from quickbooks_online.links import amount_of

    free = [line for line in lines if not _other_job(line, commitment.project)]
    found: dict[int, str] = {}
    for sov in commitment.sov_lines:
        same = [line for line in free if amount_of(line) == sov.amount]
        if not same:
            continue
        best = max(same, key=lambda line: difflib.SequenceMatcher(
            None, sov.description.lower(), (line.get("Description") or "").lower()).ratio())
        found[sov.id] = str(best["Id"])
        free.remove(best)
    for sov in commitment.sov_lines:
        if sov.id in found or not free:
            continue
        score, best = max(((difflib.SequenceMatcher(
            None, sov.description.lower(), (line.get("Description") or "").lower()).ratio(), i)
            for i, line in enumerate(free)), key=lambda pair: pair[0])
        if score >= 0.6:
            found[sov.id] = str(free.pop(best)["Id"])
    return found


def read_for_link(actor: User, commitment: Commitment, po_id: str) -> PoSummary:
    """One PurchaseOrder, checked to be one this commitment may be linked to."""
    from quickbooks_online import purchase_orders
    from quickbooks_online.errors import QboError

    _require_linkable(actor, commitment)
    po_id = (po_id or "").strip()
    if not po_id.isdigit() or len(po_id) > 40:
        raise InvalidInput({"po": "Choose a purchase order."})
    try:
        po = purchase_orders.read(po_id)
    except QboError as error:
        if error.code == purchase_orders.OBJECT_NOT_FOUND:
            raise InvalidInput({"po": f"QuickBooks has no PurchaseOrder {po_id}."}) from None
        raise Locked(f"QuickBooks could not be read: {error}") from None
    if str((po.get("VendorRef") or {}).get("value")) != str(commitment.vendor.qbo_vendor_id):
        raise InvalidInput({"po": f"PurchaseOrder {po.get('DocNumber') or po_id} is "
                                  f"{(po.get('VendorRef') or {}).get('name') or 'another vendor'}"
                                  f"'s, not {commitment.vendor.name}'s."})
    holder = _taken([po_id]).get(po_id)
    if holder is not None and holder.id != commitment.id:
        raise InvalidInput({"po": f"PurchaseOrder {po.get('DocNumber') or po_id} is already "
                                  f"linked to commitment {holder.number} of project "
                                  f"{holder.project.number}."})
    if _marked_for_other(po, commitment.id) is not None:
        raise InvalidInput({"po": f"PurchaseOrder {po.get('DocNumber') or po_id} was written "
                                  "by ChangeOrder Desk for another commitment."})
    return _summary(po)


def link(actor: User, commitment: Commitment, po_id: str,
         matches: list[tuple[int, str]]) -> None:
    """Link the commitment to PurchaseOrder ``po_id`` with ``matches`` (SOV line id, PO line
    Id). Reads the PO again; writes nothing to QuickBooks."""
    from quickbooks_online.connection import company_pinned
    from quickbooks_online.links import link_record

    realm = connected_realm()
    with company_pinned(realm):  # the PO read is the one of the company recorded with it
        summary = read_for_link(actor, commitment, po_id)
    lines = {str(line.get("Id")): line for line in summary.lines}
    sov_by_id = {sov.id: sov for sov in commitment.sov_lines}
    errors: dict[str, str] = {}
    seen_sov: set[int] = set()
    seen_po: dict[str, int] = {}
    for sov_id, line_id in matches:
        sov = sov_by_id.get(sov_id)
        if sov is None:
            errors["lines"] = "A matched SOV line is not one of this commitment's."
            continue
        if sov_id in seen_sov:
            errors[f"line-{sov_id}"] = f"SOV line {sov.line_number} is matched twice."
            continue
        seen_sov.add(sov_id)
        if not line_id:
            continue
        if line_id not in lines:
            errors[f"line-{sov_id}"] = (f"PurchaseOrder {summary.doc_number} has no line "
                                        f"{line_id}.")
        elif line_id in seen_po:
            errors[f"line-{sov_id}"] = (
                f"That PO line is already matched to SOV line "
                f"{sov_by_id[seen_po[line_id]].line_number}; match each PO line once.")
        elif _other_job(lines[line_id], commitment.project):
            errors[f"line-{sov_id}"] = (
                f"That PO line is costed to another customer or job "
                f"({_other_job(lines[line_id], commitment.project)}), not project "
                f"{commitment.project.number}: its changes would land on that job. Leave it "
                "to the bookkeeper (no match).")
        else:
            seen_po[line_id] = sov_id
    if errors:
        raise InvalidInput(errors)
    _lock_record(commitment)
    if commitment.qbo_purchase_order_id or commitment.erp_status not in LINKABLE:
        raise AlreadyHandled(f"{commitment.number} was linked or sent meanwhile.")
    matched = {sov_id: line_id for line_id, sov_id in seen_po.items()}
    for sov in commitment.sov_lines:
        sov.qbo_line_id = matched.get(sov.id)
    commitment.qbo_purchase_order_id = summary.id
    commitment.qbo_realm_id = realm
    commitment.qbo_link = link_record(summary.po)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise AlreadyHandled(f"PurchaseOrder {summary.doc_number} was linked to another "
                             "commitment meanwhile.") from None
    kept = len(summary.lines) - len(matched)
    history.record(actor, commitment, "linked", field="QuickBooks PurchaseOrder", old=None,
                   new=summary.id,
                   comment=f"PurchaseOrder {summary.doc_number}: {len(matched)} of "
                           f"{len(commitment.sov_lines)} SOV lines matched to PO lines; "
                           f"{kept} PO line{'s' if kept != 1 else ''} left to the bookkeeper.")
    db.session.commit()


def _other_job(line: dict, project) -> str | None:
    """The customer or job a PO line is costed to, when it is not the project's (its name, or
    its Id): matching it would put the commitment's changes on another job's costs. A line
    costed to no customer may be matched."""
    detail = line.get(str(line.get("DetailType") or "")) or {}
    customer = detail.get("CustomerRef") or {}
    value = str(customer.get("value") or "")
    if not value or value == str(project.qbo_customer_id or ""):
        return None
    return customer.get("name") or f"customer {value}"


def _lock_record(commitment: Commitment) -> None:
    take_write_lock(commitment)


# ---- import ------------------------------------------------------------------------------------

@dataclass
class ImportPage:
    purchase_orders: list[PoSummary]
    start: int
    next_start: int | None
    previous_start: int | None


def _mappings_by_target(lines: list[dict]) -> dict[tuple[str, str], list[CostMapping]]:
    from quickbooks_online.purchase_orders import line_target

    items = {qbo_id for kind, qbo_id in map(line_target, lines) if kind == "Item" and qbo_id}
    accounts = {qbo_id for kind, qbo_id in map(line_target, lines)
                if kind == "Account" and qbo_id}
    found: dict[tuple[str, str], list[CostMapping]] = {}
    if not items and not accounts:
        return found
    rows = db.session.scalars(select(CostMapping).where(
        CostMapping.qbo_item_id.in_(sorted(items)) | CostMapping.qbo_account_id.in_(
            sorted(accounts))))
    for mapping in rows:
        if mapping.qbo_item_id:
            found.setdefault(("Item", mapping.qbo_item_id), []).append(mapping)
        else:
            found.setdefault(("Account", mapping.qbo_account_id), []).append(mapping)
    return found


def _label(mapping: CostMapping) -> str:
    return f"{mapping.cost_code.code} {mapping.cost_code.description} · {mapping.category.name}"


def _every_mapping() -> list[tuple[str, str]]:
    rows = db.session.scalars(select(CostMapping).limit(CHOICES_LIMIT))
    return sorted(((f"{m.cost_code_id}:{m.category_id}", _label(m)) for m in rows),
                  key=lambda pair: pair[1])


def _resolve(summaries: list[PoSummary]) -> None:
    """Each PO line's cost code and category through the mappings in reverse; a line that maps
    to no single pair gets the pairs to choose from."""
    from quickbooks_online.purchase_orders import line_target

    by_target = _mappings_by_target([line for s in summaries for line in s.lines])
    every = None
    for summary in summaries:
        for line in summary.lines:
            candidates = by_target.get(line_target(line), [])
            line_id = str(line.get("Id"))
            if len(candidates) == 1:
                summary.resolved[line_id] = (candidates[0].cost_code_id,
                                             candidates[0].category_id)
                summary.labels[line_id] = _label(candidates[0])
            elif candidates:
                summary.choices[line_id] = sorted(
                    ((f"{m.cost_code_id}:{m.category_id}", _label(m)) for m in candidates),
                    key=lambda pair: pair[1])
            else:
                every = every if every is not None else _every_mapping()
                summary.choices[line_id] = every


def _require_import(actor: User, project: Project, vendor: Vendor | None) -> None:
    if not is_erp_admin(actor):
        raise PermissionDenied("Only an ERP admin can import from QuickBooks.")
    if vendor is None and not project.qbo_customer_id:
        raise Locked(f"Project {project.number} is not linked to a QuickBooks customer or job "
                     "(ERP Integrations → Settings).")
    if vendor is not None and not vendor.qbo_vendor_id:
        raise Locked(f"Vendor {vendor.name} is not linked to a QuickBooks vendor "
                     "(ERP Integrations → Settings).")


def _importable(po: dict, project: Project, vendor: Vendor | None) -> bool:
    from quickbooks_online.purchase_orders import expense_lines, line_customer

    if vendor is not None:
        return True
    return any(line_customer(line) == project.qbo_customer_id for line in expense_lines(po))


def import_page(actor: User, project: Project, vendor: Vendor | None = None,
                start: int = 1) -> ImportPage:
    """One page of the PurchaseOrders of the project's job (or of one vendor) that no
    commitment holds: ``IMPORT_PAGE`` read from QuickBooks at a time."""
    from quickbooks_online import purchase_orders

    _require_import(actor, project, vendor)
    start = max(1, int(start or 1))
    found = _quickbooks(lambda: purchase_orders.page(
        vendor_id=vendor.qbo_vendor_id if vendor is not None else None, start=start,
        size=IMPORT_PAGE))
    taken = _taken([str(po["Id"]) for po in found])
    vendors = _local_vendors({str((po.get("VendorRef") or {}).get("value")) for po in found})
    numbers = {c.number.lower(): c for c in db.session.scalars(select(Commitment).where(
        Commitment.project_id == project.id,
        Commitment.number.in_([po.get("DocNumber") for po in found if po.get("DocNumber")])))}
    summaries = []
    for po in found:
        if str(po["Id"]) in taken or _marked_for_other(po, None) is not None:
            continue
        if not _importable(po, project, vendor):
            continue
        summary = _summary(po)
        summary.vendor = vendors.get(str((po.get("VendorRef") or {}).get("value")))
        if summary.vendor is None:
            summary.problems.append(f"Vendor {(po.get('VendorRef') or {}).get('name') or ''} "
                                    "is not linked to a vendor here (ERP Integrations → "
                                    "Settings).")
        same = numbers.get((po.get("DocNumber") or "").lower())
        if same is not None:
            summary.problems.append(f"Commitment {same.number} of this project has this number: "
                                    "link it to this purchase order instead (its ERP panel).")
        summaries.append(summary)
    _resolve(summaries)
    return ImportPage(summaries, start,
                      start + IMPORT_PAGE if len(found) == IMPORT_PAGE else None,
                      max(1, start - IMPORT_PAGE) if start > 1 else None)


def _local_vendors(qbo_ids: set[str]) -> dict[str, Vendor]:
    if not qbo_ids:
        return {}
    return {v.qbo_vendor_id: v for v in db.session.scalars(
        select(Vendor).where(Vendor.qbo_vendor_id.in_(sorted(qbo_ids)), Vendor.active))}


@dataclass(frozen=True)
class Imported:
    doc_number: str
    commitment: Commitment | None
    message: str


def _parse_choice(value: str | None) -> tuple[int, int] | None:
    parts = (value or "").split(":")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def import_purchase_orders(actor: User, project: Project, po_ids: list[str],
                           choices: dict[str, str]) -> list[Imported]:
    """Import each chosen PurchaseOrder as a Synced commitment of ``project``; all or nothing
    per PO. ``choices``: "<PO Id>-<line Id>" → "<cost code id>:<category id>" for the lines the
    mappings do not settle. Returns what happened to each, in words."""
    from quickbooks_online import purchase_orders
    from quickbooks_online.connection import company_pinned
    from quickbooks_online.errors import QboError
    from quickbooks_online.links import link_record

    if not is_erp_admin(actor):
        raise PermissionDenied("Only an ERP admin can import from QuickBooks.")
    wanted = [p.strip() for p in po_ids if p and p.strip().isdigit()]
    if not wanted:
        raise InvalidInput({"po": "Choose at least one purchase order to import."})
    results = []
    realm = connected_realm()  # each PO read is the one of the company recorded with it
    for po_id in dict.fromkeys(wanted):
        try:
            with company_pinned(realm):
                po = purchase_orders.read(po_id)
        except QboError as error:
            results.append(Imported(po_id, None, f"PurchaseOrder {po_id}: not imported, "
                                                 f"QuickBooks says: {error}"))
            continue
        summary = _summary(po)
        name = f"PurchaseOrder {summary.doc_number}"
        holder = _taken([po_id]).get(po_id)
        if holder is not None:
            results.append(Imported(summary.doc_number, None, f"{name}: not imported, it is "
                                    f"already commitment {holder.number} of project "
                                    f"{holder.project.number}."))
            continue
        if _marked_for_other(po, None) is not None:  # the list leaves it out; so does a POST
            results.append(Imported(summary.doc_number, None, f"{name}: not imported, it was "
                                    "written by ChangeOrder Desk for another commitment."))
            continue
        vendor = _local_vendors({str((po.get("VendorRef") or {}).get("value"))}).get(
            str((po.get("VendorRef") or {}).get("value")))
        number = (po.get("DocNumber") or f"PO-{po_id}").strip()
        problems = []
        if vendor is None:
            problems.append("its vendor is not linked to a vendor here")
        if len(number) > MAX_COMMITMENT_NUMBER:
            problems.append(f"its number is longer than {MAX_COMMITMENT_NUMBER} characters")
        elif db.session.scalar(select(Commitment.id).where(
                Commitment.project_id == project.id, Commitment.number == number)):
            problems.append(f"this project already has a commitment numbered {number}")
        if not summary.lines:
            problems.append("it has no lines")
        _resolve([summary])
        pairs = {}
        for line in summary.lines:
            line_id = str(line.get("Id"))
            pair = summary.resolved.get(line_id)
            if pair is None:
                pair = _parse_choice(choices.get(f"{po_id}-{line_id}"))
                offered = {value for value, _ in summary.choices.get(line_id, [])}
                if pair is None or f"{pair[0]}:{pair[1]}" not in offered:
                    problems.append(f"choose a cost code and category for line "
                                    f"\u201c{line.get('Description') or line_id}\u201d")
                    continue
            pairs[line_id] = pair
        if problems:
            results.append(Imported(summary.doc_number, None,
                                    f"{name}: not imported, " + "; ".join(problems) + "."))
            continue
        try:
            commitment = _create_imported(actor, project, vendor, po, summary, number, pairs,
                                          link_record(po, imported=True), realm)
        except IntegrityError:
            db.session.rollback()
            results.append(Imported(summary.doc_number, None, f"{name}: not imported, it was "
                                    "imported or linked meanwhile."))
            continue
        results.append(Imported(summary.doc_number, commitment,
                                f"{name}: imported as commitment {commitment.number} with "
                                f"{len(summary.lines)} SOV line"
                                f"{'s' if len(summary.lines) != 1 else ''}, "
                                f"${summary.total:,.2f}, Synced."))
    return results


def _create_imported(actor, project, vendor, po, summary, number, pairs, link,
                     realm) -> Commitment:
    """One PurchaseOrder → one Synced commitment, committed alone (all or nothing)."""
    from quickbooks_online.links import amount_of

    memo = (po.get("Memo") or "").strip().split("\n")[0]
    title = (memo or f"{vendor.name} purchase order {summary.doc_number}")[:TITLE_LIMIT]
    commitment = Commitment(project=project, vendor=vendor, type=CommitmentType.PURCHASE_ORDER,
                            number=number, title=title, status=CommitmentStatus.APPROVED,
                            erp_status=ErpStatus.SYNCED, qbo_purchase_order_id=summary.id,
                            qbo_realm_id=realm,
                            qbo_sync_token=str(po.get("SyncToken")), qbo_total=summary.total,
                            qbo_link=link, created_by_id=actor.id, updated_by=actor)
    db.session.add(commitment)
    for index, line in enumerate(summary.lines, start=1):
        cost_code_id, category_id = pairs[str(line.get("Id"))]
        description = (line.get("Description") or "").strip() or f"Line {index}"
        commitment.sov_lines.append(SovLine(
            line_number=index, description=description[:DESCRIPTION_LIMIT],
            cost_code_id=cost_code_id, category_id=category_id, amount=amount_of(line),
            qbo_line_id=str(line.get("Id"))))
    history.record_created(actor, commitment, f"Purchase Order {number}", commit=False)
    history.record(actor, commitment, "imported", field="QuickBooks PurchaseOrder", old=None,
                   new=summary.id, comment=f"Imported from QuickBooks PurchaseOrder "
                                           f"{summary.doc_number}: {len(summary.lines)} lines, "
                                           f"${summary.total:,.2f}.")
    db.session.commit()
    return commitment
