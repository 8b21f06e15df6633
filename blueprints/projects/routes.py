"""The project picker (home page) and a project's home."""

from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from blueprints.guards import load_project
from blueprints.projects import bp
from workflow.permissions import visible_projects


@bp.get("/")
@login_required
def index():
    from workflow.erp import returned_to

    return render_template("projects/index.html", projects=visible_projects(current_user),
                           returned=returned_to(current_user), tool="projects")


@bp.get("/projects/<int:project_id>/")
@login_required
def show(project_id: int):
    project = load_project(project_id)
    return redirect(url_for("commitments.index", project_id=project.id))


@bp.post("/notices/<int:notice_id>/dismiss")
@login_required
def dismiss_notice(notice_id: int):
    from flask import request

    from workflow.notices import dismiss

    dismiss(current_user, notice_id)
    target = request.referrer or ""
    if not target.startswith(request.host_url):  # only back to a page of ours
        target = url_for("projects.index")
    return redirect(target, 303)
