"""The project picker (home page) and a project's home."""

from flask import redirect, request, url_for
from flask_login import current_user, login_required

from blueprints.guards import load_project
from blueprints.projects import bp
from blueprints.rendering import is_htmx, render
from workflow.permissions import visible_projects_page


@bp.get("/")
@login_required
def index():
    from workflow.erp import returned_to

    page = visible_projects_page(current_user, after=request.args.get("after"),
                                 before=request.args.get("before"))
    returned = [] if is_htmx() else returned_to(current_user)  # htmx: the list alone
    return render("projects/index.html", "projects/_list.html",
                  listing=page, returned=returned, tool="projects")


@bp.get("/projects/<int:project_id>/")
@login_required
def show(project_id: int):
    project = load_project(project_id)
    return redirect(url_for("commitments.index", project_id=project.id))


@bp.post("/notices/<int:notice_id>/dismiss")
@login_required
def dismiss_notice(notice_id: int):
    from workflow.notices import dismiss

    dismiss(current_user, notice_id)
    target = request.referrer or ""
    if not target.startswith(request.host_url):  # only back to a page of ours
        target = url_for("projects.index")
    return redirect(target, 303)
