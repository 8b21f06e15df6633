"""Commitments tool: subcontracts and purchase orders of a project."""

from flask import render_template
from flask_login import login_required

from blueprints.commitments import bp
from blueprints.guards import load_project


@bp.get("/")
@login_required
def index(project_id: int):
    project = load_project(project_id)
    return render_template("commitments/index.html", project=project, tool="commitments")
