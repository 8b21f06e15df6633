"""The project picker (home page) and a project's home."""

from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from blueprints.guards import load_project
from blueprints.projects import bp
from workflow.permissions import visible_projects


@bp.get("/")
@login_required
def index():
    return render_template("projects/index.html", projects=visible_projects(current_user))


@bp.get("/projects/<int:project_id>/")
@login_required
def show(project_id: int):
    project = load_project(project_id)
    return redirect(url_for("commitments.index", project_id=project.id))
