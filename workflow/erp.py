"""The ERP status axis (docs/lifecycle.md) for every record we send to QuickBooks: commitments
and their change orders (CCOs), one implementation for both.

Every transition checks permission and the current state on the server and moves the status
with one conditional UPDATE (… WHERE erp_status IN (allowed states)), inside one transaction.
Two approvers pressing Accept at once: one UPDATE matches, one export is queued; the other gets
``AlreadyHandled``, saying who handled it and when.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, literal, select, update

from extensions import db
from models import (
    ChangeOrder,
    ChangeOrderStatus,
    Commitment,
    ErpStatus,
    Export,
    ExportStatus,
    HistoryEvent,
    Notice,
    NotificationKind,
    ProjectRole,
    User,
)
from workflow import history, kinds, notices, notifications, queue
from workflow.erp_status import already_handled, move_erp_status
from workflow.errors import InvalidInput, Locked, PermissionDenied
from workflow.locking import take_write_lock
from workflow.permissions import has_project_role, is_approver, is_erp_admin
from workflow.text import clean_text

Subject = Commitment | ChangeOrder
REASON_LIMIT = 2000
REJECTED_NOTICE = "erp_rejected"  # "Accounting rejected … Resend to ERP": put away on resend


@dataclass(frozen=True)
class Action:
    """A button the ERP panel may show: whether it can be pressed now, and if not, why.

    ``name`` is what templates and routes key on (send, resend, retrieve, accept, reject,
    retry); ``label`` is the UI word."""

    name: str
    label: str
    allowed: bool
    reason: str | None = None
    blockers: tuple = field(default=())


def subject_type(subject: Subject) -> str:
    return kinds.of(subject).name


def subject_name(subject: Subject) -> str:
    return kinds.of(subject).title(subject)


def _commitment_of(subject: Subject) -> Commitment:
    return kinds.of(subject).commitment_of(subject)


# ---- what may be pressed now -------------------------------------------------------------------

def send_blockers(subject: Subject) -> list:
    """Why ``subject`` cannot be sent to QuickBooks now (empty: it can)."""
    return kinds.of(subject).send_blockers(subject)


def project_actions(user: User, subject: Subject) -> list[Action]:
    """The project-side buttons of an ERP panel: Send / Resend to ERP, Retrieve from ERP."""
    admin = has_project_role(user, subject.project, ProjectRole.ADMIN)
    if subject.erp_status in (ErpStatus.NOT_SENT, ErpStatus.REJECTED):
        resend = subject.erp_status == ErpStatus.REJECTED
        name, label = ("resend", "Resend to ERP") if resend else ("send", "Send to ERP")
        if getattr(subject, "erp_reopen_pending", False):
            return [Action(name, label, False, "It is being handed back to the project; "
                                               "reload in a moment.")]
        if not admin:
            return [Action(name, label, False, "Only a project admin can send to ERP.")]
        blockers = send_blockers(subject)
        if blockers:
            return [Action(name, label, False, "Not yet:", tuple(blockers))]
        return [Action(name, label, True)]
    if subject.erp_status == ErpStatus.READY_TO_EXPORT:
        return [Action("retrieve", "Retrieve from ERP", admin,
                       None if admin else "Only a project admin can retrieve from ERP.")]
    return []


def approver_actions(user: User, subject: Subject) -> list[Action]:
    """The accounting-side buttons: Accept / Reject, Retry Export."""
    approver = is_approver(user)
    why = None if approver else ("Only an approver (ERP standard or admin with Can Push to "
                                 "Accounting) can accept or reject.")
    if subject.erp_status == ErpStatus.READY_TO_EXPORT:
        differs = kinds.of(subject).accept_blocker(subject)
        if approver and differs:
            return [Action("accept", "Accept", False, differs + " Reject it back to the project."),
                    Action("reject", "Reject", True)]
        return [Action("accept", "Accept", approver, why),
                Action("reject", "Reject", approver, why)]
    if subject.erp_status == ErpStatus.FAILED_TO_EXPORT:
        admin = is_erp_admin(user)
        blocked = kinds.of(subject).accept_blocker(subject) if admin else None
        return [Action("retry", "Retry Export", admin and not blocked,
                       blocked or (None if admin else "Only an ERP admin can retry an export.")),
                Action("reject", "Reject", approver, why)]
    return []


def waiting_statuses(user: User) -> list[ErpStatus]:
    statuses = []
    if is_approver(user):
        statuses.append(ErpStatus.READY_TO_EXPORT)
    if is_erp_admin(user):
        statuses.append(ErpStatus.FAILED_TO_EXPORT)
    return statuses


def _capped(query, cap: int | None):
    """SQL: the count of ``query``'s rows, reading no more than ``cap`` of them."""
    if cap is not None:
        query = query.limit(cap)
    return select(func.count()).select_from(query.subquery()).scalar_subquery()


