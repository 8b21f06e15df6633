"""ERP Integrations tool: what waits to be exported to QuickBooks, for approvers."""

from flask import abort, render_template
from flask_login import current_user, login_required

from blueprints.erp import bp
from workflow.permissions import can_view_erp


@bp.get("/")
@login_required
def index():
    if not can_view_erp(current_user):
        abort(403)
    return render_template("erp/index.html", tool="erp")
