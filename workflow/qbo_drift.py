"""Seeing QuickBooks: what it holds for every linked PurchaseOrder, and how that differs from
what we wrote, line by line (docs/quickbooks.md, "Seeing QuickBooks").

* ``poll()``: one change data capture read for the connected company (quickbooks_online/cdc.py)
  and what it found recorded per linked PO (``QboPurchaseOrderState``). The worker runs it
  every ``QBO_CDC_INTERVAL_MINUTES``; a signed webhook runs it sooner. It never writes to
  QuickBooks.
* ``drift_of`` / ``drifts_of``: the differences as sentences' facts ("line 2 Slab on grade:
  ours $96,500.00, QuickBooks $97,000.00", "Freight $350.00 added", "deleted", "renumbered").
* ``acknowledge`` (the difference is the bookkeeper's and stays) and ``restore_ours`` (the
  commitment goes back to Ready to Export; the approver's Accept runs the normal export, which
  puts our lines back): ERP admins, each with a history event.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache

from sqlalchemy import and_, case, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import Commitment, ErpStatus, QboConnection, QboPurchaseOrderState, User
from models.types import utcnow
from quickbooks_online import cdc
from quickbooks_online.company import purchase_order_here
from quickbooks_online.connection import company_pinned, get_connection
from quickbooks_online.links import doc_number_of
from quickbooks_online.ours import CHUNK, OurLine, last_write, our_lines, remember_seen
from workflow import history, queue
from workflow.erp_status import move_erp_status
from workflow.errors import Locked, PermissionDenied
from workflow.locking import take_write_lock
from workflow.money import format_money
from workflow.permissions import is_erp_admin

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
LIST_LIMIT = 100


# ---- what differs ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One difference between QuickBooks and us. ``kind``: changed, removed, added, deleted,
    renumbered."""

    kind: str
    label: str = ""
    ours: Decimal | None = None
    quickbooks: Decimal | None = None
    old_number: str = ""
    new_number: str = ""
    when: str = ""  # the day QuickBooks says the PO last changed

    @property
    def text(self) -> str:
        if self.kind == "deleted":
            return f"deleted in QuickBooks{self._on}"
        if self.kind == "renumbered":
            return f"renumbered {self.old_number} → {self.new_number}"
        if self.kind == "added":
            return f"{self.label} {format_money(self.quickbooks)} added in QuickBooks"
        if self.kind == "removed":
            if self.ours is None:  # a private CCO's line: its amount is not said
                return f"{self.label}: removed in QuickBooks"
            return f"{self.label}: ours {format_money(self.ours)}, removed in QuickBooks"
        if self.ours is None:
            return (f"{self.label}: QuickBooks {format_money(self.quickbooks)} "
                    f"(changed in QuickBooks{self._on})")
        return (f"{self.label}: ours {format_money(self.ours)}, QuickBooks "
                f"{format_money(self.quickbooks)} (changed in QuickBooks{self._on})")

    @property
    def _on(self) -> str:
        return f" on {self.when}" if self.when else ""


@dataclass
class QuickBooksView:
    """What QuickBooks holds for one commitment's PO, and what differs from ours."""

    state: QboPurchaseOrderState
    changes: list[Change] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.changes)

    @property
    def acknowledged(self) -> bool:
        return (self.state.acknowledged_token is not None
                and self.state.acknowledged_token == self.state.sync_token)

    @property
    def restore_requested(self) -> bool:
        return self.state.restore_requested_at is not None


