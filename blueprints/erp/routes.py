"""ERP Integrations: what waits for accounting (Accept / Reject), commitments and CCOs alike."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from blueprints.erp import bp
from blueprints.erp.forms import RejectForm
from blueprints.fields import show_workflow_error, unique_ids
from blueprints.rendering import is_htmx, render, render_partial
from extensions import db
from models import ChangeOrder, ChangeOrderLine, Commitment, ErpStatus, ProjectRole, SovLine
from workflow import erp, history
from workflow.change_orders import can_view
from workflow.commitments import totals_by_commitment
from workflow.errors import AlreadyHandled, WorkflowError
from workflow.permissions import can_view_erp, has_project_role

TABS = (ErpStatus.READY_TO_EXPORT, ErpStatus.EXPORTING, ErpStatus.FAILED_TO_EXPORT,
        ErpStatus.REJECTED, ErpStatus.SYNCED)
KINDS = {"commitments": Commitment, "change-orders": ChangeOrder}


def require_erp_view() -> None:
    if not can_view_erp(current_user):
        abort(403)


def _counts() -> dict[ErpStatus, int]:
    counts: dict[ErpStatus, int] = {}
    for model in (Commitment, ChangeOrder):
        for status, count in db.session.execute(
                select(model.erp_status, func.count()).group_by(model.erp_status)).all():
            counts[status] = counts.get(status, 0) + count
    return counts


def kind_of(subject) -> str:
    return "change-orders" if isinstance(subject, ChangeOrder) else "commitments"


class _CardData:
    """What the cards need, loaded in a few queries for any number of records."""

    def __init__(self, commitments: list[Commitment], ccos: list[ChangeOrder]) -> None:
        from quickbooks_online.lists import names

        self.totals = totals_by_commitment([c.id for c in commitments])
        self.exports = erp.latest_exports([c.id for c in commitments])
        self.cco_exports = erp.latest_change_order_exports([c.id for c in ccos])
        self.names = names()

    def name_of(self, entity: str, qbo_id: str | None) -> str | None:
        return self.names.get((entity, qbo_id))

    def card(self, subject, **extra) -> dict:
        kind = kind_of(subject)
        if isinstance(subject, ChangeOrder):
            total, export = subject.grand_total, self.cco_exports.get(subject.id)
            preview = change_order_preview(subject)
        else:
            total, export = self.totals[subject.id].original, self.exports.get(subject.id)
            preview = None
        commitment = subject.commitment if isinstance(subject, ChangeOrder) else subject
        shown = [c for c in commitment.change_orders
                 if not c.private or can_view(current_user, c)]
        return {"subject": subject, "kind": kind, "total": total, "export": export,
                "preview": preview, "drift": erp.drift(commitment, shown),
                "actions": erp.approver_actions(current_user, subject),
                "name_of": self.name_of,
                "reject_form": unique_ids(RejectForm(formdata=None), f"reject-{kind}-{subject.id}"),
                **extra}


def change_order_preview(cco: ChangeOrder):
    """What QuickBooks will receive, by the export's own arithmetic (plan_change_order), on the
    PurchaseOrder as we last synced it: each line now, change, after."""
    from quickbooks_online.export.change_order import plan_change_order
    from quickbooks_online.mapping import synced_changes

    commitment = cco.commitment
    synced = synced_changes(commitment)
    lines = [{"Id": line.qbo_line_id, "Amount": str(line.amount + synced.get(line.id, 0))}
             for line in commitment.sov_lines if line.qbo_line_id]
    return plan_change_order(cco, lines)


def _card_context(subject, **extra) -> dict:
    if isinstance(subject, ChangeOrder):
        return _CardData([], [subject]).card(subject, **extra)
    return _CardData([subject], []).card(subject, **extra)


@bp.get("/")
@login_required
def index():
    require_erp_view()
    tab = request.args.get("tab", ErpStatus.READY_TO_EXPORT.value)
    status = ErpStatus(tab) if tab in {t.value for t in TABS} else ErpStatus.READY_TO_EXPORT
    commitments = db.session.scalars(
        select(Commitment).where(Commitment.erp_status == status)
        .options(selectinload(Commitment.vendor), selectinload(Commitment.project),
                 selectinload(Commitment.sov_lines).selectinload(SovLine.cost_code),
                 selectinload(Commitment.sov_lines).selectinload(SovLine.category))
        .order_by(Commitment.updated_at.desc())
    ).all()
    ccos = [cco for cco in db.session.scalars(
        select(ChangeOrder).where(ChangeOrder.erp_status == status)
        .options(selectinload(ChangeOrder.commitment),
                 selectinload(ChangeOrder.lines).selectinload(ChangeOrderLine.sov_line))
        .order_by(ChangeOrder.updated_at.desc())).all()
        if not cco.private or can_view(current_user, cco)]
    data = _CardData(commitments, ccos)
    subjects = sorted([*commitments, *ccos], key=lambda s: s.updated_at, reverse=True)
    return render("erp/index.html", "erp/_cards.html", tool="erp", tabs=TABS, tab=status,
                  counts=_counts(), subjects=subjects, card=data.card)


def _subject(kind: str, subject_id: int):
    require_erp_view()
    subject = db.get_or_404(KINDS[kind], subject_id)
    if isinstance(subject, ChangeOrder) and subject.private and not can_view(current_user,
                                                                              subject):
        abort(404)
    if subject.erp_status == ErpStatus.NOT_SENT and not has_project_role(
            current_user, subject.project, ProjectRole.READ_ONLY) \
            and not history.has_erp_history(subject):
        abort(404)  # never sent to accounting: only the project's members may read it
    return subject


def _card(subject, status: int = 200, **extra):
    """One card, with the tab counts and the navigation's count updated out of band."""
    db.session.refresh(subject)
    return render_partial("erp/_card.html", status=status, oob_counts=True, tabs=TABS,
                          counts=_counts(), ctx=_card_context(subject, **extra))


