"""The Find box of a select of cost codes or vendors (blueprints/fields.py:offer): the options
that match what was typed, at most OFFERED of them, and the one already chosen. Only for
someone who edits lines somewhere (``permissions.may_pick_reference``): 403 for the others."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from blueprints.fields import PICKERS, parse_id

bp = Blueprint("pickers", __name__)
LONGEST_SEARCH = 100  # characters of the Find box read: no name or code is longer


@bp.get("/<kind>")
@login_required
def options(kind: str):
    from extensions import db
    from workflow.permissions import may_pick_reference
    from workflow.reference import find

    if kind not in PICKERS:
        abort(404)
    if not may_pick_reference(current_user):
        abort(403)
    model, order, searched = PICKERS[kind].columns()
    text = request.args.get("q", "")[:LONGEST_SEARCH]
    selected = parse_id(request.args.get("selected", ""))
    found = find(model, order, searched, text)
    chosen = db.session.get(model, selected) if selected else None
    extra = [chosen] if chosen is not None and chosen.active and chosen not in found else []
    return render_template("_picker_options.html", records=extra + found, selected=selected,
                           blank=request.args.get("blank", "Choose…")[:40], text=text)
