"""The ERP status axis (DESIGN §2) for commitments: send, retrieve, reject, accept, export.

Every transition checks permission and the current state on the server and moves the status
with one conditional UPDATE (… WHERE erp_status IN (allowed states)), inside one transaction.
Two approvers pressing Accept at once: one UPDATE matches, one export is queued; the other gets
``AlreadyHandled`` with a clear answer.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import update

from extensions import db
from models import (
    Commitment,
    CommitmentStatus,
    ErpStatus,
    Export,
    ExportStatus,
    ProjectRole,
    User,
)
from models.types import utcnow
from workflow import history
from workflow.commitments import lock_commitment
from workflow.errors import AlreadyHandled, InvalidInput, Locked, PermissionDenied
from workflow.permissions import has_project_role, is_approver, is_erp_admin

E = ErpStatus


@dataclass(frozen=True)
class Action:
    """A button the ERP panel may show: whether it can be pressed now, and if not, why."""

    label: str
    allowed: bool
    reason: str | None = None


# ---- what may be pressed now -------------------------------------------------------------------

def send_blockers(commitment: Commitment) -> list[str]:
    from quickbooks_online.mapping import mapping_blockers

    problems = []
    if commitment.status != CommitmentStatus.APPROVED:
        problems.append(f"The commitment must be Approved (it is {commitment.status.label}).")
    return problems + mapping_blockers(commitment)


def commitment_actions(user: User, commitment: Commitment) -> list[Action]:
    """The project-side buttons of a commitment's ERP panel."""
    actions = []
    admin = has_project_role(user, commitment.project, ProjectRole.ADMIN)
    not_admin = "Only a project admin can send to ERP."
    if commitment.erp_status in (E.NOT_SENT, E.REJECTED):
        label = "Send to ERP" if commitment.erp_status == E.NOT_SENT else "Resend to ERP"
        blockers = send_blockers(commitment)
        if not admin:
            actions.append(Action(label, False, not_admin))
        elif blockers:
            actions.append(Action(label, False, " ".join(blockers)))
        else:
            actions.append(Action(label, True))
    if commitment.erp_status == E.READY_TO_EXPORT:
        actions.append(Action("Retrieve from ERP", admin, None if admin else
                              "Only a project admin can retrieve from ERP."))
    return actions


def approver_actions(user: User, commitment: Commitment) -> list[Action]:
    """The accounting-side buttons: Accept / Reject, Retry Export."""
    approver = is_approver(user)
    why = None if approver else "Only an approver (ERP standard or admin with Can Push to " \
                                "Accounting) can accept or reject."
    if commitment.erp_status == E.READY_TO_EXPORT:
        return [Action("Accept", approver, why), Action("Reject", approver, why)]
    if commitment.erp_status == E.FAILED_TO_EXPORT:
        admin = is_erp_admin(user)
        return [Action("Retry Export", admin, None if admin else
                       "Only an ERP admin can retry an export."),
                Action("Reject", approver, why)]
    return []


def waiting_on(user: User) -> int:
    """How many records wait for this user in ERP Integrations (the navigation's count)."""
    from sqlalchemy import func, select

    statuses = []
    if is_approver(user):
        statuses.append(E.READY_TO_EXPORT)
    if is_erp_admin(user):
        statuses.append(E.FAILED_TO_EXPORT)
    if not statuses:
        return 0
    return db.session.scalar(select(func.count()).select_from(Commitment)
                             .where(Commitment.erp_status.in_(statuses))) or 0


# ---- transitions -----------------------------------------------------------------------------

