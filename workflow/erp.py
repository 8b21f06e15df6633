"""The ERP status axis (docs/lifecycle.md) for every record we send to QuickBooks: commitments
and their change orders (CCOs), one implementation for both.

Every transition checks permission and the current state on the server and moves the status
with one conditional UPDATE (… WHERE erp_status IN (allowed states)), inside one transaction.
Two approvers pressing Accept at once: one UPDATE matches, one export is queued; the other gets
``AlreadyHandled``, saying who handled it and when.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, literal, select, update

from extensions import db
from models import (
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    CommitmentStatus,
    ErpStatus,
    Export,
    ExportStatus,
    HistoryEvent,
    Notice,
    NotificationKind,
    ProjectRole,
    User,
)
from models.types import utcnow
from workflow import approvals, history, notices, notifications, queue
from workflow.errors import AlreadyHandled, InvalidInput, Locked, PermissionDenied
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
    return "change_order" if isinstance(subject, ChangeOrder) else "commitment"


def subject_name(subject: Subject) -> str:
    if isinstance(subject, ChangeOrder):
        return f"CCO #{subject.number} of {subject.commitment.number}"
    return subject.number


def _commitment_of(subject: Subject) -> Commitment:
    return subject.commitment if isinstance(subject, ChangeOrder) else subject


# ---- what may be pressed now -------------------------------------------------------------------

def send_blockers(subject: Subject) -> list:
    """Why ``subject`` cannot be sent to QuickBooks now (empty: it can)."""
    from quickbooks_online.mapping import Blocker, change_order_blockers, commitment_blockers

    if isinstance(subject, ChangeOrder):
        problems = []
        if subject.status != ChangeOrderStatus.APPROVED:
            problems.append(Blocker(f"The change order must be Approved (it is "
                                    f"{subject.status.label}).", "cco_review"))
        differs = approvals.mismatch(subject)
        if differs:
            problems.append(Blocker(differs, "cco_review"))
        return problems + change_order_blockers(subject)
    problems = []
    if subject.status != CommitmentStatus.APPROVED:
        problems.append(Blocker(f"The commitment must be Approved (it is "
                                f"{subject.status.label}).", "commitment_status"))
    return problems + commitment_blockers(subject)


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
        differs = approvals.mismatch(subject) if isinstance(subject, ChangeOrder) else None
        if approver and differs:
            return [Action("accept", "Accept", False, differs + " Reject it back to the project."),
                    Action("reject", "Reject", True)]
        return [Action("accept", "Accept", approver, why),
                Action("reject", "Reject", approver, why)]
    if subject.erp_status == ErpStatus.FAILED_TO_EXPORT:
        admin = is_erp_admin(user)
        return [Action("retry", "Retry Export", admin,
                       None if admin else "Only an ERP admin can retry an export."),
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
    commitments = _capped(select(Commitment.id).where(Commitment.erp_status.in_(statuses)), cap)
    change_orders = _capped(select(ChangeOrder.id).where(ChangeOrder.erp_status.in_(statuses)),
                            cap)
    return commitments + change_orders


def returned_count_sql(user: User, cap: int | None = None):
    """SQL: rejected work a project admin may correct and resend (the navigation's count)."""
    from workflow.change_orders import private_filter

    if not user.is_authenticated:
        return literal(0)
    projects = _administered_projects(user)
    commitments = _capped(select(Commitment.id).where(
        Commitment.erp_status == ErpStatus.REJECTED, Commitment.project_id.in_(projects)), cap)
    ccos = _capped(select(ChangeOrder.id).join(ChangeOrder.commitment).where(
        ChangeOrder.erp_status == ErpStatus.REJECTED, Commitment.project_id.in_(projects),
        private_filter(user)), cap)
    return commitments + ccos


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

def _already_handled(subject: Subject) -> AlreadyHandled:
    """Who moved the record last, when, and where it is now (history.already_handled)."""
    return AlreadyHandled(history.already_handled(subject, subject_name(subject),
                                                  subject.erp_status.label))


def _move(subject: Subject, allowed: tuple[ErpStatus, ...], to: ErpStatus, **values) -> None:
    """Move the ERP status only if it is still one of ``allowed``; else AlreadyHandled."""
    model = type(subject)
    result = db.session.execute(
        update(model)
        .where(model.id == subject.id, model.erp_status.in_(allowed))
        .values(erp_status=to, version=model.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        db.session.refresh(subject)
        raise _already_handled(subject)
    db.session.refresh(subject)


def lock(subject: Subject) -> None:
    """Take the record's write lock (an UPDATE: a row lock on PostgreSQL, the database on
    SQLite), then read it again: edits and Send to ERP of one record run one after the other,
    so what Send to ERP checked is what is sent."""
    model = type(subject)
    db.session.execute(update(model).where(model.id == subject.id)
                       .values(version=model.version)
                       .execution_options(synchronize_session=False))
    db.session.expire_all()
    db.session.refresh(subject)


def _require_project_admin(actor: User, subject: Subject, what: str) -> None:
    if not has_project_role(actor, subject.project, ProjectRole.ADMIN):
        raise PermissionDenied(f"Only a project admin can {what}.")


def send_to_erp(actor: User, subject: Subject) -> None:
    """Not Sent or Rejected → Ready to Export (project admin; nothing QuickBooks would refuse)."""
    _require_project_admin(actor, subject, "send to ERP")
    if isinstance(subject, ChangeOrder):
        lock(subject.commitment)  # SOV edits take it too
    lock(subject)
    if subject.erp_status not in (ErpStatus.NOT_SENT, ErpStatus.REJECTED):
        raise _already_handled(subject)
    if getattr(subject, "erp_reopen_pending", False):
        raise Locked("This change order is still being handed back to the project; try again "
                     "in a moment.")
    blockers = send_blockers(subject)
    if blockers:
        raise Locked("Cannot send to ERP: " + " ".join(str(b) for b in blockers))
    resend = subject.erp_status == ErpStatus.REJECTED
    _move(subject, (ErpStatus.NOT_SENT, ErpStatus.REJECTED), ErpStatus.READY_TO_EXPORT,
          updated_by_id=actor.id)
    history.record(actor, subject, "resent" if resend else "sent", field="ERP status",
                   old=ErpStatus.REJECTED if resend else ErpStatus.NOT_SENT,
                   new=ErpStatus.READY_TO_EXPORT)
    notices.settle(subject_type(subject), subject.id, REJECTED_NOTICE)
    notifications.record(NotificationKind.SENT, subject_type(subject), subject.id)
    db.session.commit()
    _deliver_notifications()


def retrieve_from_erp(actor: User, subject: Subject) -> None:
    """Ready to Export → Not Sent, before accounting acts (project admin)."""
    _require_project_admin(actor, subject, "retrieve from ERP")
    _move(subject, (ErpStatus.READY_TO_EXPORT,), ErpStatus.NOT_SENT, updated_by_id=actor.id)
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
    before = subject.erp_status
    cco = isinstance(subject, ChangeOrder)
    _move(subject, (ErpStatus.READY_TO_EXPORT, ErpStatus.FAILED_TO_EXPORT), ErpStatus.REJECTED,
          erp_rejection_reason=comment, **({"erp_reopen_pending": True} if cco else {}))
    history.record(actor, subject, "rejected", field="ERP status", old=before,
                   new=ErpStatus.REJECTED, comment=comment)
    notifications.record(NotificationKind.REJECTED, subject_type(subject), subject.id)
    db.session.commit()
    if cco:
        queue.enqueue("jobs.change_orders.reopen_rejected_cco", subject.id,
                description=f"reopen rejected CCO {subject.id}")
    _deliver_notifications()


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
            link=f"/projects/{cco.commitment.project_id}/commitments/{cco.commitment_id}"
                 f"/change-orders/{cco.id}"))
    db.session.commit()
    return True


def _notify(job: str, *ids) -> None:
    """Queue an email job (jobs/notifications.py) after the commit; it never fails the caller.
    (The notices of this module are written with the change instead: ``notifications.record``
    and ``_deliver_notifications``.)"""
    queue.enqueue(f"jobs.notifications.{job}", *ids, description=f"email: {job} {ids}")


def _deliver_notifications() -> None:
    """After the commit that wrote the notices (``notifications.record``): ask the worker to
    mail them now. Best effort: if Redis is down the notices wait in the database, and the
    worker's next maintenance pass mails them."""
    queue.enqueue("jobs.notifications.mail_due", description="mail notifications")


def _last_sender(subject: Subject) -> User | None:
    event = db.session.scalar(
        select(HistoryEvent).where(HistoryEvent.subject_type == subject_type(subject),
                                   HistoryEvent.subject_id == subject.id,
                                   HistoryEvent.action.in_(("sent", "resent")))
        .order_by(HistoryEvent.id.desc()).limit(1))
    return event.user if event else None


def accept(actor: User, subject: Subject) -> Export:
    """Ready to Export → Exporting, and one Export queued after the commit (approver)."""
    if not is_approver(actor):
        raise PermissionDenied("Only an approver can accept.")
    if isinstance(subject, ChangeOrder):
        lock(subject)  # what is checked here is what the export reads
        differs = approvals.mismatch(subject)
        if differs and subject.erp_status == ErpStatus.READY_TO_EXPORT:
            db.session.rollback()
            raise Locked(f"Cannot accept {subject_name(subject)}: {differs} Reject it back to "
                         "the project.")
    _move(subject, (ErpStatus.READY_TO_EXPORT,), ErpStatus.EXPORTING)
    commitment = _commitment_of(subject)
    export = Export(subject_type=subject_type(subject), commitment_id=commitment.id,
                    change_order_id=subject.id if isinstance(subject, ChangeOrder) else None,
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
    _move(subject, (ErpStatus.FAILED_TO_EXPORT,), ErpStatus.EXPORTING)
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


def _new_key(subject: Subject) -> str:
    """An Export's idempotency key; QuickBooks requestids derive from it (≤ 50 characters)."""
    kind = "cco" if isinstance(subject, ChangeOrder) else "commitment"
    return f"cod-{kind}-{subject.id}-{uuid.uuid4().hex[:16]}"


def _export_filter(subject: Subject):
    if isinstance(subject, ChangeOrder):
        return Export.change_order_id == subject.id
    return (Export.commitment_id == subject.id) & Export.change_order_id.is_(None)


def latest_export(subject: Subject) -> Export | None:
    return db.session.scalar(select(Export).where(_export_filter(subject))
                             .order_by(Export.id.desc()).limit(1))


def latest_exports_of(commitment_ids: list[int], cco_ids: list[int]
                      ) -> tuple[dict[int, Export], dict[int, Export]]:
    """The newest Export of each commitment (its own, not its CCOs') and of each CCO, in one
    statement: (by commitment id, by CCO id)."""
    from sqlalchemy import union_all

    if not commitment_ids and not cco_ids:
        return {}, {}
    newest = union_all(
        # by subject_type, not change_order_id IS NULL: the commitment_id index stays the one
        # read (the NULL test would pick the index of every commitment export there is)
        select(func.max(Export.id)).where(Export.commitment_id.in_(commitment_ids),
                                          Export.subject_type == "commitment")
        .group_by(Export.commitment_id),
        select(func.max(Export.id)).where(Export.change_order_id.in_(cco_ids))
        .group_by(Export.change_order_id))
    by_commitment: dict[int, Export] = {}
    by_cco: dict[int, Export] = {}
    for export in db.session.scalars(select(Export).where(Export.id.in_(newest))):
        if export.change_order_id is None:
            by_commitment[export.commitment_id] = export
        else:
            by_cco[export.change_order_id] = export
    return by_commitment, by_cco


def _dispatch(export: Export) -> None:
    queue.dispatch_export(export.id)


# ---- what the export job records ---------------------------------------------------------------

def subject_of(export: Export) -> Subject:
    if export.subject_type == "change_order":
        return db.session.get(ChangeOrder, export.change_order_id)
    return db.session.get(Commitment, export.commitment_id)


def claim_export(export: Export, job_id: str | None) -> bool:
    """Mark the export running for this job; False if another job has it or it is done.

    The outbox (jobs.dispatch) may queue an export again when its job looks lost; the
    ``job_id`` condition lets only the job it queued last run it."""
    condition = [Export.id == export.id,
                 Export.status.in_((ExportStatus.QUEUED, ExportStatus.RUNNING))]
    if job_id is not None:
        condition.append(Export.job_id == job_id)
    result = db.session.execute(
        update(Export).where(*condition)
        .values(status=ExportStatus.RUNNING, attempts=Export.attempts + 1,
                next_attempt_at=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.refresh(export)
    return result.rowcount == 1


def export_will_retry(export: Export, code: str, message: str, delay: float) -> None:
    from datetime import timedelta

    export.status = ExportStatus.QUEUED
    export.retries += 1
    export.next_attempt_at = utcnow() + timedelta(seconds=delay)
    export.last_error_code, export.last_error_message = code, message
    db.session.commit()


def export_synced(export: Export, result) -> None:
    """Record what QuickBooks now holds; the subject turns Synced."""
    subject = subject_of(export)
    commitment = _commitment_of(subject)
    if isinstance(subject, ChangeOrder):
        lines = {line.id: line for line in subject.lines}
    else:
        lines = {line.id: line for line in commitment.sov_lines}
    for line_id, qbo_line_id in result.line_ids.items():
        if line_id in lines:
            lines[line_id].qbo_line_id = qbo_line_id
    export.status = ExportStatus.SYNCED
    export.finished_at = utcnow()
    export.last_error_code = export.last_error_message = None
    export.qbo_ids = json.dumps({"PurchaseOrder": result.purchase_order_id,
                                 "SyncToken": result.sync_token,
                                 "Lines": {str(k): v for k, v in result.line_ids.items()}})
    db.session.flush()
    _move(subject, (ErpStatus.EXPORTING,), ErpStatus.SYNCED)
    db.session.execute(
        update(Commitment).where(Commitment.id == commitment.id)
        .values(qbo_purchase_order_id=result.purchase_order_id,
                qbo_sync_token=result.sync_token, qbo_total=result.total)
        .execution_options(synchronize_session=False))
    from workflow.qbo_drift import after_export

    after_export(commitment.id, result.sync_token, result.total)
    history.record(None, subject, "exported", field="ERP status", old=ErpStatus.EXPORTING,
                   new=ErpStatus.SYNCED,
                   comment=f"QuickBooks PurchaseOrder {result.purchase_order_id}")
    notices.settle(subject_type(subject), subject.id, REJECTED_NOTICE)
    notifications.record(NotificationKind.SYNCED, subject_type(subject), subject.id)
    db.session.commit()
    _deliver_notifications()


def export_failed(export: Export, code: str, message: str) -> None:
    subject = subject_of(export)
    export.status = ExportStatus.FAILED
    export.finished_at = utcnow()
    export.next_attempt_at = None
    export.last_error_code, export.last_error_message = code, message
    db.session.flush()
    _move(subject, (ErpStatus.EXPORTING,), ErpStatus.FAILED_TO_EXPORT)
    history.record(None, subject, "export failed", field="ERP status", old=ErpStatus.EXPORTING,
                   new=ErpStatus.FAILED_TO_EXPORT, comment=f"{message} (QuickBooks code {code})"
                   if code and code.isdigit() else message)
    detail = (message or "") + (f" (QuickBooks code {code})" if code and code.isdigit() else "")
    notifications.record(NotificationKind.FAILED, subject_type(subject), subject.id, detail)
    db.session.commit()
    _deliver_notifications()


# ---- drift: what QuickBooks holds against what we hold ---------------------------------------

@dataclass(frozen=True)
class Drift:
    in_quickbooks: object  # Decimal | None: the PO's TotalAmt (change data capture, or last sync)
    here: object  # Decimal: the commitment's revised total
    not_sent: list  # approved CCOs not (yet) in QuickBooks
    # What QuickBooks' own edits changed, line by line (workflow/qbo_drift.py: Change)
    changes: tuple = ()
    deleted: bool = False  # the PurchaseOrder was deleted in QuickBooks
    acknowledged: bool = False  # an ERP admin accepted QuickBooks' differences
    restore_requested: bool = False
    # (label, url) of what the viewer may do about the changes (acknowledge, restore ours)
    actions: tuple = ()

    @property
    def differs(self) -> bool:
        return bool(self.changes) or (self.in_quickbooks is not None
                                      and self.in_quickbooks != self.here)


def drift_from(commitment: Commitment, here, not_sent: list, view=None,
               actions: tuple = ()) -> Drift:
    """The drift line's facts: QuickBooks' total and changes as change data capture last read
    them (``view``, workflow/qbo_drift.py) or, before any read, the total of our last sync."""
    if view is None:
        return Drift(commitment.qbo_total, here, not_sent)
    total = view.state.total if view.state.total is not None else commitment.qbo_total
    return Drift(None if view.state.deleted else total, here, not_sent,
                 changes=tuple(view.changes), deleted=view.state.deleted,
                 acknowledged=view.acknowledged, restore_requested=view.restore_requested,
                 actions=actions if view.changes else ())


def drift(commitment: Commitment, visible: list[ChangeOrder], actions=None) -> Drift | None:
    """For a synced commitment: QuickBooks' total and line-by-line changes (as change data
    capture last read them, no call), ours, and the approved CCOs that are not Synced — from
    ``visible`` (what this viewer may see). ``actions(view)``: what the viewer may do."""
    from workflow.commitments import totals
    from workflow.qbo_drift import drift_of

    if not commitment.qbo_purchase_order_id:
        return None
    view = drift_of(commitment)
    return drift_from(commitment, totals(commitment).revised,
                      [cco for cco in visible if cco.status == ChangeOrderStatus.APPROVED
                       and cco.erp_status != ErpStatus.SYNCED],
                      view, tuple(actions(view)) if actions and view else ())


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
    from workflow.change_orders import private_filter

    projects = _administered_projects(user)
    commitments = db.session.scalars(
        select(Commitment).where(Commitment.erp_status == ErpStatus.REJECTED,
                                 Commitment.project_id.in_(projects))
        .order_by(Commitment.updated_at).limit(limit)).all()
    ccos = db.session.scalars(
        select(ChangeOrder).join(ChangeOrder.commitment)
        .where(ChangeOrder.erp_status == ErpStatus.REJECTED, Commitment.project_id.in_(projects),
               private_filter(user))
        .order_by(ChangeOrder.updated_at).limit(limit)).all()
    return sorted([*commitments, *ccos], key=lambda s: s.updated_at)[:limit]


def lines_touched_in_flight(commitment: Commitment) -> set[int]:
    """SOV lines a CCO with accounting (sent, exporting, failed) changes: locked meanwhile."""
    return set(db.session.scalars(
        select(ChangeOrderLine.sov_line_id).join(ChangeOrder)
        .where(ChangeOrder.commitment_id == commitment.id,
               ChangeOrder.erp_status.in_((ErpStatus.READY_TO_EXPORT, ErpStatus.EXPORTING,
                                           ErpStatus.FAILED_TO_EXPORT)),
               ChangeOrderLine.sov_line_id.is_not(None))))

