"""A commitment or a CCO named by a URL, or 404: the pages, the line editors and the ERP
panel all load them here (a private CCO does not reveal that it exists)."""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from blueprints.guards import keep_loaded, load_project
from extensions import db
from models import ChangeOrder, Commitment, ProjectRole
from workflow.change_orders import can_view
from workflow.pages import page_by_id


def load_commitment(project_id: int, commitment_id: int,
                    needed: ProjectRole = ProjectRole.READ_ONLY, page: bool = False
                    ) -> Commitment:
    """The commitment, if the user holds ``needed`` on its project; ``page``: with everything
    its page shows (workflow/pages.py), read once."""
    project = load_project(project_id, needed)
    commitment = (page_by_id(Commitment, commitment_id) if page
                  else db.session.get(Commitment, commitment_id))
    if commitment is None or commitment.project_id != project.id:
        abort(404)
    keep_loaded(commitment, "project", project)
    return commitment


def load_cco(project_id: int, commitment_id: int, cco_id: int, page: bool = False
             ) -> ChangeOrder:
    """The CCO, if the user may see it; ``page``: with everything its page shows
    (workflow/pages.py), read once."""
    commitment = load_commitment(project_id, commitment_id)
    cco = page_by_id(ChangeOrder, cco_id) if page else db.session.get(ChangeOrder, cco_id)
    if cco is None or cco.commitment_id != commitment.id or not can_view(current_user, cco):
        abort(404)  # a private CCO does not reveal that it exists
    keep_loaded(cco, "commitment", commitment)
    return cco
