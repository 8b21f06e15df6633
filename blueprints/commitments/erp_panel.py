"""The ERP panel of a commitment: Send to ERP, Resend to ERP, Retrieve from ERP."""

from __future__ import annotations

from flask import redirect, url_for
from flask_login import current_user, login_required

from blueprints.commitments import bp
from blueprints.commitments.routes import load_commitment
from blueprints.rendering import is_htmx, render_partial
from extensions import db
from workflow import erp
from workflow.errors import AlreadyHandled, Locked


def _panel(commitment, message: str | None = None, status: int = 200):
    if not is_htmx():
        if message:
            from flask import flash

            flash(message, "error")
        return redirect(url_for("commitments.show", project_id=commitment.project_id,
                                commitment_id=commitment.id) + "#erp", 303)
    db.session.refresh(commitment)
    return render_partial("commitments/_erp_panel.html", status=status, commitment=commitment,
                          project=commitment.project,
                          erp_actions=erp.commitment_actions(current_user, commitment),
                          message=message)


@bp.post("/<int:commitment_id>/erp/send")
@login_required
def send_to_erp(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id)
    try:
        erp.send_to_erp(current_user, commitment)
    except (Locked, AlreadyHandled) as error:
        db.session.rollback()
        return _panel(commitment, error.message, 409)
    return _panel(commitment)


@bp.post("/<int:commitment_id>/erp/retrieve")
@login_required
def retrieve_from_erp(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id)
    try:
        erp.retrieve_from_erp(current_user, commitment)
    except AlreadyHandled as error:
        return _panel(commitment, error.message, 409)
    return _panel(commitment)