def _move(commitment: Commitment, allowed: tuple[ErpStatus, ...], to: ErpStatus,
          **values) -> None:
    """Move the ERP status only if it is still one of ``allowed``; else AlreadyHandled."""
    result = db.session.execute(
        update(Commitment)
        .where(Commitment.id == commitment.id, Commitment.erp_status.in_(allowed))
        .values(erp_status=to, version=Commitment.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        db.session.refresh(commitment)
        raise AlreadyHandled(history.already_handled(commitment, commitment.number,
                                                     commitment.erp_status.label))
    db.session.refresh(commitment)


def send_to_erp(actor: User, commitment: Commitment) -> None:
    """Not Sent or Rejected → Ready to Export (project admin; everything mapped)."""
    if not has_project_role(actor, commitment.project, ProjectRole.ADMIN):
        raise PermissionDenied("Only a project admin can send to ERP.")
    # The same write lock as every SOV and header edit takes (workflow.commitments), then the
    # commitment and its lines read again: what is validated here is what is sent, and no edit
    # can land between this check and the commit below.
    lock_commitment(commitment)
    db.session.expire_all()
    if commitment.erp_status not in (E.NOT_SENT, E.REJECTED):
        raise AlreadyHandled(f"Already handled: {commitment.number} is "
                             f"{commitment.erp_status.label}.")
    blockers = send_blockers(commitment)
    if blockers:
        raise Locked("Cannot send to ERP: " + " ".join(blockers))
    resend = commitment.erp_status == E.REJECTED
    _move(commitment, (E.NOT_SENT, E.REJECTED), E.READY_TO_EXPORT, updated_by_id=actor.id)
    history.record(actor, commitment, "resent" if resend else "sent", field="ERP status",
                   old=E.REJECTED if resend else E.NOT_SENT, new=E.READY_TO_EXPORT)
    db.session.commit()


def retrieve_from_erp(actor: User, commitment: Commitment) -> None:
    """Ready to Export → Not Sent, before accounting acts (project admin)."""
    if not has_project_role(actor, commitment.project, ProjectRole.ADMIN):
        raise PermissionDenied("Only a project admin can retrieve from ERP.")
    _move(commitment, (E.READY_TO_EXPORT,), E.NOT_SENT, updated_by_id=actor.id)
    history.record(actor, commitment, "retrieved", field="ERP status", old=E.READY_TO_EXPORT,
                   new=E.NOT_SENT)
    db.session.commit()


def reject(actor: User, commitment: Commitment, comment: str) -> None:
    """Ready to Export or Failed to Export → Rejected, with the reason (approver)."""
    if not is_approver(actor):
        raise PermissionDenied("Only an approver can reject.")
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput({"comment": "Say why, so the project manager can correct it."})
    if len(comment) > 2000:
        raise InvalidInput({"comment": "Use at most 2,000 characters."})
    before = commitment.erp_status
    _move(commitment, (E.READY_TO_EXPORT, E.FAILED_TO_EXPORT), E.REJECTED,
          erp_rejection_reason=comment)
    history.record(actor, commitment, "rejected", field="ERP status", old=before,
                   new=E.REJECTED, comment=comment)
    db.session.commit()


def accept(actor: User, commitment: Commitment) -> Export:
    """Ready to Export → Exporting, and one Export queued after the commit (approver)."""
    if not is_approver(actor):
        raise PermissionDenied("Only an approver can accept.")
    _move(commitment, (E.READY_TO_EXPORT,), E.EXPORTING)
    export = Export(subject_type="commitment", commitment_id=commitment.id,
                    idempotency_key=_new_key(commitment),
                    accepted_by=actor)
    db.session.add(export)
    history.record(actor, commitment, "accepted", field="ERP status", old=E.READY_TO_EXPORT,
                   new=E.EXPORTING)
    db.session.commit()
    _enqueue(export)
    return export


def retry_export(actor: User, commitment: Commitment) -> Export:
    """Failed to Export → Exporting, the same Export queued again (ERP admin).

    It gets a fresh key: QuickBooks answers a repeated ``requestid`` with its first response,
    and that may be the very fault the admin has just put right. Nothing can be made twice:
    every run first looks the PurchaseOrder up by DocNumber and our marker."""
    if not is_erp_admin(actor):
        raise PermissionDenied("Only an ERP admin can retry an export.")
    _move(commitment, (E.FAILED_TO_EXPORT,), E.EXPORTING)
    export = latest_export(commitment)
    export.status = ExportStatus.QUEUED
    export.idempotency_key = _new_key(commitment)
    export.job_id = None  # the failed job is over; the new one's id comes with the enqueue
    history.record(actor, commitment, "retried", field="ERP status", old=E.FAILED_TO_EXPORT,
                   new=E.EXPORTING)
    db.session.commit()
    _enqueue(export)
    return export


def _new_key(commitment: Commitment) -> str:
    """An Export's idempotency key, sent as QuickBooks' ``requestid`` (≤ 50 characters)."""
    return f"cod-commitment-{commitment.id}-{uuid.uuid4().hex[:16]}"


def latest_export(commitment: Commitment) -> Export | None:
    from sqlalchemy import select

    return db.session.scalar(select(Export).where(Export.commitment_id == commitment.id,
                                                  Export.change_order_id.is_(None))
                             .order_by(Export.id.desc()))


def latest_exports(commitment_ids: list[int]) -> dict[int, Export]:
    """The newest commitment Export of each commitment, in one query."""
    from sqlalchemy import func, select

    if not commitment_ids:
        return {}
    newest = (select(func.max(Export.id)).where(Export.commitment_id.in_(commitment_ids),
                                                Export.change_order_id.is_(None))
              .group_by(Export.commitment_id))
    return {e.commitment_id: e for e in db.session.scalars(select(Export).where(
        Export.id.in_(newest)))}


def _enqueue(export: Export) -> None:
    from jobs.exports import enqueue_export

    enqueue_export(export)


# ---- what the export job records ---------------------------------------------------------------

def export_started(export: Export, job_id: str | None) -> bool:
    """Mark the export running; False if there is nothing to do (already synced)."""
    if export.status == ExportStatus.SYNCED:
        return False
    export.status = ExportStatus.RUNNING
    export.attempts += 1
    export.job_id = job_id
    db.session.commit()
    return True


def export_will_retry(export: Export, code: str, message: str) -> None:
    export.status = ExportStatus.QUEUED
    export.last_error_code, export.last_error_message = code, message
    db.session.commit()


def export_synced(export: Export, *, purchase_order_id: str, sync_token: str,
                  line_ids: dict[int, str]) -> None:
    commitment = db.session.get(Commitment, export.commitment_id)
    for line in commitment.sov_lines:
        line.qbo_line_id = line_ids.get(line.line_number, line.qbo_line_id)
    export.status = ExportStatus.SYNCED
    export.finished_at = utcnow()
    export.last_error_code = export.last_error_message = None
    export.qbo_ids = json.dumps({"PurchaseOrder": purchase_order_id, "SyncToken": sync_token,
                                 "Lines": {str(k): v for k, v in line_ids.items()}})
    db.session.flush()
    _move(commitment, (E.EXPORTING,), E.SYNCED, qbo_purchase_order_id=purchase_order_id,
          qbo_sync_token=sync_token)
    history.record(None, commitment, "exported", field="ERP status", old=E.EXPORTING,
                   new=E.SYNCED, comment=f"QuickBooks PurchaseOrder {purchase_order_id}")
    db.session.commit()


def export_failed(export: Export, code: str, message: str) -> None:
    commitment = db.session.get(Commitment, export.commitment_id)
    export.status = ExportStatus.FAILED
    export.finished_at = utcnow()
    export.last_error_code, export.last_error_message = code, message
    db.session.flush()
    _move(commitment, (E.EXPORTING,), E.FAILED_TO_EXPORT)
    history.record(None, commitment, "export failed", field="ERP status", old=E.EXPORTING,
                   new=E.FAILED_TO_EXPORT, comment=f"{message} (QuickBooks code {code})"
                   if code and code.isdigit() else message)
    db.session.commit()
