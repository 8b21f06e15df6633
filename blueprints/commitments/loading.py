"""A commitment or a CCO named by a URL, or 404: the pages, the line editors and the ERP
panel all load them here (a private CCO does not reveal that it exists)."""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from blueprints.guards import load_project
from extensions import db
from models import ChangeOrder, Commitment, ProjectRole
from workflow.change_orders import can_view


def load_commitment(project_id: int, commitment_id: int,
                    needed: ProjectRole = ProjectRole.READ_ONLY) -> Commitment:
    project = load_project(project_id, needed)
    commitment = db.get_or_404(Commitment, commitment_id)
    if commitment.project_id != project.id:
        abort(404)
    return commitment


def load_cco(project_id: int, commitment_id: int, cco_id: int) -> ChangeOrder:
    commitment = load_commitment(project_id, commitment_id)
    cco = db.get_or_404(ChangeOrder, cco_id)
    if cco.commitment_id != commitment.id or not can_view(current_user, cco):
        abort(404)  # a private CCO does not reveal that it exists
    return cco