def _day(last_updated: str | None) -> str:
    if not last_updated:
        return ""
    try:
        moment = datetime.fromisoformat(last_updated.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return f"{moment:%b} {moment.day}, {moment.year}"


def _lines_of(po: dict) -> list[dict]:
    return [{"id": str(line.get("Id")), "description": line.get("Description") or "",
             "amount": str(Decimal(str(line.get("Amount") or 0)).quantize(CENT))}
            for line in po.get("Line") or []
            if str(line.get("DetailType", "")).endswith("ExpenseLineDetail")]


def changes_of(state: QboPurchaseOrderState, doc_number: str, our_token: str | None,
               ours: dict[str, OurLine]) -> list[Change]:
    """The differences QuickBooks' own edits made; none while QuickBooks holds a version we
    know holds what we hold (``our_token``, the commitment's ``qbo_sync_token``), or what an
    ERP admin acknowledged."""
    when = _day(state.changed_at)
    if state.deleted:
        return [Change("deleted", when=when)]
    if state.sync_token in (our_token, state.acknowledged_token):
        return []
    return _differences(json.loads(state.lines or "[]"), state.doc_number, doc_number, ours,
                        set(json.loads(state.agreed_line_ids or "[]")), when)


def _differences(lines: list[dict], held_number: str | None, doc_number: str,
                 ours: dict[str, OurLine], agreed: set[str], when: str = "") -> list[Change]:
    """QuickBooks' ``lines`` (``_lines_of``) and DocNumber against ours, line by line; a line
    not ours counts only if it is not in ``agreed``."""
    changes = []
    if held_number and held_number != doc_number:
        changes.append(Change("renumbered", old_number=doc_number, new_number=held_number))
    held = {line["id"]: line for line in lines}
    for line_id, our in ours.items():
        line = held.get(line_id)
        said = None if our.private else our.amount  # a private CCO's amount is never said
        if line is None:
            changes.append(Change("removed", our.label, ours=said, when=when))
        elif Decimal(line["amount"]) != our.amount.quantize(CENT):
            changes.append(Change("changed", our.label, ours=said,
                                  quickbooks=Decimal(line["amount"]), when=when))
    for line_id, line in held.items():
        if line_id not in ours and line_id not in agreed:
            changes.append(Change("added", line["description"] or "A line",
                                  quickbooks=Decimal(line["amount"]), when=when))
    return changes


def drifts_of(commitments: list[Commitment], *, loaded: bool = False,
              ours: dict[int, dict[str, OurLine]] | None = None
              ) -> dict[int, QuickBooksView]:
    """Commitment id → what QuickBooks holds and how it differs, for those CDC has read.
    ``loaded``: the commitments' ``qbo_state`` was read with them (the inbox's page), so no
    statement is needed unless a PO differs (then two, whatever the number); ``ours``: what
    we wrote to them, already known (``our_lines``' answer), so not even those two."""
    commitments = [c for c in commitments if purchase_order_here(c)]  # not another company's
    ids = [c.id for c in commitments]
    if not ids:
        return {}
    if loaded:
        states = {c.id: c.qbo_state for c in commitments if c.qbo_state is not None}
    else:
        states = {s.commitment_id: s for s in db.session.scalars(
            select(QboPurchaseOrderState).where(QboPurchaseOrderState.commitment_id.in_(ids)))}
    by_id = {c.id: c for c in commitments}
    changed = [cid for cid, state in states.items() if not state.deleted and state.sync_token
               not in (by_id[cid].qbo_sync_token, state.acknowledged_token)]
    if ours is None:
        ours = our_lines(changed) if changed else {}
    return {c.id: QuickBooksView(states[c.id], changes_of(
                states[c.id], doc_number_of(c), c.qbo_sync_token, ours.get(c.id, {})))
            for c in commitments if c.id in states}


def drift_of(commitment: Commitment) -> QuickBooksView | None:
    return drifts_of([commitment]).get(commitment.id)


@cache  # built once: it takes no parameters, and a list page should not rebuild it
def quickbooks_mark():
    """SQL, per commitment row: "deleted" when QuickBooks deleted its PurchaseOrder, "differs"
    when QuickBooks' own edits differ from ours (not acknowledged), else NULL; only for a
    Synced commitment whose PO is the connected company's (``purchase_order_here``). Read from
    what change data capture recorded (``QboPurchaseOrderState.deleted`` / ``differs``), as a
    correlated column of the statement that reads the rows: a list shows it at no statement
    of its own, however many rows (``Commitment.quickbooks_mark``)."""
    state = QboPurchaseOrderState
    realm = select(QboConnection.realm_id).order_by(QboConnection.id).limit(1).scalar_subquery()
    held = (select(case((state.deleted.is_(True), literal("deleted")), else_=literal("differs")))
            .where(state.commitment_id == Commitment.id,
                   or_(state.deleted.is_(True), and_(
                       state.differs.is_(True),
                       or_(state.acknowledged_token.is_(None),
                           state.acknowledged_token != state.sync_token))))
            .correlate(Commitment).scalar_subquery())
    return case((and_(Commitment.erp_status == ErpStatus.SYNCED,
                      Commitment.qbo_purchase_order_id.is_not(None),
                      or_(Commitment.qbo_realm_id.is_(None), realm.is_(None),
                          Commitment.qbo_realm_id == realm)), held), else_=None)


# ---- the poll --------------------------------------------------------------------------------

@dataclass
class PollResult:
    calls: int = 0
    changed: int = 0  # linked POs QuickBooks reported
    differing: int = 0  # of those, how many now differ from ours
    full_read: bool = False


# Read again a little before where the last poll started (by QuickBooks' clock, cdc.py): a
# change may land while a poll runs; reading a change twice changes nothing.
OVERLAP_SECONDS = 120


def poll(now: datetime | None = None) -> PollResult:
    """One change data capture read of the connected company; records what it found."""
    from datetime import timedelta

    connection = get_connection()
    if connection is None or not connection.realm_id or not connection.refresh_token_encrypted:
        return PollResult()
    now = now or utcnow()
    since = connection.cdc_changed_since
    realm = connection.realm_id
    with company_pinned(realm):  # what it reads is matched to this company's links only
        found = cdc.changes_since(since, now)
        if found.complete:  # a linked PO the paging did not find: read by Id before "deleted"
            linked = db.session.scalars(select(Commitment.qbo_purchase_order_id).distinct().where(
                Commitment.qbo_purchase_order_id.is_not(None), _here(realm))).all()
            missing = sorted(str(po_id) for po_id in linked
                             if str(po_id) not in found.purchase_orders)
            if missing:
                cdc.read_missing(found, missing)
    result = PollResult(calls=found.calls, full_read=found.complete)
    _record(found, result, realm)
    # Where this company's next poll starts; not if the connection was switched to another
    # company meanwhile (its checkpoint is its own: quickbooks_online/connection.py).
    db.session.execute(update(type(connection)).where(type(connection).id == connection.id,
                                                      type(connection).realm_id == realm)
                       .values(cdc_changed_since=(found.as_of or now)
                               - timedelta(seconds=OVERLAP_SECONDS),
                               cdc_polled_at=now)
                       .execution_options(synchronize_session=False))
    try:
        db.session.commit()
    except IntegrityError:  # another poll (a webhook's) recorded the same PO first
        db.session.rollback()
        log.info("QuickBooks change data capture: a concurrent poll recorded it first")
        return result
    log.info("QuickBooks change data capture: %s calls, %s linked POs changed, %s differ%s",
             result.calls, result.changed, result.differing,
             " (full read)" if result.full_read else "")
    return result


def _here(realm: str):
    """SQL: the commitment's PO link is to company ``realm`` (or older than the realm column)."""
    return (Commitment.qbo_realm_id == realm) | Commitment.qbo_realm_id.is_(None)


def _record(found: cdc.Changes, result: PollResult, realm: str) -> None:
    """Match what ``found`` holds to the commitments linked to POs of company ``realm`` only:
    PurchaseOrder 42 of that company is not the PO 42 a commitment of another company holds
    (that one is neither compared nor marked deleted)."""
    here = _here(realm)
    if found.complete:  # every linked PO: the ones missing were deleted
        linked = db.session.execute(
            select(Commitment.id, Commitment.qbo_purchase_order_id)
            .where(Commitment.qbo_purchase_order_id.is_not(None), here)).all()
    else:
        ids = list(found.purchase_orders)
        linked = []
        for start in range(0, len(ids), CHUNK):
            linked += db.session.execute(
                select(Commitment.id, Commitment.qbo_purchase_order_id)
                .where(Commitment.qbo_purchase_order_id.in_(ids[start:start + CHUNK]),
                       here)).all()
    if not linked:
        return
    commitment_ids = [row.id for row in linked]
    commitments = {}
    states = {}
    for start in range(0, len(commitment_ids), CHUNK):
        chunk = commitment_ids[start:start + CHUNK]
        commitments.update({c.id: c for c in db.session.scalars(
            select(Commitment).where(Commitment.id.in_(chunk)))})
        states.update({s.commitment_id: s for s in db.session.scalars(
            select(QboPurchaseOrderState).where(QboPurchaseOrderState.commitment_id.in_(chunk)))})
    ours = our_lines(commitment_ids)
    now = utcnow()
    for row in linked:
        po = found.purchase_orders.get(str(row.qbo_purchase_order_id))
        state = states.get(row.id)
        if po is None and not found.complete:
            continue
        deleted = po is None or po.get("status") == "Deleted"
        if state is None:
            state = QboPurchaseOrderState(commitment_id=row.id,
                                          purchase_order_id=str(row.qbo_purchase_order_id))
            db.session.add(state)
        elif (not deleted and not state.deleted and state.theirs_total is not None
              and state.purchase_order_id == str(row.qbo_purchase_order_id)
              and _version(po.get("SyncToken")) <= _version(state.sync_token)):
            # Read again through the overlap (nothing new), or a version older than the one
            # recorded: this poll read the PO before a write of ours was recorded.
            continue
        commitment = commitments[row.id]
        state.purchase_order_id = str(row.qbo_purchase_order_id)
        state.read_at = now
        state.deleted = deleted
        if po is not None:
            state.changed_at = (po.get("MetaData") or {}).get("LastUpdatedTime")
        if not deleted:
            lines = _lines_of(po)
            state.sync_token = str(po.get("SyncToken"))
            state.doc_number = po.get("DocNumber")
            total = po.get("TotalAmt")
            state.total = Decimal(str(total)).quantize(CENT) if total is not None else None
            state.lines = json.dumps(lines)
            if state.sync_token == commitment.qbo_sync_token:  # our own write: agreed
                state.agreed_line_ids = json.dumps([line["id"] for line in lines])
            else:  # changed in QuickBooks: the next CCO's update is sent from it, one call
                remember_seen(row.id, po)
            _set_theirs(state, ours[row.id])
        state.differs = bool(changes_of(state, doc_number_of(commitment), commitment.qbo_sync_token,
                                        ours[row.id]))
        result.changed += 1
        result.differing += state.differs


def _set_theirs(state: QboPurchaseOrderState, ours: dict[str, OurLine]) -> None:
    """What the PO holds on lines that are a bookkeeper's own, known as such: none of ours,
    and there when QuickBooks last agreed with us (freight on a PO that was linked) or
    acknowledged. Not compared with the SOV; a line added since is a change, not theirs."""
    agreed = set(json.loads(state.agreed_line_ids or "[]"))
    state.theirs_total = sum((Decimal(line["amount"]) for line in json.loads(state.lines or "[]")
                              if line["id"] not in ours and line["id"] in agreed),
                             Decimal("0.00"))


def _version(sync_token) -> int:
    """A SyncToken as a number (QuickBooks counts them up by one a change); -1: none known."""
    text = str(sync_token or "")
    return int(text) if text.isdigit() else -1


def after_export(commitment_id: int, result, *, added_to: bool = False) -> str | None:
    """Our write is what QuickBooks now holds; returns the SyncToken at which it holds what
    we hold (the commitment's ``qbo_sync_token``), None when it does not.

    A commitment's export writes our amounts: no difference; a requested restore is done. A
    CCO's update adds its changes to the amounts QuickBooks held (``added_to``): if that version
    held ours (or what an ERP admin acknowledged) so does the new one; if a bookkeeper had
    changed it, the difference is still there and stays shown, compared line by line with
    QuickBooks' answer, never hidden because our write moved the SyncToken. A CCO's update
    never ends a requested restore: one that started before "Restore ours" was pressed would
    otherwise leave the Accept that follows bringing the PO up to date instead of putting our
    amounts back (docs/quickbooks.md, "Seeing QuickBooks")."""
    state = db.session.scalar(select(QboPurchaseOrderState).where(
        QboPurchaseOrderState.commitment_id == commitment_id))
    if added_to:
        commitment = db.session.get(Commitment, commitment_id)
        if result.written_over is None or result.written_over != commitment.qbo_sync_token:
            return _after_added_to(commitment, state, result)
    if state is not None:
        _agreed(state, result, restored=not added_to)
    return result.sync_token


def _agreed(state: QboPurchaseOrderState, result, *, restored: bool) -> None:
    held = [line["id"] for line in json.loads(state.lines or "[]")]
    state.agreed_line_ids = json.dumps(sorted(set(json.loads(state.agreed_line_ids or "[]"))
                                              | set(held)))
    if restored:  # the commitment's own export: a requested restore is done
        state.restore_requested_at = None
    state.sync_token = result.sync_token
    state.total = result.total
    state.differs = False
    state.deleted = False


def _after_added_to(commitment: Commitment, state: QboPurchaseOrderState | None,
                    result) -> str | None:
    """A CCO's update of a version of the PO we did not know to hold ours."""
    po = last_write(commitment.id, result.qbo_id)  # QuickBooks' answer (export/change_order.py)
    if po is None or str(po.get("SyncToken")) != result.sync_token:
        if state is not None:
            state.sync_token = None  # the next poll reads what our write left, and compares
        return None
    lines = _lines_of(po)
    ours = our_lines([commitment.id])[commitment.id]
    agreed = (set(json.loads(state.agreed_line_ids or "[]")) if state is not None
              else {line["id"] for line in lines})  # never compared: as a poll would take it
    if not _differences(lines, po.get("DocNumber"), doc_number_of(commitment), ours, agreed):
        if state is not None:
            _agreed(state, result, restored=False)
        return result.sync_token  # only the Memo or the like had changed: it holds ours
    if state is None:
        return None  # the next poll reads it (our write changed it) and compares
    acknowledged = (state.acknowledged_token is not None
                    and state.acknowledged_token == result.written_over)
    state.sync_token = result.sync_token
    state.doc_number = po.get("DocNumber")
    state.total = result.total
    state.lines = json.dumps(lines)
    _set_theirs(state, ours)
    state.deleted = False
    state.read_at = utcnow()
    if acknowledged:  # what was acknowledged is carried into the new version, nothing more
        state.acknowledged_token = result.sync_token
    state.differs = not acknowledged
    return None


def webhook_received(realms: set[str]) -> bool:
    """A signed webhook said PurchaseOrders of ``realms`` changed: if the connected company is
    one, queue the same read the worker's poll makes (polling stays the source of truth)."""
    connection = get_connection()
    if connection is None or not connection.realm_id or connection.realm_id not in realms:
        return False
    return queue.poll_quickbooks_changes()


# ---- the ERP admins' list and actions --------------------------------------------------------

def changed_in_quickbooks(user: User, limit: int = LIST_LIMIT) -> list[tuple[Commitment,
                                                                          QuickBooksView]]:
    """Commitments whose PurchaseOrder QuickBooks changed (ERP admins), most recent first."""
    if not is_erp_admin(user):
        raise PermissionDenied("Only an ERP admin can see what changed in QuickBooks.")
    commitments = list(db.session.scalars(
        select(Commitment).join(QboPurchaseOrderState,
                                QboPurchaseOrderState.commitment_id == Commitment.id)
        .where(QboPurchaseOrderState.differs.is_(True))
        .order_by(QboPurchaseOrderState.read_at.desc(), Commitment.id).limit(limit)))
    views = drifts_of(commitments)
    return [(c, views[c.id]) for c in commitments if c.id in views]


def restore_requested(commitment_id: int) -> bool:
    """A "Restore ours" of this commitment's PurchaseOrder waits for Accept (or its export)."""
    return db.session.scalar(select(QboPurchaseOrderState.restore_requested_at).where(
        QboPurchaseOrderState.commitment_id == commitment_id)) is not None


def withdraw_restore(actor: User, commitment: Commitment, how: str, comment: str | None = None,
                     allowed: tuple[ErpStatus, ...] = (ErpStatus.READY_TO_EXPORT,
                                                       ErpStatus.FAILED_TO_EXPORT)) -> None:
    """Retrieve or Reject of a "Restore ours": the commitment is in QuickBooks and stays
    Synced (never editable: its PurchaseOrder holds its CCOs too), the difference stays shown,
    nothing is written. The caller commits."""
    before = commitment.erp_status
    move_erp_status(commitment, allowed, ErpStatus.SYNCED, updated_by_id=actor.id)
    db.session.execute(update(QboPurchaseOrderState)
                       .where(QboPurchaseOrderState.commitment_id == commitment.id)
                       .values(restore_requested_at=None))
    history.record(actor, commitment, f"restore of our lines {how}", field="ERP status",
                   old=before, new=ErpStatus.SYNCED, comment=comment)


def _view_for_action(actor: User, commitment: Commitment, what: str) -> QuickBooksView:
    if not is_erp_admin(actor):
        raise PermissionDenied(f"Only an ERP admin can {what}.")
    view = drift_of(commitment)
    if view is None or not view.differs:
        raise Locked("QuickBooks holds what we wrote: there is nothing to " + what + ".")
    return view


def acknowledge(actor: User, commitment: Commitment) -> None:
    """The difference is the bookkeeper's and stays: shown no more until QuickBooks changes
    the PO again; history keeps what was acknowledged."""
    view = _view_for_action(actor, commitment, "acknowledge")
    state = view.state
    state.acknowledged_token = state.sync_token
    state.agreed_line_ids = json.dumps([line["id"] for line in json.loads(state.lines or "[]")])
    _set_theirs(state, our_lines([commitment.id])[commitment.id])  # the lines they added
    state.differs = False
    history.record(actor, commitment, "QuickBooks changes acknowledged",
                   comment="; ".join(change.text for change in view.changes))
    db.session.commit()


def restore_ours(actor: User, commitment: Commitment) -> None:
    """Put our lines back: the commitment returns to Ready to Export, and the approver's
    Accept runs the normal export, a sparse update with our amounts and number."""
    view = _view_for_action(actor, commitment, "restore our lines")
    if view.state.deleted:
        raise Locked("The PurchaseOrder was deleted in QuickBooks; restore it there, or "
                           "acknowledge it.")
    take_write_lock(commitment)
    if commitment.erp_status != ErpStatus.SYNCED:
        raise Locked("This commitment is already on its way to QuickBooks.")
    move_erp_status(commitment, (ErpStatus.SYNCED,), ErpStatus.READY_TO_EXPORT,
                    updated_by_id=actor.id)
    view.state.restore_requested_at = utcnow()
    history.record(actor, commitment, "restore of our lines requested", field="ERP status",
                   old=ErpStatus.SYNCED, new=ErpStatus.READY_TO_EXPORT,
                   comment="; ".join(change.text for change in view.changes))
    db.session.commit()
