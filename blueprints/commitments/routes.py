"""Commitments tool: the list, a commitment's page, its header and its schedule of values."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload, with_expression

from blueprints.commitments import bp
from blueprints.commitments.erp_panel import panel_for
from blueprints.commitments.forms import CommitmentForm, SovLineForm
from blueprints.commitments.loading import load_commitment
from blueprints.fields import enum_or_none, offer, parse_id, submit, unique_ids
from blueprints.guards import keep_loaded, load_project
from blueprints.line_editor import LineKind
from blueprints.rendering import history_page, is_htmx, render, render_partial
from models import (
    STATUSES_BY_TYPE,
    Commitment,
    CommitmentStatus,
    CommitmentType,
    ProjectRole,
    SovLine,
)
from workflow import history, qbo_drift
from workflow.change_orders import visible_change_orders
from workflow.commitments import (
    CommitmentInput,
    SovInput,
    add_sov_line,
    allowed_change_order_actions,
    create_commitment,
    delete_sov_line,
    filtered_commitments,
    list_totals,
    totals,
    totals_by_commitment,
    update_commitment,
    update_sov_line,
    vendors_of,
    waits_for_approval,
)
from workflow.permissions import has_project_role


def _commitment_form(commitment: Commitment | None = None) -> CommitmentForm:
    form = CommitmentForm(obj=commitment) if commitment else CommitmentForm()
    unique_ids(form, "commitment")
    offer(form.vendor_id, "vendor", keep_id=commitment.vendor_id if commitment else None)
    if commitment and not form.is_submitted():
        form.type.data = commitment.type.value
        form.status.data = commitment.status.value
    return form


def _commitment_input(form: CommitmentForm) -> CommitmentInput:
    return CommitmentInput(type=CommitmentType(form.type.data), number=form.number.data or "",
                           title=form.title.data or "", vendor_id=form.vendor_id.data,
                           status=CommitmentStatus(form.status.data),
                           description=form.description.data or "")


def _can_edit(project) -> bool:
    return has_project_role(current_user, project, ProjectRole.STANDARD)


# ---- list --------------------------------------------------------------------------------------

@bp.get("/")
@login_required
def index(project_id: int):
    from workflow.pages import keyset

    project = load_project(project_id)
    filters = {k: request.args.get(k, "") for k in ("type", "status", "vendor")}
    chosen = dict(type=enum_or_none(CommitmentType, filters["type"]),
                  status=enum_or_none(CommitmentStatus, filters["status"]),
                  # an id that names no record matches nothing
                  vendor_id=(parse_id(filters["vendor"]) or 0) if filters["vendor"] else None)
    query = filtered_commitments(project, **chosen)
    # Whether QuickBooks holds a Synced PO otherwise: a column of this same statement
    page = keyset(query.options(joinedload(Commitment.vendor),
                                with_expression(Commitment.quickbooks_mark,
                                                qbo_drift.quickbooks_mark())),
                  (Commitment.number, Commitment.id), lambda c: (c.number, c.id),
                  after=request.args.get("after"), before=request.args.get("before"))
    by_id = totals_by_commitment([c.id for c in page.rows], current_user)
    count, grand = list_totals(project, current_user, **chosen)
    vendors = vendors_of(project, parse_id(filters["vendor"]))
    return render("commitments/index.html", "commitments/_list.html", project=project,
                  commitments=page.rows, listing=page, count=count, totals=by_id, grand=grand,
                  filters=filters, vendors=vendors, types=list(CommitmentType),
                  statuses=list(CommitmentStatus), can_edit=_can_edit(project),
                  tool="commitments")


# ---- create ------------------------------------------------------------------------------------

@bp.get("/new")
@login_required
def new(project_id: int):
    project = load_project(project_id, ProjectRole.STANDARD)
    form = _commitment_form()
    form.type.data = request.args.get("type", CommitmentType.SUBCONTRACT.value)
    return render_template("commitments/new.html", project=project, form=form,
                           tool="commitments")


@bp.post("/")
@login_required
def create(project_id: int):
    project = load_project(project_id, ProjectRole.STANDARD)
    form = _commitment_form()
    outcome = submit(form, lambda: create_commitment(current_user, project,
                                                     _commitment_input(form)))
    if outcome.ok:
        return redirect(url_for("commitments.show", project_id=project.id,
                                commitment_id=outcome.value.id), 303)
    return render_template("commitments/new.html", project=project, form=form,
                           tool="commitments"), outcome.status


# ---- one commitment ----------------------------------------------------------------------------

# What each action the workflow allows on the Change Orders card is called, and where it goes.
CCO_ACTIONS = {
    "new_cco": ("New change order", "commitments.new_cco",
                lambda c: {"project_id": c.project_id, "commitment_id": c.id}, True),
    "from_change_event": ("From a change event", "change_events.commitment_co",
                          lambda c: {"project_id": c.project_id, "commitment": c.id}, False),
}


@dataclass(frozen=True)
class PageAction:
    name: str
    label: str
    endpoint: str
    url: str
    primary: bool


def _cco_actions(commitment: Commitment, can_edit: bool) -> list[PageAction]:
    actions = []
    for name in allowed_change_order_actions(commitment, can_edit):
        label, endpoint, arguments, primary = CCO_ACTIONS[name]
        actions.append(PageAction(name, label, endpoint, url_for(endpoint, **arguments(commitment)),
                                  primary))
    return actions


def _page_context(commitment: Commitment, loaded: bool = False) -> dict:
    """``loaded``: the commitment was read for its page (``load_commitment(page=True)``)."""
    from workflow.pages import commitment_page

    if not loaded:
        commitment = commitment_page(commitment)
    can_edit = _can_edit(commitment.project)
    return {
        **SOV_LINES.row_context(commitment),
        "change_orders": visible_change_orders(current_user, commitment),
        "cco_actions": _cco_actions(commitment, can_edit),
        "ccos_wait_for_approval": waits_for_approval(commitment, can_edit),
        "new_line_form": SOV_LINES.form(commitment, blank=True),
        "statuses_by_type": STATUSES_BY_TYPE,
        "subject": commitment, "panel": panel_for(commitment),
        **history_page(lambda before, limit: history.history_for(commitment, before, limit)),
    }


@bp.get("/<int:commitment_id>")
@login_required
def show(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id, page=True)
    return render_template("commitments/show.html", **_page_context(commitment, loaded=True))


@bp.get("/<int:commitment_id>/edit")
@login_required
def edit(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    return render("commitments/edit.html", "commitments/_header_form.html",
                  commitment=commitment, project=commitment.project,
                  form=_commitment_form(commitment), tool="commitments")


@bp.post("/<int:commitment_id>")
@login_required
def update(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    form = _commitment_form(commitment)
    outcome = submit(form, lambda: update_commitment(
        current_user, commitment, _commitment_input(form), form.version.data),
        refresh=commitment)
    if outcome.ok:
        if not is_htmx():
            return redirect(url_for("commitments.show", project_id=project_id,
                                    commitment_id=commitment.id), 303)
        return render_partial("commitments/_header.html", **_page_context(commitment))
    return render("commitments/edit.html", "commitments/_header_form.html",
                  status=outcome.status,
                  commitment=commitment, project=commitment.project, form=form,
                  tool="commitments")


@bp.get("/<int:commitment_id>/header")
@login_required
def header(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id)
    if not is_htmx():
        return redirect(url_for("commitments.show", project_id=project_id,
                                commitment_id=commitment_id))
    return render_partial("commitments/_header.html", **_page_context(commitment))


# ---- schedule of values ------------------------------------------------------------------------

class SovLines(LineKind):
    """The schedule of values of a commitment, edited in place."""

    rule = "/<int:commitment_id>/sov"
    endpoints = {"add": "add_sov", "row": "sov_row", "update": "update_sov",
                 "delete": "delete_sov", "show": "show"}
    line_model, parent_key, form_class = SovLine, "commitment_id", SovLineForm
    form_prefix, row_prefix, new_form_id = "sov", "sov-line", "sov-new"
    table_id, table_class, anchor, columns = "sov-table", "sov", "#sov", 6
    cells, fields = "commitments/_sov_cells.html", "commitments/_sov_fields.html"
    totals, page, tool = "commitments/_totals.html", "commitments/sov_edit.html", "commitments"
    add, update = staticmethod(add_sov_line), staticmethod(update_sov_line)
    delete = staticmethod(delete_sov_line)

    line_options = (joinedload(SovLine.cost_code), joinedload(SovLine.category))

    def load_parent(self, args, needed):
        return load_commitment(args["project_id"], args["commitment_id"], needed)

    def load_for_save(self, args):
        """The save locks the commitment (workflow/commitments.py): it is locked here and
        read under the lock with its vendor and lines, the line saved among them."""
        from workflow.commitments import locked_commitment
        from workflow.pages import SOV_SAVE

        project = load_project(args["project_id"], ProjectRole.STANDARD)
        commitment = locked_commitment(args["commitment_id"], project.id, *SOV_SAVE)
        if commitment is None:
            abort(404)
        keep_loaded(commitment, "project", project)
        return commitment

    def url_args(self, commitment):
        return {"project_id": commitment.project_id, "commitment_id": commitment.id}

    def fill_choices(self, form, commitment, line):
        self.code_and_category_choices(form, line)

    def to_input(self, form):
        return SovInput(description=form.description.data or "",
                        cost_code_id=form.cost_code_id.data, category_id=form.category_id.data,
                        amount=form.amount.data)

    def context(self, commitment, line):
        can_edit = _can_edit(commitment.project)
        return {"project": commitment.project, "commitment": commitment,
                "totals": totals(commitment, current_user), "can_edit": can_edit,
                "can_edit_lines": can_edit and commitment.erp_editable}

    def saved_context(self, commitment):
        from sqlalchemy import inspect

        from workflow.pages import commitment_page

        if "sov_lines" in inspect(commitment).unloaded or commitment.qbo_purchase_order_id:
            # the panel's checks read every line, its drift line the change orders: at once
            commitment = commitment_page(commitment)
        return {"subject": commitment, "panel": panel_for(commitment), "oob_state": True}


SOV_LINES = SovLines(bp)