def waiting_on_sql(user: User, cap: int | None = None):
    """SQL: how many records wait for this user in ERP Integrations (the navigation's count),
    each kind counted up to ``cap``."""
    return _waiting_sql(tuple(waiting_statuses(user)), cap)


def _waiting_sql(statuses: tuple, cap: int | None):
    if not statuses:
        return literal(0)
    return sum((_capped(select(kind.model.id).where(kind.model.erp_status.in_(statuses)), cap)
                for kind in kinds.all_kinds()), literal(0))


def returned_count_sql(user: User, cap: int | None = None):
    """SQL: rejected work a project admin may correct and resend (the navigation's count)."""
    if not user.is_authenticated:
        return literal(0)
    return sum((_capped(_returned(kind, user).with_only_columns(kind.model.id), cap)
                for kind in kinds.all_kinds()), literal(0))


def _returned(kind, user: User):
    """SQL: the records of ``kind`` accounting rejected in the projects ``user`` administers
    (that ``user`` may see)."""
    visible = kind.visible_sql(user)
    return kind.with_commitment(select(kind.model)).where(
        kind.model.erp_status == ErpStatus.REJECTED,
        Commitment.project_id.in_(_administered_projects(user)),
        *([] if visible is None else [visible]))


def nav_counts(user: User, cap: int | None = None) -> tuple[int, int]:
    """(waiting, returned) for the navigation, in one statement, built once per kind of user
    (what waits for them, company admin or not) and run with their id (workflow/statements)."""
    from workflow.statements import AnyUser, built_once

    if not user.is_authenticated:
        return 0, 0
    statuses = tuple(waiting_statuses(user))
    admin = bool(user.is_company_admin)
    statement = built_once(("nav_counts", statuses, admin, cap), lambda: select(
        _waiting_sql(statuses, cap), returned_count_sql(AnyUser(admin), cap)))
    waiting, returned = db.session.execute(statement, {"viewer_id": user.id}).one()
    return int(waiting or 0), int(returned or 0)


def waiting_on(user: User) -> int:
    return nav_counts(user)[0]


def returned_count(user: User) -> int:
    return nav_counts(user)[1]


# ---- transitions -----------------------------------------------------------------------------

def _require_project_admin(actor: User, subject: Subject, what: str) -> None:
    if not has_project_role(actor, subject.project, ProjectRole.ADMIN):
        raise PermissionDenied(f"Only a project admin can {what}.")


def send_to_erp(actor: User, subject: Subject) -> None:
    """Not Sent or Rejected → Ready to Export (project admin; nothing QuickBooks would refuse)."""
    _require_project_admin(actor, subject, "send to ERP")
    for first in kinds.of(subject).locks_before_send(subject):
        take_write_lock(first)
    take_write_lock(subject)
    if subject.erp_status not in (ErpStatus.NOT_SENT, ErpStatus.REJECTED):
        raise already_handled(subject)
    if getattr(subject, "erp_reopen_pending", False):
        raise Locked("This change order is still being handed back to the project; try again "
                     "in a moment.")
    blockers = send_blockers(subject)
    if blockers:
        raise Locked("Cannot send to ERP: " + " ".join(str(b) for b in blockers))
    resend = subject.erp_status == ErpStatus.REJECTED
    move_erp_status(subject, (ErpStatus.NOT_SENT, ErpStatus.REJECTED), ErpStatus.READY_TO_EXPORT,
                    updated_by_id=actor.id)
    history.record(actor, subject, "resent" if resend else "sent", field="ERP status",
                   old=ErpStatus.REJECTED if resend else ErpStatus.NOT_SENT,
                   new=ErpStatus.READY_TO_EXPORT)
    notices.settle(subject_type(subject), subject.id, REJECTED_NOTICE)
    notifications.record(NotificationKind.SENT, subject_type(subject), subject.id)
    db.session.commit()
    deliver_notifications()


def retrieve_from_erp(actor: User, subject: Subject) -> None:
    """Ready to Export → Not Sent, before accounting acts (project admin)."""
    _require_project_admin(actor, subject, "retrieve from ERP")
    if kinds.of(subject).restore_pending(subject):
        from workflow.qbo_drift import withdraw_restore

        withdraw_restore(actor, subject, "retrieved", allowed=(ErpStatus.READY_TO_EXPORT,))
        db.session.commit()
        return
    move_erp_status(subject, (ErpStatus.READY_TO_EXPORT,), ErpStatus.NOT_SENT,
                    updated_by_id=actor.id)
    history.record(actor, subject, "retrieved", field="ERP status", old=ErpStatus.READY_TO_EXPORT,
                   new=ErpStatus.NOT_SENT)
    db.session.commit()


