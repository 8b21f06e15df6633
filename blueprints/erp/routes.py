"""ERP Integrations: what waits for accounting (Accept / Reject), and QuickBooks settings."""

from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from blueprints.erp import bp
from blueprints.erp.forms import RejectForm
from blueprints.fields import show_workflow_error, unique_ids
from blueprints.rendering import is_htmx, render, render_partial
from extensions import db
from models import Commitment, ErpStatus, ProjectRole, SovLine
from workflow import erp, history
from workflow.commitments import totals_by_commitment
from workflow.errors import AlreadyHandled, WorkflowError
from workflow.permissions import can_view_erp, has_project_role

TABS = (ErpStatus.READY_TO_EXPORT, ErpStatus.EXPORTING, ErpStatus.FAILED_TO_EXPORT,
        ErpStatus.REJECTED, ErpStatus.SYNCED)


@bp.app_template_global("latest_erp_export")
def latest_erp_export(commitment: Commitment):
    """The commitment's newest Export, for its ERP panel's "Failed to Export" message."""
    return erp.latest_export(commitment)


def require_erp_view() -> None:
    if not can_view_erp(current_user):
        abort(403)


def _counts() -> dict[ErpStatus, int]:
    return dict(db.session.execute(
        select(Commitment.erp_status, func.count()).group_by(Commitment.erp_status)).all())


class _CardData:
    """What the cards need, loaded in a few queries for any number of commitments."""

    def __init__(self, commitments: list[Commitment]) -> None:
        from quickbooks_online.lists import names

        ids = [c.id for c in commitments]
        self.totals = totals_by_commitment(ids)
        self.exports = erp.latest_exports(ids)
        self.names = names()

    def name_of(self, entity: str, qbo_id: str | None) -> str | None:
        return self.names.get((entity, qbo_id))

    def card(self, commitment: Commitment, **extra) -> dict:
        return {"commitment": commitment, "total": self.totals[commitment.id].original,
                "actions": erp.approver_actions(current_user, commitment),
                "export": self.exports.get(commitment.id), "name_of": self.name_of,
                "reject_form": unique_ids(RejectForm(formdata=None), f"reject-{commitment.id}"),
                **extra}


def _card_context(commitment: Commitment, **extra) -> dict:
    return _CardData([commitment]).card(commitment, **extra)


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
    data = _CardData(commitments)
    return render("erp/index.html", "erp/_cards.html", tool="erp", tabs=TABS, tab=status,
                  counts=_counts(), commitments=commitments, card=data.card)


def _commitment(commitment_id: int) -> Commitment:
    require_erp_view()
    commitment = db.get_or_404(Commitment, commitment_id)
    if commitment.erp_status == ErpStatus.NOT_SENT and not has_project_role(
            current_user, commitment.project, ProjectRole.READ_ONLY) \
            and not history.has_erp_history(commitment):
        abort(404)  # never sent to accounting: only the project's members may read it
    return commitment


def _card(commitment: Commitment, status: int = 200, **extra):
    """One card, with the tab counts and the navigation's count updated out of band."""
    db.session.refresh(commitment)
    return render_partial("erp/_card.html", status=status, oob_counts=True, tabs=TABS,
                          counts=_counts(), **_card_context(commitment, **extra))


@bp.get("/commitments/<int:commitment_id>/card")
@login_required
def card(commitment_id: int):
    return _card(_commitment(commitment_id))


@bp.post("/commitments/<int:commitment_id>/accept")
@login_required
def accept(commitment_id: int):
    commitment = _commitment(commitment_id)
    try:
        erp.accept(current_user, commitment)
    except AlreadyHandled as error:
        return _answer(commitment, error.message, 409)
    return _answer(commitment, None)


@bp.post("/commitments/<int:commitment_id>/retry")
@login_required
def retry(commitment_id: int):
    commitment = _commitment(commitment_id)
    try:
        erp.retry_export(current_user, commitment)
    except AlreadyHandled as error:
        return _answer(commitment, error.message, 409)
    return _answer(commitment, None)


@bp.post("/commitments/<int:commitment_id>/reject")
@login_required
def reject(commitment_id: int):
    commitment = _commitment(commitment_id)
    form = unique_ids(RejectForm(), f"reject-{commitment.id}")
    if not form.validate_on_submit():
        return _answer(commitment, None, 422, reject_form=form)
    try:
        erp.reject(current_user, commitment, form.comment.data)
    except AlreadyHandled as error:  # accepted or retrieved since the card was shown
        return _answer(commitment, error.message, 409)
    except WorkflowError as error:
        db.session.rollback()
        status = show_workflow_error(form, error)
        return _answer(commitment, None, status, reject_form=form)
    return _answer(commitment, None)


def _answer(commitment: Commitment, message: str | None, status: int = 200, **extra):
    """The card again for htmx (with any message on it); the inbox page otherwise."""
    if is_htmx():
        return _card(commitment, status, message=message, **extra)
    from flask import flash, redirect, url_for

    if message:
        flash(message, "error")
    if status == 422:
        return render_template("erp/index.html", tool="erp", tabs=TABS,
                               tab=commitment.erp_status, counts=_counts(),
                               commitments=[commitment],
                               card=lambda c: _card_context(c, **extra)), status
    return redirect(url_for("erp.index", tab=commitment.erp_status.value), 303)
