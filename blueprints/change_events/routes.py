"""Change Events tool: things that may change cost, and the CCOs made from them."""

from flask import render_template
from flask_login import login_required

from blueprints.change_events import bp
from blueprints.guards import load_project


@bp.get("/")
@login_required
def index(project_id: int):
    project = load_project(project_id)
    return render_template("change_events/index.html", project=project, tool="change_events")