def reject(actor: User, subject: Subject, comment: str) -> None:
    """Ready to Export or Failed to Export → Rejected, with the reason (approver).

    A CCO is handed back to its project by the ``reopen_rejected_cco`` job, queued here after
    the commit; until it has run the CCO stays locked."""
    if not is_approver(actor):
        raise PermissionDenied("Only an approver can reject.")
    try:
        comment = clean_text(comment)
    except ValueError as error:
        raise InvalidInput({"comment": str(error)}) from None
    if not comment:
        raise InvalidInput({"comment": "Say why, so the project manager can correct it."})
    if len(comment) > REASON_LIMIT:
        raise InvalidInput({"comment": f"Use at most {REASON_LIMIT:,} characters."})
    if kinds.of(subject).restore_pending(subject):
        from workflow.qbo_drift import withdraw_restore

        withdraw_restore(actor, subject, "rejected", comment)
        db.session.commit()
        return
    before = subject.erp_status
    reopens = kinds.of(subject).reopens_when_rejected
    move_erp_status(subject, (ErpStatus.READY_TO_EXPORT, ErpStatus.FAILED_TO_EXPORT),
                    ErpStatus.REJECTED, erp_rejection_reason=comment,
                    **({"erp_reopen_pending": True} if reopens else {}))
    history.record(actor, subject, "rejected", field="ERP status", old=before,
                   new=ErpStatus.REJECTED, comment=comment)
    notifications.record(NotificationKind.REJECTED, subject_type(subject), subject.id)
    db.session.commit()
    if reopens:
        queue.reopen_rejected(subject.id)
    deliver_notifications()