KIND = "<any(commitments, 'change-orders'):kind>"


@bp.get(f"/{KIND}/<int:subject_id>/card")
@login_required
def card(kind: str, subject_id: int):
    return _card(_subject(kind, subject_id))


@bp.post(f"/{KIND}/<int:subject_id>/accept")
@login_required
def accept(kind: str, subject_id: int):
    return _act(_subject(kind, subject_id), erp.accept)


@bp.post(f"/{KIND}/<int:subject_id>/retry")
@login_required
def retry(kind: str, subject_id: int):
    return _act(_subject(kind, subject_id), erp.retry_export)


def _act(subject, action):
    try:
        action(current_user, subject)
    except AlreadyHandled as error:
        return _answer(subject, error.message, 409)
    return _answer(subject, None)


@bp.post(f"/{KIND}/<int:subject_id>/reject")
@login_required
def reject(kind: str, subject_id: int):
    subject = _subject(kind, subject_id)
    form = unique_ids(RejectForm(), f"reject-{kind}-{subject.id}")
    if not form.validate_on_submit():
        return _answer(subject, None, 422, reject_form=form)
    try:
        erp.reject(current_user, subject, form.comment.data)
    except AlreadyHandled as error:
        return _answer(subject, error.message, 409)
    except WorkflowError as error:
        db.session.rollback()
        status = show_workflow_error(form, error)
        return _answer(subject, None, status, reject_form=form)
    return _answer(subject, None)


def _answer(subject, message: str | None, status: int = 200, **extra):
    """The card again for htmx (with any message on it); the inbox page otherwise."""
    if is_htmx():
        return _card(subject, status, message=message, **extra)
    if message:
        flash(message, "error")
    if status == 422:
        return render_template("erp/index.html", tool="erp", tabs=TABS,
                               tab=subject.erp_status, counts=_counts(), subjects=[subject],
                               card=lambda s: _card_context(s, **extra)), status
    return redirect(url_for("erp.index", tab=subject.erp_status.value), 303)