def reopen_rejected(cco: ChangeOrder) -> bool:
    """The reopen job's work: hand a rejected CCO back (editable), write history, tell the
    sender. Idempotent: False when there is nothing (left) to do."""
    result = db.session.execute(
        update(ChangeOrder)
        .where(ChangeOrder.id == cco.id, ChangeOrder.erp_status == ErpStatus.REJECTED,
               ChangeOrder.erp_reopen_pending.is_(True))
        .values(erp_reopen_pending=False)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        return False
    db.session.refresh(cco)
    history.record(None, cco, "reopened", field="ERP status", old=ErpStatus.REJECTED,
                   new=ErpStatus.REJECTED, comment="Handed back to the project: editable again.")
    sender = _last_sender(cco)
    if sender is not None:
        db.session.add(Notice(
            user_id=sender.id, subject_type="change_order", subject_id=cco.id,
            about=REJECTED_NOTICE,
            message=(f"Accounting rejected {subject_name(cco)} ({cco.title}): "
                     f"{cco.erp_rejection_reason} It is editable again; correct it and "
                     "Resend to ERP."),
            link=kinds.of(cco).page_path(cco)))
    db.session.commit()
    return True


def deliver_notifications() -> None:
    """After the commit that wrote the notices (``notifications.record``): ask the worker to
    mail them now. Best effort: if Redis is down the notices wait in the database, and the
    worker's next maintenance pass mails them."""
    queue.mail_notifications()


def _last_sender(subject: Subject) -> User | None:
    event = db.session.scalar(
        select(HistoryEvent).where(HistoryEvent.subject_type == subject_type(subject),
                                   HistoryEvent.subject_id == subject.id,
                                   HistoryEvent.action.in_(("sent", "resent")))
        .order_by(HistoryEvent.id.desc()).limit(1))
    return event.user if event else None


def changed_since_seen(subject: Subject) -> str:
    """Why an Accept of a record that changed since the approver opened it is refused."""
    kind = kinds.of(subject)
    return (f"This {kind.noun} changed since you opened it: it is now {kind.amount(subject)}. "
            "Look at it again before accepting.")


def accept(actor: User, subject: Subject, expected_version: int | None = None) -> Export:
    """Ready to Export → Exporting, and one Export queued after the commit (approver).

    ``expected_version``: the record's version as the approver's card showed it (its Confirm
    Accept sends it). A record changed since (retrieved, changed, approved again and resent)
    is refused and nothing is queued: Accept is of what the approver saw. None (a client that
    sends none): not compared."""
    if not is_approver(actor):
        raise PermissionDenied("Only an approver can accept.")
    kind = kinds.of(subject)
    if kind.checked_on_accept or expected_version is not None:
        _lock_for_export(kind, subject)  # what is checked here is what the export reads
    if (expected_version is not None and expected_version != subject.version
            and subject.erp_status == ErpStatus.READY_TO_EXPORT):
        message = changed_since_seen(subject)
        db.session.rollback()
        raise Locked(message)
    if kind.checked_on_accept:
        differs = kind.accept_blocker(subject)
        if differs and subject.erp_status == ErpStatus.READY_TO_EXPORT:
            db.session.rollback()
            raise Locked(f"Cannot accept {subject_name(subject)}: {differs} Reject it back to "
                         "the project.")
    move_erp_status(subject, (ErpStatus.READY_TO_EXPORT,), ErpStatus.EXPORTING)
    export = Export(subject_type=kind.name, record_id=subject.id,
                    target_key=kind.target_key(subject), **kind.export_columns(subject),
                    idempotency_key=_new_key(subject), accepted_by=actor)
    db.session.add(export)
    history.record(actor, subject, "accepted", field="ERP status", old=ErpStatus.READY_TO_EXPORT,
                   new=ErpStatus.EXPORTING)
    db.session.commit()
    _dispatch(export)
    return export


def retry_export(actor: User, subject: Subject) -> Export:
    """Failed to Export → Exporting, the same Export queued again (ERP admin).

    It gets a fresh key: QuickBooks answers a repeated ``requestid`` with its first response,
    and that may be the very fault the admin has just put right. Nothing can be applied
    twice: every run reads QuickBooks (the PO by Id, our marker block) before it writes."""
    if not is_erp_admin(actor):
        raise PermissionDenied("Only an ERP admin can retry an export.")
    kind = kinds.of(subject)
    if kind.checked_on_accept:
        _lock_for_export(kind, subject)  # as Accept: what is checked is what the export reads
    blocked = kind.accept_blocker(subject)  # another company's PO; lines not as approved
    if blocked and subject.erp_status == ErpStatus.FAILED_TO_EXPORT:
        db.session.rollback()
        raise Locked(f"Cannot retry {subject_name(subject)}: {blocked}")
    move_erp_status(subject, (ErpStatus.FAILED_TO_EXPORT,), ErpStatus.EXPORTING)
    export = latest_export(subject)
    export.status = ExportStatus.QUEUED
    export.idempotency_key = _new_key(subject)
    export.retries = 0
    export.next_attempt_at = None
    export.job_id = None  # the failed job is over; the new one's id comes with the dispatch
    history.record(actor, subject, "retried", field="ERP status", old=ErpStatus.FAILED_TO_EXPORT,
                   new=ErpStatus.EXPORTING)
    db.session.commit()
    _dispatch(export)
    return export


def _lock_for_export(kind, subject: Subject) -> None:
    """The write locks Send to ERP takes, in its order: a CCO's commitment first (Unlink takes
    it too), so an Unlink and an Accept or Retry of one of its CCOs run one after the other:
    never an export queued for a PurchaseOrder just unlinked."""
    for first in kind.locks_before_send(subject):
        take_write_lock(first)
    take_write_lock(subject)


def _new_key(subject: Subject) -> str:
    """An Export's idempotency key; QuickBooks requestids derive from it (≤ 50 characters)."""
    return f"cod-{kinds.of(subject).key_prefix}-{subject.id}-{uuid.uuid4().hex[:16]}"


def _export_filter(subject: Subject):
    return (Export.subject_type == subject_type(subject)) & (Export.record_id == subject.id)


def latest_export(subject: Subject) -> Export | None:
    return db.session.scalar(select(Export).where(_export_filter(subject))
                             .order_by(Export.id.desc()).limit(1))


def latest_exports_of(subjects: list) -> dict[tuple[str, int], Export]:
    """The newest Export of each record, in one statement: by (kind name, id)."""
    from sqlalchemy import union_all

    ids: dict[str, list[int]] = {}
    for subject in subjects:
        ids.setdefault(subject_type(subject), []).append(subject.id)
    if not ids:
        return {}
    newest = union_all(*(
        select(func.max(Export.id)).where(Export.subject_type == name,
                                          Export.record_id.in_(record_ids))
        .group_by(Export.record_id) for name, record_ids in ids.items()))
    return {export.subject_key: export
            for export in db.session.scalars(select(Export).where(Export.id.in_(newest)))}


def _dispatch(export: Export) -> None:
    queue.dispatch_export(export.id)


# ---- drift: what QuickBooks holds against what we hold ---------------------------------------

@dataclass(frozen=True)
class Drift:
    in_quickbooks: object  # Decimal | None: the PO's TotalAmt (change data capture, or last sync)
    here: object  # Decimal: the commitment's revised total, as the viewer's totals say it
    not_sent: list  # approved CCOs not (yet) in QuickBooks
    # What QuickBooks' own edits changed, line by line (workflow/qbo_drift.py: Change)
    changes: tuple = ()
    deleted: bool = False  # the PurchaseOrder was deleted in QuickBooks
    acknowledged: bool = False  # an ERP admin accepted QuickBooks' differences
    restore_requested: bool = False
    # (label, url) of what the viewer may do about the changes (acknowledge, restore ours)
    actions: tuple = ()
    # Of QuickBooks' total, what is on lines that are none of ours (a bookkeeper's own lines
    # on a linked PO): not compared with the schedule of values.
    theirs: object = Decimal("0")
    # What Synced CCOs the viewer may not see (private) put in QuickBooks' total: left out of
    # ``here`` (their amounts are not the viewer's to read), so taken out of QuickBooks' side
    # of the comparison only; never shown.
    hidden_synced: object = Decimal("0")

    @property
    def differs(self) -> bool:
        """QuickBooks' own edits, or a total that the approved CCOs not yet sent do not
        explain (a CCO waiting for Accept is the expected difference, not a warning)."""
        if self.changes or self.deleted:
            return True
        if self.in_quickbooks is None or self.acknowledged:  # QuickBooks' version, accepted
            return False
        waiting = sum((cco.grand_total for cco in self.not_sent), Decimal("0"))
        return self.in_quickbooks - self.theirs - self.hidden_synced + waiting != self.here


def drift_from(commitment: Commitment, here, not_sent: list, view=None,
               actions: tuple = (), hidden_synced=Decimal("0")) -> Drift:
    """The drift line's facts: QuickBooks' total and changes as change data capture last read
    them (``view``, workflow/qbo_drift.py) or, before any read, the total of our last sync.
    ``here`` and ``not_sent`` are the viewer's (no private CCO they may not see);
    ``hidden_synced``: the sum of the Synced ones they may not see."""
    if view is None:
        return Drift(commitment.qbo_total, here, not_sent, hidden_synced=hidden_synced)
    total = view.state.total if view.state.total is not None else commitment.qbo_total
    return Drift(None if view.state.deleted else total, here, not_sent,
                 changes=tuple(view.changes), deleted=view.state.deleted,
                 acknowledged=view.acknowledged, restore_requested=view.restore_requested,
                 actions=actions if view.changes else (),
                 theirs=view.state.theirs_total or Decimal("0"), hidden_synced=hidden_synced)


def drift(commitment: Commitment, visible: list[ChangeOrder], viewer: User | None = None,
          actions=None) -> Drift | None:
    """For a synced commitment: QuickBooks' total and line-by-line changes (as change data
    capture last read them, no call), ours as ``viewer``'s totals say it (without a viewer:
    every CCO), and the approved CCOs that are not Synced — from ``visible`` (what this viewer
    may see). ``actions(view)``: what the viewer may do."""
    from quickbooks_online.company import purchase_order_here
    from workflow.commitments import totals
    from workflow.qbo_drift import drift_of

    if not purchase_order_here(commitment):  # none, or another company's: nothing to compare
        return None
    view = drift_of(commitment)
    seen = {cco.id for cco in visible}
    hidden = [] if viewer is None else [cco for cco in commitment.change_orders
                                        if cco.id not in seen]
    hidden_synced = sum((cco.grand_total for cco in hidden
                         if cco.status == ChangeOrderStatus.APPROVED
                         and cco.erp_status == ErpStatus.SYNCED), Decimal("0"))
    return drift_from(commitment, totals(commitment, viewer).revised,
                      [cco for cco in visible if cco.status == ChangeOrderStatus.APPROVED
                       and cco.erp_status != ErpStatus.SYNCED],
                      view, tuple(actions(view)) if actions and view else (), hidden_synced)


def _administered_projects(user: User):
    """SQL: the ids of the projects ``user`` administers (every project for company admins)."""
    from models import Project, ProjectMembership

    if user.is_company_admin:
        return select(Project.id)
    return select(ProjectMembership.project_id).where(
        ProjectMembership.user_id == user.id, ProjectMembership.role == ProjectRole.ADMIN)


def returned_to(user: User, limit: int = 20) -> list:
    """What accounting rejected and handed back, in the projects ``user`` administers (they
    correct and resend it): commitments and CCOs, oldest first."""
    found = [record for kind in kinds.all_kinds() for record in db.session.scalars(
        _returned(kind, user).order_by(kind.model.updated_at).limit(limit))]
    return sorted(found, key=lambda s: s.updated_at)[:limit]
